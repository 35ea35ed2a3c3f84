"""The settings of a model, as ctapipe Components: what the network sees (:class:`DataSpec`) and what it is
(:class:`NetworkSpec`).

Kept apart from the readers and the networks, and free of Keras, so that the
commands can parse and check every option before TensorFlow is loaded.
"""

from __future__ import annotations

from ctapipe.core import Component
from ctapipe.core.traits import Bool, CaselessStrEnum, Float, Int, List, Unicode
from traitlets.config import Config

from .errors import SettingError

__all__ = ["STRATEGIES", "TASKS", "TASK_OUTPUTS", "DataSpec", "NetworkSpec"]

#: the tasks a model can learn, and the reader columns they come from
TASKS = ("type", "energy", "direction")
#: output width and activation per task
TASK_OUTPUTS = {"type": (1, "sigmoid"), "energy": (1, None), "direction": (2, None)}
#: tf.distribute strategies by name (see :func:`reconstruction.models.get_strategy`)
STRATEGIES = ("default", "mirrored", "multi_worker_mirrored")


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
    image_shape = Int(
        default_value=None,
        allow_none=True,
        help="Side of the mapped image for interpolating mappers (None: the mapper's own, 114 for LSTCam)",
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
        if self.image_shape is not None:
            config[self.image_mapper] = {"interpolation_image_shape": self.image_shape}
        return Config(config)


class NetworkSpec(Component):
    """The architecture: backbone kind and size, attention, waveform front-end, heads."""

    backbone = CaselessStrEnum(["cnn", "resnet"], default_value="cnn", help="Small plain CNN or ResNet-style").tag(config=True)
    depth = Int(3, help="Convolutional blocks (cnn) or residual stages (resnet), each halving the image").tag(config=True)
    width = Int(16, help="Filters of the first block; doubled per block up to 4x").tag(config=True)
    attention = CaselessStrEnum(
        ["none", "input", "blocks", "both"],
        default_value="none",
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
    tasks = List(Unicode(), default_value=["type", "energy", "direction"], help="Tasks: type, energy, direction").tag(
        config=True
    )
    learning_rate = Float(1e-3, help="Adam learning rate (the initial one with a cosine schedule)").tag(config=True)
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
        return self

    def to_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.trait_names() if self.trait_metadata(name, "config")}
