"""The board's decisions against the project's Python model, window by window.

Everything expected comes from :func:`trigger.hardware.expected.expected_decisions`,
the golden model the cocotb bench uses too (never re-coded).
"""

from dataclasses import dataclass, field

import numpy as np

from ..hardware.expected import ExpectedDecisions, expected_decisions
from ..hardware.spec import TriggerSpec
from ..nn.model import score_function
from .packing import Decisions

__all__ = ["Comparison", "compare_decisions", "compare_with_model"]


@dataclass
class Comparison:
    """Windows compared, candidates compared, and the windows that differ (with what differs)."""

    windows: int
    candidates: int
    mismatches: list = field(default_factory=list)

    @property
    def n_mismatches(self) -> int:
        return len(self.mismatches)


def compare_with_model(decisions: Decisions, counts, model, trigger_config: dict, report: dict) -> Comparison:
    """Compare ``decisions`` of ``counts`` with the model (Keras ``model``, ``trigger.json``, ``report.json``)."""
    counts = np.asarray(counts)
    spec = TriggerSpec.from_config(trigger_config)
    return compare_decisions(decisions, expected_decisions(counts, spec, score_function(model),
                                                           report["rtl"]["output_kif"]))


def compare_decisions(decisions: Decisions, want: ExpectedDecisions) -> Comparison:
    """Compare ``decisions`` with the expected ones (:func:`~trigger.hardware.expected.expected_decisions`)."""
    got = decisions.candidates
    mismatches = []
    for i in range(len(want.asum_fired)):
        mine = got[got["window"] == i]
        have = list(zip(mine["sample"].tolist(), mine["group"].tolist(), mine["score"].tolist(),
                        mine["passed"].tolist()))
        diff = {}
        if not np.array_equal(decisions.asum_fired[i], want.asum_fired[i]):
            diff["asum_samples"] = (np.flatnonzero(decisions.asum_fired[i]).tolist(),
                                    np.flatnonzero(want.asum_fired[i]).tolist())
        if have != want.candidates_of(i):
            diff["candidates"] = (len(have), int(np.count_nonzero(want.event == i)))
        if decisions.asum_first[i] != want.asum_first[i]:
            diff["asum_first"] = (int(decisions.asum_first[i]), int(want.asum_first[i]))
        if decisions.nn_first[i] != want.nn_first[i]:
            diff["nn_first"] = (int(decisions.nn_first[i]), int(want.nn_first[i]))
        if diff:
            mismatches.append({"window": i, **diff})
    return Comparison(len(want.asum_fired), len(want.event), mismatches)
