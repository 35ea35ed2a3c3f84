"""Operating points: thresholds that give a chosen NSB accidental rate per telescope.

The baseline's threshold is the lowest integer group sum whose rate does not
exceed the target; the NN's score threshold is where its gated rate (fitted
over nearby thresholds) equals the *baseline's achieved* rate, so that both
triggers run at the same accidental rate (integer thresholds cannot hit the
target exactly). Rates come from :class:`trigger.rates.NSBRateEstimator`.
"""

from dataclasses import dataclass

import numpy as np

from .rates import NSBRateEstimator, RateSamples

__all__ = ["OperatingPoint", "analog_sum_threshold", "gate_threshold", "nn_threshold", "adapted_samples"]


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


def nn_threshold(
    estimator: NSBRateEstimator, samples: RateSamples, geometry, score, target_hz, n_grid=2000, scores=None, fit_factor=4.0,
) -> OperatingPoint:
    """Score threshold whose gated rate is ``target_hz``: where a fit of log(rate) linear in the threshold crosses it.

    The fit covers the thresholds whose estimated rate lies within
    ``fit_factor`` of the target. The importance-sampled rate is a sum of
    heavy-tailed weights: one window may carry more than the target by
    itself, and the lowest threshold whose estimate stays below the target
    then lands above that window's score, at a fraction of the target
    (seen: 171 Hz for 1 kHz). The fit averages such steps over the
    neighbouring thresholds instead. Where too few thresholds fall in
    that band (``fit_factor=0`` always), the lowest score whose rate is <=
    ``target_hz`` is taken.
    """
    # the candidates are scored once; their scores are the only values where the rate changes
    scores = estimator.gated_scores(samples, geometry, score) if scores is None else scores
    values = np.unique(scores[np.isfinite(scores)])
    if len(values) == 0:
        values = np.zeros(1)
    if fit_factor and len(values) > 1:
        even = np.linspace(values[0], values[-1], 400)
        rates, _ = estimator.gated_rates(samples, geometry, score, even, scores=scores)
        band = (rates > 0) & (np.abs(np.log(np.maximum(rates, 1e-300) / target_hz)) <= np.log(fit_factor))
        if band.sum() >= 8:
            slope, intercept = np.polyfit(even[band], np.log(rates[band]), 1)
            if slope < 0:
                crossing = np.clip((np.log(target_hz) - intercept) / slope, even[band].min(), even[band].max())
                threshold = values[min(np.searchsorted(values, crossing), len(values) - 1)]
                rate, error = estimator.gated_rates(samples, geometry, score, [threshold], scores=scores)
                return OperatingPoint(float(threshold), float(rate[0]), float(error[0]))
    grid = np.unique(np.quantile(values, np.linspace(0, 1, n_grid))) if len(values) > n_grid else values
    rates, errors = estimator.gated_rates(samples, geometry, score, grid, scores=scores)
    rates = np.maximum.accumulate(rates[::-1])[::-1]
    point = _lowest_below(grid, rates, errors, target_hz)
    # refine between the grid neighbours: the exact lowest score with rate <= target
    i = int(np.searchsorted(grid, point.threshold))
    lo = grid[i - 1] if i > 0 else -np.inf
    fine = values[(values >= lo) & (values <= point.threshold)]
    if len(fine) > 1:
        r, e = estimator.gated_rates(samples, geometry, score, fine, scores=scores)
        r = np.maximum.accumulate(r[::-1])[::-1]
        point = _lowest_below(fine, r, e, target_hz)
    return point


def adapted_samples(
    estimator: NSBRateEstimator, geometry, score, n_samples, rng, thetas, target_hz=None, level=None, n_pilot=None,
    rho=0.1, refinements=2, max_steps=8, n_clusters=8, n_runs=1, keep=3,
) -> RateSamples:
    """Importance samples whose tilts also cover the NSB windows the network accepts near its operating point.

    The fixed tilts push the group sum up; a network that weighs light by
    module and sample accepts other windows (an afterpulse in one module
    with light in the others, two afterpulses...), and a rate estimated from
    the fixed tilts alone is then dominated by a few heavy samples.
    Multilevel cross-entropy: pilot runs raise a score level step by step
    (the top ``rho`` of the candidates each time) and fit tilts to the
    windows above it (:meth:`NSBRateEstimator.adapted_tilts`), then refine
    them ``refinements`` times at the target level. The returned samples
    draw from both the fixed and the adapted tilts, so analog-sum rates from
    them stay as good as before. The target level is a known ``level``, or
    the score threshold whose rate is ``target_hz`` on the latest pilot
    (default: the baseline's 1 kHz rate on the first).

    With ``n_runs`` > 1, that many independent adaptations share the
    samples (:meth:`RateSamples.pooled`): a run whose tilts missed part of
    the accepted windows then shows in the scatter of the runs, which the
    rates' errors include, instead of deciding the estimate alone.
    """
    if n_runs > 1:
        sizes = np.diff(np.linspace(0, n_samples, n_runs + 1).astype(int))
        return RateSamples.pooled(
            adapted_samples(estimator, geometry, score, int(m), rng, thetas, target_hz, level, n_pilot, rho, refinements,
                            max_steps, n_clusters, keep=keep)
            for m in sizes
        )
    n_pilot = n_pilot or max(n_samples // 8, 2_000)
    pilot = estimator.sample(n_pilot, thetas, rng, single_module=True)
    scores = estimator.gated_scores(pilot, geometry, score)
    search = level is None
    if search and target_hz is None:
        target_hz = analog_sum_threshold(estimator, pilot, 1e3).rate_hz
    fits, tilts, left = [], None, refinements
    for _ in range(max_steps + refinements):
        if search:  # each pilot aims better than the last: the level for the target moves with them
            level = nn_threshold(estimator, pilot, geometry, score, target_hz, scores=scores).threshold
        best = scores[:, 0, 1:].max(axis=1)  # the chosen group's candidate at the tilted sample, if any
        finite = best[np.isfinite(best)]
        if len(finite) == 0:
            break
        step = min(level, float(np.quantile(finite, 1 - rho)))
        # the last few fits together: each misses some of the windows near the level, rarely the same ones
        fits = (fits + [estimator.adapted_tilts(pilot, best >= step, n_clusters)])[-keep:]
        tilts = np.concatenate(fits)
        if step >= level:
            left -= 1
            if left < 0:
                break
        pilot = estimator.sample(n_pilot, thetas, rng, single_module=True, extra_tilts=tilts)
        scores = estimator.gated_scores(pilot, geometry, score)
    return estimator.sample(n_samples, thetas, rng, single_module=True, extra_tilts=tilts)
