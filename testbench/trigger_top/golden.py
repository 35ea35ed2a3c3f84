"""Expected decisions of the trigger top, per event window, from the project's Python model (never re-coded here).

Everything the RTL decides comes from ``trigger/``: the group sums and the
analog-sum decision (:class:`trigger.analog_sum.AnalogSumTrigger`), the gate
candidates and their ROIs (:func:`trigger.nn.trigger.nn_candidates`), the
scores of the quantized Keras model (:func:`trigger.nn.model.score_function`),
the first trigger samples (:func:`analog_sum_first`, :func:`nn_first`) and the
register values (:func:`trigger.hardware.top.register_values`).
"""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trigger.analog_sum import AnalogSumTrigger
from trigger.events import read_trigger_events
from trigger.hardware.top import output_scale, register_values
from trigger.inputs import TriggerInput
from trigger.nn.model import load_trigger, score_function
from trigger.nn.roi import RoiGeometry
from trigger.nn.trigger import analog_sum_first, nn_candidates, nn_first


@dataclass
class Expected:
    """Per event: analog-sum samples that fire, candidates (sample, group, score integer, pass), firsts."""

    asum_samples: list  # sorted sample numbers in the decision range where the analog sum fires
    candidates: list    # [(sample, group, score_int, passed)] in the model's order (sample, then group)
    asum_first: int
    nn_first: int


class GoldenModel:
    """The trained trigger (``model_dir``) and its hardware build (``hardware_dir``) as the RTL must behave."""

    def __init__(self, model_dir, hardware_dir):
        self.model, self.config = load_trigger(model_dir)
        self.report = json.loads((Path(hardware_dir) / "report.json").read_text())
        self.trigger_input = TriggerInput.from_description(self.config["input"])
        self.analog_sum = AnalogSumTrigger(instrument=self.trigger_input.instrument)
        roi = self.config["roi"]
        self.geometry = RoiGeometry(int(roi["gate"]), int(roi["n_before"]), int(roi["n_after"]))
        self.registers = register_values(self.config, self.report["rtl"]["output_kif"])
        self.frac_bits = output_scale(self.report["rtl"]["output_kif"])
        self.asum_threshold = self.registers["asum_threshold"]
        self.nn_threshold = float(self.config["operating_point"]["nn"]["threshold"])
        self.score = score_function(self.model)

    def read(self, path, max_events=None) -> np.ndarray:
        """Trigger input counts (n, 265, n_samples) of the telescope events of a project file."""
        return read_trigger_events(path, self.trigger_input, max_tel_events=max_events).counts

    def expect(self, counts) -> list[Expected]:
        counts = np.asarray(counts)
        n, n_samples = len(counts), counts.shape[-1]
        start, stop = self.geometry.decision_range(n_samples)
        fires = self.analog_sum.camera_trigger(counts, self.asum_threshold)
        cands = nn_candidates(self.analog_sum, counts, self.geometry, self.score)
        a_first = analog_sum_first(self.analog_sum, counts, self.asum_threshold, (start, stop))
        n_first = nn_first(cands, n, self.nn_threshold)
        scaled = cands.score * 2.0**self.frac_bits
        if not np.all(scaled == np.round(scaled)):
            raise AssertionError("Keras scores are not on the output grid of report.json's output_kif")
        passed = cands.score > self.nn_threshold
        per_event = [[] for _ in range(n)]
        for e, s, g, q, p in zip(cands.event, cands.sample, cands.group, scaled.astype(np.int64), passed, strict=True):
            per_event[int(e)].append((int(s), int(g), int(q), bool(p)))
        out = []
        for i in range(n):
            samples = (np.flatnonzero(fires[i, start:stop]) + start).tolist()
            out.append(Expected(samples, per_event[i], int(a_first[i]), int(n_first[i])))
        return out
