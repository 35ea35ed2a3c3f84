"""Stereo geometry for the energy head: what the Hillas + RF baseline's forests know and an image alone does not.

An image's light depends on the shower's energy and on how far its telescope
is from the shower core (and on the height of the shower maximum): the same
shower is bright at 80 m and faint at 250 m. The forests of the baseline get
both from ctapipe's ``HillasReconstructor``, which intersects the image axes of
all telescopes of an array event (on the sky for the direction, on the ground
for the core). :class:`StereoGeometry` runs that same reconstruction
(``ctapipe-process``, through :func:`reconstruction.baseline.hillas_geometry`)
on a DL1 file's Hillas parameters and serves, per image, the reconstructed
impact distance of its telescope and the event's reconstructed shower-maximum
height, scaled for a network input (:data:`GEOMETRY_FEATURES`). Nothing of the
simulated truth goes in: the same features are computed for real data.

An image whose event has too few images for the intersection (one telescope, or
axes too parallel) gets zeros and ``valid`` 0.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from pathlib import Path

import numpy as np

__all__ = ["GEOMETRY_FEATURES", "HMAX_SCALE_M", "IMPACT_SCALE_M", "StereoGeometry"]

log = logging.getLogger(__name__)

#: the features of one image, in this order
GEOMETRY_FEATURES = ("impact_distance", "h_max", "valid")
#: network-input scales: impact distances are 0-300 m for the simulated LST showers, h_max 5-15 km
IMPACT_SCALE_M = 100.0
HMAX_SCALE_M = 10_000.0
#: scaled features are clipped to this (1 km of impact distance, 100 km of height)
MAX_SCALED = 10.0
RECONSTRUCTOR = "HillasReconstructor"

_CACHE: dict = {}
_LOCK = threading.Lock()


class StereoGeometry:
    """The reconstructed impact distance and shower-maximum height of every image of one DL1 file.

    ``StereoGeometry.of(path)`` computes them once per file (and file version)
    in a process; :meth:`lookup` returns the network features of given images.
    """

    def __init__(self, path):
        from ctapipe.io import read_table

        from .baseline import hillas_geometry

        self.path = Path(path)
        keys, values = [], []
        with tempfile.TemporaryDirectory(prefix="stereo-geometry-") as tmp:
            processed = hillas_geometry(self.path, Path(tmp) / "geometry.h5")
            showers = read_table(processed, f"/dl2/event/subarray/geometry/{RECONSTRUCTOR}")
            h_max = {(int(o), int(e)): float(h) for o, e, h in zip(
                showers["obs_id"], showers["event_id"], _metres(showers[f"{RECONSTRUCTOR}_h_max"]), strict=True)}
            import tables

            with tables.open_file(processed) as h5:
                group = f"/dl2/event/telescope/impact/{RECONSTRUCTOR}"
                names = [node._v_pathname for node in h5.get_node(group)] if group in h5 else []
            for name in names:
                t = read_table(processed, name)
                impact = _metres(t[f"{RECONSTRUCTOR}_tel_impact_distance"])
                keys.append(np.stack([np.asarray(t[k], dtype=np.int64) for k in ("obs_id", "event_id", "tel_id")], 1))
                heights = np.array([h_max.get((int(o), int(e)), np.nan) for o, e in zip(t["obs_id"], t["event_id"],
                                                                                        strict=True)])
                values.append(np.stack([impact, heights], 1))
        keys = np.concatenate(keys) if keys else np.zeros((0, 3), np.int64)
        values = np.concatenate(values) if values else np.zeros((0, 2))
        self.index = {tuple(k): i for i, k in enumerate(keys.tolist())}
        valid = np.isfinite(values).all(axis=1)
        self.features = np.zeros((len(values), len(GEOMETRY_FEATURES)), dtype="float32")
        # nearly parallel axes put a few cores kilometres away: clipped, so that they cannot dominate a training
        self.features[valid, 0] = np.clip(values[valid, 0] / IMPACT_SCALE_M, 0, MAX_SCALED)
        self.features[valid, 1] = np.clip(values[valid, 1] / HMAX_SCALE_M, 0, MAX_SCALED)
        self.features[valid, 2] = 1.0
        log.info("%s: stereo geometry for %d of %d images", self.path, int(valid.sum()), len(values))

    @classmethod
    def of(cls, path) -> StereoGeometry:
        """The geometry of a file, computed once per process (per path, size and modification time)."""
        path = Path(path).resolve()
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        with _LOCK:
            if key not in _CACHE:
                _CACHE[key] = cls(path)
            return _CACHE[key]

    def lookup(self, obs_id, event_id, tel_id) -> np.ndarray:
        """(n, 3) float32: impact distance / 100 m, h_max / 10 km (each clipped to 0-10), valid (1 or 0) of the
        given images; images the reconstruction did not use get zeros."""
        rows = [self.index.get((int(o), int(e), int(t)), -1) for o, e, t in zip(obs_id, event_id, tel_id, strict=True)]
        rows = np.asarray(rows, dtype=np.int64)
        out = np.zeros((len(rows), len(GEOMETRY_FEATURES)), dtype="float32")
        out[rows >= 0] = self.features[rows[rows >= 0]]
        return out


def _metres(column) -> np.ndarray:
    import astropy.units as u

    if getattr(column, "unit", None) is not None:
        return u.Quantity(column).to_value(u.m).astype(float)
    return np.asarray(column, dtype=float)
