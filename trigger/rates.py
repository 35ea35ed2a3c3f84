"""Accidental (NSB-only) trigger rates, down to 1 kHz, in seconds of CPU.

A 1 kHz camera rate means about one trigger per 10^12 group-samples: far too
rare to count in simulated NSB. The estimator samples instead the three
modules of one randomly chosen trigger group under an exponentially tilted
NSB (importance sampling): each photo-electron's arrival rate and amplitude
are tilted by exp(theta * a * K(t)), with K the pulse seen by the decision
sample, which pushes the group sum at that sample up to the thresholds of
interest. A mixture of tilts covers a whole range of thresholds; each sample
carries the exact likelihood ratio, so the estimate is unbiased.

The camera triggers on the OR of 474 overlapping groups. Its rate is
``474 * f_s * E[ w * 1(group crosses) * R / N ]``, where N counts the
overlapping groups crossing at the same sample and R is 1 when none of them
was already above threshold at the previous sample (a rising edge of the
OR). The modules of the overlapping groups are simulated untilted.

The NSB model is the simulation's own (:class:`trigger.simulation.camera.
CameraResponse`): a module is a pixel with 7 times the NSB rate and sqrt(7)
times the electronic noise, with the same pulse, single-p.e. spectrum and AC
coupling, and the samples are quantized by :class:`trigger.inputs.TriggerInput`.
"""

from dataclasses import dataclass, field

import numpy as np

from .analog_sum import AnalogSumTrigger
from .inputs import TriggerInput
from .nn.roi import gather_rois
from .simulation.camera import FINE_BIN_NS, CameraResponse

__all__ = ["ModuleNoise", "RateSamples", "NSBRateEstimator"]

SAMPLING_HZ = 1.024e9
DECISION_SAMPLE = 24  # the decision sample inside the simulated 40-sample window
# what a tilt acts on: the decision sample alone (the analog sum), or the samples around it where a network
# reading a window of samples sees light: the seven around the decision, or the fourteen its ROIs mostly share
TILT_WINDOWS = (
    (DECISION_SAMPLE,),
    tuple(range(DECISION_SAMPLE - 3, DECISION_SAMPLE + 4)),
    tuple(range(DECISION_SAMPLE - 8, DECISION_SAMPLE + 6)),
)


class ModuleNoise:
    """NSB-only module sums (p.e. per sample) with optional tilt towards one sample."""

    def __init__(self, camera: CameraResponse, pixels_per_module=7):
        self.camera = camera
        self.rate = camera.nsb_rate * pixels_per_module
        self.noise = camera.noise_pe * np.sqrt(pixels_per_module)
        self.baseline = camera.nsb_baseline * pixels_per_module
        self.kernel = camera.kernel.astype(np.float64)  # (n_fine, n_samples)
        self.amplitudes, self.amplitude_prob = camera.spe_amplitudes, camera.spe_probabilities
        self.mean_per_bin = self.rate * FINE_BIN_NS

    def tilt_kernel(self, window) -> np.ndarray:
        """Per fine bin: the mean pulse over the samples of ``window`` (the statistic a tilt acts on)."""
        return self.kernel[:, list(np.atleast_1d(window))].mean(axis=1)

    def _tilt_tables(self, theta, window):
        """Per fine bin: rate multiplier M_j and tilted amplitude CDF, for a tilt towards ``window``."""
        k = self.tilt_kernel(window)  # (n_fine,)
        expo = np.exp(theta * np.outer(k, self.amplitudes))  # (n_fine, n_amp)
        weighted = expo * self.amplitude_prob
        multiplier = weighted.sum(axis=1)
        cdf = np.cumsum(weighted / multiplier[:, None], axis=1)
        return multiplier, cdf

    def tilted_mean(self, theta, window=DECISION_SAMPLE):
        """Mean noise-free signal of one module over ``window`` under tilt ``theta`` (p.e. per sample)."""
        k = self.tilt_kernel(window)
        expo = np.exp(theta * np.outer(k, self.amplitudes))
        return self.mean_per_bin * float(np.sum((k[:, None] * self.amplitudes) * expo * self.amplitude_prob))

    def theta_for(self, mean_signal, window=DECISION_SAMPLE):
        """The tilt whose mean module signal over ``window`` is ``mean_signal`` (bisection; mean grows with theta)."""
        lo, hi = 0.0, 1.0
        while self.tilted_mean(hi, window) < mean_signal:
            hi *= 2
        for _ in range(50):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if self.tilted_mean(mid, window) < mean_signal else (lo, mid)
        return (lo + hi) / 2

    def log_normaliser(self, theta, window=DECISION_SAMPLE):
        """Cumulant of the tilted statistic for one module: sum_j mu_j (M_j(theta) - 1)."""
        multiplier, _ = self._tilt_tables(theta, window)
        return self.mean_per_bin * float(np.sum(multiplier - 1.0))

    def sample(self, shape, rng, theta=None, window=DECISION_SAMPLE, windows=None):
        """Module sums of shape (*shape, n_samples); with ``theta`` (broadcast to ``shape``), tilted.

        A tilt acts on the module's noise-free signal averaged over a window
        of samples: ``window`` for all, or ``windows[i]`` for the modules
        where the integer array ``window`` (broadcast to ``shape``) is i.
        Returns the sums and the noise-free signals (*shape, n_samples).
        """
        n_fine, n_samples = self.kernel.shape
        shape = tuple(shape)
        n_mod = int(np.prod(shape))
        if theta is None:
            counts = rng.poisson(self.mean_per_bin, size=(n_mod, n_fine))
            cdf_rows = None
        else:
            if windows is None:
                windows, window = [window], 0
            theta = np.broadcast_to(np.asarray(theta, dtype=float), shape).ravel()
            kind = np.broadcast_to(np.asarray(window), shape).ravel()
            keys, which = np.unique(np.stack([theta, kind]), axis=1, return_inverse=True)
            which = which.ravel()
            tables = [self._tilt_tables(t, windows[int(w)]) for t, w in keys.T]
            multipliers = np.stack([m for m, _ in tables])  # (n_tilts, n_fine)
            counts = rng.poisson(self.mean_per_bin * multipliers[which])
            cdf_rows = (np.stack([c for _, c in tables]), which)
        module_idx, fine_idx = np.nonzero(counts)
        reps = counts[module_idx, fine_idx]
        module_idx = np.repeat(module_idx, reps)
        fine_idx = np.repeat(fine_idx, reps)
        u = rng.uniform(size=len(fine_idx))
        n_amp = len(self.amplitudes)
        if cdf_rows is None:
            amp_idx = np.searchsorted(np.cumsum(self.amplitude_prob), u * np.sum(self.amplitude_prob))
        else:
            # one searchsorted over all rows: row r's CDF is shifted to (r, r + 1]
            cdfs, which = cdf_rows
            row = which[module_idx] * n_fine + fine_idx
            flat = (cdfs.reshape(-1, n_amp) + np.arange(cdfs.shape[0] * n_fine)[:, None]).ravel()
            amp_idx = np.searchsorted(flat, row + u * (1 - 1e-12)) - row * n_amp
        amp = self.amplitudes[np.clip(amp_idx, 0, n_amp - 1)]
        hist = np.bincount(module_idx * n_fine + fine_idx, weights=amp, minlength=n_mod * n_fine).reshape(n_mod, n_fine)
        clean = hist @ self.kernel
        sums = clean - self.baseline + rng.normal(0.0, self.noise, clean.shape)
        return sums.reshape(*shape, n_samples), clean.reshape(*shape, n_samples)


@dataclass
class RateSamples:
    """Importance-sampled NSB windows around one group's decision sample.

    ``counts`` (n, n_modules, n_samples) are the trigger-input counts of the
    modules in the chosen group's neighbourhood (``modules``, -1 padded);
    ``weight`` the likelihood ratios; ``group`` the chosen group.
    """

    counts: np.ndarray
    modules: np.ndarray
    groups: np.ndarray
    weight: np.ndarray
    group: np.ndarray
    n_groups: int
    decision_sample: int = DECISION_SAMPLE
    extra: dict = field(default_factory=dict)


class NSBRateEstimator:
    """Camera accidental-trigger rates versus threshold, by importance sampling.

    Parameters
    ----------
    trigger_input : TriggerInput
    nsb_rate : float
        NSB per pixel in p.e./ns.
    """

    def __init__(self, trigger_input: TriggerInput, nsb_rate: float, camera: CameraResponse | None = None):
        self.trigger_input = trigger_input
        self.instrument = trigger_input.instrument
        self.camera = camera if camera is not None else CameraResponse(self.instrument, nsb_rate)
        self.noise = ModuleNoise(self.camera)
        self.group_modules = self.instrument.group_modules
        n_groups = len(self.group_modules)
        groups_of_module = [[] for _ in range(self.group_modules.max() + 1)]
        for g, mods in enumerate(self.group_modules):
            for m in mods:
                groups_of_module[m].append(g)
        # for each group: the groups sharing a module with it (itself first) and their modules
        self.neighbour_groups, self.neighbour_modules = [], []
        for g in range(n_groups):
            groups = [g] + sorted({h for m in self.group_modules[g] for h in groups_of_module[m]} - {g})
            modules = list(self.group_modules[g]) + sorted(set(self.group_modules[groups].ravel()) - set(self.group_modules[g]))
            self.neighbour_groups.append(np.array(groups))
            self.neighbour_modules.append(np.array(modules))
        self.max_groups = max(len(g) for g in self.neighbour_groups)
        self.max_modules = max(len(m) for m in self.neighbour_modules)

    def components(self, thetas, single_module=False) -> np.ndarray:
        """Tilts (n_components, 4) for a mixture of ``thetas`` (0 = untilted): the chosen group's three
        modules' tilts and the index of the window in ``TILT_WINDOWS`` they act on (0 here, the decision sample).

        With ``single_module``, every tilt also has a variant that puts the
        same group excess into one module only: the NSB tail at trigger level
        is dominated by one module's large (afterpulse) amplitudes, which a
        tilt spread evenly over three modules rarely produces.
        """
        thetas = np.asarray(thetas, dtype=float)
        rows = [np.full(3, t) for t in thetas]
        if single_module:
            baseline = self.noise.tilted_mean(0.0)
            for t in thetas[thetas > 0]:
                single = self.noise.theta_for(3 * self.noise.tilted_mean(t) - 2 * baseline)
                rows.extend(single * np.eye(3))
        return np.column_stack([np.asarray(rows), np.zeros(len(rows))])

    def sample(self, n, thetas, rng, single_module=False, extra_components=None) -> RateSamples:
        """``n`` windows, the chosen group's modules tilted by a mixture (see :meth:`components`).

        ``extra_components`` (c, 4) adds tilts, e.g. from :meth:`adapted_components`.
        ``extra["signal"]`` (n, 3, len(TILT_WINDOWS)) keeps each tilted module's
        noise-free signal averaged over each tilt window: what the tilts act on.
        """
        components = self.components(thetas, single_module)
        if extra_components is not None:
            components = np.vstack([components, np.asarray(extra_components, dtype=float).reshape(-1, 4)])
        theta, window = components[:, :3], components[:, 3].astype(int)
        group = rng.integers(0, len(self.group_modules), n)
        component = rng.integers(0, len(components), n)
        tilted, clean = self.noise.sample(
            (n, 3), rng, theta=theta[component], window=window[component][:, None], windows=TILT_WINDOWS
        )
        others, _ = self.noise.sample((n, self.max_modules - 3), rng)
        sums = np.concatenate([tilted, others], axis=1)
        signal = np.stack([clean[:, :, list(w)].mean(axis=2) for w in TILT_WINDOWS], axis=2)  # (n, 3, n_windows)
        # the balance heuristic: w = 1 / sum_c alpha_c q_c/p, q_c/p = exp(sum_m theta_cm s_m(window_c) - Lambda)
        log_norm = np.array([
            sum(self.noise.log_normaliser(t, TILT_WINDOWS[w]) for t in row if t > 0) for row, w in zip(theta, window)
        ])
        log_ratio = np.einsum("nmc,cm->nc", signal[:, :, window], theta) - log_norm[None, :]
        top = log_ratio.max(axis=1)
        weight = np.exp(-top) / np.mean(np.exp(log_ratio - top[:, None]), axis=1)

        modules = np.full((n, self.max_modules), -1)
        groups = np.full((n, self.max_groups, 3), -1)
        for i, g in enumerate(group):
            mods = self.neighbour_modules[g]
            modules[i, : len(mods)] = mods
            local = {m: j for j, m in enumerate(mods)}
            for k, h in enumerate(self.neighbour_groups[g]):
                groups[i, k] = [local[m] for m in self.group_modules[h]]
        counts = self.trigger_input.quantize(sums)
        return RateSamples(counts, modules, groups, weight, group, len(self.group_modules), extra={"signal": signal})

    def adapted_components(self, samples: RateSamples, passed, window=1, scales=(0.7, 1.0), n_clusters=4) -> np.ndarray:
        """Tilts (6 * len(scales) * n_clusters, 4) aimed at the windows that ``passed`` (cross-entropy adaptive sampling).

        The tilt that best mimics the NSB windows a trigger accepts has, per
        module, the mean signal of those windows (weighted by their likelihood
        ratios) over the tilt window ``TILT_WINDOWS[window]``. A network
        accepts several kinds of NSB window (one bright module; two; three
        medium ones), and one mean tilt between them leaves the others to a
        few heavy samples: the accepted windows' module signals, ranked, are
        grouped into ``n_clusters`` kinds (weighted k-means) with one tilt
        each. The six orders of each ranked tilt keep the mixture symmetric
        in the modules; ``scales`` add tilts towards fractions of each mean
        excess, for accepted windows fainter than their kind's mean.
        """
        passed = np.asarray(passed, dtype=bool)
        weight = samples.weight[passed]
        if weight.sum() <= 0:
            raise ValueError("no importance sample passes: nothing to adapt the tilts to")
        ranked = -np.sort(-samples.extra["signal"][passed, :, window], axis=1)
        means = _weighted_kmeans(ranked, weight, n_clusters)
        span = TILT_WINDOWS[window]
        floor = self.noise.tilted_mean(0.0, span)
        orders = np.array([[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]])
        rows = []
        for mean in means:
            for scale in scales:
                target = floor + scale * (mean - floor)
                theta = np.array([self.noise.theta_for(m, span) if m > floor else 0.0 for m in target])
                rows.append(np.column_stack([theta[orders], np.full(6, window)]))
        return np.vstack(rows)

    @staticmethod
    def group_sums(samples: RateSamples) -> np.ndarray:
        """Sums (n, max_groups, n_samples) of the neighbourhood's groups; -1 for padding."""
        counts = samples.counts.astype(np.int32)
        idx = np.where(samples.groups >= 0, samples.groups, 0)
        sums = np.take_along_axis(counts[:, None, :, :], idx[..., None], axis=2).sum(axis=2)
        return np.where((samples.groups[..., :1] >= 0), sums, -1)

    def analog_sum_rates(self, samples: RateSamples, thresholds) -> tuple[np.ndarray, np.ndarray]:
        """Camera rate (Hz) and its statistical error for each group-sum threshold (counts)."""
        sums = self.group_sums(samples)
        k = samples.decision_sample
        now, before = sums[:, :, k], sums[:, :, k - 1]
        thresholds = np.atleast_1d(thresholds)
        rates, errors = [], []
        for u in thresholds:
            crossing = (before <= u) & (now > u)
            chosen = crossing[:, 0]
            n_cross = crossing.sum(axis=1)
            rising = ~(before > u).any(axis=1)
            contrib = samples.weight * chosen * rising / np.maximum(n_cross, 1)
            scale = samples.n_groups * SAMPLING_HZ
            rates.append(scale * contrib.mean())
            errors.append(scale * contrib.std() / np.sqrt(len(contrib)))
        return np.array(rates), np.array(errors)

    def gated_scores(self, samples: RateSamples, geometry, score, spread=3) -> np.ndarray:
        """Scores (n, n_groups, 2 * spread + 2) of every gate candidate around the tilted sample; -inf: none.

        ``geometry`` is a :class:`trigger.nn.roi.RoiGeometry`; ``score`` maps
        ROIs (m, 3 * window) of integer counts to scores (m,). The first sample
        is one before the range: a rising edge of the OR needs the previous one.
        """
        sums = self.group_sums(samples)
        k = samples.decision_sample
        n, n_local = sums.shape[:2]
        valid = samples.groups[..., 0] >= 0
        at_samples = np.arange(k - spread - 1, k + spread + 1)
        values = np.full((n, n_local, len(at_samples)), -np.inf)
        for j, at in enumerate(at_samples):
            cand = valid & (sums[:, :, at - 1] <= geometry.gate) & (sums[:, :, at] > geometry.gate)
            event, local = np.nonzero(cand)
            if len(event):
                rois = gather_rois(samples.counts, event, samples.groups[event, local], np.full(len(event), at), geometry)
                values[event, local, j] = score(rois)
        return values

    def gated_rates(self, samples: RateSamples, geometry, score, thresholds, spread=3, scores=None) -> tuple[np.ndarray, np.ndarray]:
        """Camera rate (Hz) of a gated second level: gate candidate and ``score(roi) > t``, for each t.

        The likelihood ratio holds for the whole window, so rising edges at the
        ``2 * spread + 1`` samples around the tilted one are all unbiased
        estimates: averaging them uses the tilted light that a pulse spreads
        over several samples. ``scores`` from :meth:`gated_scores` (same
        ``spread``) spare scoring the candidates again.
        """
        values = self.gated_scores(samples, geometry, score, spread) if scores is None else scores
        thresholds = np.atleast_1d(thresholds)
        scale = samples.n_groups * SAMPLING_HZ
        rates, errors = [], []
        for t in thresholds:
            passed = values > t  # (n, n_local, n_at)
            now, before = passed[:, :, 1:], passed[:, :, :-1]
            # the chosen group passes at a sample where no neighbour passed just before; N share the edge
            edge = now[:, 0, :] & ~before.any(axis=1)
            contrib = (samples.weight[:, None] * edge / np.maximum(now.sum(axis=1), 1)).mean(axis=1)
            rates.append(scale * contrib.mean())
            errors.append(scale * contrib.std() / np.sqrt(len(values)))
        return np.array(rates), np.array(errors)

    def thetas_for(self, thresholds, n_components=6):
        """Tilts that centre the group signal on each of ``n_components`` thresholds spanning ``thresholds``, plus none.

        ``thresholds`` are group-sum thresholds in counts; the tilted mean of
        the chosen group's noise-free signal is put just above each.
        """
        pedestal = 3 * self.trigger_input.pedestal
        baseline = 3 * float(self.noise.baseline[DECISION_SAMPLE])
        above = (np.linspace(np.min(thresholds), np.max(thresholds), n_components) - pedestal) / self.trigger_input.gain
        targets = (np.maximum(above, 0.5) + baseline) / 3 + 0.1
        return np.concatenate([[0.0], [self.noise.theta_for(t) for t in targets]])


def _weighted_kmeans(points, weight, k, iterations=20) -> np.ndarray:
    """Up to ``k`` weighted cluster means of ``points`` (n, d); fewer when there are fewer distinct points."""
    # start from points spread along the brightest coordinate, deterministic
    order = np.argsort(points[:, 0])
    centres = points[order[np.linspace(0, len(points) - 1, min(k, len(points))).astype(int)]]
    for _ in range(iterations):
        label = np.argmin(((points[:, None, :] - centres[None]) ** 2).sum(axis=2), axis=1)
        keep = [j for j in range(len(centres)) if weight[label == j].sum() > 0]
        centres = np.array([weight[label == j] @ points[label == j] / weight[label == j].sum() for j in keep])
    return centres


HISTORY_SAMPLES = 12  # plain windows: from this sample on, the simulated NSB history is complete


def plain_nsb_windows(trigger_input: TriggerInput, nsb_rate, n_windows, rng, camera=None, chunk=64):
    """Quantized counts (n, 265, n_samples) of plain (untilted) NSB camera windows, ``chunk`` at a time."""
    camera = camera if camera is not None else CameraResponse(trigger_input.instrument, nsb_rate)
    noise = ModuleNoise(camera)
    done = 0
    while done < n_windows:
        n = min(chunk, n_windows - done)
        sums, _ = noise.sample((n, 265), rng)
        yield trigger_input.quantize(sums)
        done += n


def brute_force_rate(trigger_input: TriggerInput, nsb_rate, thresholds, n_windows, rng, camera=None, chunk=64):
    """Count rising edges of the analog-sum OR in plain NSB camera windows (for validation)."""
    trigger = AnalogSumTrigger(instrument=trigger_input.instrument)
    thresholds = np.atleast_1d(thresholds)
    counts = np.zeros(len(thresholds))
    first, last = HISTORY_SAMPLES, trigger_input.instrument.n_samples
    for block in plain_nsb_windows(trigger_input, nsb_rate, n_windows, rng, camera, chunk):
        g = trigger.group_sums(block)
        for i, u in enumerate(thresholds):
            fired = (g > u).any(axis=1)  # (n, n_samples)
            counts[i] += np.count_nonzero(fired[:, first:last] & ~fired[:, first - 1 : last - 1])
    live = n_windows * (last - first) / SAMPLING_HZ
    return counts / live, np.sqrt(np.maximum(counts, 1)) / live


def brute_force_gated_rate(trigger_input: TriggerInput, nsb_rate, geometry, score, thresholds, n_windows, rng, camera=None,
                           chunk=64):
    """Count rising edges of the gated NN trigger (a gate candidate scoring above t) in plain NSB windows.

    The same trigger code as on showers (:func:`trigger.nn.trigger.nn_candidates`); only where counting
    is possible (MHz rates), to validate :meth:`NSBRateEstimator.gated_rates`. Also returns every
    candidate's score, from which such thresholds can be chosen.
    """
    from .nn.trigger import nn_candidates

    trigger = AnalogSumTrigger(instrument=trigger_input.instrument)
    thresholds = np.atleast_1d(thresholds)
    counts = np.zeros(len(thresholds))
    n_samples = trigger_input.instrument.n_samples
    first, last = max(HISTORY_SAMPLES, geometry.n_before + 1), geometry.decision_range(n_samples)[1]
    scores = []
    for block in plain_nsb_windows(trigger_input, nsb_rate, n_windows, rng, camera, chunk):
        cand = nn_candidates(trigger, block, geometry, score)
        scores.append(cand.score)
        for i, t in enumerate(thresholds):
            passed = np.zeros((len(block), n_samples), bool)
            keep = cand.score > t
            passed[cand.event[keep], cand.sample[keep]] = True
            counts[i] += np.count_nonzero(passed[:, first:last] & ~passed[:, first - 1 : last - 1])
    live = n_windows * (last - first) / SAMPLING_HZ
    return counts / live, np.sqrt(np.maximum(counts, 1)) / live, np.concatenate(scores)
