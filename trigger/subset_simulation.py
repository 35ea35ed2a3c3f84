"""The gated NN trigger's accidental rate by subset simulation: splitting on the network's score.

Importance sampling needs a proposal close to the NSB windows a network
accepts, and behind the gate those are too varied for the tilts that can be
fitted: near 1 kHz the adapted sampler read 5 to 250 times below counting
(docs/trigger.md). Subset simulation needs no proposal. It writes the rare
probability as a product of conditional ones of about ``p0`` each,

    P(Y > y_L) = P(Y > y_1) * prod_i P(Y > y_i | Y > y_{i-1}),

with the levels y_i chosen on the fly as quantiles, and samples each
conditional distribution with Markov chains started from the windows above
the previous level. A chain move redraws a random fraction of the window's
independent parts from the plain NSB (each fine time bin's photo-electron
amplitude sum, each sample's electronic noise, per module): such a move is
reversible with respect to the NSB itself, so it is accepted exactly when
the new window stays above the level, and the chains sample the NSB
conditioned on it, whatever the network accepts.

Y is the chosen group's network score when its sum rises above the gate at
the decision sample (a candidate), and otherwise a value below every score
that grows with the group sum there, so that the first levels climb to the
gate and the later ones up the score. Only the modules of the chosen group's
ROI enter Y (its three, or for the ``"ring"`` view those and the nine around
them; which group is part of the window, as the ring's shape at the camera's
edge depends on it): the other modules that the groups overlapping it read
(the OR over groups, as in :meth:`trigger.rates.NSBRateEstimator.gated_rates`)
are, given Y, plain NSB, and are drawn fresh when the rates are computed.

Afterpulse-sized photo-electrons (>= 4 p.e.) need their own moves: most NSB
windows that open the gate, and most that a network accepts, hold one or two,
and a chain that redraws one loses it and is refused, so every chain keeps its
seed's and the population ends up descending from a handful of them (seen:
one run 7.5 kHz, the next 10 Hz). The windows are therefore split by the
number b of big p.e. in the fine bins that reach the decision samples (a
Poisson number, P(b) exact) and by how they share the three modules (two in
one module or in two: P exact), each stratum is simulated on its own, and a
big p.e. moves by steps in time and amplitude, and the modules by a
permutation. (Letting a big p.e. move between modules instead read lower at
the same cost: two big p.e. 4-5 ns apart in one module carried much of one
network's rate near 1 kHz, and few chains from two modules got there.) With
the ring view the big p.e. in the nine ring modules are stratified too, by
their number (a ring network reads a big p.e. next to the group as a
shower's spread light, and chains that cannot create one read a few seeds:
without these strata four runs scattered by 94 % of their mean); each moves
in time, in amplitude and to another ring module.

Errors: one run's windows do not give its error (the chains are
correlated), and a run that misses a kind of window reads low, so
:meth:`SubsetSimulation.camera_rates` runs several independently and takes
their mean and scatter. The mean's bias falls with the windows per level
(``N_PER_LEVEL``); the validation against counting is in docs/trigger.md.
"""

from collections import Counter
from dataclasses import dataclass
from functools import partial
from itertools import product

import numpy as np
from scipy.stats import poisson

from lstcommon.parallel import run_tasks

from .rates import BIG_PE, DECISION_SAMPLE, SAMPLING_HZ, NSBRateEstimator, RateSamples, alias_table

__all__ = ["Stratum", "Windows", "Level", "SubsetSimulation", "SubsetRates", "N_PER_LEVEL", "MIN_WINDOWS", "RATE_PRECISION",
           "RATE_MIN_RUNS", "RATE_MAX_RUNS"]

_NO_CANDIDATE = -1000.0  # Y of windows without a candidate: this plus the group sum's excess over the gate (counts)
_EXCESS_RANGE = 400.0  # that excess is clipped to +-this, so that every non-candidate lies below every candidate
_RISEN_BEFORE = -3000.0  # Y of windows already above the gate one sample earlier: never a candidate at the decision sample
_LOWEST_SCORE = _NO_CANDIDATE + _EXCESS_RANGE + 50.0
# windows per level and chain moves per kept window: the estimate's bias falls with both (at 1000 windows it read
# about half the counted rate near 1 kHz, at 2000 it agreed: docs/trigger.md); 4 runs of 2000 take ~2 min of a core
N_PER_LEVEL, THIN = 2000, 5
MIN_WINDOWS = 100  # per level: at p0 = 0.1, 10 seeds
# The NN's rate at its operating point to ±10 % (one standard error), so that thresholds at "equal rate" mean equal
# rate: about 12 runs of N_PER_LEVEL windows for the shipped network. At least 8, so that the stop does not rest on
# the scatter of two or three runs; at most 24.
RATE_PRECISION, RATE_MIN_RUNS, RATE_MAX_RUNS = 0.10, 8, 24
# a move's size: at scale s, each small-p.e. bin and noise sample is redrawn with probability s; with probability
# min(1, 3 s) a big p.e. steps in time by up to 40 s fine bins (2 ns at the first levels' s = 0.2, under the pulse
# width) or in its amplitude's quantile by s (its prior is uniform), or, decided on the first, the window's big
# p.e. all step together in time or their modules are permuted
BIG_MOVE, CELL_STEP = 3.0, 40.0


@dataclass(frozen=True)
class Stratum:
    """Windows with ``len(modules)`` big p.e. in the bins the trigger reads, shared among the group's three modules
    like the entries below 3 of ``modules`` (up to a permutation of them), an entry of 3 for each in the ring (any of
    its modules), and the probability of that."""

    modules: tuple
    probability: float

    @property
    def n_big(self) -> int:
        return len(self.modules)


@dataclass
class Windows:
    """NSB windows of the ROI's modules by their independent parts."""

    small: np.ndarray  # (n, n_view, n_fine) amplitude sum per fine bin, without the stratum's big p.e.
    noise: np.ndarray  # (n, n_view, n_samples) electronic noise
    big: np.ndarray  # (n, b, 3) the big p.e.: module (0-2 the group's, 3 on the ring's), fine bin, amplitude quantile
    group: np.ndarray  # (n,) the chosen group

    def __len__(self):
        return len(self.small)

    def take(self, keep) -> "Windows":
        return Windows(self.small[keep], self.noise[keep], self.big[keep], self.group[keep])

    def where(self, keep, other: "Windows") -> "Windows":
        """These windows where ``keep``, else ``other``'s."""
        return Windows(np.where(keep[:, None, None], self.small, other.small), np.where(keep[:, None, None], self.noise, other.noise),
                       np.where(keep[:, None, None], self.big, other.big), np.where(keep, self.group, other.group))

    @staticmethod
    def concatenate(parts) -> "Windows":
        return Windows(*(np.concatenate(p) for p in zip(*((w.small, w.noise, w.big, w.group) for w in parts))))


@dataclass
class Level:
    """The windows of one level of one stratum: NSB with b big p.e. conditioned on ``Y > threshold``."""

    threshold: float
    probability: float  # P(Y > threshold | b)
    windows: Windows
    value: np.ndarray  # (n,) Y
    acceptance: float = 1.0  # of the chain moves that produced them


class SubsetSimulation:
    """Subset simulation of one chosen group's gated-NN windows (see the module docstring).

    Parameters
    ----------
    estimator : NSBRateEstimator
        The NSB model, trigger input and group neighbourhoods.
    geometry : trigger.nn.roi.RoiGeometry
    score : callable
        ROIs (m, geometry.n_inputs) of integer counts -> scores (m,).
    n_per_level : int
        Windows per level.
    p0 : float
        Conditional probability aimed at per level.
    thin : int
        Chain moves per kept window.
    """

    def __init__(self, estimator: NSBRateEstimator, geometry, score, n_per_level=N_PER_LEVEL, p0=0.1, thin=THIN):
        if not 0 < p0 < 1:
            raise ValueError(f"p0 must be in (0, 1), got {p0}")
        if n_per_level < MIN_WINDOWS or n_per_level * p0 < 10:
            raise ValueError(f"n_per_level * p0 = {n_per_level * p0:g}: too few windows to seed the chains of a level")
        self.estimator = estimator
        self.noise = estimator.noise
        self.input = estimator.trigger_input
        self.geometry = geometry
        self.score = score
        self.n_view = geometry.n_modules
        self.frame = estimator.frame(geometry.view)
        # per group, the ROI slots outside the camera: they read the pedestal
        self.missing = self.frame.modules[:, : self.n_view] < 0
        self.n_per_level = int(n_per_level)
        self.p0 = float(p0)
        self.thin = int(thin)
        self.rate_scale = len(estimator.group_modules) * SAMPLING_HZ  # camera rate per unit probability of one group
        # value() reads only the ROI's samples (the gate's sample before the decision lies inside it; the one
        # sample before the ROI is a margin), and only the fine bins in cells reach them: the rest of the window
        # is never computed for a chain move
        k = DECISION_SAMPLE
        self.read = slice(k - geometry.n_before - 1, k + geometry.n_after)
        fine = self.noise.reaching(self.read)
        self.cells = np.arange(fine.start, fine.stop)
        self.read_kernel = np.ascontiguousarray(self.noise.kernel[self.cells][:, self.read])
        self.read_baseline = self.noise.baseline_at(self.read)
        # the rates also read every overlapping group's ROI one sample earlier (a rising edge of the OR at the
        # sample before the decision), one sample more than read: their modules are drawn only on these samples
        # (again with a sample of margin), from the fine bins that reach them
        self.rate_read = slice(k - geometry.n_before - 2, k + geometry.n_after)
        self.rate_cells = self.noise.reaching(self.rate_read)
        self.drop = np.zeros(self.noise.kernel.shape[0], bool)
        self.drop[self.cells] = True
        is_big = self.noise.amplitudes >= BIG_PE
        self.big_amplitudes = self.noise.amplitudes[is_big]
        p_big = self.noise.amplitude_prob[is_big]
        # redrawing a bin's small p.e. (a move): their Poisson mean and amplitudes, from an alias table
        self.small_amplitudes = self.noise.amplitudes[~is_big]
        self.small_mean = self.noise.mean_per_bin * (1 - p_big.sum())
        self.small_alias = alias_table(self.noise.amplitude_prob[~is_big])
        self.big_cdf = np.cumsum(p_big) / p_big.sum()
        self.mean_big = 3 * len(self.cells) * self.noise.mean_per_bin * p_big.sum()  # big p.e. per window, Poisson
        self.mean_big_ring = (self.n_view - 3) * len(self.cells) * self.noise.mean_per_bin * p_big.sum()

    def strata(self, negligible_hz) -> tuple[list[Stratum], float]:
        """The strata to simulate, and the most that the numbers of big p.e. left out could add to the rate (Hz)."""
        strata, b = [], 0
        while True:
            strata.extend(self._group_strata(b))
            left_out = float(poisson.sf(b, self.mean_big)) * self.rate_scale
            if left_out <= negligible_hz:
                break
            b += 1
        if self.n_view == 3:
            return strata, left_out
        # with a ring: every (group, ring) combination, the likeliest first, until what is left could add at most
        # negligible_hz (the group's and the ring's numbers are independent Poisson)
        b_ring = 0
        while poisson.sf(b_ring, self.mean_big_ring) * self.rate_scale > negligible_hz / 100:
            b_ring += 1
        # a few more group numbers than the group alone needs: the combined cut below decides which are kept
        group = [st for b in range(b + 3) for st in self._group_strata(b)]
        combined = sorted((Stratum(st.modules + (3,) * r, st.probability * float(poisson.pmf(r, self.mean_big_ring)))
                           for st in group for r in range(b_ring + 1)), key=lambda st: -st.probability)
        kept = np.cumsum([st.probability for st in combined])
        n = min(int(np.searchsorted(-(1 - kept) * self.rate_scale, -negligible_hz)) + 1, len(combined))
        return combined[:n], max(float(1 - kept[n - 1]), 0.0) * self.rate_scale

    def _group_strata(self, b) -> list[Stratum]:
        """How b big p.e. share the group's modules: the block sizes of an assignment, each of 3^b equally likely."""
        shares = Counter(tuple(sorted(Counter(a).values())) for a in product(range(3), repeat=b))
        return [Stratum(tuple(m for m, size in enumerate(sizes) for _ in range(size)),
                        float(poisson.pmf(b, self.mean_big)) * count / 3**b) for sizes, count in sorted(shares.items())]

    def draw(self, n, stratum: Stratum, rng) -> Windows:
        """Plain NSB windows of the ROI's modules holding the big p.e. of ``stratum`` in the bins the trigger
        reads of the group's three, each around a group drawn uniformly."""
        sums, clean, small, _ = self.noise.sample((n, 3), rng, histograms=True, drop_big=self.drop)
        if self.n_view > 3:
            ring_sums, ring_clean, ring_small, _ = self.noise.sample((n, self.n_view - 3), rng, histograms=True, drop_big=self.drop)
            sums, clean, small = (np.concatenate(p, axis=1) for p in ((sums, ring_sums), (clean, ring_clean), (small, ring_small)))
        template = np.asarray(stratum.modules, dtype=int)
        n_big = len(template)
        in_group = template < 3
        modules = np.empty((n, n_big), dtype=int)
        modules[:, in_group] = np.argsort(rng.random((n, 3)), axis=1)[:, template[in_group]]  # under a random permutation
        if not in_group.all():
            modules[:, ~in_group] = rng.integers(3, self.n_view, (n, int((~in_group).sum())))
        big = np.stack([modules, rng.choice(self.cells, (n, n_big)), rng.random((n, n_big))], axis=-1).astype(float)
        # the group matters only to a ring (its shape at the camera's edge); the group view draws as it always has
        group = rng.integers(0, len(self.missing), n) if self.n_view > 3 else np.zeros(n, dtype=int)
        return Windows(small, sums - clean + self.noise.baseline, big, group)

    def _small_sums(self, n, rng) -> np.ndarray:
        """Amplitude sums of the small p.e. of ``n`` fine bins (plain NSB)."""
        counts = rng.poisson(self.small_mean, n)
        owner = np.repeat(np.arange(n), counts)
        keep, alias = self.small_alias
        column = rng.integers(0, len(keep), len(owner))
        amplitude = self.small_amplitudes[np.where(rng.random(len(owner)) < keep[column], column, alias[column])]
        return np.bincount(owner, weights=amplitude, minlength=n)

    def hist(self, w: Windows, cells=False) -> np.ndarray:
        """Amplitude sum per module and fine bin (n, n_view, n_fine), or only over ``self.cells`` with ``cells``."""
        first = self.cells[0] if cells else 0
        hist = (w.small[..., first : self.cells[-1] + 1] if cells else w.small).copy()
        if w.big.shape[1]:
            rows = np.repeat(np.arange(len(w)), w.big.shape[1])
            big = w.big.reshape(-1, 3)
            amplitude = self.big_amplitudes[np.minimum(np.searchsorted(self.big_cdf, big[:, 2]), len(self.big_cdf) - 1)]
            cell = big[:, 1].astype(int) - first
            # a move may step a big p.e. out of the cells (and is then refused): it reaches no sample read
            there = (cell >= 0) & (cell < hist.shape[-1]) if cells else slice(None)
            np.add.at(hist, (rows[there], big[there, 0].astype(int), cell[there]), amplitude[there])
        return hist

    def read_sums(self, w: Windows) -> np.ndarray:
        """Module sums (n, n_view, samples of ``self.read``): :meth:`sums` on the samples :meth:`value` reads."""
        return self.hist(w, cells=True) @ self.read_kernel - self.read_baseline + w.noise[..., self.read]

    def sums(self, w: Windows) -> np.ndarray:
        """Module sums (n, n_view, n_samples), p.e. per sample, AC coupled."""
        return self.hist(w) @ self.noise.kernel - self.noise.baseline + w.noise

    def counts(self, w: Windows) -> np.ndarray:
        return self.input.quantize(self.sums(w))

    def rois(self, counts, group) -> np.ndarray:
        """ROIs (m, n_inputs) from the candidates' ``counts`` (m, n_view, samples from the ROI's first on) around
        each one's ``group``: slots outside the camera read the pedestal."""
        window = counts[:, :, : self.geometry.window].astype(np.int32)
        window[self.missing[group]] = self.input.pedestal
        return window.reshape(len(window), self.geometry.n_inputs)

    def value(self, w: Windows) -> np.ndarray:
        """Y of windows (n,)."""
        gate = self.geometry.gate
        k = DECISION_SAMPLE - self.read.start  # the samples from here on are those of self.read
        sums = self.read_sums(w)
        counts = self.input.quantize(sums)
        group = counts[:, :3].astype(np.int32).sum(axis=1)
        # below the gate, the unquantized group sum: finer steps for the first levels
        excess = self.input.gain * sums[:, :3, k].sum(axis=1) + 3 * self.input.pedestal - gate
        y = np.where(group[:, k - 1] > gate, _RISEN_BEFORE, _NO_CANDIDATE + np.clip(excess, -_EXCESS_RANGE, _EXCESS_RANGE))
        candidate = (group[:, k - 1] <= gate) & (group[:, k] > gate)
        if candidate.any():
            rois = self.rois(counts[candidate][:, :, k - self.geometry.n_before :], w.group[candidate])
            y[candidate] = np.maximum(self.score(rois), _LOWEST_SCORE)
        return y

    def propose(self, w: Windows, scale, rng) -> tuple[Windows, np.ndarray]:
        """A move of every window, symmetric under the NSB (so accepted when it stays above the level), of size
        ``scale`` (see BIG_MOVE): small-p.e. bins and noise samples redrawn, big p.e. stepped in time or in their
        amplitude's quantile (folded back into [0, 1]), all shifted together in time, or their modules permuted;
        with a ring, the window also moves to another group. Also returns False where a step left the bins the
        trigger reads (the move is then refused)."""
        n, n_big = len(w), w.big.shape[1]
        # only the bins and samples the trigger reads: the others never change what is estimated
        row, module, cell = np.nonzero(rng.random((n, self.n_view, len(self.cells))) < scale)
        small = w.small.copy()
        small[row, module, self.cells[cell]] = self._small_sums(len(row), rng)
        group = w.group
        if self.n_view > 3:
            group = np.where(rng.random(n) < scale, rng.integers(0, len(self.missing), n), group)
        noise = w.noise.copy()
        redraw = rng.random(noise.shape) < scale
        noise[redraw] = rng.normal(0.0, self.noise.noise, redraw.sum())
        big = w.big.copy()
        inside = np.ones(n, bool)
        if n_big:
            # per big p.e., kind 0: a step in time, 1: in amplitude; per window (on the first), 2: a permutation of
            # the modules (keeps the stratum), 3: the same step in time for all (keeps their spacing)
            kind = np.where(rng.random((n, n_big)) < BIG_MOVE * scale, rng.integers(0, 4, (n, n_big)), -1)
            whole = kind[:, 0]
            kind[:, 1:] = np.where(((whole == 2) | (whole == 3))[:, None], -1, kind[:, 1:])
            step = rng.integers(1, max(int(round(CELL_STEP * scale)), 1) + 1, (n, n_big)) * rng.choice([-1, 1], (n, n_big))
            big[..., 1] += np.where(kind == 0, step, 0) + np.where(whole == 3, step[:, 0], 0)[:, None]
            # a random walk on the circle of circumference 2 folded onto [0, 1]: symmetric for any step
            u = np.mod(big[..., 2] + np.where(kind == 1, rng.normal(0, scale, (n, n_big)), 0), 2.0)
            big[..., 2] = np.where(u > 1, 2 - u, u)
            permutation = np.argsort(rng.random((n, 3)), axis=1)
            module = big[..., 0].astype(int)
            in_ring = module >= 3
            permuted = np.take_along_axis(permutation, np.where(in_ring, 0, module), axis=1)
            big[..., 0] = np.where((whole == 2)[:, None] & ~in_ring, permuted, big[..., 0])
            if in_ring.any():
                # a ring big p.e. hops to any ring module (uniform, so symmetric)
                hop = in_ring & (rng.random((n, n_big)) < BIG_MOVE * scale / 4)
                big[..., 0] = np.where(hop, rng.integers(3, self.n_view, (n, n_big)), big[..., 0])
            inside = ((big[..., 1] >= self.cells[0]) & (big[..., 1] <= self.cells[-1])).all(axis=1)
        return Windows(small, noise, big, group), inside

    def run(self, stratum: Stratum, rng, min_rate_hz, max_levels=40, scale=0.2) -> list[Level]:
        """Levels of ``stratum``, from plain NSB up to where the stratum adds less than ``min_rate_hz`` to the
        camera rate (or ``max_levels``).

        ``scale`` is the first level's move size (see BIG_MOVE); each later
        level adapts it towards 40 % of the moves accepted.
        """
        n = self.n_per_level
        weight = stratum.probability * self.rate_scale
        w = self.draw(n, stratum, rng)
        levels = [Level(-np.inf, 1.0, w, self.value(w))]
        for _ in range(max_levels):
            last = levels[-1]
            if last.probability * weight < min_rate_hz:
                break
            order = np.sort(last.value)[::-1]
            threshold = order[int(self.p0 * n)]
            if threshold == order[0]:  # ties at the top: the next value down
                lower = order[order < order[0]]
                if len(lower) == 0:
                    break
                threshold = lower[0]
            above = last.value > threshold
            level = self._grow(last.windows.take(above), last.value[above], threshold, n, rng, scale)
            level.probability = last.probability * above.mean()
            levels.append(level)
            scale = float(np.clip(scale * np.exp(2 * (level.acceptance - 0.4)), 0.005, 1.0))
        return levels

    def _grow(self, w: Windows, value, threshold, n, rng, scale) -> Level:
        """``n`` windows above ``threshold``: Markov chains from the seeds ``w``."""
        n_steps = int(np.ceil(n / len(value)))
        parts, values = [w], [value]
        accepted = 0
        for step in range((n_steps - 1) * self.thin):
            proposal, ok = self.propose(w, scale, rng)
            new_value = np.full(len(value), -np.inf)
            if ok.any():
                new_value[ok] = self.value(proposal.take(ok))
            ok &= new_value > threshold
            accepted += ok.sum()
            w = proposal.where(ok, w)
            value = np.where(ok, new_value, value)
            if (step + 1) % self.thin == 0:
                parts.append(w)
                values.append(value)
        acceptance = accepted / max(len(value) * (n_steps - 1) * self.thin, 1)
        return Level(float(threshold), np.nan, Windows.concatenate(parts).take(slice(0, n)), np.concatenate(values)[:n], float(acceptance))

    def rates(self, levels, stratum: Stratum, thresholds, rng) -> np.ndarray:
        """The stratum's share of the camera rate (Hz) of the gated NN trigger at each score threshold.

        A threshold t is read on the stratum's highest level below it:
        P(stratum) P(Y > y_i | stratum) times the rising edges of the OR over overlapping
        groups among that level's windows, with the modules around the chosen
        group drawn fresh.
        """
        thresholds = np.atleast_1d(np.asarray(thresholds, dtype=float))
        starts = np.array([lv.threshold for lv in levels])
        # every candidate lies above the levels that climb to the gate: a threshold below every score is read there
        which = np.searchsorted(starts, np.maximum(thresholds, _LOWEST_SCORE - 1), side="right") - 1
        rates = np.zeros(len(thresholds))
        for i in np.unique(which):
            level = levels[i]
            pick = which == i
            r, _ = self.estimator.gated_rates(self._with_neighbours(level, rng), self.geometry, self.score, thresholds[pick])
            rates[pick] = stratum.probability * level.probability * r
        return rates

    def _with_neighbours(self, level: Level, rng) -> RateSamples:
        n = len(level.value)
        group = level.windows.group if self.n_view > 3 else rng.integers(0, len(self.frame.modules), n)
        others = self.noise.sample_part((n, self.frame.modules.shape[1] - self.n_view), rng, self.rate_cells, self.rate_read)
        counts = np.concatenate([self.counts(level.windows)[..., self.rate_read], self.input.quantize(others)], axis=1)
        return RateSamples(counts, self.frame.modules[group], self.frame.groups[group], self.frame.views[group], np.ones(n), group,
                           len(self.frame.modules), decision_sample=DECISION_SAMPLE - self.rate_read.start)

    def accepted_windows(self, rng, rate_hz) -> tuple[np.ndarray, np.ndarray]:
        """NSB ROIs the network accepts at about ``rate_hz``, with their share of the rate (Hz per ROI).

        One run per stratum that matters, up to the level where the stratum
        adds less than ``rate_hz``; the candidates of each stratum's last
        level are the NSB windows conditioned on scoring above it, and each
        carries P(stratum) P(level) / n of one group's rate. These are the
        windows that set the network's accidental rate (hard negatives).
        """
        strata, _ = self.strata(rate_hz / 100)
        k = DECISION_SAMPLE
        rois, weights = [], []
        for stratum in strata:
            level = self.run(stratum, rng, min_rate_hz=rate_hz)[-1]
            candidate = level.value >= _LOWEST_SCORE
            windows = level.windows.take(candidate)
            rois.append(self.rois(self.counts(windows)[:, :, k - self.geometry.n_before :], windows.group))
            weights.append(np.full(candidate.sum(), stratum.probability * level.probability * self.rate_scale / len(level.value)))
        return np.concatenate(rois), np.concatenate(weights)

    def camera_rates(self, thresholds, rng, min_rate_hz, n_runs=4, client=None, progress=False) -> "SubsetRates":
        """Rates at ``thresholds`` from ``n_runs`` independent runs over every stratum that matters.

        Each stratum's levels stop where it adds less than ``min_rate_hz``
        (thresholds above that are read on its last level); numbers of big
        p.e. that could add at most ``min_rate_hz / 100`` in all are left out.

        Without ``client`` the runs take turns drawing from ``rng``. With a Dask
        ``client`` each run is a task with its own generator spawned from
        ``rng`` (:mod:`lstcommon.parallel`): the rates then depend on the seed,
        not on the number of workers, and ``score`` must be picklable
        (:class:`trigger.parallel.SavedScore`).
        """
        thresholds = np.atleast_1d(np.asarray(thresholds, dtype=float))
        strata, _ = self.strata(min_rate_hz / 100)
        if client is None:
            runs = np.stack([self._one_run(strata, thresholds, min_rate_hz, rng) for _ in range(n_runs)])
        else:
            task = partial(self._one_run, strata, thresholds, min_rate_hz)
            runs = np.stack(run_tasks(client, task, rng.spawn(n_runs), progress=progress, desc="subset simulations",
                                      unit="run", name="subset simulation run"))
        return SubsetRates(thresholds, runs, strata)

    def _one_run(self, strata, thresholds, min_rate_hz, rng) -> np.ndarray:
        """One run's rates (n_strata, n_thresholds)."""
        runs = np.zeros((len(strata), len(thresholds)))
        for j, stratum in enumerate(strata):
            levels = self.run(stratum, rng, min_rate_hz=min_rate_hz)
            runs[j] = self.rates(levels, stratum, thresholds, rng)
        return runs


@dataclass
class SubsetRates:
    """Camera rates of independent subset-simulation runs: ``runs`` (n_runs, n_strata, n_thresholds), Hz."""

    thresholds: np.ndarray
    runs: np.ndarray
    strata: list

    @property
    def per_run(self) -> np.ndarray:
        return self.runs.sum(axis=1)

    @property
    def rate_hz(self) -> np.ndarray:
        return self.per_run.mean(axis=0)

    @property
    def error_hz(self) -> np.ndarray:
        """The scatter of the runs' means: the chains are correlated, so one run's samples do not give it."""
        runs = self.per_run
        return runs.std(axis=0, ddof=1) / np.sqrt(len(runs)) if len(runs) > 1 else np.full(runs.shape[1], np.nan)
