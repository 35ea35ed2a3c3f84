"""Accidental (NSB-only) trigger rates, down to 1 kHz, in seconds of CPU.

A 1 kHz camera rate means about one trigger per 10^12 group-samples: far too
rare to count in simulated NSB. The estimator samples instead the three
modules of one randomly chosen trigger group under a tilted NSB (importance
sampling): each photo-electron's arrival rate at fine time bin j and
amplitude a is multiplied by exp(c_j * a + b_j * [a >= 4 p.e.]). The fixed
tilts take c_j = theta * K(t_j), with K the pulse seen by the decision
sample, which pushes the group sum at that sample up to the thresholds of
interest; a mixture of them covers a whole range of thresholds. Each sample
carries the exact likelihood ratio, so the estimate is unbiased. (A network
behind the gate accepts windows too varied for such tilts: its rate comes from
:mod:`trigger.subset_simulation`, which reuses this module's NSB model and its
OR over groups, :meth:`NSBRateEstimator.gated_rates`.)

The camera triggers on the OR of 474 overlapping groups. Its rate is
``474 * f_s * E[ w * 1(group crosses) * R / N ]``, where N counts the
overlapping groups crossing at the same sample and R is 1 when none of them
was already above threshold at the previous sample (a rising edge of the
OR). The modules of the overlapping groups are simulated untilted.

The NSB model is the simulation's own (:class:`trigger.simulation.camera.
CameraResponse`): a module is a pixel with 7 times the NSB rate and sqrt(7)
times the electronic noise, with the same pulse, single-p.e. spectrum and AC
coupling, and the samples are quantized by :class:`trigger.inputs.TriggerInput`.

Sampling and counting split into independent pieces that run on a Dask
cluster when given a ``client`` (:mod:`lstcommon.parallel`): each piece
draws from its own generator spawned from the caller's, so a result depends
on the seed and the number of pieces, not on the workers. Without a client
everything runs here from the caller's generator, as it always has. A score
function sent to workers must be picklable (a saved model's:
:class:`trigger.parallel.SavedScore`).
"""

from dataclasses import dataclass
from functools import partial

import numpy as np

from lstcommon.parallel import n_workers, run_tasks

from .analog_sum import AnalogSumTrigger
from .inputs import TriggerInput
from .nn.roi import gather_rois, view_modules
from .simulation.camera import FINE_BIN_NS, CameraResponse
from .sizes import N_MODULES

__all__ = ["ModuleNoise", "Frames", "RateSamples", "NSBRateEstimator", "brute_force_rate", "brute_force_gated_rate",
           "plain_nsb_windows", "gated_live_time", "PIECES_PER_WORKER"]

SAMPLING_HZ = 1.024e9
DECISION_SAMPLE = 24  # the decision sample inside the simulated 40-sample window
BIG_PE = 4.0  # p.e. of at least this amplitude (afterpulses) get their own tilt: the NSB tail that networks accept
# tilts live on grids so that sampling needs one amplitude table per distinct (c, b): c multiplies the
# amplitude in the exponent, b is added for big p.e.; c is capped where the afterpulse tail would explode
C_STEP, C_RANGE = 0.002, (-2.0, 0.5)
B_STEP, B_RANGE = 0.01, (-5.0, 12.0)
_NB = int(round((B_RANGE[1] - B_RANGE[0]) / B_STEP)) + 1
PIECES_PER_WORKER = 4  # pieces of a sample or count per worker: even loads, a progress bar that moves


def _in_pieces(client, function, n, rng, pieces=None, desc="", unit="window", progress=False) -> list:
    """``function(m, rng_k)`` for the pieces of ``n`` items: here with ``rng`` when ``client`` is None, else as
    tasks on the cluster, each with a generator spawned from ``rng``; the results in order."""
    if client is None:
        return [function(n, rng)]
    pieces = max(1, min(int(pieces or PIECES_PER_WORKER * max(n_workers(client), 1)), int(n)))
    sizes = np.diff(np.linspace(0, n, pieces + 1).round().astype(int)).tolist()
    items = list(zip(sizes, rng.spawn(pieces)))
    return run_tasks(client, _star(function), items, weights=sizes, progress=progress, desc=desc, unit=unit,
                     name="piece", describe=lambda i: f"piece {i + 1} of {pieces} ({sizes[i]} {unit}s)")


class _star:
    """``function(*item)``: picklable, unlike a lambda, for the cluster's workers."""

    def __init__(self, function):
        self.function = function

    def __call__(self, item):
        return self.function(*item)


def tilt_keys(c, b=0.0) -> np.ndarray:
    """Grid keys of per-fine-bin tilts: amplitude coefficient ``c`` and big-p.e. log-boost ``b`` (broadcast)."""
    c, b = np.broadcast_arrays(np.clip(c, *C_RANGE), np.clip(b, *B_RANGE))
    return np.rint(c / C_STEP).astype(np.int64) * _NB + np.rint((b - B_RANGE[0]) / B_STEP).astype(np.int64)


def tilt_values(keys) -> tuple[np.ndarray, np.ndarray]:
    """(c, b) of grid keys."""
    keys = np.asarray(keys)
    return (keys // _NB) * C_STEP, (keys % _NB) * B_STEP + B_RANGE[0]


class ModuleNoise:
    """NSB-only module sums (p.e. per sample), plain or under a tilt given per fine time bin.

    A tilt multiplies the NSB intensity at fine bin j and amplitude a by
    ``exp(c_j * a + b_j * [a >= BIG_PE])``: ``c`` pushes light up where the
    pulse of bin j lands, ``b`` makes afterpulse-sized p.e. more frequent.
    The likelihood ratio of a window is then ``exp(c . H + b . G - Lambda)``
    with H the amplitude sum and G the number of big p.e. per fine bin.
    """

    def __init__(self, camera: CameraResponse, pixels_per_module=7):
        self.camera = camera
        self.rate = camera.nsb_rate * pixels_per_module
        self.noise = camera.noise_pe * np.sqrt(pixels_per_module)
        self.baseline = camera.nsb_baseline * pixels_per_module
        self.kernel = camera.kernel.astype(np.float64)  # (n_fine, n_samples)
        self.amplitudes = camera.spe_amplitudes
        self.amplitude_prob = camera.spe_probabilities / np.sum(camera.spe_probabilities)
        self.big = (self.amplitudes >= BIG_PE).astype(float)
        self.mean_per_bin = self.rate * FINE_BIN_NS
        self._alias = alias_table(self.amplitude_prob)
        # the sum over amplitudes of p(a) exp(c a) a on a grid of c twice as fine as the tilts': a light tilt's mean
        # by interpolation (within 0.1 %), without a pass over the spectrum
        self._c_grid = np.arange(C_RANGE[0], C_RANGE[1] + C_STEP / 4, C_STEP / 2)
        self._mean_grid = (np.exp(np.outer(self._c_grid, self.amplitudes)) * self.amplitude_prob) @ self.amplitudes

    def tilt_kernel(self, window) -> np.ndarray:
        """Per fine bin: the mean pulse over the samples of ``window``."""
        return self.kernel[:, list(np.atleast_1d(window))].mean(axis=1)

    def tilted_weights(self, c, b):
        """Per fine bin (rows) and amplitude: p(a) exp(c a + b [a >= BIG_PE]), unnormalised."""
        return np.exp(np.outer(c, self.amplitudes) + np.outer(b, self.big)) * self.amplitude_prob

    def tilted_mean(self, theta, window=DECISION_SAMPLE):
        """Mean noise-free signal of one module over ``window`` under ``c = theta * tilt_kernel(window)``."""
        k = self.tilt_kernel(window)
        x = np.clip((theta * k - self._c_grid[0]) / (self._c_grid[1] - self._c_grid[0]), 0, len(self._c_grid) - 1.000001)
        i = x.astype(int)
        first_moment = self._mean_grid[i] * (1 - (x - i)) + self._mean_grid[i + 1] * (x - i)
        return self.mean_per_bin * float(np.sum(k * first_moment))

    def theta_for(self, mean_signal, window=DECISION_SAMPLE):
        """The tilt whose mean module signal over ``window`` is ``mean_signal`` (bisection; mean grows with theta)."""
        lo, hi = 0.0, 1.0
        while self.tilted_mean(hi, window) < mean_signal:
            hi *= 2
        for _ in range(50):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if self.tilted_mean(mid, window) < mean_signal else (lo, mid)
        return (lo + hi) / 2

    def tables(self, keys) -> tuple[np.ndarray, np.ndarray]:
        """Per key: intensity multiplier M and tilted amplitude CDF (n_keys, n_amplitudes)."""
        weighted = self.tilted_weights(*tilt_values(keys))
        multiplier = weighted.sum(axis=1)
        return multiplier, np.cumsum(weighted / multiplier[:, None], axis=1)

    def log_normaliser(self, multiplier) -> np.ndarray:
        """Lambda = sum over fine bins (last axis) of mu (M - 1), from the multipliers M (..., n_fine) of a tilt."""
        return self.mean_per_bin * (np.asarray(multiplier) - 1.0).sum(axis=-1)

    def sample(self, shape, rng, tables=None, index=None, histograms=False, drop_big=None):
        """Module sums (*shape, n_samples) and noise-free signals; tilted with ``tables`` (from :meth:`tables`) and
        ``index`` (*shape, n_fine), each fine bin's row in them. With ``histograms`` also H and G (*shape, n_fine).
        Untilted, ``drop_big`` (n_fine,) bool leaves out the big p.e. of those fine bins (the rest is unchanged: a
        thinned Poisson process), for a caller that places them itself.
        """
        n_fine, n_samples = self.kernel.shape
        shape = tuple(shape)
        n_mod = int(np.prod(shape))
        n_amp = len(self.amplitudes)
        if tables is None:
            module_idx, fine_idx, amp_idx = self._plain_photoelectrons(n_mod, n_fine, rng)
            if drop_big is not None:
                stay = ~(np.asarray(drop_big)[fine_idx] & (self.big[amp_idx] > 0))
                module_idx, fine_idx, amp_idx = module_idx[stay], fine_idx[stay], amp_idx[stay]
        else:
            multiplier, cdfs = tables
            index = np.asarray(index).reshape(n_mod, n_fine)
            counts = rng.poisson(self.mean_per_bin * multiplier[index])
            module_idx, fine_idx = np.nonzero(counts)
            reps = counts[module_idx, fine_idx]
            module_idx = np.repeat(module_idx, reps)
            fine_idx = np.repeat(fine_idx, reps)
            u = rng.uniform(size=len(fine_idx))
            # one searchsorted over all rows: row r's CDF is shifted to (r, r + 1]
            row = index[module_idx, fine_idx]
            flat = (cdfs + np.arange(len(cdfs))[:, None]).ravel()
            amp_idx = np.clip(np.searchsorted(flat, row + u * (1 - 1e-12)) - row * n_amp, 0, n_amp - 1)
        where = module_idx * n_fine + fine_idx
        hist = np.bincount(where, weights=self.amplitudes[amp_idx], minlength=n_mod * n_fine).reshape(n_mod, n_fine)
        clean = hist @ self.kernel
        sums = clean - self.baseline + rng.normal(0.0, self.noise, clean.shape)
        out = (sums.reshape(*shape, n_samples), clean.reshape(*shape, n_samples))
        if histograms:
            big = np.bincount(where, weights=self.big[amp_idx], minlength=n_mod * n_fine)
            out += (hist.reshape(*shape, n_fine), big.reshape(*shape, n_fine))
        return out

    def _plain_photoelectrons(self, n_mod, n_fine, rng):
        """Module, fine bin and amplitude index of each photo-electron of ``n_mod`` modules' plain NSB."""
        # a uniform intensity: a Poisson total per module spread uniformly over the fine bins, and amplitudes
        # from an alias table, both exact and several times faster than a Poisson draw per bin
        counts = rng.poisson(self.mean_per_bin * n_fine, size=n_mod)
        module_idx = np.repeat(np.arange(n_mod), counts)
        fine_idx = rng.integers(0, n_fine, size=len(module_idx))
        column = rng.integers(0, len(self.amplitudes), size=len(module_idx))
        keep, alias = self._alias
        amp_idx = np.where(rng.uniform(size=len(module_idx)) < keep[column], column, alias[column])
        return module_idx, fine_idx, amp_idx

    def sample_part(self, shape, rng, fine: slice, samples: slice) -> np.ndarray:
        """Plain (untilted) module sums (*shape, samples) of the samples ``samples`` only, from the photo-electrons
        of the fine bins ``fine``: exact where no other fine bin's pulse reaches those samples, and a fraction of
        the cost of :meth:`sample` for a caller that reads a few samples."""
        shape = tuple(shape)
        n_mod = int(np.prod(shape))
        kernel = self.kernel[fine, samples]
        n_fine = kernel.shape[0]
        module_idx, fine_idx, amp_idx = self._plain_photoelectrons(n_mod, n_fine, rng)
        hist = np.bincount(module_idx * n_fine + fine_idx, weights=self.amplitudes[amp_idx],
                           minlength=n_mod * n_fine).reshape(n_mod, n_fine)
        sums = hist @ kernel - self.baseline_at(samples) + rng.normal(0.0, self.noise, (n_mod, kernel.shape[1]))
        return sums.reshape(*shape, kernel.shape[1])

    def reaching(self, samples: slice) -> slice:
        """The fine bins whose pulse reaches any of ``samples``: for a caller that computes only those samples."""
        reach = np.nonzero(self.kernel[:, samples].any(axis=1))[0]
        return slice(int(reach.min()), int(reach.max()) + 1)

    def baseline_at(self, samples: slice) -> np.ndarray:
        """The AC coupling's baseline on ``samples``."""
        return np.broadcast_to(self.baseline, (self.kernel.shape[1],))[samples]


@dataclass(frozen=True)
class Frames:
    """Each group's neighbourhood, what one sample of NSB around it holds.

    ``modules`` (n_groups, F): the camera modules, -1 padded; the first
    ``n_view`` are the group's ROI modules in view order (-1 where the view
    leaves the camera), so that its first three are the group's own.
    ``groups`` (n_groups, G, 3) and ``views`` (n_groups, G, n_view): for the
    group and every group sharing a module with it (itself first), its three
    modules and its ROI's modules as indices into ``modules`` (-1: none).
    For the ``"group"`` view the neighbourhood is the overlapping groups'
    modules; for a wider view also every module their ROIs read.
    """

    modules: np.ndarray
    groups: np.ndarray
    views: np.ndarray

    @classmethod
    def build(cls, group_modules, view_modules) -> "Frames":
        group_modules, view_modules = np.asarray(group_modules), np.asarray(view_modules)
        n_groups, n_view = view_modules.shape
        groups_of_module = [[] for _ in range(group_modules.max() + 1)]
        for g, mods in enumerate(group_modules):
            for m in mods:
                groups_of_module[m].append(g)
        neighbours, frames = [], []
        for g in range(n_groups):
            groups = [g] + sorted({h for m in group_modules[g] for h in groups_of_module[m]} - {g})
            seen = set(view_modules[groups].ravel()) - {-1}
            frames.append(list(view_modules[g]) + sorted(seen - set(view_modules[g])))
            neighbours.append(groups)
        n_frame, n_near = max(map(len, frames)), max(map(len, neighbours))
        modules = np.full((n_groups, n_frame), -1)
        groups_local = np.full((n_groups, n_near, 3), -1)
        views_local = np.full((n_groups, n_near, n_view), -1)
        for g, (groups, frame) in enumerate(zip(neighbours, frames)):
            modules[g, : len(frame)] = frame
            local = {m: j for j, m in enumerate(frame) if m >= 0}
            groups_local[g, : len(groups)] = [[local[m] for m in group_modules[h]] for h in groups]
            views_local[g, : len(groups)] = [[local.get(m, -1) if m >= 0 else -1 for m in view_modules[h]] for h in groups]
        return cls(modules, groups_local, views_local)

    def samples(self, counts, group, weight) -> "RateSamples":
        """Windows ``counts`` (n, F, n_samples) around each ``group`` as :class:`RateSamples`."""
        return RateSamples(counts, self.modules[group], self.groups[group], self.views[group], weight, group, len(self.modules))


@dataclass
class RateSamples:
    """NSB windows around one group's decision sample, with their weights (likelihood ratios; 1 for plain draws).

    ``counts`` (n, n_modules, n_samples) are the trigger-input counts of the
    modules in the chosen group's neighbourhood (``modules``, -1 padded);
    ``groups`` and ``views`` each neighbourhood group's modules and ROI
    modules as indices into them (:class:`Frames`); ``weight`` the likelihood
    ratios; ``group`` the chosen group.
    """

    counts: np.ndarray
    modules: np.ndarray
    groups: np.ndarray
    views: np.ndarray
    weight: np.ndarray
    group: np.ndarray
    n_groups: int
    decision_sample: int = DECISION_SAMPLE

    def __len__(self):
        return len(self.weight)

    @staticmethod
    def concatenate(parts) -> "RateSamples":
        parts = list(parts)
        if len(parts) == 1:
            return parts[0]
        first = parts[0]
        joined = (np.concatenate([getattr(p, name) for p in parts]) for name in ("counts", "modules", "groups", "views", "weight", "group"))
        return RateSamples(*joined, n_groups=first.n_groups, decision_sample=first.decision_sample)

    def mean_and_error(self, contrib):
        """Mean of per-sample contributions (along the first axis) and its standard error: floats for one
        contribution per sample, arrays for several (n_samples, m)."""
        contrib = np.asarray(contrib)
        mean, error = contrib.mean(axis=0), contrib.std(axis=0) / np.sqrt(len(contrib))
        return (float(mean), float(error)) if contrib.ndim == 1 else (mean, error)


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
        self._frames = {}
        self._components = {}  # components() by thetas: callers sample the same mixture many times

    def frame(self, view="group") -> "Frames":
        """Each group's neighbourhood for ROIs of ``view`` (:data:`trigger.nn.roi.VIEWS`), built once."""
        if view not in self._frames:
            self._frames[view] = Frames.build(self.group_modules, view_modules(self.instrument, view))
        return self._frames[view]

    def components(self, thetas, single_module=False) -> np.ndarray:
        """Tilt keys (n_components, 3, n_fine) of the chosen group's three modules for a mixture of ``thetas``
        (0 = untilted), each pushing the signal at the decision sample up.

        With ``single_module``, every tilt also has a variant that puts the
        same group excess into one module only: the NSB tail at trigger level
        is dominated by one module's large (afterpulse) amplitudes, which a
        tilt spread evenly over three modules rarely produces.
        """
        thetas = np.asarray(thetas, dtype=float)
        cache_key = (thetas.tobytes(), bool(single_module))
        if cache_key not in self._components:
            self._components[cache_key] = self._components_of(thetas, single_module)
        return self._components[cache_key]

    def _components_of(self, thetas, single_module) -> np.ndarray:
        rows = [np.full(3, t) for t in thetas]
        if single_module:
            baseline = self.noise.tilted_mean(0.0)
            for t in thetas[thetas > 0]:
                single = self.noise.theta_for(3 * self.noise.tilted_mean(t) - 2 * baseline)
                rows.extend(single * np.eye(3))
        kernel = self.noise.tilt_kernel(DECISION_SAMPLE)
        return tilt_keys(np.asarray(rows)[:, :, None] * kernel)

    def sample(self, n, thetas, rng, single_module=False, chunk=4096, client=None, pieces=None, view="group") -> RateSamples:
        """``n`` windows, the chosen group's modules tilted by a mixture (see :meth:`components`); each window's
        weight is the balance heuristic over the whole mixture. The windows hold every module that the ROIs of
        ``view`` of the chosen group and of the groups overlapping it read. With a Dask ``client``, in ``pieces``
        tasks (see the module docstring)."""
        if client is not None:
            parts = _in_pieces(client, partial(self._sample, thetas=thetas, single_module=single_module, chunk=chunk, view=view),
                               n, rng, pieces, desc="importance samples")
            return RateSamples.concatenate(parts)
        return self._sample(n, rng, thetas, single_module, chunk, view)

    def _sample(self, n, rng, thetas, single_module=False, chunk=4096, view="group") -> RateSamples:
        keys = self.components(thetas, single_module)
        frame = self.frame(view)
        alpha = np.full(len(keys), 1.0 / len(keys))
        unique, index = np.unique(keys, return_inverse=True)
        index = index.reshape(keys.shape)
        tables = self.noise.tables(unique)
        log_norm = self.noise.log_normaliser(tables[0][index]).sum(axis=-1)  # (C,): the three modules
        c, b = (v.reshape(len(keys), -1).T for v in tilt_values(keys))  # (3 * n_fine, C)
        parts = []
        for start in range(0, n, chunk):
            m = min(chunk, n - start)
            component = rng.choice(len(keys), size=m, p=alpha)
            tilted, _, hist, big = self.noise.sample((m, 3), rng, tables, index[component], histograms=True)
            others, _ = self.noise.sample((m, frame.modules.shape[1] - 3), rng)
            # the balance heuristic: w = 1 / sum_c alpha_c q_c/p, log q_c/p = c_c . H + b_c . G - Lambda_c
            log_ratio = hist.reshape(m, -1) @ c + big.reshape(m, -1) @ b - log_norm[None, :]
            top = log_ratio.max(axis=1)
            weight = np.exp(-top) / (np.exp(log_ratio - top[:, None]) @ alpha)
            parts.append((np.concatenate([tilted, others], axis=1), weight))
        sums, weight = (np.concatenate(p) for p in zip(*parts))

        group = rng.integers(0, len(self.group_modules), n)
        counts = self.trigger_input.quantize(sums)
        return frame.samples(counts, group, weight)

    @staticmethod
    def group_sums(samples: RateSamples) -> np.ndarray:
        """Sums (n, groups of the neighbourhood, n_samples); -1 for padding."""
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
            mean, error = samples.mean_and_error(contrib)
            rates.append(samples.n_groups * SAMPLING_HZ * mean)
            errors.append(samples.n_groups * SAMPLING_HZ * error)
        return np.array(rates), np.array(errors)

    def gated_scores(self, samples: RateSamples, geometry, score) -> np.ndarray:
        """Scores (n, n_groups, 2) of every gate candidate at the decision sample and the one before; -inf: none.

        ``geometry`` is a :class:`trigger.nn.roi.RoiGeometry`; ``score`` maps
        ROIs (m, 3 * window) of integer counts to scores (m,). The first sample
        is one before the range: a rising edge of the OR needs the previous one.
        """
        sums = self.group_sums(samples)
        k = samples.decision_sample
        n, n_local = sums.shape[:2]
        valid = samples.groups[..., 0] >= 0
        at_samples = np.arange(k - 1, k + 1)
        values = np.full((n, n_local, len(at_samples)), -np.inf)
        for j, at in enumerate(at_samples):
            cand = valid & (sums[:, :, at - 1] <= geometry.gate) & (sums[:, :, at] > geometry.gate)
            event, local = np.nonzero(cand)
            if len(event):
                rois = gather_rois(samples.counts, event, samples.views[event, local], np.full(len(event), at), geometry,
                                   self.trigger_input.pedestal)
                values[event, local, j] = score(rois)
        return values

    def gated_rates(self, samples: RateSamples, geometry, score, thresholds, scores=None) -> tuple[np.ndarray, np.ndarray]:
        """Camera rate (Hz) of a gated second level: gate candidate and ``score(roi) > t``, for each t.

        Rising edges at the decision sample only (where tilts aim; subset
        simulation conditions there). ``scores`` from :meth:`gated_scores`
        spare scoring the candidates again.
        """
        values = self.gated_scores(samples, geometry, score) if scores is None else scores
        thresholds = np.atleast_1d(np.asarray(thresholds, dtype=float))
        scale = samples.n_groups * SAMPLING_HZ
        # the chosen group passes at the decision sample where no neighbour passed just before; the groups passing
        # there share the edge. All thresholds at once, a block at a time (subset simulation asks for ~2000)
        chosen, before, now = values[:, 0, 1], values[:, :, 0].max(axis=1), values[:, :, 1]
        block = max(1, 20_000_000 // max(now.size, 1))
        rates, errors = np.empty(len(thresholds)), np.empty(len(thresholds))
        for start in range(0, len(thresholds), block):
            t = thresholds[start : start + block]
            edge = (chosen[:, None] > t) & (before[:, None] <= t)
            sharing = np.maximum((now[:, :, None] > t).sum(axis=1), 1)
            mean, error = samples.mean_and_error(samples.weight[:, None] * edge / sharing)
            rates[start : start + block], errors[start : start + block] = scale * mean, scale * error
        return rates, errors

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


def alias_table(p) -> tuple[np.ndarray, np.ndarray]:
    """Walker's alias table of the distribution ``p``: column j keeps j with probability keep[j], else alias[j]."""
    n = len(p)
    scaled = np.asarray(p, dtype=float) * n / np.sum(p)
    keep, alias = np.ones(n), np.arange(n)
    small, large = [j for j in range(n) if scaled[j] < 1], [j for j in range(n) if scaled[j] >= 1]
    while small and large:
        j, k = small.pop(), large[-1]
        keep[j], alias[j] = scaled[j], k
        scaled[k] -= 1 - scaled[j]
        if scaled[k] < 1:
            small.append(large.pop())
    return keep, alias


HISTORY_SAMPLES = 12  # plain windows: from this sample on, the simulated NSB history is complete
# Plain windows are drawn this many at a time: the 2 million photo-electrons of 64 windows and their
# indices (100 MB) stream through memory, those of 8 stay in a core's cache. 1.4x faster on one core,
# and two workers no longer compete for memory bandwidth (docs/parallel_speedup.md).
SAMPLE_WINDOWS = 8


def plain_nsb_windows(trigger_input: TriggerInput, nsb_rate, n_windows, rng, camera=None, chunk=64):
    """Quantized counts (n, N_MODULES, n_samples) of plain (untilted) NSB camera windows, ``chunk`` at a time."""
    camera = camera if camera is not None else CameraResponse(trigger_input.instrument, nsb_rate)
    noise = ModuleNoise(camera)
    done = 0
    while done < n_windows:
        n = min(chunk, n_windows - done)
        sums = np.concatenate([noise.sample((min(SAMPLE_WINDOWS, n - i), N_MODULES), rng)[0]
                               for i in range(0, n, SAMPLE_WINDOWS)])
        yield trigger_input.quantize(sums)
        done += n


def brute_force_rate(trigger_input: TriggerInput, nsb_rate, thresholds, n_windows, rng, camera=None, chunk=64,
                     client=None, pieces=None, progress=False):
    """Count rising edges of the analog-sum OR in plain NSB camera windows (for validation); with a Dask
    ``client``, in ``pieces`` tasks (see the module docstring)."""
    thresholds = np.atleast_1d(thresholds)
    count = partial(_analog_sum_counts, trigger_input, nsb_rate, thresholds, camera=camera, chunk=chunk)
    counts = sum(_in_pieces(client, count, n_windows, rng, pieces, "NSB windows", progress=progress))
    first, last = HISTORY_SAMPLES, trigger_input.instrument.n_samples
    live = n_windows * (last - first) / SAMPLING_HZ
    return counts / live, np.sqrt(np.maximum(counts, 1)) / live


def _analog_sum_counts(trigger_input, nsb_rate, thresholds, n_windows, rng, camera=None, chunk=64) -> np.ndarray:
    trigger = AnalogSumTrigger(instrument=trigger_input.instrument)
    counts = np.zeros(len(thresholds))
    first, last = HISTORY_SAMPLES, trigger_input.instrument.n_samples
    for block in plain_nsb_windows(trigger_input, nsb_rate, n_windows, rng, camera, chunk):
        g = trigger.group_sums(block)
        for i, u in enumerate(thresholds):
            fired = (g > u).any(axis=1)  # (n, n_samples)
            counts[i] += np.count_nonzero(fired[:, first:last] & ~fired[:, first - 1 : last - 1])
    return counts


def _gated_count_range(trigger_input: TriggerInput, geometry) -> tuple[int, int]:
    """The samples of a plain window where a gated trigger's rising edge is counted: full NSB history, a complete ROI."""
    return max(HISTORY_SAMPLES, geometry.n_before + 1), geometry.decision_range(trigger_input.instrument.n_samples)[1]


def gated_live_time(trigger_input: TriggerInput, geometry, n_windows) -> float:
    """Camera time (s) in which :func:`brute_force_gated_rate` counts, for ``n_windows`` windows."""
    first, last = _gated_count_range(trigger_input, geometry)
    return n_windows * (last - first) / SAMPLING_HZ


def brute_force_gated_rate(trigger_input: TriggerInput, nsb_rate, geometry, score, thresholds, n_windows, rng, camera=None,
                           chunk=64, client=None, pieces=None, progress=False):
    """Count rising edges of the gated NN trigger (a gate candidate scoring above t) in plain NSB windows.

    The same trigger code as on showers (:func:`trigger.nn.trigger.nn_candidates`): the reference for
    :meth:`NSBRateEstimator.gated_rates` (MHz rates in seconds; about 1 kHz needs ~10^6 windows). Also
    returns every candidate's score, from which such thresholds can be chosen. With a Dask ``client``, in
    ``pieces`` tasks (see the module docstring; ``score`` must then be picklable).
    """
    thresholds = np.atleast_1d(thresholds)
    count = partial(_gated_counts, trigger_input, nsb_rate, geometry, score, thresholds, camera=camera, chunk=chunk)
    parts = _in_pieces(client, count, n_windows, rng, pieces, "NSB windows", progress=progress)
    counts = sum(p[0] for p in parts)
    live = gated_live_time(trigger_input, geometry, n_windows)
    return counts / live, np.sqrt(np.maximum(counts, 1)) / live, np.concatenate([p[1] for p in parts])


def _gated_counts(trigger_input, nsb_rate, geometry, score, thresholds, n_windows, rng, camera=None, chunk=64):
    """Rising edges at each threshold in ``n_windows`` plain windows, and every candidate's score."""
    from .nn.trigger import nn_candidates

    trigger = AnalogSumTrigger(instrument=trigger_input.instrument)
    counts = np.zeros(len(thresholds))
    n_samples = trigger_input.instrument.n_samples
    first, last = _gated_count_range(trigger_input, geometry)
    scores = []
    for block in plain_nsb_windows(trigger_input, nsb_rate, n_windows, rng, camera, chunk):
        cand = nn_candidates(trigger, block, geometry, score, pedestal=trigger_input.pedestal)
        scores.append(cand.score)
        for i, t in enumerate(thresholds):
            passed = np.zeros((len(block), n_samples), bool)
            keep = cand.score > t
            passed[cand.event[keep], cand.sample[keep]] = True
            counts[i] += np.count_nonzero(passed[:, first:last] & ~passed[:, first - 1 : last - 1])
    return counts, np.concatenate(scores) if scores else np.zeros(0)
