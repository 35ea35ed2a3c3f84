"""Trigger performance: efficiency versus true energy, energy threshold, rates from spectra.

Efficiencies are per simulated shower (every shower is in the file's shower
table, seen or not) for the array trigger: at least 2 of the 4 LSTs trigger
within 120 ns after correcting each telescope's time for the arrival of a
plane front along the pointing direction, as the LST array trigger does.
The energy threshold is the peak of the differential trigger rate of a
Crab-like power law (index 2.6), from a smooth fit of the efficiency; its
statistical error, and that of ratios of thresholds, from a paired bootstrap
over the showers.
"""

import astropy.units as u
import numpy as np
from astropy.table import Table
from ctapipe.io import read_table
from scipy.optimize import curve_fit
from scipy.special import erf

from .analog_sum import array_trigger

__all__ = [
    "SimulationRun",
    "array_decisions",
    "bootstrap_error",
    "efficiency",
    "energy_threshold",
    "plane_front_delays",
    "spectrum_rate",
    "threshold_bootstrap",
]

SAMPLE_NS = 1 / 1.024
C_M_PER_NS = 0.299792458
CRAB_INDEX = 2.6
# Crab nebula (HEGRA, ApJ 614 (2004) 897) and cosmic-ray protons (BESS/AMS-like):
# dN/dE in 1 / (TeV m2 s) and 1 / (TeV m2 s sr) at 1 TeV
CRAB_NORM = 2.83e-7
PROTON_NORM = 9.6e-2
PROTON_INDEX = 2.7
# enough for a 16-84 % interval to within ~10 %, and a few seconds for three triggers on thousands of showers
THRESHOLD_RESAMPLES = 300


class SimulationRun:
    """What was simulated (energy range, spectrum, area, cone) and all showers, from one file."""

    def __init__(self, path):
        config = read_table(path, "/configuration/simulation/run")
        self.energy_min = float(u.Quantity(config["energy_range_min"])[0].to_value(u.TeV))
        self.energy_max = float(u.Quantity(config["energy_range_max"])[0].to_value(u.TeV))
        self.spectral_index = float(config["spectral_index"][0])
        self.max_impact = float(u.Quantity(config["max_scatter_range"])[0].to_value(u.m))
        self.viewcone = float(u.Quantity(config["max_viewcone_radius"])[0].to_value(u.rad))
        self.pointing_alt = float(u.Quantity(config["min_alt"])[0].to_value(u.rad))
        self.pointing_az = float(u.Quantity(config["min_az"])[0].to_value(u.rad))
        self.showers = read_table(path, "/simulation/event/subarray/shower")
        self.energy = u.Quantity(self.showers["true_energy"]).to_value(u.TeV)

    @property
    def n_showers(self) -> int:
        return len(self.showers)

    def simulated_pdf(self, energy):
        """Probability density (1/TeV) of the simulated power law at ``energy`` (TeV)."""
        g = self.spectral_index + 1
        lo, hi = self.energy_min, self.energy_max
        norm = np.log(hi / lo) if abs(g) < 1e-9 else (hi**g - lo**g) / g
        return np.asarray(energy) ** self.spectral_index / norm

    def keys(self):
        return list(zip(np.asarray(self.showers["obs_id"]), np.asarray(self.showers["event_id"])))


def plane_front_delays(subarray, alt, az):
    """ns to add to each telescope's time so that a plane front along the pointing arrives together."""
    direction = np.array([np.cos(alt) * np.cos(az), -np.cos(alt) * np.sin(az), np.sin(alt)])
    pos = subarray.tel_coords
    xyz = np.column_stack([pos.x.to_value(u.m), pos.y.to_value(u.m), pos.z.to_value(u.m)])
    return {tel_id: float(xyz[i] @ direction / C_M_PER_NS) for i, tel_id in enumerate(subarray.tel_ids)}


def array_decisions(events, first_sample, delays, min_telescopes=2, window=120 * u.ns):
    """Per array event (obs_id, event_id): does the array trigger? And the telescope decisions.

    ``first_sample`` is each telescope event's first trigger sample (-1: none).
    """
    fired = first_sample >= 0
    times = events.time_ns + first_sample * SAMPLE_NS + np.array([delays[t] for t in events.tel_id])
    per_event = {}
    for obs, ev, tel_time, ok in zip(events.obs_id, events.event_id, times, fired):
        per_event.setdefault((obs, ev), []).append(tel_time if ok else np.nan)
    return {key: array_trigger(t, min_telescopes, window) for key, t in per_event.items()}


def efficiency(energy, triggered, bins):
    """Fraction triggered per energy bin, with binomial (Wilson-like) errors."""
    total, _ = np.histogram(energy, bins)
    passed, _ = np.histogram(energy[triggered], bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        eff = passed / total
        err = np.sqrt((passed + 1) * (total - passed + 1) / (total + 2) ** 2 / (total + 3))
    return eff, err, total


def _erf_model(log_e, eps, mu, sigma):
    return eps * 0.5 * (1 + erf((log_e - mu) / (np.sqrt(2) * sigma)))


def energy_threshold(run: SimulationRun, triggered, index=CRAB_INDEX, sample=None):
    """Peak (TeV) of the differential trigger rate dR/dlnE of an E^-index spectrum.

    The efficiency is fitted per shower (binned maximum likelihood would be
    overkill) with an error-function turn-on in log10 E; the rate is then
    E^(1 - index) * efficiency(E), maximised on a fine grid. ``sample``
    (shower indices, repeats allowed) computes it on those showers only:
    one bootstrap resample.
    """
    energy = run.energy
    triggered = np.asarray(triggered, dtype=bool)
    if sample is not None:
        energy, triggered = energy[sample], triggered[sample]
    if triggered.sum() < 5:
        return float("nan"), None
    bins = np.logspace(np.log10(run.energy_min), np.log10(run.energy_max), 31)
    eff, err, total = efficiency(energy, triggered, bins)
    centres = np.log10(np.sqrt(bins[1:] * bins[:-1]))
    ok = total > 0
    try:
        params, _ = curve_fit(
            _erf_model, centres[ok], eff[ok], sigma=err[ok], p0=(1.0, np.log10(np.median(energy[triggered])), 0.3),
            bounds=([0, -3, 0.02], [1, 3, 3]), maxfev=20000,
        )
    except RuntimeError:
        return float("nan"), None
    grid = np.linspace(np.log10(run.energy_min), np.log10(run.energy_max), 2000)
    rate = (10**grid) ** (1 - index) * _erf_model(grid, *params)
    return float(10 ** grid[np.argmax(rate)]), params


def threshold_bootstrap(run: SimulationRun, triggered_by_name: dict, n_resamples=THRESHOLD_RESAMPLES, seed=0,
                        index=CRAB_INDEX) -> dict:
    """Energy thresholds (TeV) of each trigger on ``n_resamples`` resamples of the showers: name -> array.

    Paired: every trigger is judged on the same resampled showers, so a ratio
    of two thresholds keeps their correlation (most showers trigger both or
    neither) and its spread is the error of the ratio, not of two independent
    thresholds. NaN where a resample has no threshold (fewer than 5 triggers
    or a failed fit), as for the nominal one.
    """
    rng = np.random.default_rng(seed)
    n = len(run.energy)
    out = {name: np.full(n_resamples, np.nan) for name in triggered_by_name}
    for i in range(n_resamples):
        sample = rng.integers(0, n, n)
        for name, decided in triggered_by_name.items():
            out[name][i] = energy_threshold(run, decided, index, sample)[0]
    return out


def bootstrap_error(values, min_valid=0.5) -> float | None:
    """Half the 16-84 % width of a bootstrap distribution (one standard deviation were it normal); None without one.

    Not the standard deviation: the threshold is the peak of a fitted turn-on,
    and with few showers near threshold an occasional resample's fit lands
    far off (plateau and width trade against each other); those outliers
    would dominate a standard deviation but barely move the central interval.
    Resamples without a threshold are left out; where they are more than
    ``1 - min_valid`` of all, the rest would describe only the lucky draws and
    there is no error.
    """
    values = np.asarray(values, dtype=float)
    finite = values[np.isfinite(values)]
    if len(values) == 0 or len(finite) < min_valid * len(values):
        return None
    low, high = np.percentile(finite, [15.865, 84.135])
    return float((high - low) / 2)


def spectrum_rate(run: SimulationRun, triggered, norm, index, per_steradian=False):
    """Trigger rate (Hz) of a power law ``norm * (E/TeV)^-index`` from the simulated showers."""
    energy = run.energy
    area = np.pi * run.max_impact**2
    solid = 2 * np.pi * (1 - np.cos(run.viewcone)) if per_steradian else 1.0
    flux = norm * energy ** (-index)
    weights = flux * area * solid / (run.n_showers * run.simulated_pdf(energy))
    triggered = np.asarray(triggered, dtype=bool)
    rate = float(weights[triggered].sum())
    error = float(np.sqrt((weights[triggered] ** 2).sum()))
    return rate, error


def efficiency_table(run: SimulationRun, triggered_by_name: dict, bins) -> Table:
    table = Table()
    table["energy_min_tev"] = bins[:-1]
    table["energy_max_tev"] = bins[1:]
    for name, triggered in triggered_by_name.items():
        eff, err, total = efficiency(run.energy, np.asarray(triggered, dtype=bool), bins)
        table[f"{name}_efficiency"] = eff
        table[f"{name}_error"] = err
        table["n_showers"] = total
    return table
