"""dl1-data-handler readers turned into Keras inputs.

Images and waveforms are read only through dl1-data-handler (``DLImageReader``,
``DLWaveformReader``) and its image mappers; this module picks the reader,
checks the files first so that bad input is reported by name, and serves
batches to Keras as a :class:`keras.utils.PyDataset` (parallel workers and a
prefetch queue).

One reader is opened per file. dl1-data-handler groups stereo events by
``(obs_id, event_id)`` across all its files, and two files may share an
``obs_id`` (each simulated run now gets its own, but older files and files
from other tools need not) while ``event_id`` counts from 1 in every run: one
reader for both would merge unrelated showers into one array event. For the
same reason the particle label comes from ``true_shower_primary_id``
(0 = gamma), not from which list a file was given in.
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tables

from lstcommon.errors import one_line

from .checks import check_file, select_telescopes, telescopes_with_events
from .errors import InputError
from .geometry import disp_targets
from .impact import StereoGeometry
from .settings import DEFAULT_TASKS, TASKS, DataSpec

__all__ = [
    "TASKS",
    "DL1Sequence",
    "DataSpec",
    "InputError",
    "check_file",
    "labels_from_table",
    "open_readers",
    "select_telescopes",
    "telescopes_with_events",
]

log = logging.getLogger(__name__)

GAMMA_ID = 0  # CORSIKA / sim_telarray particle id of a gamma


def _sequence_in_window(r1_event, settings, camera_geometry=None, dl1_cleaning_mask=None) -> np.ndarray:
    """dl1-data-handler's waveform cut, kept inside the readout window at both ends.

    dl1-data-handler 0.14.11 clips a sequence that would reach past either end
    of the readout window instead of moving it inside (its
    ``get_unmapped_waveform`` takes the minimum with the window's end before it
    checks for an overflow), so an image whose summed maximum lies within half a
    sequence of either end gets fewer samples than ``sequence_length``, and a
    batch holding it fails to stack (3 of 256 images of a simulated gamma
    file). Here the same sequence is moved inside the window.
    """
    from dl1_data_handler import reader

    full = reader._project_uncut_waveform(r1_event, {**settings, "seq_length": settings["readout_length"]},
                                          camera_geometry, dl1_cleaning_mask)
    n, length = settings["seq_length"], full.shape[1]
    if n >= length:
        return full
    peak = length // 2 - 1 if settings["seq_position"] == "center" else int(np.argmax(full.sum(axis=0)))
    start = min(max(0, int(1 + peak - n / 2)), length - n)
    return full[:, start : start + n]


def _keep_sequences_in_window():
    from dl1_data_handler import reader

    if getattr(reader, "_project_uncut_waveform", None) is None:
        reader._project_uncut_waveform = reader.get_unmapped_waveform
        reader.get_unmapped_waveform = _sequence_in_window


def open_readers(files, spec: DataSpec, tel_ids=None) -> list:
    """One dl1-data-handler reader per file (see the module docstring for why).

    Each reader reads the selected telescopes (``tel_ids``, else
    :func:`select_telescopes`) that have events in its file: dl1-data-handler
    fails on a telescope of the subarray that never triggered.
    """
    from dl1_data_handler.reader import DLImageReader, DLWaveformReader

    files = [files] if isinstance(files, (str, Path)) else list(files)
    if not files:
        raise InputError("no input files given")
    files = [check_file(path, spec) for path in files]
    selection = list(tel_ids) if tel_ids is not None else select_telescopes(files, spec)
    cls = DLImageReader if spec.input_type == "image" else DLWaveformReader
    if cls is DLWaveformReader:
        _keep_sequences_in_window()
    readers = []
    for path in files:
        empty = InputError(
            f"{path}: no {spec.mode} examples pass the selection (intensity > {spec.min_intensity} p.e."
            + (f", at least {spec.min_telescopes} telescopes" if spec.mode == "stereo" else "")
            + f", telescopes {selection})"
        )
        present = set(telescopes_with_events(path, spec))
        allowed = [t for t in selection if t in present]
        skipped = [t for t in selection if t not in present]
        if skipped:
            log.info("%s: telescope(s) %s have no image above %s p.e. and are skipped", path, skipped, spec.min_intensity)
        # dl1-data-handler fails inside an astropy join when nothing passes: look first
        if not allowed:
            raise empty
        config = spec.reader_config()
        config[cls.__name__]["allowed_tels"] = set(allowed)
        try:
            with warnings.catch_warnings():
                # the simulated files' obs_id columns differ in description only; astropy would print it per file
                warnings.filterwarnings("ignore", message=".*the 'description' attribute does not match")
                reader = cls(input_url_signal=[str(path)], config=config)
        except (KeyError, tables.NoSuchNodeError, ValueError) as err:
            raise InputError(f"{path}: dl1-data-handler cannot read it ({one_line(err)[:300]})") from err
        if reader.get_n_events() == 0:
            raise empty
        reader.selected_tel_ids = selection
        readers.append(reader)
    shapes = {_image_shape(r) for r in readers}
    if len(shapes) > 1:
        raise InputError(f"the files give images of different shapes {sorted(shapes)}: {', '.join(map(str, files))}")
    cameras = {r.cam_name for r in readers}
    if len(cameras) > 1:
        raise InputError(f"the files hold different cameras {sorted(cameras)}")
    return readers


def _example_shape(reader) -> tuple:
    """Mono: (H, W, C); stereo: (telescopes read, H, W, C)."""
    if reader.mode == "mono":
        return tuple(reader.input_shape)
    return tuple(next(iter(reader.input_shape.values())))


def _image_shape(reader) -> tuple:
    shape = _example_shape(reader)
    return shape if reader.mode == "mono" else shape[1:]


class HillasAxes:
    """The image centroid (fov_lon, fov_lat in degrees), axis angle (radians), intensity and width / length of every
    image of one DL1 file, from its ctapipe parameters tables, looked up by (obs_id, event_id, tel_id).

    The disp task needs them with each example: dl1-data-handler's batches
    carry the true source offsets, not the image parameters.
    """

    def __init__(self, path):
        import astropy.units as u
        from ctapipe.io import read_table

        self.path = Path(path)
        keys, values = [], []
        with tables.open_file(self.path, mode="r") as h5:
            names = [node._v_pathname for node in h5.get_node("/dl1/event/telescope/parameters")]
        for name in names:
            t = read_table(self.path, name)
            with np.errstate(divide="ignore", invalid="ignore"):
                elongation = u.Quantity(t["hillas_width"], u.deg).value / u.Quantity(t["hillas_length"], u.deg).value
            keys.append(np.stack([np.asarray(t[k], dtype=np.int64) for k in ("obs_id", "event_id", "tel_id")], 1))
            values.append(np.stack([u.Quantity(t["hillas_fov_lon"], u.deg).value, u.Quantity(t["hillas_fov_lat"], u.deg).value,
                                    u.Quantity(t["hillas_psi"], u.deg).to_value(u.rad),
                                    np.asarray(t["hillas_intensity"], dtype=float),
                                    elongation], 1))
        keys = np.concatenate(keys) if keys else np.zeros((0, 3), np.int64)
        self.values = np.concatenate(values) if values else np.zeros((0, 5))
        self.index = {tuple(k): i for i, k in enumerate(keys.tolist())}

    @classmethod
    def of(cls, reader) -> HillasAxes:
        """The axes of a reader's file, read once per reader."""
        if getattr(reader, "_hillas_axes", None) is None:
            reader._hillas_axes = cls(reader.input_url_signal[0])
        return reader._hillas_axes

    def lookup(self, obs_id, event_id, tel_id) -> np.ndarray:
        """(n, 5): fov_lon, fov_lat, psi, intensity, width / length of the given images."""
        try:
            rows = [self.index[(int(o), int(e), int(t))] for o, e, t in zip(obs_id, event_id, tel_id, strict=True)]
        except KeyError as err:
            raise InputError(f"{self.path}: image {err.args[0]} (obs_id, event_id, tel_id) has no DL1 parameters") from None
        return self.values[rows]


def _true_offsets(table) -> np.ndarray:
    """(n, 2) true source offsets (fov_lon, fov_lat) in degrees."""
    return np.stack([_degrees(table["fov_lon"]), _degrees(table["fov_lat"])], axis=1)


def disp_labels(axes, table) -> np.ndarray:
    """(n, 2) disp targets: the distance in degrees along the image axis from the centroid to the true source, and
    1 where the source lies on the side the axis angle points to (0 on the other)."""
    disp, _ = disp_targets(axes[:, :2], axes[:, 2], _true_offsets(table))
    # an image without a Hillas axis teaches nothing: no distance, an undecided side
    bad = ~np.isfinite(disp)
    return np.stack([np.where(bad, 0.0, np.abs(disp)), np.where(bad, 0.5, disp > 0)], axis=1).astype("float32")


def _degrees(column):
    return np.asarray(column.to_value("deg") if hasattr(column, "to_value") else column, dtype=float)


def labels_from_table(table, tasks) -> dict:
    """Training targets: gamma label, log10(E / TeV), and the direction offsets (fov_lon, fov_lat) in degrees."""
    out = {}
    if "type" in tasks:
        out["type"] = (np.asarray(table["true_shower_primary_id"]) == GAMMA_ID).astype("float32")[:, None]
    if "energy" in tasks:
        out["energy"] = np.asarray(table["log_true_energy"], dtype="float32")[:, None]
    if "direction" in tasks:
        out["direction"] = _true_offsets(table).astype("float32")
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
    (dl1-data-handler fills those with zeros). ``n_tel`` is ``n_slots`` (default:
    the most telescopes any reader reads): a reader that skips telescopes without
    events in its file gets zero images with mask 0 in the remaining slots. ``y`` holds one array per task;
    when ``gamma_only_regression`` is set, energy and direction are weighted by
    the gamma label so that protons train only the classifier.

    ``energy_geometry="impact"`` (a model's ``NetworkSpec.energy_geometry``)
    adds the input ``"geometry"``: per image (mono: ``(batch, 3)``; stereo:
    ``(batch, n_tel, 3)``, zeros in empty slots) the reconstructed impact
    distance of its telescope and the event's shower-maximum height
    (:class:`reconstruction.impact.StereoGeometry`); mono inputs are then
    ``{"image": x, "geometry": g}``.

    ``workers`` threads fill a queue of ``max_queue_size`` batches while the model
    trains (Keras' PyDataset machinery).
    """

    def __init__(
        self,
        readers,
        tasks=DEFAULT_TASKS,
        batch_size=32,
        shuffle=False,
        seed=0,
        indices=None,
        gamma_only_regression=True,
        with_targets=True,
        workers=1,
        max_queue_size=8,
        n_slots=None,
        energy_geometry="none",
    ):
        # threads only: the readers' open HDF5 files do not survive a fork, and parallel work across
        # processes is Dask's (lstcommon.parallel)
        super().__init__(workers=workers, max_queue_size=max_queue_size)
        unknown = set(tasks) - set(TASKS)
        if unknown:
            raise ValueError(f"unknown task(s) {sorted(unknown)}; choose from {TASKS}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.readers = list(readers)
        self.mode = self.readers[0].mode
        most = max(_example_shape(r)[0] for r in self.readers) if self.mode == "stereo" else None
        if n_slots is not None and self.mode == "stereo" and n_slots < most:
            raise InputError(f"the files give array events of {most} telescopes, the model has {n_slots} slots")
        self.n_slots = most if n_slots is None else n_slots
        if "disp" in tasks and self.mode != "mono":
            raise ValueError("the disp task needs mono examples (one image axis each)")
        self.tasks = tuple(tasks)
        if energy_geometry not in ("none", "impact"):
            raise ValueError(f"unknown energy_geometry {energy_geometry!r}; choose none or impact")
        self.energy_geometry = energy_geometry
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
        if self.mode == "mono":
            return _example_shape(self.readers[0])
        return (self.n_slots, *_image_shape(self.readers[0]))

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
        geometry = self.energy_geometry == "impact"
        if geometry:
            ids["geometry"] = []
        disp = "disp" in self.tasks and self.mode == "mono"
        if disp:
            ids.update(cog=[], psi=[], intensity=[], elongation=[])
        for r, table in tables_:
            x = np.stack([np.asarray(f, dtype="float32") for f in table["features"]])
            if self.mode == "mono":
                features.append(x)
                rows = table
                ids["tel_id"].append(np.asarray(table["tel_id"]))
                if geometry:
                    ids["geometry"].append(StereoGeometry.of(self.readers[r].input_url_signal[0]).lookup(
                        table["obs_id"], table["event_id"], table["tel_id"]))
                if disp:
                    axes = HillasAxes.of(self.readers[r]).lookup(table["obs_id"], table["event_id"], table["tel_id"])
                    ids["cog"].append(axes[:, :2])
                    ids["psi"].append(axes[:, 2])
                    ids["intensity"].append(axes[:, 3])
                    ids["elongation"].append(axes[:, 4])
            else:
                n_tel = _example_shape(self.readers[r])[0]
                if len(table) % n_tel:
                    raise RuntimeError(f"stereo batch of {len(table)} rows is not a multiple of {n_tel} telescopes")
                pad = self.n_slots - n_tel
                x = x.reshape(-1, n_tel, *x.shape[1:])
                present = (np.asarray(table["table_index"]) >= 0).reshape(-1, n_tel).astype("float32")
                tel_id = np.asarray(table["tel_id"]).reshape(-1, n_tel)
                if pad:  # telescopes skipped in this file: empty slots, masked out
                    x = np.concatenate([x, np.zeros((len(x), pad, *x.shape[2:]), x.dtype)], axis=1)
                    present = np.concatenate([present, np.zeros((len(present), pad), "float32")], axis=1)
                    tel_id = np.concatenate([tel_id, np.zeros((len(tel_id), pad), tel_id.dtype)], axis=1)
                features.append(x)
                masks.append(present)
                rows = table[::n_tel]
                ids["tel_id"].append(tel_id)
                if geometry:
                    g = StereoGeometry.of(self.readers[r].input_url_signal[0]).lookup(
                        np.repeat(np.asarray(rows["obs_id"]), self.n_slots), np.repeat(np.asarray(rows["event_id"]),
                                                                                      self.n_slots), tel_id.ravel())
                    ids["geometry"].append(g.reshape(len(rows), self.n_slots, -1) * present[..., None])
            ids["reader"].append(np.full(len(rows), r))
            ids["obs_id"].append(np.asarray(rows["obs_id"]))
            ids["event_id"].append(np.asarray(rows["event_id"]))
            if self.with_targets or "true_shower_primary_id" in rows.colnames:
                labels = labels_from_table(rows, self.tasks)
                if disp:
                    labels["disp"] = disp_labels(axes, rows)
                    # what the disp error ellipses are measured against (reconstruction.geometry.DispErrors)
                    ids.setdefault("source", []).append(_true_offsets(rows))
                    ids.setdefault("gamma", []).append(np.asarray(rows["true_shower_primary_id"]) == GAMMA_ID)
                targets.append(labels)
        x = np.concatenate(features)
        if not np.isfinite(x).all():
            bad = np.unique(np.concatenate(ids["event_id"])[~np.isfinite(x).reshape(len(x), -1).all(axis=1)])
            raise InputError(f"non-finite pixel values in events {bad[:10].tolist()}")
        inputs = x if self.mode == "mono" else {"images": x, "mask": np.concatenate(masks)}
        if geometry:
            g = np.concatenate(ids["geometry"])
            inputs = {"image": x, "geometry": g} if self.mode == "mono" else {**inputs, "geometry": g}
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
            "n_slots": self.n_slots,
            "energy_geometry": self.energy_geometry,
        }
        kwargs.update(overrides)
        return DL1Sequence(self.readers, indices=indices, **kwargs)
