"""A ctapipe EventSource that simulates LST array events instead of reading them.

It yields the same containers as ctapipe's SimTelEventSource (simulated
shower, true images, impact distances, telescope pointing, trigger, R1
waveforms), so ctapipe's calibration, image processing and DataWriter turn
its events into the same HDF5 files as real sim_telarray data.
"""

import astropy.units as u
import numpy as np
from astropy.time import Time
from ctapipe.containers import (
    ArrayEventContainer,
    ArrayPointingContainer,
    CameraCalibrationContainer,
    CoordinateFrameType,
    EventIndexContainer,
    EventType,
    ObservationBlockContainer,
    ObservationBlockState,
    ObservingMode,
    PixelStatus,
    PointingMode,
    R1CameraContainer,
    SchedulingBlockContainer,
    SchedulingBlockType,
    SimulatedCameraContainer,
    SimulatedEventContainer,
    SimulatedShowerContainer,
    SimulatedShowerDistribution,
    SimulationConfigContainer,
    TelescopeImpactParameterContainer,
    TelescopePointingContainer,
    TelescopeTriggerContainer,
    TriggerContainer,
)
from ctapipe.coordinates import shower_impact_distance
from ctapipe.core.traits import (
    AstroQuantity,
    CaselessStrEnum,
    Float,
    Int,
    Path,
)
from ctapipe.instrument import SubarrayDescription
from ctapipe.io import DataLevel, EventSource

from lstcommon import UserError

from ..instrument import LSTInstrument
from .camera import CameraResponse
from .showers import DEFAULT_SHOWER_MODEL, SHOWER_MODELS, PhotonList, ShowerModel, TelescopeView

__all__ = ["ToyEventSource", "PARTICLES", "PRIMARY_ID", "default_obs_id"]

PARTICLES = ("gamma", "proton", "nsb")
# CORSIKA particle codes, as in sim_telarray files; -1 marks NSB-only windows
PRIMARY_ID = {"gamma": 0, "proton": 101, "nsb": -1}
_STREAM = {"gamma": 1, "proton": 2, "nsb": 3}
EPOCH = Time("2026-01-01T00:00:00", scale="utc")


def default_obs_id(particle, seed) -> int:
    """Observation id of a simulated run: distinct for every (particle, seed) pair, 1 / 2 / 3 for seed 0."""
    return 3 * int(seed) + PARTICLES.index(particle) + 1


class SimulationError(UserError, ValueError):
    """The simulation was asked for something it cannot do."""


class ToyEventSource(EventSource):
    """Simulated LST events: gamma or proton showers, or NSB-only windows."""

    particle = CaselessStrEnum(PARTICLES, default_value="gamma", help="Primary particle, or nsb for NSB-only windows").tag(config=True)
    n_events = Int(100, help="Number of showers (or NSB windows) to simulate").tag(config=True)
    energy_min = AstroQuantity(default_value=10 * u.GeV, physical_type=u.physical.energy, help="Lowest primary energy").tag(config=True)
    energy_max = AstroQuantity(default_value=10 * u.TeV, physical_type=u.physical.energy, help="Highest primary energy").tag(config=True)
    spectral_index = Float(-2.0, help="Power-law index of the simulated spectrum dN/dE ~ E^index").tag(config=True)
    max_impact = AstroQuantity(default_value=500 * u.m, physical_type=u.physical.length, help="Cores are uniform on the ground within this radius of the array centre").tag(config=True)
    viewcone = AstroQuantity(
        default_value=None, allow_none=True, physical_type=u.physical.angle,
        help="Radius of the cone of arrival directions around the pointing; default 0 deg (point-like) for gammas, 10 deg for protons",
    ).tag(config=True)
    source_offset = AstroQuantity(default_value=0 * u.deg, physical_type=u.physical.angle, help="Offset of the point-like gamma source from the pointing, towards higher altitude").tag(config=True)
    pointing_altitude = AstroQuantity(default_value=70 * u.deg, physical_type=u.physical.angle, help="Pointing altitude of all telescopes").tag(config=True)
    pointing_azimuth = AstroQuantity(default_value=0 * u.deg, physical_type=u.physical.angle, help="Pointing azimuth of all telescopes").tag(config=True)
    nsb_rate = AstroQuantity(
        default_value=None, allow_none=True, physical_type=u.physical.frequency,
        help="Night-sky background per pixel; default the LSTN-01 dark-sky value (0.2336 p.e./ns = 0.2336 GHz)",
    ).tag(config=True)
    n_telescopes = Int(4, help="Number of LSTs (LSTN-01 ... LSTN-04)").tag(config=True)
    min_true_pe = Int(10, help="A telescope is read out when its true image has at least this many p.e.").tag(config=True)
    readout_offset = AstroQuantity(default_value=18 * u.ns, physical_type=u.physical.time, help="Position of the median photon time in the readout window").tag(config=True)
    seed = Int(0, help="Random seed; the same seed gives the same events bit for bit").tag(config=True)
    shower_model = CaselessStrEnum(
        list(SHOWER_MODELS), default_value=DEFAULT_SHOWER_MODEL,
        help="Parameter set of the image model: v1 the first toy, v2 calibrated against sim_telarray shower by shower "
        "(docs/simulation.md)",
    ).tag(config=True)
    obs_id = Int(
        None, allow_none=True,
        help="Observation id written to the files (default: 3 x seed + 1 for gammas, + 2 protons, + 3 NSB, "
        "so that no two runs of different seed or particle share one and readers over several files keep them apart)",
    ).tag(config=True)
    data_dir = Path(None, allow_none=True, exists=None, help="Instrument data folder (default: $LST_TRIGGER_DATA or ../shared/data)").tag(config=True)

    def __init__(self, input_url=None, config=None, parent=None, **kwargs):
        super().__init__(input_url=None, config=config, parent=parent, **kwargs)
        self._validate()
        if self.obs_id is None:
            self.obs_id = default_obs_id(self.particle, self.seed)
        self.instrument = LSTInstrument(self.data_dir)
        self._subarray = self._make_subarray()
        self.model = ShowerModel.named(self.shower_model,
                                       observation_level=self._subarray.reference_location.height.to_value(u.m))
        self.camera = CameraResponse(self.instrument, self.nsb_rate_ghz)
        alt, az = self.pointing_altitude.to_value(u.rad), self.pointing_azimuth.to_value(u.rad)
        positions = self._subarray.tel_coords
        self._views = {
            tel_id: TelescopeView.from_altaz(
                [positions.x[i].to_value(u.m), positions.y[i].to_value(u.m), positions.z[i].to_value(u.m)], alt, az
            )
            for i, tel_id in enumerate(self._subarray.tel_ids)
        }
        self._energies, self._core_distances = [], []
        self.metadata["is_simulation"] = True

    def _make_subarray(self) -> SubarrayDescription:
        return self.instrument.subarray(self.n_telescopes)

    def _validate(self):
        e_min, e_max = self.energy_min.to_value(u.GeV), self.energy_max.to_value(u.GeV)
        if not (np.isfinite(e_min) and np.isfinite(e_max)) or e_min <= 0 or e_max <= e_min:
            raise SimulationError(
                f"energy range must satisfy 0 < energy_min < energy_max, got {self.energy_min} .. {self.energy_max}"
            )
        # an empty run would replace a good file with one that has no shower table
        if self.n_events < 1:
            raise SimulationError(f"n_events (--n-events) must be at least 1, got {self.n_events}")
        if self.seed < 0:
            raise SimulationError(f"seed (--seed) must be >= 0 (numpy seeds are non-negative), got {self.seed}")
        if not 1 <= self.n_telescopes <= 4:
            raise SimulationError(f"n_telescopes (--n-telescopes) must be within 1..4 (LSTN-01 ... LSTN-04), got {self.n_telescopes}")
        if self.min_true_pe < 0:
            raise SimulationError(f"min_true_pe (--min-true-pe) must be >= 0, got {self.min_true_pe}")
        if not np.isfinite(self.spectral_index):
            raise SimulationError(f"spectral_index (--spectral-index) must be finite, got {self.spectral_index}")
        if self.viewcone is not None and not 0 <= self.viewcone.to_value(u.deg) <= 20:
            raise SimulationError(f"viewcone (--viewcone) must be within 0..20 deg, got {self.viewcone}")
        if not 0 <= self.max_impact.to_value(u.m) < np.inf:
            raise SimulationError(f"max_impact (--max-impact) must be finite and >= 0, got {self.max_impact}")
        if not 0 <= self.pointing_altitude.to_value(u.deg) <= 90:
            raise SimulationError(f"pointing_altitude must be within 0..90 deg, got {self.pointing_altitude}")
        if self.nsb_rate is not None and not (np.isfinite(self.nsb_rate.value) and self.nsb_rate.value >= 0):
            raise SimulationError(f"nsb_rate (--nsb-rate) must be a finite rate >= 0, got {self.nsb_rate}")

    @staticmethod
    def is_compatible(file_path):
        return False

    @property
    def nsb_rate_ghz(self) -> float:
        if self.nsb_rate is None:
            return self.instrument.nsb_rate.to_value(1 / u.ns)
        return self.nsb_rate.to_value(u.GHz)

    @property
    def viewcone_radius(self) -> u.Quantity:
        if self.viewcone is not None:
            return self.viewcone.to(u.deg)
        return (10.0 if self.particle == "proton" else 0.0) * u.deg

    # -- EventSource interface ---------------------------------------------
    @property
    def subarray(self) -> SubarrayDescription:
        return self._subarray

    @property
    def is_simulation(self):
        return True

    @property
    def datalevels(self):
        return (DataLevel.R1,)

    @property
    def obs_ids(self):
        return [self.obs_id]

    @property
    def scheduling_blocks(self):
        return {
            self.obs_id: SchedulingBlockContainer(
                sb_id=np.uint64(self.obs_id),
                sb_type=SchedulingBlockType.OBSERVATION,
                producer_id="lst-nn-trigger toy simulation",
                observing_mode=ObservingMode.UNKNOWN,
                pointing_mode=PointingMode.DRIFT,
            )
        }

    @property
    def observation_blocks(self):
        return {
            self.obs_id: ObservationBlockContainer(
                obs_id=np.uint64(self.obs_id),
                sb_id=np.uint64(self.obs_id),
                producer_id="lst-nn-trigger toy simulation",
                state=ObservationBlockState.COMPLETED_SUCCEDED,
                subarray_pointing_lat=self.pointing_altitude.to(u.deg),
                subarray_pointing_lon=self.pointing_azimuth.to(u.deg),
                subarray_pointing_frame=CoordinateFrameType.ALTAZ,
                actual_start_time=EPOCH,
                scheduled_start_time=EPOCH,
            )
        }

    @property
    def simulation_config(self):
        alt, az = self.pointing_altitude.to(u.rad), self.pointing_azimuth.to(u.rad)
        return {
            self.obs_id: SimulationConfigContainer(
                run_number=self.obs_id,
                energy_range_min=self.energy_min.to(u.TeV),
                energy_range_max=self.energy_max.to(u.TeV),
                spectral_index=self.spectral_index,
                prod_site_alt=self._subarray.reference_location.height.to(u.m),
                n_showers=self.n_events,
                shower_reuse=1,
                max_alt=alt,
                min_alt=alt,
                max_az=az,
                min_az=az,
                diffuse=bool(self.viewcone_radius > 0 * u.deg),
                max_viewcone_radius=self.viewcone_radius,
                min_viewcone_radius=0 * u.deg,
                max_scatter_range=self.max_impact.to(u.m),
                min_scatter_range=0 * u.m,
                core_pos_mode=0,
                shower_prog_id=PRIMARY_ID[self.particle],
            )
        }

    @property
    def simulated_shower_distributions(self):
        """Histogram of all simulated showers (energy x core distance), available after iterating."""
        if self.particle == "nsb" or not self._energies:
            return {}
        e_bins = np.geomspace(self.energy_min.to_value(u.TeV), self.energy_max.to_value(u.TeV), 61)
        r_bins = np.linspace(0, max(self.max_impact.to_value(u.m), 1.0), 51)
        hist, _, _ = np.histogram2d(self._core_distances, self._energies, bins=[r_bins, e_bins])
        return {
            self.obs_id: SimulatedShowerDistribution(
                obs_id=self.obs_id,
                hist_id=6,
                n_entries=len(self._energies),
                bins_core_dist=r_bins * u.m,
                bins_energy=e_bins * u.TeV,
                histogram=hist,
            )
        }

    # -- the simulation ----------------------------------------------------
    def _rng(self, index):
        # the observation id only labels the run: the same seed gives the same events under any obs_id
        return np.random.default_rng([self.seed, _STREAM[self.particle], _STREAM[self.particle], index])

    def _event_id(self, index):
        return index + 1

    def _energy(self, rng):
        e_min, e_max = self.energy_min.to_value(u.GeV), self.energy_max.to_value(u.GeV)
        g = self.spectral_index + 1
        x = rng.uniform()
        if abs(g) < 1e-9:
            return e_min * (e_max / e_min) ** x
        return (e_min**g + x * (e_max**g - e_min**g)) ** (1 / g)

    def _direction(self, rng):
        """Arrival direction (alt, az in rad) of the primary."""
        alt0, az0 = self.pointing_altitude.to_value(u.rad), self.pointing_azimuth.to_value(u.rad)
        radius = self.viewcone_radius.to_value(u.rad)
        if radius > 0:
            offset = np.arccos(1 - rng.uniform() * (1 - np.cos(radius)))
            phi = rng.uniform(0, 2 * np.pi)
        else:
            offset, phi = self.source_offset.to_value(u.rad), np.pi / 2
        view = TelescopeView.from_altaz(np.zeros(3), alt0, az0)
        axis = (
            np.cos(offset) * view.pointing
            + np.sin(offset) * (np.cos(phi) * view.e_lon + np.sin(phi) * view.e_lat)
        )
        return np.arcsin(np.clip(axis[2], -1, 1)), np.arctan2(-axis[1], axis[0]) % (2 * np.pi), axis

    def _shower(self, index, rng):
        energy = self._energy(rng)
        alt, az, axis = self._direction(rng)
        r = self.max_impact.to_value(u.m) * np.sqrt(rng.uniform())
        phi = rng.uniform(0, 2 * np.pi)
        core = np.array([r * np.cos(phi), r * np.sin(phi), 0.0])
        shower, container = self._make_shower(energy, alt, az, axis, core, rng)
        return shower, container, r

    def _make_shower(self, energy, alt, az, axis, core, rng):
        """The model's shower of ``energy`` (GeV) along ``axis`` at ``core``, and its simulation container."""
        make = self.model.gamma if self.particle == "gamma" else self.model.proton
        shower = make(energy, axis, core, rng)
        container = SimulatedShowerContainer(
            energy=energy / 1000 * u.TeV,
            alt=alt * u.rad,
            az=az * u.rad,
            core_x=core[0] * u.m,
            core_y=core[1] * u.m,
            h_first_int=np.nan * u.m,
            x_max=shower.x_max * u.g / u.cm**2,
            starting_grammage=0 * u.g / u.cm**2,
            shower_primary_id=PRIMARY_ID[self.particle],
        )
        return shower, container

    def _nsb_container(self):
        return SimulatedShowerContainer(
            energy=np.nan * u.TeV,
            alt=self.pointing_altitude.to(u.rad),
            az=self.pointing_azimuth.to(u.rad),
            core_x=np.nan * u.m,
            core_y=np.nan * u.m,
            h_first_int=np.nan * u.m,
            x_max=np.nan * u.g / u.cm**2,
            starting_grammage=np.nan * u.g / u.cm**2,
            shower_primary_id=PRIMARY_ID["nsb"],
        )

    #: the first event index simulated (with ``max_events``, a shard of a larger run: trigger.parallel). Each event
    #: draws only from its own index's generator, so the events from here on are exactly those of a full run.
    first_event = 0

    def _generator(self):
        self._energies, self._core_distances = [], []
        n_pix = self.camera.n_pixels
        pointing = TelescopePointingContainer(altitude=self.pointing_altitude.to(u.rad), azimuth=self.pointing_azimuth.to(u.rad))
        offset = self.readout_offset.to_value(u.ns)
        n_events = self.n_events if self.max_events is None else min(self.n_events, self.max_events)
        for index in range(self.first_event, n_events):
            rng = self._rng(index)
            event_id = self._event_id(index)
            # events arrive at 1 kHz on average
            event_time = EPOCH + (index * 1e-3 + rng.uniform(0, 1e-4)) * u.s
            if self.particle == "nsb":
                shower, container = None, self._nsb_container()
            else:
                shower, container, core_r = self._shower(index, rng)
                self._energies.append(container.energy.to_value(u.TeV))
                self._core_distances.append(core_r)

            images = {}
            for tel_id, view in self._views.items():
                if shower is None:
                    photons = PhotonList.empty()
                    start = rng.uniform(0, 1000.0)
                else:
                    photons = self.model.photons(shower, view, rng)
                    in_camera = self.camera.pixel_of(photons) >= 0
                    if np.count_nonzero(in_camera) < max(self.min_true_pe, 1):
                        continue
                    start = float(np.median(photons.time[in_camera])) - offset + rng.uniform(-1, 1)
                image = self.camera.respond(photons, start, rng)
                if shower is not None and image.true_image.sum() < self.min_true_pe:
                    continue
                images[tel_id] = image

            tel_ids = np.array(sorted(images), dtype=np.uint16)
            trigger = TriggerContainer(
                event_type=EventType.SUBARRAY,
                time=event_time,
                tels_with_trigger=tel_ids,
                tel={
                    tel_id: TelescopeTriggerContainer(
                        time=event_time + (images[tel_id].window_start + offset) * u.ns,
                        event_type=EventType.SUBARRAY,
                        n_trigger_pixels=-1,
                    )
                    for tel_id in tel_ids
                },
            )
            event = ArrayEventContainer(
                index=EventIndexContainer(obs_id=self.obs_id, event_id=event_id),
                count=index,
                trigger=trigger,
                simulation=SimulatedEventContainer(shower=container),
            )
            event.monitoring.pointing = ArrayPointingContainer(
                array_altitude=self.pointing_altitude.to(u.rad), array_azimuth=self.pointing_azimuth.to(u.rad)
            )
            if shower is not None and len(tel_ids):
                impact = shower_impact_distance(shower_geom=container, subarray=self._subarray)
            for tel_id, image in images.items():
                if shower is not None:
                    impact_container = TelescopeImpactParameterContainer(
                        distance=impact[self._subarray.tel_index_array[tel_id]], distance_uncert=0 * u.m, prefix="true_impact"
                    )
                else:
                    impact_container = TelescopeImpactParameterContainer(prefix="true_impact")
                event.simulation.tel[tel_id] = SimulatedCameraContainer(
                    true_image_sum=int(image.true_image.sum()),
                    true_image=image.true_image,
                    impact=impact_container,
                )
                event.monitoring.tel[tel_id].pointing = pointing
                # the toy camera is ideal: no time offsets between pixels, no broken pixels
                event.monitoring.tel[tel_id].camera.coefficients = CameraCalibrationContainer(
                    time_shift=np.zeros((1, n_pix), dtype=np.float32),
                    outlier_mask=np.zeros((1, n_pix), dtype=bool),
                )
                event.r1.tel[tel_id] = R1CameraContainer(
                    event_type=EventType.SUBARRAY,
                    waveform=image.waveform,
                    selected_gain_channel=np.zeros(n_pix, dtype=np.int8),
                    pixel_status=np.full(n_pix, PixelStatus.HIGH_GAIN_STORED | PixelStatus.DVR_0, dtype=np.uint8),
                )
            yield event
