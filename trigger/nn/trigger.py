"""Telescope decisions of both triggers on the same trigger input, in the same decision range.

The golden model of the hardware: the analog-sum baseline (any group sum
above its threshold) and the NN trigger (a gate candidate whose ROI scores
above the NN threshold), each giving the first sample where the telescope
triggers. Both look only at samples where a full ROI fits in the readout
window, so that neither sees more of the event than the other.
"""

from dataclasses import dataclass

import numpy as np

from ..analog_sum import AnalogSumTrigger
from .roi import RoiGeometry, extract_rois, gate_candidates

__all__ = ["Candidates", "TelescopeDecisions", "analog_sum_first", "nn_candidates", "nn_first"]


@dataclass
class Candidates:
    """Gate candidates of a set of telescope events, with their ROIs and network scores."""

    event: np.ndarray
    group: np.ndarray
    sample: np.ndarray
    rois: np.ndarray
    score: np.ndarray


@dataclass
class TelescopeDecisions:
    """First trigger sample per telescope event (-1: no trigger)."""

    analog_sum: np.ndarray
    nn: np.ndarray


def analog_sum_first(trigger: AnalogSumTrigger, counts, threshold, decision_range, chunk=512) -> np.ndarray:
    """First sample in ``decision_range`` where any group sum is above ``threshold``; -1 where none.

    In blocks of ``chunk`` events: the group sums of a whole file at once (their 474 x 3 module samples as int32,
    7.5 GB for the 33k telescope events of 15,000 test showers) took such an evaluation to 12 GB.
    """
    start, stop = decision_range
    first = np.empty(len(counts), dtype=np.int64)
    for i in range(0, len(counts), chunk):
        fired = trigger.camera_trigger(counts[i : i + chunk], threshold)[..., start:stop]
        first[i : i + chunk] = np.where(fired.any(axis=-1), fired.argmax(axis=-1) + start, -1)
    return first


def nn_candidates(trigger: AnalogSumTrigger, counts, geometry: RoiGeometry, score, chunk=512, pedestal=None) -> Candidates:
    """Gate candidates, ROIs and scores of telescope events ``counts`` (n, N_MODULES, n_samples); a view wider
    than the group reads ``pedestal`` (the trigger input's) where it leaves the camera."""
    if geometry.view != "group" and pedestal is None:
        raise ValueError(f"the {geometry.view!r} view needs the trigger input's pedestal for the slots outside the camera")
    modules = geometry.modules(trigger.instrument)
    parts = []
    decision_range = geometry.decision_range(counts.shape[-1])
    for start in range(0, len(counts), chunk):
        block = counts[start : start + chunk]
        event, group, sample = gate_candidates(trigger.group_sums(block), geometry.gate, decision_range)
        rois = extract_rois(block, event, group, sample, geometry, modules, pedestal or 0)
        parts.append((event + start, group, sample, rois))
    event, group, sample, rois = (np.concatenate(p) for p in zip(*parts))
    return Candidates(event, group, sample, rois, score(rois))


def nn_first(candidates: Candidates, n_events, threshold) -> np.ndarray:
    """First sample where a candidate scores above ``threshold``, per event; -1 where none."""
    first = np.full(n_events, np.iinfo(np.int64).max)
    passed = candidates.score > threshold
    np.minimum.at(first, candidates.event[passed], candidates.sample[passed])
    return np.where(first == np.iinfo(np.int64).max, -1, first)
