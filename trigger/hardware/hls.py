"""hls4ml project of the trigger network (Vitis HLS backend) and its C simulation."""

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .model import TriggerModel
from .outputs import captured, tail

__all__ = ["HLSResult", "write_hls_project"]

log = logging.getLogger(__name__)

PROJECT = "trigger_nn"


@dataclass
class HLSResult:
    project_dir: Path
    project: str
    csim_outputs: np.ndarray
    precisions: dict


def write_hls_project(model: TriggerModel, out_dir: Path, inputs: np.ndarray, part: str, clock_mhz: float,
                      reference: np.ndarray | None = None, final_dir: Path | None = None,
                      log_file: Path | None = None) -> HLSResult:
    """Write the hls4ml project into ``out_dir``, compile its C simulation and run it on ``inputs``.

    ``bit_exact=True`` makes hls4ml derive every precision from the HGQ2
    quantizers rather than from a default type, which is what makes the C
    simulation reproduce Keras to the bit. The check inputs and the Keras outputs
    go into the project's test bench, so Vitis C/RTL co-simulation replays them.
    """
    import hls4ml

    out_dir = Path(out_dir)
    tb_dir = out_dir.parent / f".{out_dir.name}.tb"
    tb_dir.mkdir(exist_ok=True)
    tb_in = tb_out = None
    if reference is not None:
        tb_in, tb_out = tb_dir / "inputs.npy", tb_dir / "outputs.npy"
        np.save(tb_in, inputs)
        np.save(tb_out, reference.astype(np.float32))
    try:
        with captured("hls4ml", log_file) as out:
            try:
                hls_model = hls4ml.converters.convert_from_keras_model(
                    model.keras_model,
                    output_dir=str(out_dir),
                    project_name=PROJECT,
                    backend="Vitis",
                    part=part,
                    clock_period=round(1000.0 / clock_mhz, 6),
                    io_type="io_parallel",
                    hls_config={"Model": {"Precision": "fixed<16,6>", "ReuseFactor": 1, "Strategy": "Latency"}},
                    bit_exact=True,
                    input_data_tb=None if tb_in is None else str(tb_in),
                    output_data_tb=None if tb_out is None else str(tb_out),
                )
            except Exception as err:
                raise RuntimeError(f"hls4ml could not convert the model: {type(err).__name__}: {err}") from err
            log.info("hls: compiling the C simulation (g++)")
            try:
                hls_model.compile()
            except Exception as err:
                raise RuntimeError(f"C simulation did not compile: {err}\n{tail(out.getvalue())}") from err
            y = np.asarray(hls_model.predict(np.ascontiguousarray(inputs, dtype=np.float32)), dtype=np.float64)
    finally:
        for f in tb_dir.glob("*"):
            f.unlink()
        tb_dir.rmdir()
    precisions = {name: str(layer.get_output_variable().type.precision) for name, layer in hls_model.graph.items()}
    _point_config_at(out_dir, Path(final_dir or out_dir).resolve())
    return HLSResult(project_dir=out_dir, project=PROJECT, csim_outputs=y.reshape(len(inputs), -1), precisions=precisions)


def _point_config_at(out_dir: Path, final_dir: Path):
    """hls4ml records the (temporary) output folder in its config; record the folder's final path instead."""
    config = out_dir / "hls4ml_config.yml"
    if config.is_file():
        text = re.sub(r"(?m)^OutputDir: .*$", f"OutputDir: {final_dir}", config.read_text())
        for staged in {str(out_dir.resolve()), str(out_dir.absolute())}:  # e.g. KerasModel: the saved copy in it
            text = text.replace(staged + "/", f"{final_dir}/")
        config.write_text(text)
