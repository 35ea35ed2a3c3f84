"""``trigger-synth train``: the NN trigger and both triggers' operating points."""

from pathlib import Path

from ctapipe.core import Provenance, ToolConfigurationError
from ctapipe.core.traits import Bool, Float
from ctapipe.core.traits import Path as PathTrait

from lstcommon.files import OutputError, check_output_folder
from lstcommon.tool import CommandTool

from ..events import check_event_file, read_trigger_events
from ..inputs import TriggerInput
from ..nn.model import CONFIG_FILE, MODEL_FILE, save_trigger
from ..nn.train import TriggerTraining
from ..reports import format_model
from ..simulation.source import PRIMARY_ID

__all__ = ["TrainTool"]


class TrainTool(CommandTool):
    """Train the NN trigger on simulated gammas and set both triggers' operating points.

    Chooses the analog-sum gate from its NSB rate, trains a quantized (HGQ2)
    network on the gate candidates' ROIs (gammas versus importance-sampled
    NSB), and sets the baseline and NN thresholds at the same accidental rate.
    Writes OUTPUT/model.keras and OUTPUT/trigger.json.

    Example:

        trigger-synth simulate --particles gamma --n-events 1500 --energy-max "1 TeV" -o data/
        trigger-synth train --gamma data/gamma.dl1.h5 --output model/
    """

    name = "trigger-synth train"
    description = __doc__

    gamma = PathTrait(None, allow_none=True, help="Simulated gamma file (trigger-synth simulate)").tag(config=True)
    output = PathTrait(default_value=Path("trigger-model"), directory_ok=True, file_ok=False, help="Model folder").tag(config=True)
    nsb_rate = Float(None, allow_none=True, help="NSB per pixel in p.e./ns (default: LSTN-01 dark sky)").tag(config=True)
    overwrite = Bool(False, help="Replace an existing model folder's files").tag(config=True)
    progress = Bool(True, help="Show training progress").tag(config=True)

    aliases = {
        "gamma": "TrainTool.gamma",
        ("o", "output"): "TrainTool.output",
        "nsb-rate": "TrainTool.nsb_rate",
        "rate": "TriggerTraining.accidental_rate",
        "gate-rate": "TriggerTraining.gate_rate",
        "epochs": "TriggerTraining.epochs",
        "hidden": "TriggerTraining.hidden",
        "module-features": "TriggerTraining.module_features",
        "clip-bits": "TriggerTraining.clip_bits",
        "roi-before": "TriggerTraining.n_before",
        "roi-after": "TriggerTraining.n_after",
        "view": "TriggerTraining.view",
        "nsb-weighting": "TriggerTraining.nsb_weighting",
        "n-nsb-examples": "TriggerTraining.n_nsb_examples",
        "n-calibration": "TriggerTraining.n_calibration",
        "calibration-runs": "TriggerTraining.calibration_runs",
        "calibration-windows": "TriggerTraining.calibration_windows",
        "hard-negative-rounds": "TriggerTraining.hard_negative_rounds",
        "hard-negative-epochs": "TriggerTraining.hard_negative_epochs",
        "hard-negative-weight": "TriggerTraining.hard_negative_weight",
        "candidates": "TriggerTraining.candidates",
        "seed": "TriggerTraining.seed",
        "bits": "TriggerInput.bits",
        "gain": "TriggerInput.gain",
    }
    flags = {
        "overwrite": ({"TrainTool": {"overwrite": True}}, "Replace existing model files"),
        "no-progress": ({"TrainTool": {"progress": False}}, "Do not print training progress"),
    }
    classes = [TriggerTraining, TriggerInput]

    def setup(self):
        self.refuse_extra_arguments()
        if self.gamma is None:
            raise ToolConfigurationError("give the simulated gamma file with --gamma FILE")
        self.output = Path(self.output)
        check_output_folder(self.output)
        existing = [str(self.output / name) for name in (MODEL_FILE, CONFIG_FILE) if (self.output / name).exists()]
        if existing and not self.overwrite:
            raise OutputError(f"{existing[0]}: a trigger model exists (use --overwrite to replace it)")
        self.trigger_input = TriggerInput(parent=self)
        self.training = TriggerTraining(parent=self, trigger_input=self.trigger_input, nsb_rate=self.nsb_rate)
        check_event_file(self.gamma, self.trigger_input.instrument, "--gamma file", PRIMARY_ID["gamma"])

    def start(self):
        events = read_trigger_events(self.gamma, self.trigger_input, with_true_image=True)
        self.trained = self.training.train(events, progress=self.progress)
        self.trained.config["training"]["gamma_file"] = str(self.gamma)
        save_trigger(self.output, self.trained.model, self.trained.config, overwrite=self.overwrite)
        Provenance().add_input_file(str(self.gamma), role="gamma events")
        Provenance().add_output_file(str(self.output / CONFIG_FILE), role="trigger model")

    def finish(self):
        print(format_model(self.trained.config, self.output))
