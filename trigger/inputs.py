"""THE digital trigger input: quantized 7-pixel module sums at 1.024 GHz.

A digital camera trigger (the LST Advanced Camera's design) receives, for each
of the N_MODULES (``trigger.sizes``) modules, the sum of its 7 pixel signals, digitised at the sampling
rate with a few bits. This module defines that input once; training,
evaluation, the analog-sum baseline, hls4ml/da4ml, the RTL and the
testbenches all take their integers from :meth:`TriggerInput.quantize`.

Counts are ``clip(floor(gain * s + pedestal + 1/2), 0, 2**bits - 1)`` with
``s`` the module sum of the R1 waveforms (p.e. per sample, AC-coupled, so zero
on average under NSB). The defaults are justified in docs/trigger.md.
"""

import numpy as np
from ctapipe.core import Component
from ctapipe.core.traits import Float, Int

from lstcommon import UserError

from .instrument import LSTInstrument
from .sizes import N_MODULES

__all__ = ["TriggerInput", "TriggerInputError"]


class TriggerInputError(UserError, ValueError):
    """Settings of the trigger input that no hardware could have."""


class TriggerInput(Component):
    """Quantization of the module sums that the trigger sees."""

    bits = Int(8, help="Bits per module sample (unsigned)").tag(config=True)
    gain = Float(4.0, help="Counts per p.e. per sample (the LSB is 1/gain p.e.)").tag(config=True)
    pedestal = Int(16, help="Counts added before quantization, so that negative NSB fluctuations are kept").tag(config=True)

    def __init__(self, config=None, parent=None, instrument=None, **kwargs):
        super().__init__(config=config, parent=parent, **kwargs)
        if not 2 <= self.bits <= 16:
            raise TriggerInputError(f"--bits must be within 2..16, got {self.bits}")
        if not (np.isfinite(self.gain) and self.gain > 0):
            raise TriggerInputError(f"--gain must be > 0 counts per p.e., got {self.gain}")
        if not 0 <= self.pedestal < self.max_count:
            raise TriggerInputError(f"pedestal must be within 0..{self.max_count - 1}, got {self.pedestal}")
        self.instrument = instrument if instrument is not None else LSTInstrument()

    @property
    def max_count(self) -> int:
        return (1 << self.bits) - 1

    @property
    def dtype(self):
        return np.uint8 if self.bits <= 8 else np.uint16

    def describe(self) -> dict:
        """Everything needed to rebuild the input, saved with every model."""
        return {"bits": self.bits, "gain": self.gain, "pedestal": self.pedestal, "n_modules": N_MODULES, "sampling_ghz": 1.024}

    @classmethod
    def from_description(cls, description, **kwargs):
        return cls(bits=description["bits"], gain=description["gain"], pedestal=description["pedestal"], **kwargs)

    def module_sums(self, waveforms) -> np.ndarray:
        """Sum R1 waveforms (..., 1855, n_samples) over the 7 pixels of each module: (..., N_MODULES, n_samples)."""
        waveforms = np.asarray(waveforms)
        if waveforms.ndim < 2 or waveforms.shape[-2] != 1855:
            raise ValueError(f"expected waveforms of shape (..., 1855, n_samples), got {waveforms.shape}")
        if not np.all(np.isfinite(waveforms)):
            raise ValueError("waveforms contain NaN or infinite values")
        return waveforms[..., self.instrument.module_pixels, :].sum(axis=-2, dtype=np.float64)

    def quantize(self, module_sums) -> np.ndarray:
        """Module sums in p.e. per sample -> unsigned counts, saturating at ``2**bits - 1``."""
        module_sums = np.asarray(module_sums, dtype=np.float64)
        if not np.all(np.isfinite(module_sums)):
            raise ValueError("module sums contain NaN or infinite values")
        counts = np.floor(module_sums * self.gain + (self.pedestal + 0.5))
        return np.clip(counts, 0, self.max_count).astype(self.dtype)

    def __call__(self, waveforms) -> np.ndarray:
        """R1 waveforms (..., 1855, n_samples) -> trigger input (..., N_MODULES, n_samples) counts."""
        return self.quantize(self.module_sums(waveforms))

    def to_pe(self, counts) -> np.ndarray:
        """Counts back to p.e. per sample (for plots and thresholds in physical units)."""
        return (np.asarray(counts, dtype=np.float64) - self.pedestal) / self.gain
