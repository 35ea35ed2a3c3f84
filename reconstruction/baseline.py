"""The classical reference on the same files: ctapipe's Hillas chain and random forests.

1. ``ctapipe-process`` (ctapipe's ``ProcessorTool``) re-reads the DL1 parameters
   and runs ``HillasReconstructor`` (stereo geometry, impact distance per telescope);
2. ctapipe's ``EnergyRegressor`` and ``ParticleClassifier`` (scikit-learn random
   forests) are trained per telescope image on the training files;
3. their telescope predictions are averaged per array event by ctapipe's
   ``StereoMeanCombiner`` and written, with the Hillas geometry, as ctapipe DL2
   tables under one prefix (``HillasRF``), so :mod:`reconstruction.evaluate`
   reads the baseline exactly as it reads the CNNs.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import Table, vstack
from ctapipe.core import run_tool
from ctapipe.io import TableLoader
from ctapipe.reco import EnergyRegressor, ParticleClassifier, ReconstructionProperty
from ctapipe.tools.process import ProcessorTool

from .checks import check_file
from .errors import InputError
from .predict import _combine, _write_atomically, copy_without_pixels
from .settings import DataSpec

__all__ = ["FEATURES", "HillasRandomForest", "hillas_geometry"]

log = logging.getLogger(__name__)

PREFIX = "HillasRF"
GEOMETRY = "HillasReconstructor"
FEATURES = [
    "hillas_intensity",
    "hillas_length",
    "hillas_width",
    "hillas_skewness",
    "hillas_kurtosis",
    "hillas_r",
    "timing_slope",
    "leakage_intensity_width_2",
    "concentration_cog",
    "morphology_n_pixels",
    f"{GEOMETRY}_tel_impact_distance",
    f"{GEOMETRY}_h_max",
]


def hillas_geometry(dl1_file, output_file) -> Path:
    """DL1 parameters -> HillasReconstructor stereo geometry, through ctapipe's own ``ctapipe-process``.

    ctapipe-process reads every table of its input, waveforms and images
    included; it is given a copy without them (:func:`~reconstruction.predict.copy_without_pixels`):
    the same geometry, three times faster.
    """
    dl1_file, output_file = Path(dl1_file), Path(output_file)
    check_file(dl1_file, DataSpec())
    slim = output_file.with_name(f".{output_file.name}.parameters-{os.getpid()}.h5")
    try:
        _process(copy_without_pixels(dl1_file, slim), output_file)
    finally:
        slim.unlink(missing_ok=True)
    return output_file


def _process(dl1_file, output_file):
    argv = [
        f"--input={dl1_file}",
        f"--output={output_file}",
        "--overwrite",
        "--write-parameters",
        "--no-write-images",
        "--write-showers",
        f"--reconstructor={GEOMETRY}",
        "--no-progress",
        "--log-level=ERROR",
    ]
    code = run_tool(ProcessorTool(), argv=argv, raises=True)
    if code != 0:
        raise RuntimeError(f"ctapipe-process failed ({code}) on {dl1_file}")


def _telescope_events(path) -> Table:
    with TableLoader(path) as loader:
        return loader.read_telescope_events(dl1_parameters=True, dl2=True, simulated=True, instrument=True)


class HillasRandomForest:
    """Hillas parameters + ctapipe random forests (energy, gammaness) + Hillas stereo geometry."""

    def __init__(self, work_dir, n_estimators=100, max_depth=12, seed=0, n_jobs=None):
        self.work_dir = Path(work_dir)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        common = {"features": FEATURES, "prefix": PREFIX, "n_jobs": n_jobs}
        forest = {"n_estimators": n_estimators, "max_depth": max_depth, "random_state": seed}
        self._settings = (common, forest)
        self.energy = None
        self.classifier = None
        self.subarray = None

    def _geometry_file(self, path):
        path = Path(path)
        return hillas_geometry(path, self.work_dir / (path.name.replace(".h5", "") + ".hillas.h5"))

    def fit(self, files):
        """Train on gamma and proton DL1 files (energy on gammas only, as usual)."""
        from ctapipe.instrument import SubarrayDescription

        processed = [self._geometry_file(f) for f in files]
        table = vstack([_telescope_events(p) for p in processed], metadata_conflicts="silent")
        self.subarray = SubarrayDescription.from_hdf(processed[0])
        key = self.subarray.tel[self.subarray.tel_ids[0]]
        common, forest = self._settings
        is_gamma = table["true_shower_primary_id"] == 0
        if is_gamma.all() or not is_gamma.any():
            raise InputError(f"{', '.join(map(str, files))}: the baseline needs gamma and proton training files")
        self.energy = EnergyRegressor(self.subarray, model_cls="RandomForestRegressor", model_config=dict(forest), **common)
        self.energy.fit(key, table[is_gamma])
        self.classifier = ParticleClassifier(
            self.subarray, model_cls="RandomForestClassifier", model_config=dict(forest), **common
        )
        self.classifier.fit(key, table)
        self._key = key
        return self

    def predict(self, dl1_file, output_file, overwrite=False, full_copy=False) -> Path:
        """DL2 file with the baseline's classification, energy (RF, mean of images) and Hillas geometry.

        Like :func:`reconstruction.predict.predict`, the file leaves out the
        input's pixel-wise data unless ``full_copy``.
        """
        if self.energy is None:
            raise RuntimeError("call fit() before predict()")
        processed = self._geometry_file(dl1_file)
        table = _telescope_events(processed)
        ids = table[["obs_id", "event_id", "tel_id"]]
        energy = self.energy.predict_table(self._key, table)[ReconstructionProperty.ENERGY]
        score = self.classifier.predict_table(self._key, table)[ReconstructionProperty.PARTICLE_TYPE]
        order = np.lexsort((ids["tel_id"], ids["event_id"], ids["obs_id"]))
        tel_tables = {
            "energy": _with_ids(ids, energy)[order],
            "classification": _with_ids(ids, score)[order],
        }
        # the same array-event mean as the CNNs' (reconstruction.predict._combine)
        intensity = np.asarray(table["hillas_intensity"], float)[order]
        array_tables = {group: _combine(t, group, PREFIX, intensity) for group, t in tel_tables.items()}
        with TableLoader(processed) as loader:
            events = loader.read_subarray_events(dl2=True, simulated=False)
        geometry = Table({"obs_id": events["obs_id"], "event_id": events["event_id"]})
        for name in ("alt", "az"):
            geometry[f"{PREFIX}_{name}"] = u.Quantity(events[f"{GEOMETRY}_{name}"]).to(u.deg)
        geometry[f"{PREFIX}_is_valid"] = np.asarray(events[f"{GEOMETRY}_is_valid"], dtype=bool)
        array_tables["geometry"] = geometry
        _write_atomically(Path(dl1_file), Path(output_file), tel_tables, array_tables, PREFIX, overwrite,
                          full_copy=full_copy)
        return Path(output_file)


def _with_ids(ids, predictions):
    out = ids.copy()
    for name in predictions.colnames:
        out[name] = predictions[name]
    return out
