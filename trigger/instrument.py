"""The LST camera, its trigger layout and a 4-LST array, built from the real files.

Everything comes from the data folder (see :mod:`trigger.paths`): the ctapipe
camera geometry and readout of LSTCam, the sim_telarray camera definition with
its seven-pixel modules ("drawers", ``trigger.sizes.N_MODULES``) and its analog-sum trigger groups,
the LSTN-01 telescope configuration (trigger threshold, night-sky background,
digitiser), the array trigger and the CTAO-North positions.
"""

import re
from dataclasses import dataclass
from functools import cached_property

import astropy.units as u
import numpy as np
from astropy.coordinates import EarthLocation
from astropy.table import Table
from ctapipe.coordinates import CameraFrame, GroundFrame, TelescopeFrame
from ctapipe.instrument import (
    CameraDescription,
    CameraGeometry,
    CameraReadout,
    SubarrayDescription,
    TelescopeDescription,
)

from lstcommon import UserError

from .paths import data_dir, data_file
from .sizes import N_GROUPS, N_MODULES, N_PIXELS

__all__ = [
    "ArrayTrigger",
    "InstrumentError",
    "LSTInstrument",
    "parse_simtel_config",
]


CAMGEOM = "instrument/LSTCam.camgeom.fits.gz"
CAMREADOUT = "instrument/LSTCam.camreadout.fits.gz"
CLUSTERS = "instrument/LST_pixid_to_cluster.txt"
LST1_SUBARRAY = "instrument/LST-1_SubarrayDescription.h5"
POSITIONS = "instrument/array_element_positions_ctao_n.ecsv"
OVERSAMPLED_PULSE = "instrument/oversampled_pulse_LST_8dynode_pix6_20200204.dat"
CAMERA_CFG = "simtel-model/camera_CTA-LST-1_analogsum21_v2020-04-14.dat"
TELESCOPE_CFG = "simtel-model/CTA-North-LSTN-01-6.0.0_test_file.cfg"
ARRAY_TRIGGER = "simtel-model/array_triggers.dat"


class InstrumentError(UserError, ValueError):
    """An instrument file does not describe the camera we expect."""


def parse_simtel_config(path) -> dict[str, str]:
    """Read ``key = value`` lines of a sim_telarray configuration file as strings."""
    settings = {}
    for line in path.read_text().splitlines():
        line = line.split("%", 1)[0].strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = (part.strip() for part in line.split("=", 1))
        settings[key.lower()] = value
    return settings


@dataclass(frozen=True)
class ArrayTrigger:
    """A sim_telarray array-trigger rule: ``min_telescopes`` of ``tel_ids`` within ``window``."""

    min_telescopes: int
    tel_ids: tuple[int, ...]
    window: u.Quantity

    @classmethod
    def from_file(cls, path, tel_ids):
        """The first rule of ``array_triggers.dat`` that involves ``tel_ids``."""
        pattern = re.compile(r"Trigger\s+(\d+)\s+of\s+([\d,\s]+?)\s+width\s+([\d.]+)")
        for line in path.read_text().splitlines():
            match = pattern.match(line.strip())
            if not match:
                continue
            ids = tuple(int(t) for t in match.group(2).replace(",", " ").split())
            if set(tel_ids) <= set(ids):
                return cls(int(match.group(1)), ids, float(match.group(3)) * u.ns)
        raise InstrumentError(f"no array trigger for telescopes {tel_ids} in {path}")


class LSTInstrument:
    """The LST camera and trigger as described by the real instrument files.

    Parameters
    ----------
    data_path : path-like, optional
        The data folder; default from :func:`trigger.paths.data_dir`.
    """

    def __init__(self, data_path=None):
        self.data_path = data_dir(data_path)

    def _file(self, relative):
        return data_file(relative, self.data_path)

    # -- camera ------------------------------------------------------------
    @cached_property
    def geometry(self) -> CameraGeometry:
        geom = CameraGeometry.from_table(Table.read(self._file(CAMGEOM)))
        # ctapipe's default focal-length choice; needed for the telescope frame.
        geom.frame = CameraFrame(focal_length=self.optics.effective_focal_length)
        if geom.n_pixels != N_PIXELS:
            raise InstrumentError(f"{CAMGEOM}: {geom.n_pixels} pixels, expected {N_PIXELS}")
        return geom

    @cached_property
    def readout(self) -> CameraReadout:
        return CameraReadout.from_table(Table.read(self._file(CAMREADOUT)))

    @cached_property
    def camera(self) -> CameraDescription:
        return CameraDescription(name="LSTCam", geometry=self.geometry, readout=self.readout)

    @cached_property
    def pixel_fov(self) -> tuple[np.ndarray, np.ndarray]:
        """Pixel centres in the telescope frame (fov_lon, fov_lat) in degrees."""
        geom = self.geometry.transform_to(TelescopeFrame())
        return geom.pix_x.to_value(u.deg), geom.pix_y.to_value(u.deg)

    @cached_property
    def _camera_cfg(self):
        pixels, groups = [], []
        for line in self._file(CAMERA_CFG).read_text().splitlines():
            fields = line.split("#", 1)[0].split()
            if not fields:
                continue
            if fields[0] == "Pixel":
                pixels.append((int(fields[1]), int(fields[5])))
            elif fields[0] == "AnalogSumTrigger":
                groups.append([int(f) for f in fields[fields.index("of") + 1 :]])
        return np.array(pixels), groups

    @cached_property
    def module_of_pixel(self) -> np.ndarray:
        """Module (sim_telarray drawer) number of each pixel, shape (1855,)."""
        pixels, _ = self._camera_cfg
        if len(pixels) != N_PIXELS or not np.array_equal(pixels[:, 0], np.arange(N_PIXELS)):
            raise InstrumentError(f"{CAMERA_CFG}: expected pixels 0..{N_PIXELS - 1}")
        return pixels[:, 1]

    @cached_property
    def module_pixels(self) -> np.ndarray:
        """Pixel ids of each 7-pixel module, shape (N_MODULES, 7), rows ordered by module number."""
        order = np.argsort(self.module_of_pixel, kind="stable")
        counts = np.bincount(self.module_of_pixel, minlength=N_MODULES)
        if len(counts) != N_MODULES or np.any(counts != 7):
            raise InstrumentError(f"{CAMERA_CFG}: expected {N_MODULES} modules of 7 pixels")
        return order.reshape(N_MODULES, 7)

    @cached_property
    def module_positions(self) -> np.ndarray:
        """Mean pixel position of each module on the camera, metres, shape (N_MODULES, 2)."""
        x, y = (c.to_value(u.m)[self.module_pixels].mean(axis=1) for c in (self.geometry.pix_x, self.geometry.pix_y))
        return np.stack([x, y], axis=1)

    @cached_property
    def group_pixels(self) -> np.ndarray:
        """Pixel ids of the 474 analog-sum trigger groups, shape (474, 21)."""
        _, groups = self._camera_cfg
        groups = np.array(groups)
        if groups.shape != (N_GROUPS, 21):
            raise InstrumentError(f"{CAMERA_CFG}: analog-sum groups of shape {groups.shape}")
        return groups

    @cached_property
    def group_modules(self) -> np.ndarray:
        """The three modules summed by each analog-sum group, shape (474, 3), sorted."""
        modules = np.sort(self.module_of_pixel[self.group_pixels], axis=1)
        triplets = modules[:, ::7]
        if not np.array_equal(np.repeat(triplets, 7, axis=1), modules):
            raise InstrumentError(f"{CAMERA_CFG}: a trigger group is not three whole modules")
        return triplets

    @cached_property
    def module_cluster_ij(self) -> np.ndarray:
        """Each module's (i, j) cluster coordinate from ``LST_pixid_to_cluster.txt``, shape (N_MODULES, 2)."""
        table = np.loadtxt(self._file(CLUSTERS), dtype=int, comments="#")
        ij = np.empty((N_PIXELS, 2), dtype=int)
        ij[table[:, 0]] = table[:, 1:3]
        per_module = ij[self.module_pixels]
        if np.any(per_module != per_module[:, :1]):
            raise InstrumentError(f"{CLUSTERS} and {CAMERA_CFG} disagree on the modules")
        return per_module[:, 0]

    # -- signal chain ------------------------------------------------------
    @cached_property
    def telescope_config(self) -> dict[str, str]:
        return parse_simtel_config(self._file(TELESCOPE_CFG))

    def setting(self, key) -> float:
        """A numeric setting of the LSTN-01 configuration (first value)."""
        value = self.telescope_config[key]
        return float(value.split(":")[-1].split()[0])

    @property
    def nsb_rate(self) -> u.Quantity:
        """Dark-sky night-sky background per pixel (``nightsky_background``)."""
        return self.setting("nightsky_background") / u.ns

    @property
    def asum_threshold(self) -> float:
        """sim_telarray's analog-sum threshold (``asum_threshold``, in mV of its model)."""
        return self.setting("asum_threshold")

    @property
    def sampling_rate(self) -> u.Quantity:
        return self.readout.sampling_rate.to(u.GHz)

    @property
    def n_samples(self) -> int:
        return int(self.readout.n_samples)

    @property
    def saturation_pe(self) -> float:
        """The largest R1 sample (p.e. per sample) the readout records: the low gain's ``fadc_lg_max_signal``.

        ``fadc_lg_amplitude`` is the low gain's peak of a 1 p.e. pulse in ADC
        counts, and in R1 a 1 p.e. pulse peaks at the reference pulse's
        maximum times the sample width.
        """
        pulse, _ = self.reference_pulse
        peak_per_pe = pulse.max() / self.sampling_rate.to_value(u.GHz)
        counts = self.setting("fadc_lg_max_signal") - self.setting("fadc_lg_pedestal")
        return counts / self.setting("fadc_lg_amplitude") * peak_per_pe

    @cached_property
    def reference_pulse(self) -> tuple[np.ndarray, float]:
        """High-gain reference pulse normalised to unit area per ns, and its sample width in ns."""
        pulse = np.asarray(self.readout.reference_pulse_shape[0], dtype=float)
        width = self.readout.reference_pulse_sample_width.to_value(u.ns)
        return pulse / (pulse.sum() * width), width

    @cached_property
    def single_pe_spectrum(self) -> tuple[np.ndarray, np.ndarray]:
        """Single photo-electron amplitude spectrum (amplitude in p.e., probability), afterpulses included.

        The file LSTN-01 simulates with (``pm_photoelectron_spectrum``): its
        last column folds the afterpulse tail (up to 42 p.e.) into the prompt
        response, which shapes the tail of NSB trigger rates.
        """
        name = self.telescope_config["pm_photoelectron_spectrum"]
        # columns: amplitude, prompt, prompt + afterpulses; "%%%" starts a remark
        table = np.loadtxt(self._file(f"simtel-model/{name}"), comments=("#", "%%%"), usecols=(0, 1, 2))
        amplitude, prob = table[:, 0], np.clip(table[:, 2], 0, None)
        return amplitude, prob / prob.sum()

    # -- array -------------------------------------------------------------
    @cached_property
    def lst1(self) -> SubarrayDescription:
        return SubarrayDescription.from_hdf(self._file(LST1_SUBARRAY))

    @cached_property
    def optics(self):
        """LST-1's optics (mirror area, focal lengths) from its subarray description."""
        return self.lst1.tel[next(iter(self.lst1.tel))].optics

    @cached_property
    def telescope(self) -> TelescopeDescription:
        """An LST: LST-1's optics with the LSTCam camera."""
        return TelescopeDescription(name="LST", optics=self.optics, camera=self.camera)

    def subarray(self, n_telescopes=4) -> SubarrayDescription:
        """The first ``n_telescopes`` LSTs (LSTN-01..04) at their CTAO-North positions."""
        table = Table.read(self._file(POSITIONS), format="ascii.ecsv")
        lsts = table[[str(name).startswith("LSTN-") for name in table["name"]]]
        if not 1 <= n_telescopes <= len(lsts):
            raise InstrumentError(f"{n_telescopes} LSTs requested, {len(lsts)} available")
        lsts = lsts[:n_telescopes]
        meta = table.meta
        reference = EarthLocation(
            lon=u.Quantity(meta["reference_lon"]),
            lat=u.Quantity(meta["reference_lat"]),
            height=u.Quantity(meta["reference_height"]),
        )
        locations = EarthLocation.from_geocentric(lsts["x"], lsts["y"], lsts["z"])
        ground = GroundFrame.from_earth_location(locations, reference)
        positions = {
            int(ae_id): u.Quantity([x, y, z])
            for ae_id, x, y, z in zip(lsts["ae_id"], ground.x, ground.y, ground.z)
        }
        return SubarrayDescription(
            name=f"CTAO-North-{n_telescopes}LST",
            tel_positions=positions,
            tel_descriptions={tel_id: self.telescope for tel_id in positions},
            reference_location=reference,
        )

    def array_trigger(self, tel_ids=(1, 2, 3, 4)) -> ArrayTrigger:
        return ArrayTrigger.from_file(self._file(ARRAY_TRIGGER), tuple(tel_ids))
