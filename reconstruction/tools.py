"""Command-line tools in ctapipe's ``Tool`` style: train, predict and evaluate.

Settings come from the command line or a ctapipe configuration file
(``--config``); the input and the network are the :class:`~reconstruction.data.DataSpec`
and :class:`~reconstruction.models.NetworkSpec` components, so any of their
traits can be set, e.g. ``--DataSpec.mode=stereo --NetworkSpec.backbone=resnet``.

    python -m reconstruction.tools train --input gamma.dl1.h5 --input proton.dl1.h5 --output models/mono
    python -m reconstruction.tools predict --model models/mono --input gamma_test.dl1.h5 --output-dir dl2/
    python -m reconstruction.tools evaluate --input dl2/gamma_test.dl2.h5 --input dl2/proton_test.dl2.h5 \\
        --output-dir eval/ --level telescope
"""

from __future__ import annotations

import json
import sys

from ctapipe.core import Tool
from ctapipe.core.traits import Bool, CaselessStrEnum, Float, Int, List, Path, Unicode, flag

from .data import DataSpec
from .models import NetworkSpec
from .models.strategy import STRATEGIES

__all__ = ["EvaluateTool", "PredictTool", "TrainTool", "main"]


class TrainTool(Tool):
    """Train a mono or stereo CNN on simulated gamma and proton DL1 files (model.keras + model.json)."""

    name = "reconstruction-train"
    description = __doc__
    examples = "reconstruction-train --input gamma.dl1.h5 --input proton.dl1.h5 --output models/mono --epochs 10"

    input_files = List(Path(exists=True, directory_ok=False), help="DL1 files (gammas and protons)").tag(config=True)
    output = Path(help="Folder for the model", directory_ok=True, file_ok=False).tag(config=True)
    epochs = Int(10, help="Training epochs").tag(config=True)
    batch_size = Int(32, help="Examples per batch (array events in stereo mode)").tag(config=True)
    validation_fraction = Float(0.2, help="Share of the showers kept for validation").tag(config=True)
    seed = Int(0, help="Random seed (split, shuffling, initial weights)").tag(config=True)
    strategy = CaselessStrEnum(list(STRATEGIES), default_value="default", help="tf.distribute strategy").tag(config=True)
    initial_model = Path(None, allow_none=True, exists=True, file_ok=False, help="Model folder to start from").tag(
        config=True
    )
    freeze_backbone = Bool(False, help="Keep the initial model's backbone fixed (transfer learning)").tag(config=True)
    max_examples = Int(None, allow_none=True, help="Train on a random subset of this many examples").tag(config=True)
    progress = Bool(True, help="Keras progress output per epoch").tag(config=True)

    aliases = {
        ("i", "input"): "TrainTool.input_files",
        ("o", "output"): "TrainTool.output",
        "epochs": "TrainTool.epochs",
        "batch-size": "TrainTool.batch_size",
        "seed": "TrainTool.seed",
        "strategy": "TrainTool.strategy",
        "initial-model": "TrainTool.initial_model",
        "max-examples": "TrainTool.max_examples",
        "mode": "DataSpec.mode",
        "backbone": "NetworkSpec.backbone",
        "attention": "NetworkSpec.attention",
    }
    flags = {
        **flag("freeze-backbone", "TrainTool.freeze_backbone", "Freeze the initial backbone", "Train the backbone too"),
        **flag("progress", "TrainTool.progress", "Show Keras progress", "No Keras progress"),
    }
    classes = [DataSpec, NetworkSpec]

    def start(self):
        from .train import train

        if not self.input_files or self.output is None:
            raise ValueError("give --input (at least one gamma and one proton file) and --output")
        result = train(
            self.input_files,
            self.output,
            data=DataSpec(parent=self),
            network=NetworkSpec(parent=self),
            epochs=self.epochs,
            batch_size=self.batch_size,
            validation_fraction=self.validation_fraction,
            seed=self.seed,
            strategy=self.strategy,
            initial_model=self.initial_model,
            freeze_backbone=self.freeze_backbone,
            max_examples=self.max_examples,
            verbose=2 if self.progress else 0,
        )
        self.log.info("model written to %s (%d training examples, %.0f s)", result.model_dir, result.n_train, result.wall_s)


class PredictTool(Tool):
    """Apply a trained model to DL1 files: copies with ctapipe DL2 tables added."""

    name = "reconstruction-predict"
    description = __doc__
    examples = "reconstruction-predict --model models/mono --input gamma_test.dl1.h5 --output-dir dl2/"

    model = Path(None, allow_none=True, exists=True, file_ok=False, help="Model folder written by training").tag(
        config=True
    )
    input_files = List(Path(exists=True, directory_ok=False), help="DL1 files").tag(config=True)
    output_dir = Path(
        None, allow_none=True, directory_ok=True, file_ok=False, help="Folder for the DL2 files (default: next to each input)"
    ).tag(config=True)
    prefix = Unicode("CNN", help="DL2 table and column prefix").tag(config=True)
    batch_size = Int(64, help="Examples per batch").tag(config=True)
    overwrite = Bool(False, help="Replace existing DL2 files and tables").tag(config=True)

    aliases = {
        ("m", "model"): "PredictTool.model",
        ("i", "input"): "PredictTool.input_files",
        ("o", "output-dir"): "PredictTool.output_dir",
        "prefix": "PredictTool.prefix",
        "batch-size": "PredictTool.batch_size",
    }
    flags = {**flag("overwrite", "PredictTool.overwrite", "Replace existing output", "Refuse to replace output")}

    def start(self):
        from .predict import _default_output, predict

        if self.model is None or not self.input_files:
            raise ValueError("give --model and at least one --input")
        for path in self.input_files:
            output = None if self.output_dir is None else self.output_dir / _default_output(path).name
            written = predict(self.model, path, output, prefix=self.prefix, batch_size=self.batch_size,
                              overwrite=self.overwrite)
            self.log.info("wrote %s", written)


class EvaluateTool(Tool):
    """ROC/AUC, energy and angular resolution from DL2 files: JSON and PNG."""

    name = "reconstruction-evaluate"
    description = __doc__
    examples = "reconstruction-evaluate --input gamma.dl2.h5 --input proton.dl2.h5 --output-dir eval/"

    input_files = List(Path(exists=True, directory_ok=False), help="DL2 files (gammas and protons)").tag(config=True)
    output_dir = Path(None, allow_none=True, directory_ok=True, file_ok=False, help="Folder for JSON and PNG").tag(
        config=True
    )
    prefix = Unicode("CNN", help="DL2 prefix of the reconstruction to evaluate").tag(config=True)
    level = CaselessStrEnum(["subarray", "telescope"], default_value="subarray", help="Per array event or per image").tag(
        config=True
    )
    label = Unicode(None, allow_none=True, help="Name of the JSON and PNG (default PREFIX_LEVEL)").tag(config=True)

    aliases = {
        ("i", "input"): "EvaluateTool.input_files",
        ("o", "output-dir"): "EvaluateTool.output_dir",
        "prefix": "EvaluateTool.prefix",
        "level": "EvaluateTool.level",
        "label": "EvaluateTool.label",
    }

    def start(self):
        from .evaluate import evaluate

        if not self.input_files:
            raise ValueError("give at least one --input")
        self.metrics = evaluate(self.input_files, prefix=self.prefix, level=self.level, output_dir=self.output_dir,
                                label=self.label)
        overall = self.metrics["overall"]
        self.log.info("AUC %.3f, energy resolution %s, 68%% angular resolution %s deg", self.metrics["auc"],
                      overall["energy_resolution"], overall["angular_resolution_deg"])
        if self.output_dir is None:
            sys.stdout.write(json.dumps(self.metrics, indent=2) + "\n")


TOOLS = {"train": TrainTool, "predict": PredictTool, "evaluate": EvaluateTool}


def train_main():
    TrainTool().run()


def predict_main():
    PredictTool().run()


def evaluate_main():
    EvaluateTool().run()


def main(argv=None):
    """``python -m reconstruction.tools {train,predict,evaluate} ...`` (no console scripts needed)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] not in TOOLS:
        sys.stderr.write(f"usage: python -m reconstruction.tools {{{','.join(TOOLS)}}} [options]; --help for each\n")
        return 2
    tool = TOOLS[argv[0]]()
    return tool.run(argv[1:]) or 0


if __name__ == "__main__":
    sys.exit(main())
