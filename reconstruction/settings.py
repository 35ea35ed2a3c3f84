"""The settings of a model, as ctapipe Components: what the network sees (:class:`DataSpec`), what it is
(:class:`NetworkSpec`) and how it is trained (:class:`TrainSpec`).

Their defaults are the project's one set of defaults: the command line
(``reconstruction-train``), the Python API (``reconstruction.train.train``) and
the quick start (``examples/reconstruction_quickstart.py``) all take them from
here, so a model trained with no options is the quick start's mono model.

Kept apart from the readers and the networks, and free of Keras, so that the
commands can parse and check every option before TensorFlow is loaded.
"""

from __future__ import annotations

import numpy as np
from ctapipe.core import Component
from ctapipe.core.traits import Bool, CaselessStrEnum, Float, Int, List, Unicode
from traitlets.config import Config

from .errors import SettingError

__all__ = [
    "DEFAULT_TASKS", "ENERGY_GEOMETRY", "INTERPOLATING_MAPPERS", "STEREO_FROM_MONO", "STRATEGIES", "TASKS", "TASK_OUTPUTS", "DataSpec", "NetworkSpec",
    "TrainSpec", "check_tasks", "check_training",
]

#: the tasks a model can learn: gammaness, log10 energy, the source offset regressed directly ("direction"), or
#: the source's distance along the image axis and its side ("disp", mono only; see reconstruction.geometry)
TASKS = ("type", "energy", "direction", "disp")
#: output width and activation per task ("disp": |disp| in degrees and the logit of the side)
TASK_OUTPUTS = {"type": (1, "sigmoid"), "energy": (1, None), "direction": (2, None), "disp": (2, None)}
#: what a model learns unless told otherwise
DEFAULT_TASKS = ("type", "energy", "direction")
#: what the energy head can get besides the image features (NetworkSpec.energy_geometry; see reconstruction.impact)
ENERGY_GEOMETRY = ("none", "impact")
#: tf.distribute strategies by name (see :func:`reconstruction.models.get_strategy`)
STRATEGIES = ("default", "mirrored", "multi_worker_mirrored")
#: the dl1-data-handler mappers whose output side is a setting (``interpolation_image_shape``); the others have
#: a fixed one
INTERPOLATING_MAPPERS = ("NearestNeighborMapper", "BilinearMapper", "BicubicMapper", "RebinMapper")
#: the stereo step of the quick start's recipe, changed from the TrainSpec defaults: a stereo network started from
#: a trained mono one (``initial_model``: backbone and heads) needs fewer epochs, on batches of array events
STEREO_FROM_MONO = {"epochs": 6, "batch_size": 16}


class DataSpec(Component):
    """What the network sees: mono or stereo, images or waveforms, channels, image mapper and cuts."""

    mode = CaselessStrEnum(["mono", "stereo"], default_value="mono", help="One example per image or per array event").tag(
        config=True
    )
    input_type = CaselessStrEnum(["image", "waveform"], default_value="image", help="DL1 images or R1 waveforms").tag(
        config=True
    )
    channels = List(
        Unicode(),
        default_value=["cleaned_image", "cleaned_relative_peak_time"],
        help="DLImageReader channels (image, cleaned_image, peak_time, relative_peak_time, ... )",
    ).tag(config=True)
    image_mapper = Unicode("BilinearMapper", help="dl1-data-handler ImageMapper class, hexagonal to square").tag(config=True)
    # 40: as good as 48 on the quick-start set (docs/reconstruction.md), and cheaper to train than 56 or 114
    image_shape = Int(
        default_value=40,
        allow_none=True,
        help="Side of the mapped image for the interpolating mappers (BilinearMapper, BicubicMapper, "
        "NearestNeighborMapper, RebinMapper; None: the mapper's own, 114 for LSTCam); other mappers have a fixed "
        "side and ignore it",
    ).tag(config=True)
    sequence_length = Int(8, help="Waveform samples around the shower maximum (waveform input)").tag(config=True)
    min_intensity = Float(50.0, help="Images with a Hillas intensity below this (p.e.) are not used").tag(config=True)
    min_telescopes = Int(2, help="Stereo: array events with fewer selected images are not used").tag(config=True)
    tel_ids = List(
        Int(),
        default_value=[],
        help="Telescopes to use (empty: the LSTs with events in every input file). Telescopes without events in a "
        "file are skipped for that file; stereo examples have one slot per selected telescope.",
    ).tag(config=True)

    def validate(self):
        """Refuse, naming the option, settings that no reader or network can use."""
        if self.input_type == "image" and not self.channels:
            raise SettingError("--DataSpec.channels must name at least one channel")
        if self.image_shape is not None and self.image_shape < 8:
            raise SettingError(f"--DataSpec.image_shape must be at least 8 (or unset), got {self.image_shape}")
        if self.sequence_length < 1:
            raise SettingError(f"--DataSpec.sequence_length must be at least 1, got {self.sequence_length}")
        if not self.min_intensity >= 0:
            raise SettingError(f"--DataSpec.min_intensity must be 0 or more p.e., got {self.min_intensity}")
        if self.min_telescopes < 1:
            raise SettingError(f"--DataSpec.min_telescopes must be at least 1, got {self.min_telescopes}")
        if any(t < 1 for t in self.tel_ids) or len(set(self.tel_ids)) != len(self.tel_ids):
            raise SettingError(f"--DataSpec.tel_ids must be distinct positive telescope ids, got {list(self.tel_ids)}")
        return self

    def channel_kinds(self) -> list[str]:
        """How each input channel is scaled in the network: 'charge' or 'time'."""
        if self.input_type == "waveform":
            return ["charge"] * self.sequence_length
        return ["time" if "peak_time" in c else "charge" for c in self.channels]

    def to_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.trait_names() if self.trait_metadata(name, "config")}

    def reader_config(self) -> Config:
        reader = "DLImageReader" if self.input_type == "image" else "DLWaveformReader"
        settings = {
            "mode": self.mode,
            "image_mapper_type": self.image_mapper,
            "TableQualityQuery": {"quality_criteria": [("min intensity", f"hillas_intensity > {self.min_intensity}")]},
        }
        if self.mode == "stereo":
            settings["min_telescopes"] = self.min_telescopes
        if self.input_type == "image":
            settings["channels"] = list(self.channels)
        else:
            settings.update(sequence_length=self.sequence_length, sequence_position="maximum")
        config = {reader: settings}
        if self.image_shape is not None and self.image_mapper in INTERPOLATING_MAPPERS:
            config[self.image_mapper] = {"interpolation_image_shape": self.image_shape}
        return Config(config)


class NetworkSpec(Component):
    """The architecture: backbone kind and size, attention, waveform front-end, heads."""

    backbone = CaselessStrEnum(["cnn", "resnet"], default_value="cnn", help="Small plain CNN or ResNet-style").tag(config=True)
    depth = Int(3, help="Convolutional blocks (cnn) or residual stages (resnet), each halving the image").tag(config=True)
    width = Int(16, help="Filters of the first block; doubled per block up to 4x").tag(config=True)
    attention = CaselessStrEnum(
        ["none", "input", "blocks", "both"],
        default_value="blocks",
        help="Where CBAM channel + spatial attention goes: at the input, after every block, or both",
    ).tag(config=True)
    attention_kernel = Int(7, help="Spatial attention kernel (1, 4 or 7)").tag(config=True)
    attention_ratio = Int(4, help="Channel attention MLP reduction ratio").tag(config=True)
    waveform_frontend = CaselessStrEnum(
        ["channels", "time_conv"],
        default_value="channels",
        help="Waveform input: samples as channels, or a learned per-pixel time convolution first",
    ).tag(config=True)
    head_units = Int(32, help="Hidden units of each task head").tag(config=True)
    tasks = List(Unicode(), default_value=list(DEFAULT_TASKS), help="Tasks: type, energy, direction, disp (mono)").tag(
        config=True
    )
    # 3e-3 with the cosine decay: AUC 0.93 on the quick-start set where 1e-3 and 8 epochs gave 0.87
    learning_rate = Float(3e-3, help="Adam learning rate (the initial one with a cosine schedule)").tag(config=True)
    lr_schedule = CaselessStrEnum(
        ["constant", "cosine"],
        default_value="cosine",
        help="Learning rate over the training: constant, or cosine decay to zero at the last step",
    ).tag(config=True)
    coordinates = Bool(
        True, help="Append camera x, y channels to the input (CoordConv), so the network knows where the image lies"
    ).tag(config=True)
    pooling = CaselessStrEnum(
        ["average", "flatten"],
        default_value="average",
        help="Backbone output: global average of the last feature map, or the whole map flattened (keeps positions)",
    ).tag(config=True)
    batch_norm = Bool(
        True,
        help="Batch normalisation after each convolution; without it the plain CNN on sparse, log-scaled images "
        "learns the particle type several times more slowly",
    ).tag(config=True)
    energy_geometry = CaselessStrEnum(
        list(ENERGY_GEOMETRY),
        default_value="none",
        help="What the energy head gets besides the image features: none, or 'impact': per image the distance of "
        "its telescope from the shower core and the height of the shower maximum, both reconstructed by ctapipe's "
        "HillasReconstructor from the event's DL1 Hillas parameters (the stereo intersection of the image axes, "
        "as the Hillas + RF baseline's forests get them; never the simulated truth)",
    ).tag(config=True)

    def validate(self):
        """Refuse, naming the option, settings no network can be built from (a :class:`SettingError`)."""
        if self.attention_kernel not in (1, 4, 7):
            raise SettingError(f"--NetworkSpec.attention_kernel must be 1, 4 or 7, got {self.attention_kernel}")
        unknown = set(self.tasks) - set(TASK_OUTPUTS)
        if unknown or not self.tasks:
            raise SettingError(f"--NetworkSpec.tasks must be a non-empty subset of {list(TASK_OUTPUTS)}, got "
                               f"{list(self.tasks)}")
        if self.depth < 1 or self.width < 1:
            raise SettingError(f"--NetworkSpec.depth and --NetworkSpec.width must be positive, got depth={self.depth}, "
                               f"width={self.width}")
        if self.head_units < 1 or self.attention_ratio < 1:
            raise SettingError(f"--NetworkSpec.head_units and --NetworkSpec.attention_ratio must be positive, got "
                               f"{self.head_units} and {self.attention_ratio}")
        if not self.learning_rate > 0:
            raise SettingError(f"--NetworkSpec.learning_rate must be positive, got {self.learning_rate}")
        if self.energy_geometry != "none" and "energy" not in self.tasks:
            raise SettingError(f"--NetworkSpec.energy_geometry={self.energy_geometry} feeds the energy head: it needs "
                               f"the energy task, got tasks {list(self.tasks)}")
        return self

    def to_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.trait_names() if self.trait_metadata(name, "config")}


def check_tasks(data: DataSpec, network: NetworkSpec):
    """Refuse task and input combinations no network can learn."""
    if "disp" in network.tasks and data.mode != "mono":
        raise SettingError("--NetworkSpec.tasks=disp needs --mode mono (one image axis per example); a stereo "
                           "direction from disp is the combination of the mono predictions")


def check_training(epochs=15, batch_size=32, validation_fraction=0.2, seed=0, max_examples=None, workers=1):
    """Refuse, naming the option, training settings out of range (before any file is read)."""
    checks = [
        (epochs, "--epochs", lambda v: v >= 1, "at least 1"),
        (batch_size, "--batch-size", lambda v: v >= 1, "at least 1"),
        (seed, "--seed", lambda v: v >= 0, "0 or more"),
        (workers, "workers", lambda v: v >= 1, "at least 1"),
    ]
    for value, name, ok, need in checks:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not ok(value):
            raise SettingError(f"{name} must be an integer {need}, got {value!r}")
    if isinstance(validation_fraction, bool) or not isinstance(validation_fraction, (int, float, np.number)) \
            or not 0 < validation_fraction < 1:
        raise SettingError(f"--validation-fraction must be between 0 and 1 (exclusive), got {validation_fraction!r}")
    if max_examples is not None and (isinstance(max_examples, bool) or not isinstance(max_examples, (int, np.integer))
                                     or max_examples < 1):
        raise SettingError(f"--max-examples must be at least 1 (or unset), got {max_examples!r}")


class TrainSpec(Component):
    """How a model is trained: epochs, batches, validation split, seed, subset, tf.distribute strategy.

    The defaults train the quick start's mono model; its stereo model changes
    them by :data:`STEREO_FROM_MONO` and starts from the mono one.
    """

    # 15 epochs at the default learning rate and its cosine decay: the quick start's choice (docs/reconstruction.md)
    epochs = Int(15, help="Training epochs").tag(config=True)
    batch_size = Int(32, help="Examples per batch (images in mono mode, array events in stereo mode)").tag(config=True)
    validation_fraction = Float(0.2, help="Share of the showers kept for validation, in (0, 1)").tag(config=True)
    seed = Int(0, help="Random seed (split, shuffling, initial weights), 0 or more").tag(config=True)
    max_examples = Int(None, allow_none=True, help="Train on a random subset of this many examples").tag(config=True)
    strategy = CaselessStrEnum(list(STRATEGIES), default_value="default", help="tf.distribute strategy").tag(config=True)

    def validate(self):
        """Refuse, naming the option, settings out of range (a :class:`SettingError`)."""
        check_training(self.epochs, self.batch_size, self.validation_fraction, self.seed, self.max_examples)
        return self

    def to_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.trait_names() if self.trait_metadata(name, "config")}
