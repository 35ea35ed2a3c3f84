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

    def _tilt_tables(self, theta, sample):
        """Per fine bin: rate multiplier M_j and tilted amplitude CDF, for a tilt towards ``sample``."""
        k = self.kernel[:, sample]  # (n_fine,)
        expo = np.exp(theta * np.outer(k, self.amplitudes))  # (n_fine, n_amp)
        weighted = expo * self.amplitude_prob
        multiplier = weighted.sum(axis=1)
        cdf = np.cumsum(weighted / multiplier[:, None], axis=1)
        return multiplier, cdf

    def tilted_mean(self, theta, sample=DECISION_SAMPLE):
        """Mean noise-free signal of one module at ``sample`` under tilt ``theta`` (p.e. per sample)."""
        k = self.kernel[:, sample]
        expo = np.exp(theta * np.outer(k, self.amplitudes))
        return self.mean_per_bin * float(np.sum((k[:, None] * self.amplitudes) * expo * self.amplitude_prob))

    def theta_for(self, mean_signal, sample=DECISION_SAMPLE):
        """The tilt whose mean module signal is ``mean_signal`` (bisection; mean grows with theta)."""
        lo, hi = 0.0, 1.0
        while self.tilted_mean(hi, sample) < mean_signal:
            hi *= 2
        for _ in range(50):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if self.tilted_mean(mid, sample) < mean_signal else (lo, mid)
        return (lo + hi) / 2

    def log_normaliser(self, theta, sample):
        """Cumulant of the tilted statistic for one module: sum_j mu_j (M_j(theta) - 1)."""
        multiplier, _ = self._tilt_tables(theta, sample)
        return self.mean_per_bin * float(np.sum(multiplier - 1.0))

    def sample(self, shape, rng, theta=None, sample=DECISION_SAMPLE):
        """Module sums of shape (*shape, n_samples); with ``theta`` (broadcast to ``shape``), tilted.

        Returns the sums and the noise-free signal each module gives the tilted sample.
        """
        n_fine, n_samples = self.kernel.shape
        shape = tuple(shape)
        n_mod = int(np.prod(shape))
        if theta is None:
            counts = rng.poisson(self.mean_per_bin, size=(n_mod, n_fine))
            cdf_rows = None
        else:
            theta = np.broadcast_to(np.asarray(theta, dtype=float), shape).ravel()
            thetas, which = np.unique(theta, return_inverse=True)
            tables = [self._tilt_tables(t, sample) for t in thetas]
            multipliers = np.stack([m for m, _ in tables])  # (n_theta, n_fine)
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
        signal = clean[:, sample].reshape(shape)
        sums = clean - self.baseline + rng.normal(0.0, self.noise, clean.shape)
        return sums.reshape(*shape, n_samples), signal


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

    def sample(self, n, thetas, rng, single_module=False) -> RateSamples:
        """``n`` windows, the chosen group's modules tilted by a mixture of ``thetas`` (0 = untilted).

        With ``single_module``, every tilt also has a variant that puts the
        same group excess into one module only: the NSB tail at trigger level
        is dominated by one module's large (afterpulse) amplitudes, which a
        tilt spread evenly over three modules rarely produces.
        """
        thetas = np.asarray(thetas, dtype=float)
        masks = [np.ones(3)] * len(thetas)
        per_module = list(thetas)
        if single_module:
            baseline = self.noise.tilted_mean(0.0)
            for t in thetas[thetas > 0]:
                single = self.noise.theta_for(3 * self.noise.tilted_mean(t) - 2 * baseline)
                for m in range(3):
                    per_module.append(single)
                    masks.append(np.eye(3)[m])
        theta_values, masks = np.asarray(per_module), np.asarray(masks)
        components = theta_values[:, None] * masks  # (n_components, 3) tilt of each group module
        group = rng.integers(0, len(self.group_modules), n)
        component = rng.integers(0, len(components), n)
        tilted, signal = self.noise.sample((n, 3), rng, theta=components[component])
        others, _ = self.noise.sample((n, self.max_modules - 3), rng)
        sums = np.concatenate([tilted, others], axis=1)
        # the balance heuristic: w = 1 / sum_i alpha_i q_i/p, q_i/p = exp(sum_m theta_im s_m - Lambda(theta_im))
        unit = {t: self.noise.log_normaliser(t, DECISION_SAMPLE) for t in np.unique(theta_values)}
        log_norm = np.array([sum(unit[t] for t in row if t > 0) for row in components])
        log_ratio = signal @ components.T - log_norm[None, :]
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
        return RateSamples(counts, modules, groups, weight, group, len(self.group_modules))

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


def brute_force_rate(trigger_input: TriggerInput, nsb_rate, thresholds, n_windows, rng, camera=None, chunk=64):
    """Count rising edges of the analog-sum OR in plain NSB camera windows (for validation)."""
    camera = camera if camera is not None else CameraResponse(trigger_input.instrument, nsb_rate)
    noise = ModuleNoise(camera)
    trigger = AnalogSumTrigger(instrument=trigger_input.instrument)
    thresholds = np.atleast_1d(thresholds)
    counts = np.zeros(len(thresholds))
    first, last = 12, camera.n_samples  # decisions where the full NSB history is simulated
    done = 0
    while done < n_windows:
        n = min(chunk, n_windows - done)
        sums, _ = noise.sample((n, 265), rng)
        g = trigger.group_sums(trigger_input.quantize(sums))
        for i, u in enumerate(thresholds):
            fired = (g > u).any(axis=1)  # (n, n_samples)
            counts[i] += np.count_nonzero(fired[:, first:last] & ~fired[:, first - 1 : last - 1])
        done += n
    live = n_windows * (last - first) / SAMPLING_HZ
    return counts / live, np.sqrt(np.maximum(counts, 1)) / live
