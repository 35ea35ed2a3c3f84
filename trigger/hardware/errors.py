"""Errors of the hardware generation, each naming what went wrong and where."""

__all__ = ["BitExactError", "BuildError", "HardwareError", "ModelError"]


class HardwareError(Exception):
    """Base class: anything the hardware flow reports to its user."""


class ModelError(HardwareError):
    """The model directory, ``model.keras`` or ``trigger.json`` cannot be used."""


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
