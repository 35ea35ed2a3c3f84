"""dl1-data-handler readers turned into Keras inputs.

Images and waveforms are read only through dl1-data-handler (``DLImageReader``,
``DLWaveformReader``) and its image mappers; this module picks the reader,
checks the files first so that bad input is reported by name, and serves
batches to Keras as a :class:`keras.utils.PyDataset` (parallel workers and a
prefetch queue).

One reader is opened per file. dl1-data-handler groups stereo events by
``(obs_id, event_id)`` across all its files, and the simulated gamma and
proton files both start at ``obs_id=1, event_id=1``: one reader for both would
merge unrelated showers into one array event. For the same reason the particle
label comes from ``true_shower_primary_id`` (0 = gamma), not from which list a
file was given in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tables
from ctapipe.core import Component
from ctapipe.core.traits import CaselessStrEnum, Float, Int, List, Unicode
from traitlets.config import Config

__all__ = [
    "TASKS",
    "DL1Sequence",
    "DataSpec",
    "InputError",
    "check_file",
    "labels_from_table",
    "open_readers",
]

#: the tasks a model can learn, and the reader columns they come from
TASKS = ("type", "energy", "direction")

GAMMA_ID = 0  # CORSIKA / sim_telarray particle id of a gamma

IMAGE_TABLES = ("/dl1/event/telescope/images", "/dl1/event/telescope/parameters", "/dl1/event/subarray/trigger")
WAVEFORM_TABLES = ("/r1/event/telescope", "/dl1/event/telescope/parameters", "/dl1/event/subarray/trigger")
SIMULATION_TABLES = ("/simulation/event/subarray/shower", "/configuration/simulation/run")


class InputError(ValueError):
    """A file or a selection that cannot be used; the message names the file and what is wrong."""


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


def check_file(path, spec: DataSpec) -> Path:
    """Fail early, naming the file and the table, when a file cannot feed the readers."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"input file {path} does not exist")
    try:
        h5 = tables.open_file(path, mode="r")
    except Exception as err:  # tables raises several types for non-HDF5 content
        raise InputError(f"{path} is not a readable HDF5 file ({err.__class__.__name__}: {err})") from err
    with h5:
        needed = IMAGE_TABLES if spec.input_type == "image" else WAVEFORM_TABLES
        missing = [node for node in needed + SIMULATION_TABLES if node not in h5]
        if missing:
            raise InputError(f"{path} lacks the table(s) {', '.join(missing)} needed for {spec.input_type} input")
    return path


def open_readers(files, spec: DataSpec) -> list:
    """One dl1-data-handler reader per file (see the module docstring for why)."""
    from dl1_data_handler.reader import DLImageReader, DLWaveformReader

    files = [files] if isinstance(files, (str, Path)) else list(files)
    if not files:
        raise InputError("no input files given")
    cls = DLImageReader if spec.input_type == "image" else DLWaveformReader
    readers = []
    for path in files:
        path = check_file(path, spec)
        empty = InputError(
            f"{path}: no {spec.mode} examples pass the selection (intensity > {spec.min_intensity} p.e."
            + (f", at least {spec.min_telescopes} telescopes" if spec.mode == "stereo" else "")
            + ")"
        )
        # dl1-data-handler fails inside an astropy join when nothing passes: look first
        if not _any_image_passes(path, spec.min_intensity):
            raise empty
        try:
            reader = cls(input_url_signal=[str(path)], config=spec.reader_config())
        except (KeyError, tables.NoSuchNodeError) as err:
            raise InputError(f"{path}: dl1-data-handler cannot read it ({err})") from err
        if reader.get_n_events() == 0:
            raise empty
        readers.append(reader)
    shapes = {_example_shape(r) for r in readers}
    if len(shapes) > 1:
        raise InputError(f"the files give images of different shapes {sorted(shapes)}: {', '.join(map(str, files))}")
    cameras = {r.cam_name for r in readers}
    if len(cameras) > 1:
        raise InputError(f"the files hold different cameras {sorted(cameras)}")
    return readers


def _any_image_passes(path, min_intensity) -> bool:
    with tables.open_file(path, mode="r") as h5:
        return any((node.col("hillas_intensity") > min_intensity).any() for node in h5.root.dl1.event.telescope.parameters)


def _example_shape(reader) -> tuple:
    if reader.mode == "mono":
        return tuple(reader.input_shape)
    return tuple(next(iter(reader.input_shape.values())))


def labels_from_table(table, tasks) -> dict:
    """Training targets: gamma label, log10(E / TeV), and the direction offsets (fov_lon, fov_lat) in degrees."""
    out = {}
    if "type" in tasks:
        out["type"] = (np.asarray(table["true_shower_primary_id"]) == GAMMA_ID).astype("float32")[:, None]
    if "energy" in tasks:
        out["energy"] = np.asarray(table["log_true_energy"], dtype="float32")[:, None]
    if "direction" in tasks:
        lon = np.asarray(table["fov_lon"].to_value("deg") if hasattr(table["fov_lon"], "to_value") else table["fov_lon"])
        lat = np.asarray(table["fov_lat"].to_value("deg") if hasattr(table["fov_lat"], "to_value") else table["fov_lat"])
        out["direction"] = np.stack([lon, lat], axis=1).astype("float32")
    return out


@dataclass
class Batch:
    """One batch: network inputs, targets, and the ids that tie each example to its file and event."""

    inputs: object
    targets: dict
    ids: dict


class DL1Sequence(keras.utils.PyDataset):
    """Batches from dl1-data-handler readers for ``model.fit`` / ``model.predict``.

    Mono: ``x`` is (batch, H, W, C). Stereo: ``x = {"images": (batch, n_tel, H, W, C),
    "mask": (batch, n_tel)}`` with mask 0 where a telescope has no selected image
    (dl1-data-handler fills those with zeros). ``y`` holds one array per task;
    when ``gamma_only_regression`` is set, energy and direction are weighted by
    the gamma label so that protons train only the classifier.

    ``workers`` threads fill a queue of ``max_queue_size`` batches while the model
    trains (Keras' PyDataset machinery).
    """

    def __init__(
        self,
        readers,
        tasks=TASKS,
        batch_size=32,
        shuffle=False,
        seed=0,
        indices=None,
        gamma_only_regression=True,
        with_targets=True,
        workers=1,
        max_queue_size=8,
        use_multiprocessing=False,
    ):
        super().__init__(workers=workers, use_multiprocessing=use_multiprocessing, max_queue_size=max_queue_size)
        unknown = set(tasks) - set(TASKS)
        if unknown:
            raise ValueError(f"unknown task(s) {sorted(unknown)}; choose from {TASKS}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.readers = list(readers)
        self.mode = self.readers[0].mode
        self.tasks = tuple(tasks)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.rng = np.random.default_rng(seed)
        self.gamma_only_regression = gamma_only_regression
        self.with_targets = with_targets
        if indices is None:
            indices = [(r, i) for r, reader in enumerate(self.readers) for i in range(reader.get_n_events())]
        self.indices = np.asarray(indices, dtype=np.int64).reshape(-1, 2)
        if len(self.indices) == 0:
            raise InputError("the selection holds no examples")
        self.order = np.arange(len(self.indices))
        if shuffle:
            self.rng.shuffle(self.order)

    @property
    def n_examples(self) -> int:
        return len(self.indices)

    @property
    def example_shape(self) -> tuple:
        return _example_shape(self.readers[0])

    def __len__(self):
        return math.ceil(len(self.indices) / self.batch_size)

    def on_epoch_end(self):
        if self.shuffle:
            self.rng.shuffle(self.order)

    def __getitem__(self, i):
        batch = self.batch(i)
        if not self.with_targets:
            return (batch.inputs,)
        if self.gamma_only_regression and "type" in self.tasks:
            gamma = batch.targets["type"][:, 0]
            weights = {t: (gamma if t != "type" else np.ones_like(gamma)) for t in self.tasks}
            return batch.inputs, batch.targets, weights
        return batch.inputs, batch.targets

    def batch(self, i) -> Batch:
        if not 0 <= i < len(self):
            raise IndexError(f"batch {i} out of range (0-{len(self) - 1})")
        chosen = self.indices[self.order[i * self.batch_size : (i + 1) * self.batch_size]]
        tables_ = []
        for r in np.unique(chosen[:, 0]):
            wanted = sorted(int(k) for k in chosen[chosen[:, 0] == r, 1])
            reader = self.readers[r]
            if self.mode == "mono":
                table = reader.generate_mono_batch(wanted)
            else:
                table = reader.generate_stereo_batch(wanted)
            tables_.append((r, table))
        return self._assemble(tables_)

    def _assemble(self, tables_) -> Batch:
        features, masks, targets, ids = [], [], [], {"reader": [], "obs_id": [], "event_id": [], "tel_id": []}
        for r, table in tables_:
            x = np.stack([np.asarray(f, dtype="float32") for f in table["features"]])
            if self.mode == "mono":
                features.append(x)
                rows = table
                ids["tel_id"].append(np.asarray(table["tel_id"]))
            else:
                n_tel = _example_shape(self.readers[r])[0]
                if len(table) % n_tel:
                    raise RuntimeError(f"stereo batch of {len(table)} rows is not a multiple of {n_tel} telescopes")
                features.append(x.reshape(-1, n_tel, *x.shape[1:]))
                present = np.asarray(table["table_index"]) >= 0
                masks.append(present.reshape(-1, n_tel).astype("float32"))
                rows = table[::n_tel]
                ids["tel_id"].append(np.asarray(table["tel_id"]).reshape(-1, n_tel))
            ids["reader"].append(np.full(len(rows), r))
            ids["obs_id"].append(np.asarray(rows["obs_id"]))
            ids["event_id"].append(np.asarray(rows["event_id"]))
            if self.with_targets or "true_shower_primary_id" in rows.colnames:
                targets.append(labels_from_table(rows, self.tasks))
        x = np.concatenate(features)
        if not np.isfinite(x).all():
            bad = np.unique(np.concatenate(ids["event_id"])[~np.isfinite(x).reshape(len(x), -1).all(axis=1)])
            raise InputError(f"non-finite pixel values in events {bad[:10].tolist()}")
        inputs = x if self.mode == "mono" else {"images": x, "mask": np.concatenate(masks)}
        y = {t: np.concatenate([d[t] for d in targets]) for t in self.tasks} if targets else {}
        return Batch(inputs=inputs, targets=y, ids={k: np.concatenate(v) for k, v in ids.items()})

    def split(self, fraction: float, seed: int = 0):
        """Two index sets (train, validation) split by whole array events, so no shower is in both."""
        keys = np.array([hash((int(r), *self._event_key(r, i))) for r, i in self.indices])
        unique = np.unique(keys)
        rng = np.random.default_rng(seed)
        held = set(rng.choice(unique, size=max(1, round(fraction * len(unique))), replace=False).tolist())
        is_val = np.array([k in held for k in keys])
        return self.indices[~is_val], self.indices[is_val]

    def _event_key(self, r, i):
        reader = self.readers[r]
        table = reader.example_identifiers if reader.mode == "mono" else reader.unique_example_identifiers
        return int(table["obs_id"][i]), int(table["event_id"][i])

    def subset(self, indices, **overrides) -> DL1Sequence:
        """A sequence over some of the same examples (same readers, no reopening)."""
        kwargs = {
            "tasks": self.tasks,
            "batch_size": self.batch_size,
            "shuffle": self.shuffle,
            "gamma_only_regression": self.gamma_only_regression,
            "with_targets": self.with_targets,
            "workers": self.workers,
            "max_queue_size": self.max_queue_size,
            "use_multiprocessing": self.use_multiprocessing,
        }
        kwargs.update(overrides)
        return DL1Sequence(self.readers, indices=indices, **kwargs)
