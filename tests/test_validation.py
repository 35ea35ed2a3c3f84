"""The arithmetic of the shower-by-shower validation against sim_telarray."""

import dataclasses

import numpy as np
import pytest

from trigger.paths import data_dir
from trigger.simulation.recorded import read_recorded_run
from trigger.simulation.validation import (
    Comparison,
    compare,
    impact_distance,
    near_showers,
    signed_time_gradient,
    true_hillas,
)

REAL_GAMMA = data_dir() / "simtel" / "gamma_run000007_za40deg_azm180deg_South_subsystem_lsts_7.0.0_test.simtel.zst"


def test_true_hillas_agrees_with_ctapipe_on_the_same_pixels(instrument):
    import astropy.units as u
    from ctapipe.image import hillas_parameters
    from ctapipe.instrument import CameraGeometry

    lon, lat = instrument.pixel_fov
    psi = np.radians(30)  # an elongated Gaussian along a 30 deg axis
    along = (lon - 0.3) * np.cos(psi) + (lat + 0.2) * np.sin(psi)
    across = -(lon - 0.3) * np.sin(psi) + (lat + 0.2) * np.cos(psi)
    image = 500 * np.exp(-0.5 * (along / 0.25) ** 2 - 0.5 * (across / 0.07) ** 2)
    size, width, length = true_hillas(image[None, :], lon, lat)

    geom = instrument.geometry
    fov = CameraGeometry(name="fov", pix_id=geom.pix_id, pix_x=lon * u.deg, pix_y=lat * u.deg,
                         pix_area=np.ones(len(lon)) * u.deg**2, pix_type=geom.pix_type)
    reference = hillas_parameters(fov, image)
    assert size[0] == pytest.approx(image.sum())
    assert width[0] == pytest.approx(reference.width.to_value(u.deg), rel=1e-6)
    assert length[0] == pytest.approx(reference.length.to_value(u.deg), rel=1e-6)
    assert 0.06 < width[0] < 0.08 and 0.23 < length[0] < 0.27


def test_time_gradient_sign_follows_the_direction_away_from_the_source():
    # image axis along lon, image centre at +0.5 deg from a source at the origin: a positive slope is "later away"
    assert signed_time_gradient(3.0, 0.0, 0.5, 0.0, 0.0, 0.0) == pytest.approx(3.0)
    # same image, axis angle flipped by 180 deg: ctapipe's slope changes sign, the signed gradient does not
    assert signed_time_gradient(-3.0, np.pi, 0.5, 0.0, 0.0, 0.0) == pytest.approx(3.0)
    assert signed_time_gradient(3.0, 0.0, -0.5, 0.0, 0.0, 0.0) == pytest.approx(-3.0)


def test_impact_distance_of_a_vertical_shower():
    d = impact_distance([np.pi / 2], [0.0], [30.0], [40.0], [[0.0, 0.0, 20.0]])
    assert d[0] == pytest.approx(50.0)


def test_ratio_of_medians_and_its_bootstrap_error():
    rng = np.random.default_rng(1)
    real_pair = np.arange(200)
    real = rng.lognormal(0, 0.3, 200)
    toy_pair = np.repeat(real_pair, 5)
    toy = 1.3 * rng.lognormal(0, 0.3, 1000)
    c = compare("size", real_pair, real, toy_pair, toy, rng=np.random.default_rng(2))
    assert c.kind == "ratio" and c.n_real == 200 and c.n_toy == 1000
    assert c.value == pytest.approx(np.median(toy) / np.median(real))
    # the median of a log-normal sample of n has a relative error ~ 1.25 sigma / sqrt(n)
    expected = c.value * 1.25 * 0.3 * np.sqrt(1 / 200 + 1 / 1000)
    assert 0.6 * expected < c.error < 1.6 * expected
    assert not c.holds(0.15) or abs(c.value - 1) <= 2 * c.error


def test_bootstrap_resamples_whole_showers():
    """With ``shower_of`` a shower's LST images are drawn together: one shower seen by three LSTs is one draw."""
    pairs = np.array([1001, 2001, 2002, 2003])  # shower 1 in one LST, shower 2 in three
    sizes = {"pairs": set(), "showers": set()}

    def counting(kind):
        def median(values):
            sizes[kind].add(len(values))
            return np.median(values)
        return median

    values = np.array([1.0, 2.0, 3.0, 4.0])
    compare("size", pairs, values, pairs, values, statistic=counting("pairs"), rng=np.random.default_rng(0))
    compare("size", pairs, values, pairs, values, statistic=counting("showers"), rng=np.random.default_rng(0),
            shower_of=lambda p: np.asarray(p) // 1000)
    assert sizes["pairs"] == {4}  # four pairs drawn, whatever they are
    assert sizes["showers"] == {2, 4, 6}  # two showers drawn: 1 + 1, 1 + 3 or 3 + 3 images


def test_toy_values_of_showers_without_a_real_value_are_left_out():
    c = compare("x", [1, 2], [1.0, 1.0], [1, 1, 3, 3], [2.0, 2.0, 100.0, 100.0], rng=np.random.default_rng(0))
    assert c.n_toy == 2 and c.value == pytest.approx(2.0)
    d = compare("f", [1, 2], [0.0, 1.0], [1, 2], [1.0, 1.0], kind="difference", statistic=np.mean)
    assert d.value == pytest.approx(0.5)


def test_verdict_uses_the_tolerance_or_two_errors():
    assert Comparison("q", "all", 5, 50, 1.0, 1.3, 1.3, 0.2, "ratio").holds(0.15)
    assert not Comparison("q", "all", 50, 500, 1.0, 1.3, 1.3, 0.1, "ratio").holds(0.15)
    assert Comparison("q", "all", 50, 500, 1.0, 1.1, 1.1, 0.01, "ratio").holds(0.15)
    assert not Comparison("q", "all", 0, 0, np.nan, np.nan, np.nan, np.nan, "ratio").holds(0.15)


def test_near_showers_keeps_those_within_reach_of_an_lst():
    run = read_recorded_run(REAL_GAMMA)
    near = near_showers(run, 600.0)
    assert 0 < len(near.showers) < len(run.showers)
    positions = np.array([run.subarray.positions[t].to_value("m") for t in run.tel_ids])
    for shower in run.showers:
        n = len(positions)
        closest = impact_distance(np.full(n, shower.alt), np.full(n, shower.az), np.full(n, shower.core_x),
                                  np.full(n, shower.core_y), positions).min()
        assert (shower in near.showers) == (closest < 600.0)


def test_analog_sum_on_sim_telarrays_own_photo_electrons():
    from trigger.simulation.validation import trigger_decisions

    d = trigger_decisions(read_recorded_run(REAL_GAMMA), 103, seed=1, draws=3)
    assert len(d.event_id) >= 10 and set(d.tel_id.tolist()) <= {1, 2, 3, 4} and d.max_group_sum.shape[1] == 3
    assert d.multiplicity == 2 and d.observable.any()
    assert d.simtel_triggered.any() and (~d.simtel_triggered).any()
    # sim_telarray's triggered images are the bright ones for the project's analog sum too
    sums = np.median(d.max_group_sum, axis=1)
    assert sums[d.simtel_triggered].min() > np.median(sums[~d.simtel_triggered])
    assert 0.8 <= d.agreement <= 1 and 0.8 <= d.self_agreement() <= 1
    assert not trigger_decisions(read_recorded_run(REAL_GAMMA), 10_000, seed=1, draws=1).project_triggered().any()


def test_hardware_stereo_hides_lone_lsts_and_draws_average():
    """Where LSTs trigger in pairs, an event listing no LST says nothing about each one's own decision."""
    from trigger.simulation.validation import TriggerDecisions

    d = TriggerDecisions(event_id=np.array([1, 1, 2, 2]), tel_id=np.array([1, 2, 1, 2]), true_size=np.ones(4),
                         max_group_sum=np.array([[120, 120], [90, 110], [200, 200], [50, 50]]),
                         simtel_triggered=np.array([True, False, False, False]), threshold=100, multiplicity=2)
    assert d.observable.tolist() == [True, True, False, False]
    assert d.agreement_per_image().tolist() == [1.0, 0.5] and d.agreement == 0.75
    assert d.self_agreement() == 0.5  # the second image's two draws disagree with each other
    assert dataclasses.replace(d, multiplicity=1).observable.all()
    assert dataclasses.replace(d, multiplicity=1).agreement_at(300) == 0.75


def test_simtel_threshold_in_counts():
    """sim_telarray's configured asum_threshold, through its own analog-sum traces, in the project's counts."""
    from trigger.simulation.validation import simtel_threshold

    t = simtel_threshold()
    assert t.n_groups > 50 and t.error < 0.05 * t.mv_per_pe_sample
    assert t.threshold_counts == pytest.approx(48 + 4 * t.asum_threshold_mv / t.mv_per_pe_sample)
    # above the 94 counts of 1 kHz NSB rate: sim_telarray's LSTs trigger at a lower rate than the project's baseline
    assert 95 < t.counts < 115

def test_each_run_is_compared_at_its_own_configured_threshold():
    """Productions configure the LSTs' asum_threshold differently; each file's history says which, per telescope."""
    from trigger.simulation.validation import TriggerDecisions, simtel_threshold

    north_7 = read_recorded_run(data_dir() / "simtel" / "proton_run000001_za20deg_azm180deg_North_CTAO-North-Alpha_7.0.0_test.simtel.zst")
    assert north_7.asum_threshold_mv == {1: 200.0, 2: 200.0, 3: 200.0, 4: 200.0}
    assert north_7.discriminator_amplitude_mv == {1: 6.5, 2: 6.5, 3: 6.5, 4: 6.5}
    assert set(read_recorded_run(REAL_GAMMA).asum_threshold_mv.values()) == {260.7}
    t = simtel_threshold()
    assert t.discriminator_amplitude_mv == 6.5 and t.counts_for(t.asum_threshold_mv) == t.counts
    assert t.counts_for(200.0) == int(np.floor(48 + 4 * 200.0 / t.mv_per_pe_sample))
    # twice the p.e. amplitude: the same mV are half the p.e.
    assert t.counts_for(200.0, 13.0) == int(np.floor(48 + 2 * 200.0 / t.mv_per_pe_sample))
    d = TriggerDecisions(event_id=np.array([1, 2]), tel_id=np.array([1, 1]), true_size=np.ones(2),
                         max_group_sum=np.array([[95, 95], [95, 95]]), simtel_triggered=np.array([True, True]),
                         threshold=np.array([90, 103]))
    assert d.agreement_per_image().tolist() == [1.0, 0.0]
    assert d.agreement_per_image(offset=-10).tolist() == [1.0, 1.0] and d.agreement_at(threshold=100) == 0.0
