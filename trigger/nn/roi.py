"""Where and on what the network runs: gate candidates and their regions of interest.

The network is a second level behind a low-threshold analog-sum gate. A
candidate is a (group, sample) where a group sum rises above the gate
threshold; its region of interest (ROI) is the trigger input of the group's
three modules (in increasing module number) from ``n_before`` samples before
the candidate sample to ``n_after`` samples after it, flattened module by
module. The same definitions serve training, evaluation, the rate estimator,
the generated hardware and the testbenches.

The ROI's modules are its *view*. ``"group"`` is the three modules the
candidate's group sums. ``"ring"`` adds the nine modules around that
triangle (every module that shares a trigger group with one of its
modules): NSB fluctuations are local to a module, a shower's light is not,
so light next to the group tells the two apart where the group alone cannot.
The ring's modules come in a fixed order relative to the group (by angle
around the triangle's centre, from its first module towards its second), so
that a network's weights mean the same place for every group; a ring slot
outside the camera reads as a dark module (the pedestal).
"""

from dataclasses import asdict, dataclass
from functools import cache

import numpy as np

__all__ = ["RoiGeometry", "VIEWS", "gate_candidates", "extract_rois", "gather_rois", "view_modules"]

# modules each view shows per candidate: the group's three, or those and the nine around them
VIEWS = {"group": 3, "ring": 12}


@dataclass(frozen=True)
class RoiGeometry:
    gate: int  # group-sum threshold of the gate, counts
    n_before: int = 10
    n_after: int = 6
    view: str = "group"

    def __post_init__(self):
        if self.view not in VIEWS:
            raise ValueError(f"unknown ROI view {self.view!r}: one of {', '.join(VIEWS)}")

    @property
    def window(self) -> int:
        return self.n_before + self.n_after

    @property
    def n_modules(self) -> int:
        return VIEWS[self.view]

    @property
    def n_inputs(self) -> int:
        return self.n_modules * self.window

    def modules(self, instrument) -> np.ndarray:
        """Camera modules (n_groups, n_modules) of each group's ROI, -1 where the view leaves the camera."""
        return view_modules(instrument, self.view)

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


def gather_rois(counts, event, modules, sample, geometry: RoiGeometry, fill=0) -> np.ndarray:
    """ROIs (m, n_inputs), integer counts, of ``modules`` (m, n_modules) (indices into axis 1 of ``counts``; -1:
    no module there, read as ``fill``) around ``sample``."""
    offsets = np.arange(-geometry.n_before, geometry.n_after)
    times = np.asarray(sample)[:, None] + offsets[None, :]  # (m, W)
    modules = np.asarray(modules)
    rois = counts[np.asarray(event)[:, None, None], np.maximum(modules, 0)[:, :, None], times[:, None, :]].astype(np.int32)
    if (modules < 0).any():
        rois[modules < 0] = fill
    return rois.reshape(len(event), geometry.n_inputs)


def extract_rois(counts, event, group, sample, geometry: RoiGeometry, view_modules, fill=0) -> np.ndarray:
    """ROIs (m, n_inputs) of the candidates, integer counts, from trigger input (n, N_MODULES, n_samples);
    ``view_modules`` from :meth:`RoiGeometry.modules`, ``fill`` the count of a dark module (the pedestal)."""
    return gather_rois(counts, event, view_modules[group], sample, geometry, fill)


@cache
def view_modules(instrument, view="group") -> np.ndarray:
    """Camera modules (n_groups, VIEWS[view]) of each group's ROI: its three modules (increasing), then for
    ``"ring"`` the nine hexagonal cells around the triangle by angle around its centre, from its first module
    towards its second, -1 for a cell outside the camera."""
    groups = np.asarray(instrument.group_modules)
    if view == "group":
        return _shared(groups.copy())
    if view not in VIEWS:
        raise ValueError(f"unknown ROI view {view!r}: one of {', '.join(VIEWS)}")
    centre = instrument.module_positions
    # the six steps to a module's neighbours: the closest modules around the one nearest the camera centre
    middle = np.argmin(np.hypot(*centre.T))
    offset = centre - centre[middle]
    distance = np.hypot(*offset.T)
    pitch = np.sort(distance)[1]
    steps = offset[np.abs(distance - pitch) < 0.1 * pitch]
    if len(steps) != 6:
        raise ValueError(f"module grid: {len(steps)} neighbours of the central module, expected 6")
    out = np.full((len(groups), VIEWS[view]), -1)
    out[:, :3] = groups
    for g, modules in enumerate(groups):
        mid = centre[modules].mean(axis=0)
        cells = (centre[modules][:, None, :] + steps[None]).reshape(-1, 2)
        cells = cells[np.min(np.hypot(*(cells[:, None] - centre[modules][None]).transpose(2, 0, 1)), axis=1) > 0.5 * pitch]
        ring = []  # the distinct cells (each of the three edge cells is a neighbour of two modules)
        for c in cells:
            if all(np.hypot(*(c - r)) > 0.5 * pitch for r in ring):
                ring.append(c)
        if len(ring) != VIEWS[view] - 3:
            raise ValueError(f"trigger group {g}: {len(ring)} cells around its modules, expected {VIEWS[view] - 3}")
        ring = np.array(ring) - mid
        first, second = centre[modules[0]] - mid, centre[modules[1]] - mid
        sense = np.sign(first[0] * second[1] - first[1] * second[0])  # +1: the second module lies counter-clockwise
        angle = np.mod(sense * (np.arctan2(ring[:, 1], ring[:, 0]) - np.arctan2(first[1], first[0])) + 1e-9, 2 * np.pi)
        for slot, c in enumerate(ring[np.argsort(angle)] + mid):
            d = np.hypot(*(centre - c).T)
            if d.min() < 0.5 * pitch:
                out[g, 3 + slot] = int(np.argmin(d))
    return _shared(out)


def _shared(table: np.ndarray) -> np.ndarray:
    # view_modules' tables are cached and handed to every caller: one that wrote into its copy would change them all
    table.setflags(write=False)
    return table
