"""Expected decisions of the trigger top, per event window, from the project's Python model (never re-coded here).

The decisions come from :func:`trigger.hardware.expected.expected_decisions`,
the one golden model of the hardware checks (the simulated board's check uses
it too); this file only reads the trained trigger once
(:class:`trigger.hardware.spec.TriggerSpec`, the Keras model for the scores)
and turns the decisions into per-window lists for the scoreboard.
"""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trigger.analog_sum import AnalogSumTrigger
from trigger.events import read_trigger_events
from trigger.hardware.expected import expected_decisions
from trigger.hardware.spec import TriggerSpec
from trigger.hardware.top import output_scale
from trigger.inputs import TriggerInput
from trigger.nn.model import load_trigger, score_function


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
        self.spec = TriggerSpec.from_config(self.config, source=str(Path(model_dir) / "trigger.json"))
        self.report = json.loads((Path(hardware_dir) / "report.json").read_text())
        self.output_kif = self.report["rtl"]["output_kif"]
        self.trigger_input = TriggerInput.from_description(self.config["input"])
        self.analog_sum = AnalogSumTrigger(instrument=self.trigger_input.instrument)
        self.geometry = self.spec.geometry
        self.registers = self.spec.registers(self.output_kif)
        self.frac_bits = output_scale(self.output_kif)
        self.asum_threshold = self.registers["asum_threshold"]
        self.nn_threshold = self.spec.nn_threshold
        self.score = score_function(self.model)

    def read(self, path, max_events=None) -> np.ndarray:
        """Trigger input counts (n, N_MODULES, n_samples) of the telescope events of a project file."""
        return read_trigger_events(path, self.trigger_input, max_tel_events=max_events).counts

    def expect(self, counts) -> list[Expected]:
        d = expected_decisions(counts, self.spec, self.score, self.output_kif, self.analog_sum)
        return [Expected(np.flatnonzero(d.asum_fired[i]).tolist(), d.candidates_of(i), int(d.asum_first[i]),
                         int(d.nn_first[i])) for i in range(len(d.asum_fired))]
