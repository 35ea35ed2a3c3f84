"""The toy's re-simulation of the showers of a real sim_telarray file, geometry carried over exactly.

Comparing the toy with sim_telarray in bins of impact distance mixes showers
of different energies, directions and telescope geometries. Re-simulating
each recorded shower instead (same primary, energy, arrival direction, core,
telescope positions, pointing, observation level and NSB) lets the two be
compared shower by shower and telescope by telescope; ``repeats`` toy
showers per recorded one give the toy's median and spread for each.

Identifiers say where each toy event came from: ``obs_id`` is the real run's,
``event_id = 1000 * real event_id + repeat`` (repeat 0 .. repeats - 1).
"""

import astropy.units as u
import numpy as np
from ctapipe.core.traits import Int

from .recorded import RecordedRun, read_recorded_run
from .showers import altaz_to_vector
from .source import SimulationError, ToyEventSource

__all__ = ["MatchedShowerSource", "EVENT_ID_FACTOR", "real_event_id"]

EVENT_ID_FACTOR = 1000
MAX_REPEATS = EVENT_ID_FACTOR - 1


def real_event_id(event_id):
    """The sim_telarray event id a matched toy event re-simulates (works on arrays)."""
    return np.asarray(event_id) // EVENT_ID_FACTOR


class MatchedShowerSource(ToyEventSource):
    """Toy events for every shower stored in a real sim_telarray file, ``repeats`` times each.

    Everything the file fixes (particle, pointing, LST positions, observation
    level, NSB, energy range, scatter radius, view cone) is taken from it and
    overrides the corresponding options.
    """

    repeats = Int(1, help=f"Toy showers per recorded shower (1..{MAX_REPEATS})").tag(config=True)

    def __init__(self, showers_from, config=None, parent=None, **kwargs):
        """``showers_from``: a sim_telarray file's path, or a :class:`RecordedRun` already read from one."""
        recorded = showers_from if isinstance(showers_from, RecordedRun) else read_recorded_run(
            showers_from, kwargs.get("data_dir"))
        self.recorded = recorded
        energies = np.array([s.energy for s in recorded.showers])
        # the file decides these: they override any value given for them
        overrides = dict(
            particle=recorded.particle,
            # fixed-energy runs: a range just wide enough for the shower histogram
            energy_min=energies.min() * (1 - 1e-3) * u.GeV,
            energy_max=energies.max() * (1 + 1e-3) * u.GeV,
            spectral_index=recorded.spectral_index,
            max_impact=recorded.max_scatter,
            viewcone=recorded.viewcone,
            pointing_altitude=recorded.pointing_alt,
            pointing_azimuth=recorded.pointing_az,
            obs_id=recorded.obs_id,
            n_telescopes=len(recorded.tel_ids),
        )
        if recorded.nsb_rate is not None:
            overrides["nsb_rate"] = recorded.nsb_rate
        super().__init__(config=config, parent=parent, **(kwargs | overrides))
        self.n_events = len(recorded.showers) * self.repeats

    def _make_subarray(self):
        return self.recorded.subarray

    def _validate(self):
        super()._validate()
        if not 1 <= self.repeats <= MAX_REPEATS:
            raise SimulationError(f"repeats (--repeats) must be within 1..{MAX_REPEATS}, got {self.repeats}")

    def _event_id(self, index):
        shower = self.recorded.showers[index // self.repeats]
        return shower.event_id * EVENT_ID_FACTOR + index % self.repeats

    def _shower(self, index, rng):
        recorded = self.recorded.showers[index // self.repeats]
        alt, az = recorded.alt, recorded.az
        axis = altaz_to_vector(alt, az)
        core = np.array([recorded.core_x, recorded.core_y, 0.0])
        shower, container = self._make_shower(recorded.energy, alt, az, axis, core, rng)
        return shower, container, float(np.hypot(core[0], core[1]))
