"""Errors of the hardware generation, each naming what went wrong and where.

Bad input (an unusable model folder, check events, option values, an output
that exists) is a :class:`lstcommon.UserError` as well: commands report it in
one line and exit with 2. A step that fails on good input is a
:class:`BuildError` (exit 1), and names its step.
"""

from lstcommon import UserError

__all__ = ["BitExactError", "BuildError", "HardwareError", "InputError", "ModelError", "OutputExistsError"]


class HardwareError(Exception):
    """Base class: anything the hardware flow reports to its user."""


class InputError(HardwareError, UserError, ValueError):
    """An argument or option value the build cannot work with (the message names it)."""


class ModelError(InputError):
    """The model directory, ``model.keras``, ``trigger.json`` or the check events cannot be used."""


class OutputExistsError(HardwareError, UserError, FileExistsError):
    """The output folder holds an earlier build (or something else) and replacing it was not asked for."""


class BuildError(HardwareError):
    """A build step failed; ``step`` names it, outputs of earlier steps are kept."""

    def __init__(self, step: str, message: str):
        super().__init__(f"build step '{step}' failed: {message}")
        self.step = step


class BitExactError(BuildError):
    """Generated code computes something else than the Keras model (outputs are kept for debugging)."""

    def __init__(self, mismatches: dict):
        detail = ", ".join(f"{name}: {m['mismatches']} of {m['events']} events differ" for name, m in mismatches.items())
        super().__init__("bit_exact", detail)
        self.mismatches = mismatches
