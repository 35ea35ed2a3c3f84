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

__all__ = ["OperatingPoint", "analog_sum_threshold", "gate_threshold", "subset_rates", "relative_error", "nn_subset_threshold"]


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
                 min_rate_hz=50.0, precision=None, max_runs=None, at=-1, batch=2) -> SubsetRates:
    """Gated-NN camera rates at ``thresholds`` by subset simulation (:mod:`trigger.subset_simulation`), from
    ``n_runs`` independent runs whose scatter is the error.

    With ``precision`` (a relative standard error, e.g. 0.1), ``batch`` runs
    more are added until the rate at ``thresholds[at]`` is known that well
    or ``max_runs`` are done: the runs' scatter depends on the network and
    the threshold, so a fixed number of runs gives some networks ±35 % and
    others ±8 %. ``n_runs`` is then the least number of runs, so that the
    stop does not rest on the scatter of two or three runs.
    """
    simulation = SubsetSimulation(estimator, geometry, score, n_per_level=n_per_level, thin=thin)
    rates = simulation.camera_rates(thresholds, rng, min_rate_hz=min_rate_hz, n_runs=n_runs)
    if precision is None:
        return rates
    max_runs = max(n_runs, max_runs or n_runs)
    while len(rates.runs) < max_runs and not relative_error(rates, at) <= precision:
        more = simulation.camera_rates(thresholds, rng, min_rate_hz=min_rate_hz, n_runs=min(batch, max_runs - len(rates.runs)))
        rates = SubsetRates(rates.thresholds, np.concatenate([rates.runs, more.runs]), rates.strata)
    return rates


def relative_error(rates: SubsetRates, at=-1) -> float:
    """Standard error over rate at ``rates.thresholds[at]`` (0 where no run saw a trigger, NaN with one run)."""
    rate, error = rates.rate_hz[at], rates.error_hz[at]
    return 0.0 if rate == 0 and error == 0 else float(error / rate) if rate > 0 else float("nan")


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
