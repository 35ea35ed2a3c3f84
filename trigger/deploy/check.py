"""The board's decisions against the project's Python model, window by window.

Everything expected comes from ``trigger/`` (the same functions the cocotb
bench uses, never re-coded): :class:`~trigger.analog_sum.AnalogSumTrigger`,
:func:`~trigger.nn.trigger.nn_candidates` with the Keras scores,
:func:`~trigger.nn.trigger.analog_sum_first`, :func:`~trigger.nn.trigger.nn_first`
and :func:`~trigger.hardware.top.register_values`.
"""

from dataclasses import dataclass, field

import numpy as np

from ..analog_sum import AnalogSumTrigger
from ..hardware.top import output_scale, register_values
from ..inputs import TriggerInput
from ..nn.model import score_function
from ..nn.roi import RoiGeometry
from ..nn.trigger import analog_sum_first, nn_candidates, nn_first
from .packing import Decisions

__all__ = ["Comparison", "compare_with_model"]


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
    n, n_samples = len(counts), counts.shape[-1]
    trigger_input = TriggerInput.from_description(trigger_config["input"])
    analog_sum = AnalogSumTrigger(instrument=trigger_input.instrument)
    roi = trigger_config["roi"]
    geometry = RoiGeometry(int(roi["gate"]), int(roi["n_before"]), int(roi["n_after"]))
    registers = register_values(trigger_config, report["rtl"]["output_kif"])
    threshold = float(trigger_config["operating_point"]["nn"]["threshold"])
    start, stop = geometry.decision_range(n_samples)

    fires = analog_sum.camera_trigger(counts, registers["asum_threshold"])
    expected_fired = np.zeros_like(fires)
    expected_fired[:, start:stop] = fires[:, start:stop]
    cands = nn_candidates(analog_sum, counts, geometry, score_function(model))
    scaled = cands.score * 2.0 ** output_scale(report["rtl"]["output_kif"])
    a_first = analog_sum_first(analog_sum, counts, registers["asum_threshold"], (start, stop))
    n_first = nn_first(cands, n, threshold)

    got = decisions.candidates
    mismatches = []
    for i in range(n):
        sel = cands.event == i
        want = list(zip(cands.sample[sel].tolist(), cands.group[sel].tolist(),
                        scaled[sel].astype(np.int64).tolist(), (cands.score[sel] > threshold).tolist()))
        mine = got[got["window"] == i]
        have = list(zip(mine["sample"].tolist(), mine["group"].tolist(), mine["score"].tolist(),
                        mine["passed"].tolist()))
        diff = {}
        if not np.array_equal(decisions.asum_fired[i], expected_fired[i]):
            diff["asum_samples"] = (np.flatnonzero(decisions.asum_fired[i]).tolist(),
                                    np.flatnonzero(expected_fired[i]).tolist())
        if have != want:
            diff["candidates"] = (len(have), len(want))
        if decisions.asum_first[i] != a_first[i]:
            diff["asum_first"] = (int(decisions.asum_first[i]), int(a_first[i]))
        if decisions.nn_first[i] != n_first[i]:
            diff["nn_first"] = (int(decisions.nn_first[i]), int(n_first[i]))
        if diff:
            mismatches.append({"window": i, **diff})
    return Comparison(n, len(cands.event), mismatches)
