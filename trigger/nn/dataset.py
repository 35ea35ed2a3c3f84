"""Training examples for the second-level network: ROIs at gate candidates.

Signal: candidates in simulated gamma events whose group holds true
photo-electrons. Background: what the network must reject in operation, NSB
ROIs that open the gate. Those are far too rare to find in NSB files (one per
~10^9 group-samples at a 1 MHz gate), so they come from the rate estimator's
importance sampler, with its likelihood-ratio weights: the background class
then follows the true NSB distribution at the gate.
"""

from dataclasses import dataclass

import numpy as np

from ..analog_sum import AnalogSumTrigger
from ..events import TriggerEvents
from ..rates import NSBRateEstimator
from .roi import RoiGeometry, extract_rois, gate_candidates, gather_rois

__all__ = ["Examples", "gamma_examples", "nsb_examples"]


@dataclass
class Examples:
    rois: np.ndarray  # (n, n_inputs) integer counts
    labels: np.ndarray  # 1 gamma, 0 NSB
    weights: np.ndarray

    def __len__(self):
        return len(self.labels)

    @classmethod
    def concatenate(cls, parts):
        return cls(*(np.concatenate([getattr(p, k) for p in parts]) for k in ("rois", "labels", "weights")))


def group_true_pe(events: TriggerEvents, event, group, group_pixels):
    """True p.e. in each candidate's 21 pixels."""
    return events.true_image[event[:, None], group_pixels[group]].sum(axis=1)


def gamma_examples(events: TriggerEvents, geometry: RoiGeometry, trigger: AnalogSumTrigger, min_true_pe=3) -> Examples:
    """Gate candidates of gamma events: signal where the group saw >= ``min_true_pe`` true p.e."""
    if events.true_image is None:
        raise ValueError("gamma events need their true images (read_trigger_events(..., with_true_image=True))")
    sums = trigger.group_sums(events.counts)
    event, group, sample = gate_candidates(sums, geometry.gate, geometry.decision_range(events.counts.shape[-1]))
    true_pe = group_true_pe(events, event, group, trigger.instrument.group_pixels)
    keep = true_pe >= min_true_pe
    rois = extract_rois(events.counts, event[keep], group[keep], sample[keep], geometry, trigger.group_modules)
    return Examples(rois, np.ones(len(rois), dtype=np.int8), np.ones(len(rois)))


def nsb_examples(estimator: NSBRateEstimator, geometry: RoiGeometry, n_samples, rng, spread=24, around=3) -> Examples:
    """NSB ROIs that open the gate, importance-sampled, with normalised likelihood-ratio weights.

    Rising edges of the chosen group at the ``2 * around + 1`` samples around
    the tilted one all count (the weight holds for the whole window), which
    gives several times more examples per simulated window.
    """
    samples = estimator.sample(n_samples, estimator.thetas_for([geometry.gate, geometry.gate + spread]), rng, single_module=True)
    sums = estimator.group_sums(samples)
    k = samples.decision_sample
    rois, weights = [], []
    for at in range(k - around, k + around + 1):
        crossing = (sums[:, 0, at - 1] <= geometry.gate) & (sums[:, 0, at] > geometry.gate)
        index = np.nonzero(crossing)[0]
        local = samples.groups[index, 0]  # the chosen group's modules, in increasing module number
        rois.append(gather_rois(samples.counts, index, local, np.full(len(index), at), geometry))
        weights.append(samples.weight[index])
    rois, weights = np.concatenate(rois), np.concatenate(weights)
    weights = weights / weights.mean() if len(weights) else weights
    return Examples(rois, np.zeros(len(rois), dtype=np.int8), weights)
