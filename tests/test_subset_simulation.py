"""Subset simulation of the gated NN trigger's NSB rate: strata, chain moves and levels (a stand-in score, no network)."""

import numpy as np
import pytest

from trigger.inputs import TriggerInput
from trigger.nn.roi import RoiGeometry
from trigger.rates import DECISION_SAMPLE, NSBRateEstimator, brute_force_gated_rate
from trigger.subset_simulation import SubsetSimulation

DARK = 0.233591
GEOMETRY = RoiGeometry(gate=69)


def roi_sum(rois):
    """A score the test can reason about: the ROI's total count."""
    return rois.sum(axis=1).astype(float)


@pytest.fixture(scope="module")
def simulation():
    return SubsetSimulation(NSBRateEstimator(TriggerInput(), DARK), GEOMETRY, roi_sum, n_per_level=1000, thin=2)


def test_strata_cover_the_big_photoelectrons(simulation):
    strata, left_out = simulation.strata(1.0)
    assert left_out <= 1.0
    total = sum(s.probability for s in strata)
    assert total == pytest.approx(1 - left_out / simulation.rate_scale, rel=1e-9)
    two = [s for s in strata if s.n_big == 2]  # two big p.e. share a module in 3 of the 9 assignments
    assert sorted(s.modules for s in two) == [(0, 0), (0, 1)]
    assert two[0].probability == pytest.approx(2 * two[1].probability)


def test_moves_keep_the_plain_nsb(simulation):
    """Below every level each move is accepted: the windows must stay plain NSB (here their group sum)."""
    rng = np.random.default_rng(3)
    stratum = simulation.strata(1.0)[0][1]  # one big p.e.
    fresh = simulation.draw(4000, stratum, rng)
    moved = simulation.draw(4000, stratum, rng)
    for _ in range(20):
        proposal, inside = simulation.propose(moved, 0.5, rng)
        moved = proposal.where(inside, moved)
    # a step out of the bins the trigger reads is refused, never wrapped or clipped
    assert ((moved.big[..., 1] >= simulation.cells[0]) & (moved.big[..., 1] <= simulation.cells[-1])).all()
    k = DECISION_SAMPLE
    a, b = (simulation.counts(w).astype(int).sum(axis=1)[:, k - 3 : k + 3] for w in (fresh, moved))
    assert np.abs(a.mean(axis=0) - b.mean(axis=0)).max() < 4 * a.std() / np.sqrt(len(a)) * np.sqrt(2)
    assert b.std() == pytest.approx(a.std(), rel=0.1)


def test_levels_are_nested_and_hold_their_windows(simulation):
    rng = np.random.default_rng(4)
    stratum = simulation.strata(1.0)[0][0]
    levels = simulation.run(stratum, rng, min_rate_hz=1e5)
    thresholds = [lv.threshold for lv in levels]
    probabilities = [lv.probability for lv in levels]
    assert np.all(np.diff(thresholds) > 0) and np.all(np.diff(probabilities) < 0)
    assert thresholds[-1] > 0, "the levels should climb past the gate into the scores"
    for lv in levels[1:]:
        assert len(lv.value) == simulation.n_per_level and np.all(lv.value > lv.threshold)
        assert np.allclose(lv.value, simulation.value(lv.windows))


def test_rate_agrees_with_counting(simulation):
    """Counting in plain NSB camera windows where it is quick (MHz), through the same trigger code as showers."""
    rng = np.random.default_rng(5)
    trigger_input = simulation.input
    _, _, pilot = brute_force_gated_rate(trigger_input, DARK, GEOMETRY, roi_sum, [np.inf], 150, rng)
    thresholds = np.quantile(pilot, [0.3, 0.8])
    counted, counted_err, _ = brute_force_gated_rate(trigger_input, DARK, GEOMETRY, roi_sum, thresholds, 4000, rng)
    assert np.all(counted > 1e6)
    rates = simulation.camera_rates(thresholds, rng, min_rate_hz=1e5, n_runs=3)
    pulls = (rates.rate_hz - counted) / np.hypot(rates.error_hz, counted_err)
    # seen: 10-25 % low on this score (docs/trigger.md); a tolerance, not a claim of no bias
    assert np.all(np.abs(pulls) < 4), (rates.rate_hz, counted)
    assert np.all(np.abs(rates.rate_hz / counted - 1) < 0.35), (rates.rate_hz, counted)


def test_accepted_windows_carry_the_rate_they_were_found_at(simulation):
    """The hard negatives for training: candidate ROIs above each stratum's last level, weighted by their share of
    the rate, so that a cut on the score through them reads the same rate as the estimator itself."""
    rng = np.random.default_rng(6)
    rois, weights = simulation.accepted_windows(rng, rate_hz=1e5)
    assert rois.shape[1] == GEOMETRY.n_inputs and len(rois) >= simulation.n_per_level // 2
    assert np.all(weights > 0) and weights.sum() < 1e5 * len(simulation.strata(1e3)[0])
    scores = roi_sum(rois)
    order = np.argsort(scores)[::-1]
    # a cut keeping a quarter of the weight; one run's tail is a few correlated chains (a run scatters by a factor
    # 2-3, docs/trigger.md): this catches a wrong weight (a stratum's or level's probability), not a 30 % bias
    cut = scores[order][np.searchsorted(np.cumsum(weights[order]), weights.sum() / 4)]
    from_windows = weights[scores > cut].sum()
    estimated = simulation.camera_rates([cut], rng, min_rate_hz=1e3, n_runs=2).rate_hz[0]
    assert 1 / 3 < from_windows / estimated < 3, (from_windows, estimated)


def test_read_sums_are_the_window_sums_where_the_trigger_reads():
    """value() computes only the samples the gate and the ROI read, from the fine bins that reach them: the same
    sums as the whole window's there, before and after chain moves (big p.e. stepped out of the cells included)."""
    simulation = SubsetSimulation(NSBRateEstimator(TriggerInput(), DARK), GEOMETRY, roi_sum)
    rng = np.random.default_rng(4)
    for stratum in simulation.strata(1.0)[0][:4]:
        windows = simulation.draw(500, stratum, rng)
        for _ in range(3):
            np.testing.assert_allclose(simulation.read_sums(windows), simulation.sums(windows)[..., simulation.read],
                                       rtol=0, atol=1e-9)
            windows, _ = simulation.propose(windows, 0.5, rng)


def test_rates_draw_the_neighbour_modules_only_where_they_are_read(simulation):
    """The overlapping groups' modules are drawn on the samples the rates read, from the fine bins whose pulses
    reach them: no other fine bin reaches those samples, and the sums have the whole window's distribution."""
    noise, cells, read = simulation.noise, simulation.rate_cells, simulation.rate_read
    outside = np.ones(noise.kernel.shape[0], bool)
    outside[cells] = False
    assert not noise.kernel[outside][:, read].any()
    rng = np.random.default_rng(7)
    n = 40_000
    whole = noise.sample((n,), rng)[0][:, read]
    part = noise.sample_part((n,), rng, cells, read)
    assert part.shape == whole.shape
    error = np.hypot(whole.std(axis=0), part.std(axis=0)) / np.sqrt(n)
    assert np.all(np.abs(part.mean(axis=0) - whole.mean(axis=0)) < 4 * error)
    np.testing.assert_allclose(part.std(axis=0), whole.std(axis=0), rtol=0.03)
    np.testing.assert_allclose(np.quantile(part, 0.999, axis=0), np.quantile(whole, 0.999, axis=0), rtol=0.1)
