"""Command-line tools in ctapipe's ``Tool`` style: train, predict and evaluate.

Settings come from the command line or a ctapipe configuration file
(``--config``); the input, the network and the training are the
:class:`~reconstruction.settings.DataSpec`, :class:`~reconstruction.settings.NetworkSpec`
and :class:`~reconstruction.settings.TrainSpec` components, whose defaults are
the Python API's and the quick start's, and any of their traits can be set,
e.g. ``--DataSpec.mode=stereo --NetworkSpec.backbone=resnet``.

    reconstruction-train --input gamma.dl1.h5 --input proton.dl1.h5 --output models/mono
    reconstruction-train --input gamma.dl1.h5 --input proton.dl1.h5 --output models/stereo \\
        --mode stereo --initial-model models/mono --epochs 6 --batch-size 16
    reconstruction-predict --model models/mono --input gamma_test.dl1.h5 --output-dir dl2/
    reconstruction-predict --model models/mono --input run1.dl1.h5 --input run2.dl1.h5 --workers 2
    reconstruction-evaluate --input dl2/gamma_test.dl2.h5 --input dl2/proton_test.dl2.h5 \\
        --output-dir eval/ --level telescope

(or ``python -m reconstruction.tools {train,predict,evaluate} ...``). The tools
are :class:`lstcommon.tool.CommandTool`\\ s: every input, the model folder and the
outputs are checked in ``setup()``, before TensorFlow is loaded; bad input or
options end with one line ``PROGRAM: error: FILE: problem`` on stderr and exit
code 2; SIGINT and SIGTERM remove the output in progress (exit 130 and 143);
an existing output is replaced only with ``--overwrite``.
"""

from __future__ import annotations

import contextlib
import sys

from ctapipe.core import ToolConfigurationError
from ctapipe.core.traits import Bool, CaselessStrEnum, Int, List, Path, Unicode, flag

from lstcommon.files import dumps_json
from lstcommon.parallel import check_engine_options, engine
from lstcommon.tool import CommandTool

from .checks import (
    check_dl2,
    check_file,
    check_model,
    check_outputs,
    check_prediction,
    check_train_output,
    default_output,
    select_telescopes,
)
from .errors import SettingError
from .settings import DataSpec, NetworkSpec, TrainSpec, check_tasks

__all__ = ["EvaluateTool", "PredictTool", "TrainTool", "evaluate_main", "main", "predict_main", "train_main"]


def _no_extra_args(tool):
    if tool.extra_args:
        raise ToolConfigurationError(f"unexpected argument(s) {' '.join(tool.extra_args)}; give each input file as "
                                     "--input FILE")


class TrainTool(CommandTool):
    """Train a mono or stereo CNN on simulated gamma and proton DL1 files (model.keras + model.json)."""

    name = "reconstruction-train"
    description = __doc__
    examples = "reconstruction-train --input gamma.dl1.h5 --input proton.dl1.h5 --output models/mono --epochs 10"

    input_files = List(Path(), help="DL1 files (gammas and protons)").tag(config=True)
    output = Path(None, allow_none=True, help="Folder for the model (model.keras + model.json)").tag(config=True)
    initial_model = Path(None, allow_none=True, help="Model folder to start from").tag(config=True)
    freeze_backbone = Bool(False, help="Keep the initial model's backbone fixed (transfer learning)").tag(config=True)
    progress = Bool(True, help="Keras progress output per epoch").tag(config=True)
    overwrite = Bool(False, help="Replace the model already in the output folder").tag(config=True)

    aliases = {
        ("i", "input"): "TrainTool.input_files",
        ("o", "output"): "TrainTool.output",
        "initial-model": "TrainTool.initial_model",
        "epochs": "TrainSpec.epochs",
        "batch-size": "TrainSpec.batch_size",
        "validation-fraction": "TrainSpec.validation_fraction",
        "seed": "TrainSpec.seed",
        "strategy": "TrainSpec.strategy",
        "max-examples": "TrainSpec.max_examples",
        "mode": "DataSpec.mode",
        "tel-ids": "DataSpec.tel_ids",
        "image-shape": "DataSpec.image_shape",
        "backbone": "NetworkSpec.backbone",
        "attention": "NetworkSpec.attention",
        "learning-rate": "NetworkSpec.learning_rate",
    }
    flags = {
        **flag("freeze-backbone", "TrainTool.freeze_backbone", "Freeze the initial backbone", "Train the backbone too"),
        **flag("progress", "TrainTool.progress", "Show Keras progress", "No Keras progress"),
        **flag("overwrite", "TrainTool.overwrite", "Replace an existing model", "Refuse to replace an existing model"),
    }
    # the settings and their defaults are the Python API's and the quick start's (reconstruction.settings)
    classes = [DataSpec, NetworkSpec, TrainSpec]

    def setup(self):
        _no_extra_args(self)
        if not self.input_files:
            raise SettingError("give --input (at least one gamma and one proton DL1 file)")
        if self.output is None:
            raise SettingError("give --output (the folder for the model)")
        self.data = DataSpec(parent=self).validate()
        self.network = NetworkSpec(parent=self).validate()
        self.training = TrainSpec(parent=self).validate()
        check_tasks(self.data, self.network)
        if self.freeze_backbone and self.initial_model is None:
            raise SettingError("--freeze-backbone needs an --initial-model to take the backbone from")
        check_train_output(self.output, self.overwrite)
        if self.initial_model is not None:
            check_model(self.initial_model)
        for path in self.input_files:
            check_file(path, self.data)
        self.tel_ids = select_telescopes(self.input_files, self.data)

    def start(self):
        from .train import train

        result = train(
            self.input_files,
            self.output,
            data=self.data,
            network=self.network,
            training=self.training,
            initial_model=self.initial_model,
            freeze_backbone=self.freeze_backbone,
            verbose=2 if self.progress else 0,
            overwrite=self.overwrite,
        )
        self.log.info("model written to %s (%d training examples, telescopes %s, %.0f s)", result.model_dir,
                      result.n_train, self.tel_ids, result.wall_s)


class PredictTool(CommandTool):
    """Apply a trained model to DL1 files: ctapipe DL2 files (the DL2 tables and what TableLoader needs to join them
    with the simulated truth; --full-copy keeps the waveforms and images too)."""

    name = "reconstruction-predict"
    description = __doc__
    examples = "reconstruction-predict --model models/mono --input gamma_test.dl1.h5 --output-dir dl2/"

    model = Path(None, allow_none=True, help="Model folder written by reconstruction-train").tag(config=True)
    input_files = List(Path(), help="DL1 files").tag(config=True)
    output_dir = Path(None, allow_none=True, help="Folder for the DL2 files (default: next to each input)").tag(
        config=True
    )
    prefix = Unicode("CNN", help="DL2 table and column prefix").tag(config=True)
    batch_size = Int(64, help="Examples per batch").tag(config=True)
    overwrite = Bool(False, help="Replace existing DL2 files and tables").tag(config=True)
    full_copy = Bool(
        False, help="Copy the input's waveforms and images into the DL2 file too (by default they are left out)"
    ).tag(config=True)
    workers = Int(
        None, allow_none=True,
        help="Predict the files as tasks on this many Dask workers (a LocalCluster of processes; default 1: here, "
        "one after the other), or on the cluster of --scheduler",
    ).tag(config=True)
    scheduler = Unicode(None, allow_none=True, help="Address of a running Dask scheduler (tcp://host:8786)").tag(
        config=True
    )

    aliases = {
        ("m", "model"): "PredictTool.model",
        ("i", "input"): "PredictTool.input_files",
        ("o", "output-dir"): "PredictTool.output_dir",
        "prefix": "PredictTool.prefix",
        "batch-size": "PredictTool.batch_size",
        ("j", "workers"): "PredictTool.workers",
        "scheduler": "PredictTool.scheduler",
    }
    flags = {
        **flag("overwrite", "PredictTool.overwrite", "Replace existing output", "Refuse to replace output"),
        **flag("full-copy", "PredictTool.full_copy", "Keep the input's waveforms and images in the DL2 file",
               "Leave the input's waveforms and images out of the DL2 file"),
    }

    def setup(self):
        _no_extra_args(self)
        if self.model is None or not self.input_files:
            raise SettingError("give --model (a folder written by reconstruction-train) and at least one --input")
        if self.output_dir is not None and self.output_dir.exists() and not self.output_dir.is_dir():
            raise SettingError(f"{self.output_dir}: --output-dir must be a folder, and this is a file")
        self.jobs, seen = [], {}
        for path in self.input_files:
            output = default_output(path) if self.output_dir is None else self.output_dir / default_output(path).name
            if output in seen:
                raise SettingError(f"{path} and {seen[output]} would both be written to {output}")
            seen[output] = path
            check_prediction(self.model, path, output, prefix=self.prefix, overwrite=self.overwrite,
                             batch_size=self.batch_size)
            self.jobs.append((path, output))
        self.scheduler_address = check_engine_options(self.workers, self.scheduler)

    def start(self):
        from .predict import predict_files

        options = dict(prefix=self.prefix, batch_size=self.batch_size, overwrite=self.overwrite,
                       full_copy=self.full_copy)
        parallel = self.scheduler_address is not None or (self.workers or 1) > 1
        with engine(self.workers, self.scheduler_address) if parallel else contextlib.nullcontext() as client:
            for written in predict_files(self.model, self.jobs, client=client, **options):
                self.log.info("wrote %s", written)


class EvaluateTool(CommandTool):
    """ROC/AUC, energy and angular resolution from DL2 files: JSON and PNG (or the JSON on stdout)."""

    name = "reconstruction-evaluate"
    description = __doc__
    examples = "reconstruction-evaluate --input gamma.dl2.h5 --input proton.dl2.h5 --output-dir eval/"

    input_files = List(Path(), help="DL2 files (gammas and protons)").tag(config=True)
    output_dir = Path(None, allow_none=True, help="Folder for JSON and PNG (default: the JSON on stdout)").tag(
        config=True
    )
    prefix = Unicode("CNN", help="DL2 prefix of the reconstruction to evaluate").tag(config=True)
    level = CaselessStrEnum(["subarray", "telescope"], default_value="subarray", help="Per array event or per image").tag(
        config=True
    )
    label = Unicode(None, allow_none=True, help="Name of the JSON and PNG (default PREFIX_LEVEL)").tag(config=True)
    overwrite = Bool(False, help="Replace an existing JSON and PNG of this label").tag(config=True)

    aliases = {
        ("i", "input"): "EvaluateTool.input_files",
        ("o", "output-dir"): "EvaluateTool.output_dir",
        "prefix": "EvaluateTool.prefix",
        "level": "EvaluateTool.level",
        "label": "EvaluateTool.label",
    }
    flags = {**flag("overwrite", "EvaluateTool.overwrite", "Replace existing output", "Refuse to replace output")}

    def setup(self):
        _no_extra_args(self)
        if not self.input_files:
            raise SettingError("give at least one --input (DL2 files written by reconstruction-predict)")
        for path in self.input_files:
            check_dl2(path, self.prefix, self.level)
        if self.output_dir is not None:
            self.label = self.label or f"{self.prefix}_{self.level}"
            check_outputs(self.output_dir, self.label, self.overwrite)

    def start(self):
        from .evaluate import evaluate

        self.metrics = evaluate(self.input_files, prefix=self.prefix, level=self.level, output_dir=self.output_dir,
                                label=self.label, overwrite=self.overwrite)
        overall = self.metrics["overall"]
        self.log.info("AUC %s, energy resolution %s, 68%% angular resolution %s deg", self.metrics["auc"],
                      overall["energy_resolution"], overall["angular_resolution_deg"])
        if self.output_dir is None:
            sys.stdout.write(dumps_json(self.metrics))
            sys.stdout.flush()


TOOLS = {"train": TrainTool, "predict": PredictTool, "evaluate": EvaluateTool}


def _run(tool_class, argv=None) -> int:
    """Run one tool; return its exit code (0, 2 for bad input, 130/143 interrupted, 1 for a bug)."""
    try:
        tool_class().run(argv)
    except SystemExit as done:
        code = done.code
        if code is None:
            return 0
        return code if isinstance(code, int) else 1
    return 0


def train_main(argv=None) -> int:
    """The ``reconstruction-train`` console script."""
    return _run(TrainTool, argv)


def predict_main(argv=None) -> int:
    """The ``reconstruction-predict`` console script."""
    return _run(PredictTool, argv)


def evaluate_main(argv=None) -> int:
    """The ``reconstruction-evaluate`` console script."""
    return _run(EvaluateTool, argv)


def main(argv=None) -> int:
    """``python -m reconstruction.tools {train,predict,evaluate} ...`` (the console scripts without installing)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    usage = f"usage: python -m reconstruction.tools {{{','.join(TOOLS)}}} [options]; --help for each"
    if argv and argv[0] in ("-h", "--help"):
        print(usage)
        return 0
    if not argv or argv[0] not in TOOLS:
        given = f": unknown command {argv[0]!r}" if argv else ": give a command"
        sys.stderr.write(f"reconstruction.tools: error{given}; {usage.removeprefix('usage: ')}\n")
        return 2
    return _run(TOOLS[argv[0]], argv[1:])


if __name__ == "__main__":
    sys.exit(main())
