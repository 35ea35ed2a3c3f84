"""Bit-exact integer model of the LST-1 analog-sum trigger on the digital trigger input.

LST-1 sums the (clipped, shaped) signals of 21 pixels, three adjacent
7-pixel modules, in 474 overlapping groups and triggers the telescope when any
group sum crosses a threshold; the array triggers when 2 of the 4 LSTs
trigger within 120 ns. Here the group sum is the integer sum of the three
modules' trigger-input counts (:mod:`trigger.inputs`), compared with an
integer threshold in counts (pedestals included), every sample.
"""

from dataclasses import dataclass

import astropy.units as u
import numpy as np
from ctapipe.core import Component
from ctapipe.core.traits import Int

from .instrument import LSTInstrument
from .sizes import N_MODULES

__all__ = ["AnalogSumTrigger", "array_trigger", "compare_with_simtel_traces", "read_aux_traces"]


class AnalogSumTrigger(Component):
    """Any of the 474 three-module group sums above ``threshold`` counts triggers the telescope."""

    threshold = Int(100, help="Threshold on the group sum of trigger-input counts (pedestals included)").tag(config=True)

    def __init__(self, config=None, parent=None, instrument=None, **kwargs):
        super().__init__(config=config, parent=parent, **kwargs)
        self.instrument = instrument if instrument is not None else LSTInstrument()
        self.group_modules = self.instrument.group_modules

    def group_sums(self, counts) -> np.ndarray:
        """Trigger input (..., N_MODULES, n_samples) -> group sums (..., 474, n_samples), int32."""
        counts = np.asarray(counts)
        if counts.ndim < 2 or counts.shape[-2] != N_MODULES:
            raise ValueError(f"expected trigger input of shape (..., {N_MODULES}, n_samples), got {counts.shape}")
        if not np.issubdtype(counts.dtype, np.integer):
            raise TypeError(f"trigger input must be integer counts, got {counts.dtype}")
        return counts[..., self.group_modules, :].astype(np.int32).sum(axis=-2)

    def over_threshold(self, counts, threshold=None) -> np.ndarray:
        """Per group and sample: sum > threshold, shape (..., 474, n_samples)."""
        return self.group_sums(counts) > (self.threshold if threshold is None else threshold)

    def camera_trigger(self, counts, threshold=None) -> np.ndarray:
        """Per sample: any group over threshold, shape (..., n_samples)."""
        return self.over_threshold(counts, threshold).any(axis=-2)

    def first_trigger(self, counts, threshold=None) -> np.ndarray:
        """First sample with a camera trigger, -1 where none, shape (...)."""
        fired = self.camera_trigger(counts, threshold)
        return np.where(fired.any(axis=-1), fired.argmax(axis=-1), -1)

    def max_group_sum(self, counts) -> np.ndarray:
        """Largest group sum over groups and samples, shape (...): the event triggers iff it is > threshold."""
        return self.group_sums(counts).max(axis=(-2, -1))


def array_trigger(trigger_times, min_telescopes=2, window=120 * u.ns) -> bool:
    """Stereo trigger: at least ``min_telescopes`` telescope triggers within ``window``.

    ``trigger_times`` holds one time (ns, any common origin) per telescope that
    triggered; NaN entries are ignored.
    """
    times = np.sort(np.asarray([t for t in trigger_times if np.isfinite(t)], dtype=float))
    if len(times) < min_telescopes:
        return False
    width = window.to_value(u.ns)
    k = min_telescopes - 1
    return bool(np.any(times[k:] - times[:-k] <= width)) if k > 0 else True


@dataclass
class AuxTraces:
    """sim_telarray's auxiliary analog traces of one telescope event."""

    pixel: np.ndarray  # (1855, n) pixel signals as seen by the trigger
    group: np.ndarray  # (474, n) analog sums
    time_step_ns: float


def read_aux_traces(path) -> AuxTraces:
    """Read the pixel and analog-sum traces (eventio object 2030) of the first telescope event."""
    import eventio

    traces = {}

    def walk(obj):
        if obj.header.type == 2030:
            traces[obj.header.id] = obj.parse()
        elif obj.header.only_subobjects:
            for sub in obj:
                walk(sub)

    with eventio.EventIOFile(str(path)) as f:
        for obj in f:
            if obj.header.type == 2010:
                walk(obj)
                break
    if 1 not in traces or 2 not in traces:
        raise ValueError(f"{path}: no auxiliary analog traces (eventio type 2030, ids 1 and 2)")
    return AuxTraces(
        pixel=np.asarray(traces[1]["trace_data"], dtype=np.float64),
        group=np.asarray(traces[2]["trace_data"], dtype=np.float64),
        time_step_ns=float(traces[1]["time_scale"]),
    )


def compare_with_simtel_traces(path, instrument=None) -> dict:
    """Sum sim_telarray's pixel traces over our 474 groups and compare with its own analog sums."""
    instrument = instrument if instrument is not None else LSTInstrument()
    aux = read_aux_traces(path)
    ours = aux.pixel[instrument.group_pixels].sum(axis=1)
    if ours.shape != aux.group.shape:
        raise ValueError(f"group traces of shape {aux.group.shape}, our groups give {ours.shape}")
    residual = ours - aux.group
    peak = np.unravel_index(np.argmax(aux.group), aux.group.shape)
    return {
        "n_groups": int(aux.group.shape[0]),
        "n_samples": int(aux.group.shape[1]),
        "time_step_ns": aux.time_step_ns,
        "max_abs_difference": float(np.abs(residual).max()),
        "rms_difference": float(residual.std()),
        "rms_group_signal": float(aux.group.std()),
        "max_group_signal": float(aux.group.max()),
        "brightest_group": int(peak[0]),
        "correlation": float(np.corrcoef(ours.ravel(), aux.group.ravel())[0, 1]),
    }
