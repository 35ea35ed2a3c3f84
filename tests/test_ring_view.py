"""The ring view: the network sees the candidate group's 3 modules and the 9 around them.

Its geometry (which modules, in which order, what reads outside the camera),
the rate estimator's neighbourhoods for it, its subset-simulated rate against
counting, and a trained ring network through `train` and `evaluate`.
"""

import json

import numpy as np
import pytest

from trigger.analog_sum import AnalogSumTrigger
from trigger.cli import main
from trigger.events import read_trigger_events
from trigger.hardware.errors import ModelError
from trigger.hardware.spec import TriggerSpec
from trigger.inputs import TriggerInput
from trigger.nn.model import load_trigger, score_function
from trigger.nn.roi import RoiGeometry, view_modules
from trigger.nn.trigger import nn_candidates
from trigger.rates import Frames, NSBRateEstimator, brute_force_gated_rate
from trigger.subset_simulation import SubsetSimulation

DARK = 0.233591
RING = RoiGeometry(gate=69, view="ring")


def test_ring_is_the_modules_sharing_a_group_in_order_around_it(instrument):
    groups = instrument.group_modules
    ring = view_modules(instrument, "ring")
    assert ring.shape == (len(groups), 12)
    np.testing.assert_array_equal(ring[:, :3], groups)
    # every module that shares a trigger group with one of the group's modules, and no other
    for g, modules in enumerate(groups):
        sharing = {int(m) for h in np.nonzero(np.isin(groups, modules).any(axis=1))[0] for m in groups[h]}
        assert set(ring[g][ring[g] >= 0].tolist()) == sharing
    # interior groups have the whole ring; at the edge the missing cells are -1, never a wrong module
    full = (ring >= 0).all(axis=1)
    assert full.sum() == 372 and (ring[~full] < 0).sum(axis=1).max() <= 4
    # the nine cells go round the triangle: consecutive slots are neighbouring modules, the last next to the first
    centre = instrument.module_positions
    pitch = np.sort(np.hypot(*(centre - centre[0]).T))[1]
    for g in np.nonzero(full)[0]:
        cells = centre[ring[g, 3:]]
        steps = np.hypot(*(np.roll(cells, -1, axis=0) - cells).T)
        np.testing.assert_allclose(steps, pitch, rtol=0.05)
        # and in the sense from the group's first module towards its second
        mid = centre[groups[g]].mean(axis=0)
        a, b, c = centre[groups[g][0]] - mid, centre[groups[g][1]] - mid, cells[1] - cells[0]
        first = cells[0] - mid
        sense_group = np.sign(a[0] * b[1] - a[1] * b[0])
        sense_ring = np.sign(first[0] * c[1] - first[1] * c[0])
        assert sense_group == sense_ring


def test_group_view_frames_are_the_overlapping_groups(instrument):
    """The group view's neighbourhood is what the estimator always drew: the group's modules first, then the other
    modules of the groups sharing one with it."""
    groups = instrument.group_modules
    frame = Frames.build(groups, view_modules(instrument, "group"))
    for g in (0, 100, 473):
        modules = frame.modules[g][frame.modules[g] >= 0]
        np.testing.assert_array_equal(modules[:3], groups[g])
        near = np.nonzero(np.isin(groups, groups[g]).any(axis=1))[0]
        assert set(modules.tolist()) == set(groups[near].ravel().tolist())
        np.testing.assert_array_equal(frame.views[g], frame.groups[g])


def test_ring_frames_hold_every_module_the_overlapping_groups_read(instrument):
    ring = view_modules(instrument, "ring")
    frame = Frames.build(instrument.group_modules, ring)
    for g in range(len(ring)):
        np.testing.assert_array_equal(frame.modules[g, :12], ring[g])
        for j, local in enumerate(frame.views[g]):
            if (frame.groups[g, j] < 0).all():
                continue
            h = [h for h in range(len(ring)) if (frame.modules[g][frame.groups[g, j]] == instrument.group_modules[h]).all()]
            assert len(h) == 1
            np.testing.assert_array_equal(np.where(local >= 0, frame.modules[g][local], -1), ring[h[0]])


def test_candidates_read_the_ring_and_the_pedestal_outside_the_camera(instrument, simulated):
    trigger_input = TriggerInput(instrument=instrument)
    events = read_trigger_events(simulated["gamma"], trigger_input, max_tel_events=6)
    trigger = AnalogSumTrigger(instrument=instrument)
    with pytest.raises(ValueError, match="pedestal"):
        nn_candidates(trigger, events.counts, RING, lambda r: r.sum(axis=1))
    candidates = nn_candidates(trigger, events.counts, RING, lambda r: r.sum(axis=1), pedestal=trigger_input.pedestal)
    assert candidates.rois.shape[1] == RING.n_inputs == 12 * 16
    ring = view_modules(instrument, "ring")
    for i in range(0, len(candidates.event), max(len(candidates.event) // 20, 1)):
        e, g, k = candidates.event[i], candidates.group[i], candidates.sample[i]
        expected = np.full((12, RING.window), trigger_input.pedestal)
        there = ring[g] >= 0
        expected[there] = events.counts[e][ring[g][there]][:, k - RING.n_before : k + RING.n_after]
        np.testing.assert_array_equal(candidates.rois[i].reshape(12, -1), expected)


@pytest.fixture(scope="module")
def ring_simulation():
    return SubsetSimulation(NSBRateEstimator(TriggerInput(), DARK), RING, lambda r: r.sum(axis=1).astype(float),
                            n_per_level=500, thin=2)


def test_ring_strata_hold_the_ring_big_photoelectrons(ring_simulation):
    """Big p.e. in the ring are stratified by number (entries 3), independently of the group's: the strata's
    probabilities and what is left out add up to one, and the likeliest come first."""
    sim = ring_simulation
    strata, left_out = sim.strata(1.0)
    assert left_out <= 1.0
    assert sum(s.probability for s in strata) + left_out / sim.rate_scale == pytest.approx(1, abs=1e-12)
    assert sim.mean_big_ring == pytest.approx(3 * sim.mean_big)
    by_modules = {s.modules: s.probability for s in strata}
    assert by_modules[(3,)] == pytest.approx(by_modules[()] * sim.mean_big_ring)
    assert by_modules[(0, 3)] == pytest.approx(by_modules[(0,)] * sim.mean_big_ring)
    assert list(by_modules.values()) == sorted(by_modules.values(), reverse=True)


def test_ring_moves_keep_the_plain_nsb(ring_simulation):
    """Moves of windows with a big p.e. in the group and one in the ring (a hop to another ring module, steps in
    time and amplitude, a new group) leave them plain NSB of that stratum: the ring's and the group's counts keep
    their distribution, and the sums where the trigger reads stay the window's."""
    sim = ring_simulation
    stratum = next(s for s in sim.strata(1.0)[0] if s.modules == (0, 3))
    rng = np.random.default_rng(8)
    fresh, moved = sim.draw(4000, stratum, rng), sim.draw(4000, stratum, rng)
    assert (fresh.big[:, 1, 0] >= 3).all() and (fresh.big[:, 0, 0] < 3).all()
    for _ in range(20):
        proposal, inside = sim.propose(moved, 0.5, rng)
        moved = proposal.where(inside, moved)
    assert (moved.big[:, 1, 0] >= 3).all() and (moved.big[:, 0, 0] < 3).all()
    assert len(np.unique(moved.big[:, 1, 0])) == 9 and len(np.unique(moved.group)) > 400
    np.testing.assert_allclose(sim.read_sums(moved), sim.sums(moved)[..., sim.read], rtol=0, atol=1e-9)
    for part in (slice(0, 3), slice(3, 12)):
        a, b = (sim.counts(w)[:, part].astype(int).sum(axis=1)[:, 20:28] for w in (fresh, moved))
        assert np.abs(a.mean(axis=0) - b.mean(axis=0)).max() < 4 * a.std() / np.sqrt(len(a)) * np.sqrt(2)
        assert b.std() == pytest.approx(a.std(), rel=0.1)


def test_ring_rate_agrees_with_counting():
    """A stand-in score that reads the ring (the group's counts plus half of the three brightest ring modules'),
    at MHz rates where counting is quick, through the same trigger code as showers."""

    def score(rois):
        r = rois.reshape(len(rois), 12, -1).astype(float)
        return r[:, :3].sum(axis=(1, 2)) + 0.5 * np.sort(r[:, 3:].sum(axis=2), axis=1)[:, -3:].sum(axis=1)

    simulation = SubsetSimulation(NSBRateEstimator(TriggerInput(), DARK), RING, score, n_per_level=1000, thin=2)
    rng = np.random.default_rng(5)
    _, _, pilot = brute_force_gated_rate(simulation.input, DARK, RING, score, [np.inf], 150, rng)
    thresholds = np.quantile(pilot, [0.3, 0.8, 0.95])
    counted, counted_err, _ = brute_force_gated_rate(simulation.input, DARK, RING, score, thresholds, 4000, rng)
    assert np.all(counted > 1e5)
    rates = simulation.camera_rates(thresholds, rng, min_rate_hz=1e5, n_runs=3)
    pulls = (rates.rate_hz - counted) / np.hypot(rates.error_hz, counted_err)
    assert np.all(np.abs(pulls) < 3), (rates.rate_hz, counted)
    assert np.all(np.abs(rates.rate_hz / counted - 1) < 0.4), (rates.rate_hz, counted)


@pytest.fixture(scope="module")
def ring_model(simulated, tmp_path_factory):
    folder = tmp_path_factory.mktemp("ring_model")
    code = main([
        "train", "--gamma", str(simulated["gamma"]), "--output", str(folder), "--view", "ring", "--epochs", "3",
        "--n-nsb-examples", "20000", "--n-calibration", "6000", "--calibration-runs", "2", "--calibration-windows", "200",
        "--no-progress", "--seed", "3",
    ])
    assert code == 0
    return folder


def test_ring_network_trains_evaluates_and_is_refused_by_the_hardware(ring_model, simulated, tmp_path, capsys):
    model, config = load_trigger(ring_model)
    assert config["roi"]["view"] == "ring" and config["input"]["n_inputs"] == 192
    assert model.get_layer("modules").output.shape[1:] == (12, 16)
    score = score_function(model)
    assert np.all(np.isfinite(score(np.full((2, 192), 16))))
    out = tmp_path / "evaluation"
    code = main(["evaluate", "--model", str(ring_model), "--gamma", str(simulated["gamma"]), "--output", str(out),
                 "--n-rate-samples", "6000", "--rate-runs", "2", "--rate-precision", "0", "--rate-windows", "200", "--no-real"])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["analog_sum"]["rate_hz"] > 0 and len(summary["nn"]["rate_runs_hz"]) == 2
    # the RTL top sends the network the group's three modules: a ring network is refused, not built wrong
    with pytest.raises(ModelError, match="'ring' view"):
        TriggerSpec.from_config(config, source="trigger.json").top  # noqa: B018  (the property raises)
    capsys.readouterr()
    assert main(["build", str(ring_model), "--out", str(tmp_path / "build")]) == 2
    assert "'ring' view" in capsys.readouterr().err
