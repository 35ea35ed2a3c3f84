"""``trigger-synth build MODEL --out DIR``: the command line of :func:`trigger.hardware.build`.

Every input is checked in ``setup()``, before the minutes of hls4ml, Verilator
and yosys: the model folder (loaded, so a damaged ``model.keras`` or
``trigger.json`` is found now), ``--events``, the option values and ``--out``.
Bad input is one line on stderr naming the file or option and exit code 2; a
step that fails on good input is one line naming the step and exit code 1.
"""

import sys
from pathlib import Path
from typing import ClassVar

import numpy as np
from ctapipe.core import Provenance, ToolConfigurationError
from ctapipe.core.traits import Bool, Float, Int, Unicode
from ctapipe.core.traits import Path as PathTrait
from traitlets.config import Config

from lstcommon.errors import UserError, one_line
from lstcommon.tool import CommandTool

from .build import DEFAULT_CLOCK_MHZ, DEFAULT_N_CHECK, DEFAULT_PART, build, check_options, check_output
from .errors import BitExactError, BuildError
from .model import load_trigger_model
from .report import format_report
from .spec import TopSpec

__all__ = ["BuildTool", "load_events"]

NPY_MAGIC = b"\x93NUMPY"

# how the settings are called in messages: the options that set them
OPTION_NAMES = {"part": "--part", "clock_mhz": "--clock-mhz", "n_check": "--n-check",
                "latency_cutoff": "--latency-cutoff", "seed": "--seed", "board": "--board", "dma_width": "--dma-width"}


def load_events(path, spec) -> np.ndarray:
    """The ``--events`` file: a .npy array of (n, n_inputs) integer counts in the model's input range."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: --events file does not exist")
    if not path.is_file():
        raise UserError(f"{path}: --events is not a file (expected a .npy array of events)")
    try:
        with open(path, "rb") as f:
            magic = f.read(len(NPY_MAGIC))
    except OSError as err:
        raise UserError(f"{path}: --events file cannot be read ({err.strerror or err})") from err
    if magic != NPY_MAGIC:
        raise UserError(f"{path}: --events is not a .npy file (expected a NumPy array of (n, {spec.n_inputs}) "
                        "integer counts, as numpy.save writes)")
    try:
        events = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        raise UserError(f"{path}: --events .npy file cannot be read ({one_line(err)[:200]})") from err
    return spec.validate(events, what=str(path))


class BuildTool(CommandTool):
    """Generate the hardware of a trained trigger model and check it bit for bit.

    From MODEL (a folder with model.keras and trigger.json) writes into --out:
    hls/ (hls4ml project, Vitis), rtl/ (da4ml Verilog pipelined for the clock),
    synth/ (yosys resource estimate), vendor/ (Vivado / Vitis HLS scripts, not
    run), checks/ (check events and every model's outputs), report.json and
    summary.txt. The hls4ml C simulation and the Verilog (under Verilator) are
    compared with the Keras model on corner cases, random events and, with
    --events, given events; any difference fails the build. The output folder
    is written under a temporary name beside it and renamed when complete.

    Example:

        trigger-synth build models/nn --out build/nn --clock-mhz 250
    """

    name = "trigger-synth build"
    description = __doc__

    model_dir = PathTrait(default_value=None, allow_none=True, exists=None, directory_ok=True, file_ok=True,
                          help="Model folder (model.keras + trigger.json); may also be given as the first argument"
                          ).tag(config=True)
    out = PathTrait(default_value=None, allow_none=True, directory_ok=True, file_ok=True,
                    help="Output folder").tag(config=True)
    part = Unicode(DEFAULT_PART, help="FPGA part (hls4ml, da4ml constraints, vendor scripts)").tag(config=True)
    clock_mhz = Float(DEFAULT_CLOCK_MHZ, help="Target clock in MHz; sets the Verilog pipelining").tag(config=True)
    n_check = Int(DEFAULT_N_CHECK, help="Random events in the bit-exact checks (besides the corner cases)"
                  ).tag(config=True)
    events = PathTrait(default_value=None, allow_none=True, exists=None, directory_ok=True, file_ok=True,
                       help="Optional .npy file of (n, n_inputs) integer events added to the checks").tag(config=True)
    seed = Int(0, help="Seed of the random check events").tag(config=True)
    latency_cutoff = Float(None, allow_none=True,
                           help="da4ml adder levels per pipeline stage (default: from the clock)").tag(config=True)
    synth = Bool(True, help="Run the yosys resource estimate").tag(config=True)
    synth_top = Bool(True, help="Also estimate the hand-written top around the core (long; cached)").tag(config=True)
    synth_boards = Bool(True, help="With synth_top, also synthesize the partitioned trigger's boards (the busiest "
                        "readout board and the central board, yosys, hierarchy kept): per-board resources and logic "
                        "depth per module in report.json (a few minutes; cached)").tag(config=True)
    overwrite = Bool(False, help="Replace an earlier build in the output folder").tag(config=True)
    board = Unicode(None, allow_none=True, help="Also write board/, the Vivado project of a PYNQ overlay for this "
                    "board (zcu104, zcu102, zcu106, kv260, ultra96v2); make bitstream runs it").tag(config=True)
    dma_width = Int(128, help="Width in bits of the board's DMA stream into the trigger (32 .. 1024)"
                    ).tag(config=True)

    aliases: ClassVar[dict] = {
        ("o", "out"): "BuildTool.out",
        ("m", "model"): "BuildTool.model_dir",
        "part": "BuildTool.part",
        "clock-mhz": "BuildTool.clock_mhz",
        ("n", "n-check"): "BuildTool.n_check",
        "events": "BuildTool.events",
        "seed": "BuildTool.seed",
        "latency-cutoff": "BuildTool.latency_cutoff",
        "board": "BuildTool.board",
        "dma-width": "BuildTool.dma_width",
    }
    flags: ClassVar[dict] = {
        "overwrite": ({"BuildTool": {"overwrite": True}}, "Replace an earlier build in the output folder"),
        "no-synth": ({"BuildTool": {"synth": False}}, "Skip the yosys resource estimate"),
        "no-synth-top": ({"BuildTool": {"synth_top": False}},
                         "Estimate the network core only, not the hand-written RTL around it (single top, boards)"),
        "no-synth-boards": ({"BuildTool": {"synth_boards": False}},
                            "Skip the yosys estimate of the readout and central boards' own RTL"),
    }

    def _log_level_given(self) -> bool:
        return any(isinstance(section, Config) and "log_level" in section for section in self.config.values())

    def setup(self):
        args = list(self.extra_args)
        if args and self.model_dir is None:
            self.model_dir = Path(args.pop(0))
        if args:
            raise ToolConfigurationError(f"unexpected arguments {args}; usage: trigger-synth build MODEL --out DIR")
        if self.model_dir is None:
            raise ToolConfigurationError("no model given; usage: trigger-synth build MODEL --out DIR")
        if self.out is None:
            raise ToolConfigurationError("no output folder given: --out DIR")
        # the cheap checks first, the model (Keras, a few seconds) last
        options = check_options(self.part, self.clock_mhz, self.n_check, self.latency_cutoff, self.seed, self.board,
                                self.dma_width, names=OPTION_NAMES)
        self.part = options["part"]
        check_output(self.out, self.overwrite, self.model_dir)
        self.model = load_trigger_model(self.model_dir)
        # a model the trigger top cannot run (other --bits, too long an ROI) is bad input, not a failed step
        TopSpec.for_trigger(self.model.description, self.model.input.n_inputs,
                            source=str(Path(self.model_dir) / "trigger.json"))
        self.event_array = None if self.events is None else load_events(self.events, self.model.input)

    def start(self):
        # the steps take minutes: show their progress unless a log level was asked for
        if not self._log_level_given():
            self.log_level = "INFO"
            self.update_logging_config()
        try:
            self.report = build(self.model, self.out, part=self.part, clock_mhz=self.clock_mhz,
                                n_check=self.n_check, events=self.event_array, seed=self.seed,
                                latency_cutoff=self.latency_cutoff, synth=self.synth, overwrite=self.overwrite,
                                synth_top=self.synth_top, synth_boards=self.synth_boards, board=self.board,
                                dma_width=self.dma_width)
        except BuildError as err:
            # good input, a failed step: one line naming it; the details are in build.log and logs/
            kept = ("all outputs and report.json" if isinstance(err, BitExactError)
                    else f"the outputs of the steps before '{err.step}'")
            print(f"{self.name}: error: {one_line(err)[:500]} ({kept} are in {self.out}; details in its build.log)",
                  file=sys.stderr)
            self.exit(1)
        Provenance().add_input_file(str(Path(self.model_dir) / "model.keras"), role="trigger model", add_meta=False)
        Provenance().add_output_file(str(Path(self.out) / "report.json"), role="hardware build report")

    def finish(self):
        print(format_report(self.report))
