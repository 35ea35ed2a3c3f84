"""Telescope events as the trigger sees them, read from the project's ctapipe files.

R1 waveforms are read with ctapipe (``read_table``, which undoes the stored
column transform) and turned into trigger input by :class:`TriggerInput`;
the truth comes from the simulated shower and image tables of the same file.
"""

from dataclasses import dataclass, fields
from pathlib import Path

import astropy.units as u
import numpy as np
import tables
from astropy.table import join
from ctapipe.instrument import SubarrayDescription
from ctapipe.io import read_table

from lstcommon import UserError
from lstcommon.files import check_hdf5

from .inputs import TriggerInput
from .instrument import LSTInstrument

__all__ = ["TriggerEvents", "read_trigger_events", "read_showers", "check_event_file", "EVENT_NODES"]

CHUNK = 256
# what read_trigger_events reads: a file from trigger-synth simulate or trigger.io.convert_simtel
EVENT_NODES = (
    "/r1/event/telescope",
    "/dl1/event/subarray/trigger",
    "/dl1/event/telescope/trigger",
    "/simulation/event/subarray/shower",
    "/simulation/event/telescope/images",
    "/configuration/instrument/subarray/layout",
)
PARTICLE_NAMES = {0: "gammas", 101: "protons", -1: "NSB-only windows"}


@dataclass
class TriggerEvents:
    """Per telescope event: trigger input counts (n, N_MODULES, n_samples) and truth."""

    counts: np.ndarray
    obs_id: np.ndarray
    event_id: np.ndarray
    tel_id: np.ndarray
    true_energy: np.ndarray  # TeV, NaN for NSB-only windows
    primary_id: np.ndarray
    true_image_sum: np.ndarray
    time_ns: np.ndarray  # telescope time relative to the array event's time
    true_image: np.ndarray | None = None  # (n, 1855) p.e., only when asked for

    def __len__(self):
        return len(self.obs_id)

    def select(self, mask) -> "TriggerEvents":
        return TriggerEvents(**{f.name: (None if getattr(self, f.name) is None else getattr(self, f.name)[mask]) for f in fields(self)})

    @classmethod
    def concatenate(cls, parts) -> "TriggerEvents":
        parts = list(parts)
        values = {}
        for f in fields(cls):
            items = [getattr(p, f.name) for p in parts]
            values[f.name] = None if any(i is None for i in items) else np.concatenate(items)
        return cls(**values)


def check_event_file(path, instrument: LSTInstrument, what="event file", primary_id=None) -> Path:
    """Refuse, before any work, a file the trigger cannot use: the reason in one line naming the file.

    Checks that it is a complete ctapipe event file of the project's layout,
    that every telescope with waveforms is the instrument's camera with its
    sampling rate and samples, that its showers are of the expected primary
    (``primary_id``, CORSIKA code), and that the first waveforms of each
    telescope are finite and within the readout's range
    (:func:`check_waveforms` checks every chunk again while reading).
    """
    path = check_hdf5(path, what, EVENT_NODES, hint="not an event file of trigger-synth simulate or trigger.io")
    try:
        subarray = SubarrayDescription.from_hdf(path)
    except Exception as err:  # ctapipe raises many types for a damaged instrument description
        raise UserError(f"{path}: {what} has no readable instrument description ({type(err).__name__})") from err
    names = _tel_tables(path)
    if not names:
        raise UserError(f"{path}: {what} holds no telescope events")
    camera = instrument.camera
    for name in names:
        tel_id = int(name.split("_")[1])
        if tel_id not in subarray.tel:
            raise UserError(f"{path}: {what} has waveforms of telescope {tel_id}, which its subarray does not describe")
        geometry, readout = subarray.tel[tel_id].camera.geometry, subarray.tel[tel_id].camera.readout
        if geometry.name != camera.geometry.name or geometry.n_pixels != camera.geometry.n_pixels:
            raise UserError(f"{path}: telescope {tel_id} is a {geometry.name} camera ({geometry.n_pixels} pixels); "
                            f"the trigger is for {camera.geometry.name} ({camera.geometry.n_pixels} pixels)")
        rate, expected = readout.sampling_rate.to(u.GHz), instrument.sampling_rate.to(u.GHz)
        if not np.isclose(rate.value, expected.value, rtol=1e-6):
            raise UserError(f"{path}: telescope {tel_id} is sampled at {rate:.4g}; the trigger needs {expected:.4g}")
        if readout.n_samples != instrument.n_samples:
            raise UserError(f"{path}: telescope {tel_id} has {readout.n_samples} samples per waveform; "
                            f"the trigger needs {instrument.n_samples}")
    with tables.open_file(path) as h5:
        primaries = np.unique(h5.get_node("/simulation/event/subarray/shower").col("true_shower_primary_id"))
        if primary_id is not None and len(primaries) and set(primaries.tolist()) != {primary_id}:
            found = ", ".join(PARTICLE_NAMES.get(int(p), f"primary id {p}") for p in primaries)
            raise UserError(f"{path}: {what} holds {found}, not {PARTICLE_NAMES.get(primary_id, primary_id)}")
    for name in names:
        r1 = read_table(path, f"/r1/event/telescope/{name}", stop=CHUNK)
        if len(r1):
            check_waveforms(np.asarray(r1["waveform"], dtype=np.float32), path, instrument)
    return path


def check_waveforms(waveform, path, instrument: LSTInstrument):
    """Refuse waveforms no camera records: NaN or infinite samples, values far outside the readout's range, and
    saturated pixels (every sample at the low gain's ceiling, which no Cherenkov pulse of a few ns can do)."""
    if not np.all(np.isfinite(waveform)):
        raise UserError(f"{path}: waveforms hold NaN or infinite values")
    ceiling = instrument.saturation_pe
    low = float(waveform.min()) if waveform.size else 0.0
    if low < -ceiling:
        raise UserError(f"{path}: waveforms hold samples of {low:.4g} p.e., below any pedestal fluctuation "
                        f"(a NaN written as an integer?)")
    saturated = np.all(waveform >= ceiling, axis=-1)
    if saturated.any():
        n_events = int(saturated.reshape(len(saturated), -1).any(axis=1).sum())
        raise UserError(f"{path}: {int(saturated.sum())} pixels in {n_events} telescope events are saturated over "
                        f"the whole readout window (>= {ceiling:.0f} p.e. per sample, the low gain's ceiling)")


def _tel_tables(path):
    with tables.open_file(path) as h5:
        group = "/r1/event/telescope"
        if group not in h5:
            raise ValueError(f"{path}: no R1 waveforms ({group}); it was not written by trigger-synth/trigger.io")
        return sorted(h5.get_node(group)._v_children)


def read_trigger_events(path, trigger_input: TriggerInput, with_true_image=False, max_tel_events=None) -> TriggerEvents:
    """All telescope events of one file as trigger input, with their truth."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"event file {str(path)!r} does not exist")
    shower = read_table(path, "/simulation/event/subarray/shower")
    trigger = read_table(path, "/dl1/event/subarray/trigger")
    tel_trigger = read_table(path, "/dl1/event/telescope/trigger")
    parts = []
    remaining = max_tel_events
    for name in _tel_tables(path):
        tel = int(name.split("_")[1])
        r1_path = f"/r1/event/telescope/{name}"
        with tables.open_file(path) as h5:
            n_rows = h5.get_node(r1_path).nrows
        truth = read_table(path, f"/simulation/event/telescope/images/{name}")
        for start in range(0, n_rows, CHUNK):
            if remaining is not None and remaining <= 0:
                break
            stop = min(start + CHUNK, n_rows) if remaining is None else min(start + CHUNK, n_rows, start + remaining)
            r1 = read_table(path, r1_path, start=start, stop=stop)
            waveform = np.asarray(r1["waveform"], dtype=np.float32)
            if waveform.ndim == 4:  # (n, n_gains, n_pixels, n_samples): gain-selected, one channel
                waveform = waveform[:, 0]
            check_waveforms(waveform, path, trigger_input.instrument)
            counts = trigger_input(waveform)
            keys = r1["obs_id", "event_id"]
            keys["row"] = np.arange(len(keys))
            keys["tel_id"] = tel
            merged = join(keys, truth, keys=["obs_id", "event_id", "tel_id"], join_type="left")
            merged = join(merged, shower, keys=["obs_id", "event_id"], join_type="left")
            merged = join(merged, tel_trigger, keys=["obs_id", "event_id", "tel_id"], join_type="left", table_names=["", "tel"])
            merged = join(merged, trigger["obs_id", "event_id", "time"], keys=["obs_id", "event_id"], join_type="left", table_names=["tel", "array"])
            merged.sort("row")
            tel_time = merged["time_tel"] if "time_tel" in merged.colnames else merged["time"]
            array_time = merged["time_array"]
            parts.append(
                TriggerEvents(
                    counts=counts,
                    obs_id=np.asarray(merged["obs_id"]),
                    event_id=np.asarray(merged["event_id"]),
                    tel_id=np.full(len(merged), tel),
                    true_energy=u.Quantity(merged["true_energy"]).to_value(u.TeV).astype(float),
                    primary_id=np.asarray(merged["true_shower_primary_id"]),
                    true_image_sum=np.asarray(merged["true_image_sum"]),
                    time_ns=(tel_time - array_time).to_value(u.ns),
                    true_image=np.asarray(merged["true_image"]) if with_true_image else None,
                )
            )
            if remaining is not None:
                remaining -= stop - start
    if not parts:
        raise ValueError(f"{path}: no telescope events")
    return TriggerEvents.concatenate(parts)


def read_showers(path):
    """All simulated showers of a file (the denominators of efficiencies), with their core distance."""
    shower = read_table(path, "/simulation/event/subarray/shower")
    shower["core_distance"] = np.hypot(shower["true_core_x"], shower["true_core_y"])
    return shower
