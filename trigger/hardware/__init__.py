"""From a saved trigger model to hardware: hls4ml HLS, da4ml Verilog, bit-exact checks, estimates, report.

``build(model_dir, out_dir)`` runs everything; the modules hold one step each
(``hls``, ``rtl``, ``synth``, ``vendor``, ``report``). See docs/hardware.md.
"""

from .build import DEFAULT_CLOCK_MHZ, DEFAULT_N_CHECK, DEFAULT_PART, build
from .errors import BitExactError, BuildError, HardwareError, InputError, ModelError, OutputExistsError
from .model import InputSpec, TriggerModel, load_trigger_model
from .report import format_report

__all__ = [
    "DEFAULT_CLOCK_MHZ",
    "DEFAULT_N_CHECK",
    "DEFAULT_PART",
    "BitExactError",
    "BuildError",
    "HardwareError",
    "InputError",
    "InputSpec",
    "ModelError",
    "OutputExistsError",
    "TriggerModel",
    "build",
    "format_report",
    "load_trigger_model",
]
