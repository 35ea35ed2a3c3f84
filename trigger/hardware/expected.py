"""The decisions the trigger top must take on a set of windows: the one golden model of the hardware checks.

The cocotb bench (``testbench/trigger_top/golden.py``), the simulated or real
board's check (:func:`trigger.deploy.check.compare_with_model`) and anything
else that compares hardware with the Python model call :func:`expected_decisions`;
it only assembles the project's own functions, never re-codes them:
:class:`~trigger.analog_sum.AnalogSumTrigger` (group sums, analog-sum fires),
:func:`~trigger.nn.trigger.nn_candidates` (gate candidates, ROIs, network
scores), :func:`~trigger.nn.trigger.analog_sum_first` and
:func:`~trigger.nn.trigger.nn_first`, with the register values and the network
output's fixed-point scale of the build (:class:`~trigger.hardware.spec.TriggerSpec`).
"""

from dataclasses import dataclass

import numpy as np

from ..analog_sum import AnalogSumTrigger
from ..nn.trigger import analog_sum_first, nn_candidates, nn_first
from .spec import TriggerSpec
from .top import output_scale

__all__ = ["ExpectedDecisions", "expected_decisions"]


@dataclass
class ExpectedDecisions:
    """Per window: analog-sum fires in the decision range, the candidates in the model's order, first samples."""

    asum_fired: np.ndarray   # (n, n_samples) bool, only the decision range can be set
    event: np.ndarray        # candidates, ordered by window, sample, group
    sample: np.ndarray
    group: np.ndarray
    score_int: np.ndarray    # the core's output integer, score * 2**f
    passed: np.ndarray       # score > NN threshold
    asum_first: np.ndarray   # first fired sample per window, -1 where none
    nn_first: np.ndarray     # first passing candidate sample per window, -1 where none
    registers: dict

    def candidates_of(self, i: int) -> list[tuple[int, int, int, bool]]:
        """(sample, group, score integer, pass) of window ``i`` in the model's order."""
        sel = self.event == i
        return list(zip(self.sample[sel].tolist(), self.group[sel].tolist(), self.score_int[sel].tolist(),
                        self.passed[sel].tolist(), strict=True))


def expected_decisions(counts, spec: TriggerSpec, score, output_kif, analog_sum: AnalogSumTrigger | None = None
                       ) -> ExpectedDecisions:
    """What the top decides on ``counts`` (n, N_MODULES, n_samples) with the registers of ``spec`` and ``output_kif``.

    ``score``: the network's score function (Keras, ``trigger.nn.model.score_function``).
    Raises ``AssertionError`` when a Keras score is not on the output grid of
    ``output_kif`` (the build and the model disagree).
    """
    counts = np.asarray(counts)
    n, n_samples = len(counts), counts.shape[-1]
    if analog_sum is None:
        from ..inputs import TriggerInput

        analog_sum = AnalogSumTrigger(instrument=TriggerInput.from_description(spec.config["input"]).instrument)
    registers = spec.registers(output_kif)
    geometry = spec.geometry
    start, stop = geometry.decision_range(n_samples)
    fires = analog_sum.camera_trigger(counts, registers["asum_threshold"])
    fired = np.zeros_like(fires)
    fired[:, start:stop] = fires[:, start:stop]
    cands = nn_candidates(analog_sum, counts, geometry, score)
    scaled = cands.score * 2.0 ** output_scale(output_kif)
    if not np.all(scaled == np.round(scaled)):
        raise AssertionError("Keras scores are not on the output grid of report.json's output_kif")
    return ExpectedDecisions(
        asum_fired=fired, event=cands.event, sample=cands.sample, group=cands.group,
        score_int=scaled.astype(np.int64), passed=cands.score > spec.nn_threshold,
        asum_first=analog_sum_first(analog_sum, counts, registers["asum_threshold"], (start, stop)),
        nn_first=nn_first(cands, n, spec.nn_threshold), registers=registers)
