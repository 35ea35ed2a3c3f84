"""Where and on what the network runs: gate candidates and their regions of interest.

The network is a second level behind a low-threshold analog-sum gate. A
candidate is a (group, sample) where a group sum rises above the gate
threshold; its region of interest (ROI) is the trigger input of the group's
three modules (in increasing module number) from ``n_before`` samples before
the candidate sample to ``n_after`` samples after it, flattened module by
module. The same definitions serve training, evaluation, the rate estimator,
the generated hardware and the testbenches.
"""

from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["RoiGeometry", "gate_candidates", "extract_rois", "gather_rois"]


@dataclass(frozen=True)
class RoiGeometry:
    gate: int  # group-sum threshold of the gate, counts
    n_before: int = 10
    n_after: int = 6

    @property
    def window(self) -> int:
        return self.n_before + self.n_after

    @property
    def n_inputs(self) -> int:
        return 3 * self.window

    def decision_range(self, n_samples) -> tuple[int, int]:
        """Samples k (start, stop) where a candidate's ROI lies inside the readout window."""
        return self.n_before, n_samples - self.n_after + 1

    def describe(self) -> dict:
        return asdict(self)


def gate_candidates(group_sums, gate, decision_range):
    """Rising edges of group sums above ``gate`` inside ``decision_range``.

    ``group_sums`` (n, n_groups, n_samples) -> (event index, group, sample) arrays, sorted by event and sample.
    """
    start, stop = decision_range
    above = group_sums > gate
    rising = above[..., 1:] & ~above[..., :-1]  # rising[..., k - 1] is a rise at sample k
    rising = rising[..., start - 1 : stop - 1]
    event, group, sample = np.nonzero(rising)
    sample = sample + start
    order = np.lexsort((group, sample, event))
    return event[order], group[order], sample[order]


def gather_rois(counts, event, modules, sample, geometry: RoiGeometry) -> np.ndarray:
    """ROIs (m, 3 * window), integer counts, of ``modules`` (m, 3) (indices into axis 1 of ``counts``) around ``sample``."""
    offsets = np.arange(-geometry.n_before, geometry.n_after)
    times = np.asarray(sample)[:, None] + offsets[None, :]  # (m, W)
    rois = counts[np.asarray(event)[:, None, None], modules[:, :, None], times[:, None, :]]
    return rois.reshape(len(event), geometry.n_inputs).astype(np.int32)


def extract_rois(counts, event, group, sample, geometry: RoiGeometry, group_modules) -> np.ndarray:
    """ROIs (m, 3 * window) of the candidates, integer counts, from trigger input (n, N_MODULES, n_samples)."""
    return gather_rois(counts, event, group_modules[group], sample, geometry)
