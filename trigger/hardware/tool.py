"""``trigger-synth build MODEL --out DIR``: the command line of :func:`trigger.hardware.build`."""

from pathlib import Path
from typing import ClassVar

import numpy as np
from ctapipe.core import Provenance, Tool, ToolConfigurationError
from ctapipe.core.traits import Bool, Float, Int, Unicode
from ctapipe.core.traits import Path as PathTrait

from .build import DEFAULT_CLOCK_MHZ, DEFAULT_N_CHECK, DEFAULT_PART, build
from .errors import BuildError, HardwareError, ModelError
from .report import format_report

__all__ = ["BuildTool"]


class BuildTool(Tool):
    """Generate the hardware of a trained trigger model and check it bit for bit.

    From MODEL (a folder with model.keras and trigger.json) writes into --out:
    hls/ (hls4ml project, Vitis), rtl/ (da4ml Verilog pipelined for the clock),
    synth/ (yosys resource estimate), vendor/ (Vivado / Vitis HLS scripts, not
    run), checks/ (check events and every model's outputs), report.json and
    summary.txt. The hls4ml C simulation and the Verilog (under Verilator) are
    compared with the Keras model on corner cases, random events and, with
    --events, given events; any difference fails the build.

    Example:

        trigger-synth build models/nn --out build/nn --clock-mhz 250
    """

    name = "trigger-synth build"
    description = __doc__

    model_dir = PathTrait(default_value=None, allow_none=True, exists=None, directory_ok=True, file_ok=False,
                          help="Model folder (model.keras + trigger.json); may also be given as the first argument"
                          ).tag(config=True)
    out = PathTrait(default_value=None, allow_none=True, directory_ok=True, file_ok=False,
                    help="Output folder").tag(config=True)
    part = Unicode(DEFAULT_PART, help="FPGA part (hls4ml, da4ml constraints, vendor scripts)").tag(config=True)
    clock_mhz = Float(DEFAULT_CLOCK_MHZ, help="Target clock in MHz; sets the Verilog pipelining").tag(config=True)
    n_check = Int(DEFAULT_N_CHECK, help="Random events in the bit-exact checks (besides the corner cases)"
                  ).tag(config=True)
    events = PathTrait(default_value=None, allow_none=True, exists=True, directory_ok=False,
                       help="Optional .npy file of (n, n_inputs) integer events added to the checks").tag(config=True)
    seed = Int(0, help="Seed of the random check events").tag(config=True)
    latency_cutoff = Float(None, allow_none=True,
                           help="da4ml adder levels per pipeline stage (default: from the clock)").tag(config=True)
    synth = Bool(True, help="Run the yosys resource estimate").tag(config=True)
    synth_top = Bool(True, help="Also estimate the hand-written top around the core (long; cached)").tag(config=True)
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
                         "Estimate the network core only, not the hand-written top around it"),
    }

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # the steps take minutes: show their progress unless asked otherwise
        self.log_level = "INFO"

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
        self.event_array = None
        if self.events is not None:
            try:
                self.event_array = np.load(self.events, allow_pickle=False)
            except (OSError, ValueError) as err:
                raise ToolConfigurationError(f"cannot read events {str(self.events)!r}: {err}") from err

    def start(self):
        try:
            self.report = build(self.model_dir, self.out, part=self.part, clock_mhz=self.clock_mhz,
                                n_check=self.n_check, events=self.event_array, seed=self.seed,
                                latency_cutoff=self.latency_cutoff, synth=self.synth, overwrite=self.overwrite,
                                synth_top=self.synth_top, board=self.board, dma_width=self.dma_width)
        except (ModelError, ValueError, FileExistsError) as err:
            raise ToolConfigurationError(str(err)) from err
        except BuildError as err:
            self.log.error("%s", err)
            self.log.error("outputs of the steps before '%s' are kept in %s", err.step, self.out)
            self.exit(1)
        except HardwareError as err:
            self.log.error("%s", err)
            self.exit(1)
        Provenance().add_input_file(str(Path(self.model_dir) / "model.keras"), role="trigger model", add_meta=False)
        Provenance().add_output_file(str(Path(self.out) / "report.json"), role="hardware build report")

    def finish(self):
        print(format_report(self.report))
