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

__all__ = ["Examples", "gamma_examples", "nsb_examples", "accepted_nsb_examples"]


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


def gamma_examples(events: TriggerEvents, geometry: RoiGeometry, trigger: AnalogSumTrigger, min_true_pe=3, *, pedestal) -> Examples:
    """Gate candidates of gamma events: signal where the group saw >= ``min_true_pe`` true p.e. (``pedestal``: the
    trigger input's, read where a wide view leaves the camera)."""
    if events.true_image is None:
        raise ValueError("gamma events need their true images (read_trigger_events(..., with_true_image=True))")
    sums = trigger.group_sums(events.counts)
    event, group, sample = gate_candidates(sums, geometry.gate, geometry.decision_range(events.counts.shape[-1]))
    true_pe = group_true_pe(events, event, group, trigger.instrument.group_pixels)
    keep = true_pe >= min_true_pe
    rois = extract_rois(events.counts, event[keep], group[keep], sample[keep], geometry, geometry.modules(trigger.instrument),
                        pedestal)
    return Examples(rois, np.ones(len(rois), dtype=np.int8), np.ones(len(rois)))


def nsb_examples(estimator: NSBRateEstimator, geometry: RoiGeometry, n_samples, rng, spread=24, chunk=50_000) -> Examples:
    """NSB ROIs that open the gate, importance-sampled, with normalised likelihood-ratio weights.

    Only rising edges at the tilted sample count. Edges a few samples away
    hold light the tilts did not aim at, and their rare heavy weights
    decide the class: with the 7 samples around the tilted one, 50k samples
    gave 28k ROIs whose weights had an effective size of 38 (the top ten
    held 40 % of the class; some trainings died on it), with the tilted
    sample alone 4.3k ROIs of effective size 577. Samples are drawn
    ``chunk`` at a time and only the ROIs kept (400k windows at once would
    need 7 GB).
    """
    thetas = estimator.thetas_for([geometry.gate, geometry.gate + spread])
    rois, weights = [], []
    for start in range(0, n_samples, chunk):
        samples = estimator.sample(min(chunk, n_samples - start), thetas, rng, single_module=True, view=geometry.view)
        sums = estimator.group_sums(samples)
        k = samples.decision_sample
        index = np.nonzero((sums[:, 0, k - 1] <= geometry.gate) & (sums[:, 0, k] > geometry.gate))[0]
        local = samples.views[index, 0]  # the chosen group's ROI modules
        rois.append(gather_rois(samples.counts, index, local, np.full(len(index), k), geometry, estimator.trigger_input.pedestal))
        weights.append(samples.weight[index])
    rois, weights = np.concatenate(rois), np.concatenate(weights)
    weights = weights / weights.mean() if len(weights) else weights
    return Examples(rois, np.zeros(len(rois), dtype=np.int8), weights)


def accepted_nsb_examples(simulation, rate_hz, rng) -> Examples:
    """NSB ROIs that a network accepts at about ``rate_hz`` (subset simulation,
    :meth:`trigger.subset_simulation.SubsetSimulation.accepted_windows`), weighted by their share of that rate
    and normalised to mean 1.

    The importance-sampled examples follow the NSB at the gate, where the
    windows that decide the rate at the operating point are ~10^-4 of the
    weight: a network trained on them alone orders that tail by chance.
    """
    rois, weights = simulation.accepted_windows(rng, rate_hz)
    if len(rois) == 0:
        raise ValueError(f"the subset simulation found no NSB window the network accepts at {rate_hz:.3g} Hz")
    return Examples(rois, np.zeros(len(rois), dtype=np.int8), weights / weights.mean())
