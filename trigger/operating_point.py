"""Operating points: thresholds that give a chosen NSB accidental rate per telescope.

The baseline's threshold is the lowest integer group sum whose rate does not
exceed the target (importance sampling, :class:`trigger.rates.NSBRateEstimator`);
the NN's score threshold the lowest on a fine grid whose gated rate does not
exceed the *baseline's achieved* rate (subset simulation,
:mod:`trigger.subset_simulation`), so that both triggers run at the same
accidental rate (integer thresholds cannot hit the target exactly).
"""

from dataclasses import dataclass

import numpy as np

from .rates import NSBRateEstimator, RateSamples
from .subset_simulation import N_PER_LEVEL, THIN, SubsetRates, SubsetSimulation

__all__ = ["OperatingPoint", "analog_sum_threshold", "gate_threshold", "subset_rates", "nn_subset_threshold"]


@dataclass
class OperatingPoint:
    threshold: float
    rate_hz: float
    rate_error_hz: float


def _lowest_below(values, rates, errors, target) -> OperatingPoint:
    ok = np.nonzero(rates <= target)[0]
    if len(ok) == 0:
        raise ValueError(f"no threshold in [{values[0]}, {values[-1]}] gives a rate <= {target:.4g} Hz (lowest {rates.min():.4g} Hz)")
    i = ok[0]
    return OperatingPoint(values[i].item(), float(rates[i]), float(errors[i]))


def analog_sum_threshold(estimator: NSBRateEstimator, samples: RateSamples, target_hz, search=(40, 200)) -> OperatingPoint:
    """Lowest integer group-sum threshold (counts) with camera rate <= ``target_hz``."""
    thresholds = np.arange(*search)
    rates, errors = estimator.analog_sum_rates(samples, thresholds)
    # the importance-sampled rate is noisy far from the tilts: enforce monotonic decrease
    return _lowest_below(thresholds, np.maximum.accumulate(rates[::-1])[::-1], errors, target_hz)


def gate_threshold(estimator: NSBRateEstimator, samples: RateSamples, gate_rate_hz) -> int:
    """Gate (counts) whose candidate rate is at most ``gate_rate_hz``."""
    return int(analog_sum_threshold(estimator, samples, gate_rate_hz).threshold)


SCORE_GRID = np.round(np.arange(-32.0, 64.0, 0.05), 2)  # network logits where an NN threshold is looked for (rate ~4 % per step)


def subset_rates(estimator: NSBRateEstimator, geometry, score, thresholds, rng, n_runs=4, n_per_level=N_PER_LEVEL, thin=THIN,
                 min_rate_hz=50.0) -> SubsetRates:
    """Gated-NN camera rates at ``thresholds`` by subset simulation (:mod:`trigger.subset_simulation`), from
    ``n_runs`` independent runs whose scatter is the error."""
    simulation = SubsetSimulation(estimator, geometry, score, n_per_level=n_per_level, thin=thin)
    return simulation.camera_rates(thresholds, rng, min_rate_hz=min_rate_hz, n_runs=n_runs)


def nn_subset_threshold(estimator: NSBRateEstimator, geometry, score, target_hz, rng, grid=SCORE_GRID, **options
                        ) -> tuple[OperatingPoint, SubsetRates]:
    """The lowest score threshold on ``grid`` whose gated rate (subset simulation, mean of the runs) is <= ``target_hz``.

    The levels go down to a tenth of the target (``min_rate_hz``), so that
    thresholds just above the crossing are read on their own levels.
    """
    options.setdefault("min_rate_hz", target_hz / 10)
    rates = subset_rates(estimator, geometry, score, grid, rng, **options)
    mean = np.maximum.accumulate(rates.rate_hz[::-1])[::-1]  # the runs' mean is noisy where levels change
    point = _lowest_below(np.asarray(grid), mean, rates.error_hz, target_hz)
    i = int(np.nonzero(np.asarray(grid) == point.threshold)[0][0])
    return OperatingPoint(point.threshold, float(rates.rate_hz[i]), float(rates.error_hz[i])), rates
