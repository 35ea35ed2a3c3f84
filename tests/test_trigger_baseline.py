"""Trigger input, the analog-sum baseline (checked against sim_telarray's own traces) and the NSB rate estimator."""

import numpy as np
import pytest

from trigger.analog_sum import AnalogSumTrigger, array_trigger, compare_with_simtel_traces
from trigger.inputs import TriggerInput
from trigger.nn.roi import RoiGeometry, extract_rois, gate_candidates
from trigger.rates import DECISION_SAMPLE, NSBRateEstimator, brute_force_rate, tilt_keys, tilt_values
from trigger.sizes import N_MODULES

DARK = 0.233591


@pytest.fixture(scope="module")
def trigger_input(instrument):
    return TriggerInput(instrument=instrument)


def test_module_sums_and_quantization(trigger_input, instrument):
    waveforms = np.zeros((2, 1855, 40), dtype=np.float32)
    pixels = instrument.module_pixels[17]
    waveforms[0, pixels, 5] = 1.0  # 7 p.e. per sample in module 17
    waveforms[1, :, :] = 100.0  # saturates every module
    counts = trigger_input(waveforms)
    assert counts.shape == (2, N_MODULES, 40) and counts.dtype == np.uint8
    assert counts[0, 17, 5] == trigger_input.pedestal + 7 * 4
    assert np.count_nonzero(counts[0] != trigger_input.pedestal) == 1
    assert np.all(counts[1] == 255)
    # rounding half up, clipping at zero
    assert trigger_input.quantize(np.array([0.125, -0.126, -100.0])).tolist() == [17, 15, 0]
    assert trigger_input.to_pe(trigger_input.pedestal + 8) == 2.0


@pytest.mark.parametrize("bad", [np.zeros((3, 40)), np.full((1855, 40), np.nan)])
def test_trigger_input_rejects_bad_waveforms(trigger_input, bad):
    with pytest.raises(ValueError):
        trigger_input(bad)


def test_trigger_input_settings_are_checked():
    with pytest.raises(ValueError, match="bits"):
        TriggerInput(bits=1)
    with pytest.raises(ValueError, match="pedestal"):
        TriggerInput(bits=4, pedestal=20)
    description = TriggerInput(bits=10, gain=2.0, pedestal=30).describe()
    assert TriggerInput.from_description(description).describe() == description


def test_group_sums_are_integer_and_bit_exact(instrument):
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 256, size=(3, N_MODULES, 40), dtype=np.uint8)
    trigger = AnalogSumTrigger(instrument=instrument, threshold=600)
    sums = trigger.group_sums(counts)
    g = 123
    expected = counts[:, instrument.group_modules[g], :].astype(int).sum(axis=1)
    assert np.array_equal(sums[:, g], expected)
    fired = trigger.camera_trigger(counts)
    assert np.array_equal(fired, (sums > 600).any(axis=1))
    first = trigger.first_trigger(counts)
    for i in range(3):
        assert first[i] == (np.argmax(fired[i]) if fired[i].any() else -1)
    with pytest.raises(TypeError):
        trigger.group_sums(counts.astype(float))


def test_groups_match_simtel_analog_sum_traces(instrument, simtel_dir):
    """sim_telarray's 474 analog sums are the sums of its pixel traces over our groups."""
    report = compare_with_simtel_traces(simtel_dir / "aux_traces_2030.simtel.zst", instrument)
    assert report["n_groups"] == 474
    assert report["max_group_signal"] > 1000  # a bright muon: the comparison is not trivial
    assert report["max_abs_difference"] < 1e-3 * report["max_group_signal"]
    assert report["correlation"] > 0.999999


def test_array_trigger_two_of_four_within_120ns():
    assert array_trigger([0.0, 100.0, np.nan, np.nan])
    assert not array_trigger([0.0, 130.0, np.nan, np.nan])
    assert not array_trigger([5.0])
    assert array_trigger([0.0, 500.0, 610.0])
    assert not array_trigger([0.0, 100.0], min_telescopes=3)


def test_gate_candidates_and_rois(instrument):
    counts = np.full((1, N_MODULES, 40), 16, dtype=np.uint8)
    counts[0, 40, 20:23] = [60, 90, 50]
    trigger = AnalogSumTrigger(instrument=instrument)
    geometry = RoiGeometry(gate=100)
    event, group, sample = gate_candidates(trigger.group_sums(counts), geometry.gate, geometry.decision_range(40))
    groups_with_40 = set(np.nonzero((instrument.group_modules == 40).any(axis=1))[0])
    assert set(group) == groups_with_40
    assert np.all(sample == 21)  # 48 - 16 + 90 = 122 > 100 first at sample 21
    rois = extract_rois(counts, event, group, sample, geometry, instrument.group_modules)
    assert rois.shape == (len(group), 48)
    column = list(instrument.group_modules[group[0]]).index(40)
    assert rois[0].reshape(3, 16)[column, 9:12].tolist() == [60, 90, 50]


@pytest.fixture(scope="module")
def estimator(trigger_input):
    return NSBRateEstimator(trigger_input, DARK)


def test_rate_estimator_agrees_with_counting(trigger_input, estimator):
    """Importance sampling against plain NSB windows where counting is possible (MHz rates)."""
    rng = np.random.default_rng(11)
    thresholds = np.array([68, 72])
    samples = estimator.sample(6000, estimator.thetas_for([66, 90]), rng)
    rates, errors = estimator.analog_sum_rates(samples, thresholds)
    counted, counted_err = brute_force_rate(trigger_input, DARK, thresholds, 600, rng)
    assert np.all(counted > 1e6)
    pulls = (rates - counted) / np.hypot(errors, counted_err)
    assert np.all(np.abs(pulls) < 4), (rates, counted)


def test_tilted_windows_carry_exact_likelihood_ratios(estimator):
    """Under a tilt of light and of afterpulse-sized p.e. the likelihood ratios average to 1, and the tilt shows."""
    noise, rng, n = estimator.noise, np.random.default_rng(13), 6000
    kernel = noise.tilt_kernel(DECISION_SAMPLE)
    keys = tilt_keys(0.3 * kernel, np.where(kernel > 0.5 * kernel.max(), 3.0, 0.0))
    unique, index = np.unique(keys, return_inverse=True)
    tables = noise.tables(unique)
    _, _, hist, n_big = noise.sample((n,), rng, tables, np.broadcast_to(index, (n, len(keys))), histograms=True)
    c, b = tilt_values(keys)
    weight = np.exp(-(hist @ c + n_big @ b - noise.log_normaliser(tables[0][index])))
    assert abs(weight.mean() - 1) < 5 * weight.std() / np.sqrt(n)
    _, _, plain_hist, plain_big = noise.sample((n,), rng, histograms=True)
    assert n_big.sum() > 2 * max(plain_big.sum(), 1) and hist.sum() > plain_hist.sum()


def test_rate_estimator_reaches_1khz_with_10_percent(estimator):
    rng = np.random.default_rng(12)
    samples = estimator.sample(8000, estimator.thetas_for([80, 110]), rng)
    thresholds = np.arange(80, 111)
    rates, errors = estimator.analog_sum_rates(samples, thresholds)
    assert np.all(np.diff(rates) <= 0)
    near = np.argmin(np.abs(np.log(rates / 1e3)))
    assert 300 < rates[near] < 3000
    assert errors[near] / rates[near] < 0.1
