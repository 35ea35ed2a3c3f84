"""The NN trigger: training, the saved model, operating points at equal rate, and `trigger-synth evaluate`."""

import json

import numpy as np
import pytest

from trigger.analog_sum import AnalogSumTrigger
from trigger.cli import main
from trigger.events import read_trigger_events
from trigger.inputs import TriggerInput
from trigger.nn.model import TriggerModelError, load_trigger, score_function
from trigger.nn.roi import RoiGeometry
from trigger.nn.trigger import analog_sum_first, nn_candidates, nn_first
from trigger.operating_point import analog_sum_threshold, relative_error, subset_rates
from trigger.rates import NSBRateEstimator, brute_force_gated_rate
from trigger.subset_simulation import SubsetRates

DARK = 0.233591


@pytest.fixture(scope="module")
def loaded(trigger_model):
    return load_trigger(trigger_model)


def test_saved_model_describes_input_roi_and_operating_point(loaded):
    model, config = loaded
    assert config["input"] == {**TriggerInput().describe(), "n_inputs": 48, "signed": False, "clip": 31}
    geometry = RoiGeometry(**config["roi"])
    assert geometry.n_inputs == model.input_shape[1] == 48
    point = config["operating_point"]
    base, nn = point["analog_sum"], point["nn"]
    # the gate sits below the baseline threshold, whose rate is at most the target; the NN's threshold is the
    # lowest on its grid whose subset-simulated rate is at most the baseline's
    assert 48 < geometry.gate < base["threshold"]
    assert 0 < base["rate_hz"] <= point["target_rate_hz"]
    assert nn["method"] == "subset simulation"
    assert -32 <= nn["threshold"] < 64 and 0 <= nn["rate_hz"] <= base["rate_hz"]
    assert config["architecture"]["ebops"] > 0
    assert config["training"]["n_signal"] > 0 and config["training"]["n_background"] > 0
    training = config["training"]
    # seeds from 3 on until two beat the accuracy floor; those two are the candidates, and the one that keeps
    # more held-out gamma ROIs at its own threshold is saved, with its threshold set anew
    attempts, candidates = training["attempts"], training["candidates"]
    assert [a["seed"] for a in attempts] == list(range(3, 3 + len(attempts)))
    assert [c["seed"] for c in candidates] == [a["seed"] for a in attempts if a["val_binary_accuracy"] >= 0.6]
    best = max(candidates, key=lambda c: c["validation_gamma_efficiency"])
    assert training["chosen_seed"] == best["seed"] and config["architecture"]["ebops"] == pytest.approx(best["ebops"])
    for c in candidates:
        (round_,) = c["hard_negative_rounds"]
        assert round_["accepted_windows"] > 0


def test_scores_are_fixed_point_and_survive_saving(loaded, trigger_model):
    model, _ = loaded
    rng = np.random.default_rng(0)
    rois = np.concatenate([rng.integers(0, 256, (500, 48)), np.zeros((1, 48)), np.full((1, 48), 255)])
    scores = score_function(model)(rois)
    assert np.all(np.isfinite(scores))
    # every output is a multiple of a power of two: fixed point, as the hardware computes it
    assert any(np.all(np.mod(scores * 2.0**f, 1) == 0) for f in range(0, 24))
    again, _ = load_trigger(trigger_model)
    assert np.array_equal(score_function(again)(rois), scores)


def test_network_sees_counts_clipped_at_the_declared_clip(loaded):
    """Above the clip every count looks the same to the network: one bright module sample cannot outweigh spread light."""
    model, config = loaded
    clip = config["input"]["clip"]
    rng = np.random.default_rng(1)
    rois = rng.integers(0, 256, (400, 48))
    score = score_function(model)
    assert np.array_equal(score(rois), score(np.minimum(rois, clip)))
    # below the clip the counts still matter
    assert len(np.unique(score(np.minimum(rois, clip)))) > 10


def test_gated_rate_agrees_with_counting(loaded):
    """Both NN-rate estimators (importance sampling with gate tilts, subset simulation) against counting NN
    triggers in plain NSB windows (MHz rates)."""
    model, config = loaded
    geometry, score = RoiGeometry(**config["roi"]), score_function(model)
    trigger_input = TriggerInput()
    rng = np.random.default_rng(21)
    _, _, pilot = brute_force_gated_rate(trigger_input, DARK, geometry, score, [np.inf], 150, rng)
    thresholds = np.quantile(pilot, [0.3, 0.7])
    # 2000 windows (the counted rates to 5-8 %) and 4 runs: with 800 and 3 the comparison rested on the luck of the
    # draw (a change of the random stream alone moved the subset/counted ratio from within 0.35 to 1.55)
    counted, counted_err, scores = brute_force_gated_rate(trigger_input, DARK, geometry, score, thresholds, 2000, rng)
    assert len(scores) > 20 and np.all(counted > 3e5)
    estimator = NSBRateEstimator(trigger_input, DARK)
    samples = estimator.sample(8000, estimator.thetas_for([geometry.gate - 12, geometry.gate + 2]), rng)
    rates, errors = estimator.gated_rates(samples, geometry, score, thresholds)
    pulls = (rates - counted) / np.hypot(errors, counted_err)
    assert np.all(np.abs(pulls) < 4), (rates, counted)
    # the subset simulation that sets and measures the NN's rate, on the same thresholds
    sus = subset_rates(estimator, geometry, score, thresholds, rng, n_runs=4, n_per_level=1000, thin=2, min_rate_hz=1e5)
    pulls = (sus.rate_hz - counted) / np.hypot(sus.error_hz, counted_err)
    assert np.all(np.abs(pulls) < 4) and np.all(np.abs(sus.rate_hz / counted - 1) < 0.35), (sus.rate_hz, counted)


def test_subset_rates_add_runs_until_the_precision(loaded):
    """The NN's rate to a chosen relative error: runs are added in pairs until it is reached or the cap, never past."""
    model, config = loaded
    geometry, score = RoiGeometry(**config["roi"]), score_function(model)
    trigger_input = TriggerInput()
    rng = np.random.default_rng(5)
    _, _, pilot = brute_force_gated_rate(trigger_input, DARK, geometry, score, [np.inf], 150, rng)
    thresholds = [np.quantile(pilot, 0.5)]
    estimator = NSBRateEstimator(trigger_input, DARK)
    options = dict(n_runs=2, n_per_level=300, thin=2, min_rate_hz=1e5, max_runs=6)
    for precision in (0.5, 1e-4):
        sus = subset_rates(estimator, geometry, score, thresholds, rng, precision=precision, **options)
        n = len(sus.runs)
        assert n in (2, 4, 6)
        assert relative_error(sus) <= precision or n == 6
        if n > 2:  # it went on only while the precision was not there
            assert not relative_error(SubsetRates(sus.thresholds, sus.runs[:-2], sus.strata)) <= precision
    assert n == 6  # 1e-4 is out of reach: stopped at the cap


def test_model_folder_errors(tmp_path, trigger_model):
    with pytest.raises(TriggerModelError, match="does not exist"):
        load_trigger(tmp_path / "nowhere")
    (tmp_path / "partial").mkdir()
    (tmp_path / "partial" / "trigger.json").write_text((trigger_model / "trigger.json").read_text())
    with pytest.raises(TriggerModelError, match="missing model.keras"):
        load_trigger(tmp_path / "partial")
    (tmp_path / "partial" / "model.keras").write_bytes(b"not a zip archive")
    with pytest.raises(TriggerModelError, match="not a Keras model archive"):
        load_trigger(tmp_path / "partial")


def test_decisions_match_a_direct_loop(loaded, simulated, instrument):
    """The vectorised golden model against a plain loop over samples and groups."""
    model, config = loaded
    geometry = RoiGeometry(**config["roi"])
    trigger_input = TriggerInput(instrument=instrument)
    asum = AnalogSumTrigger(instrument=instrument)
    events = read_trigger_events(simulated["gamma"], trigger_input, max_tel_events=12)
    score = score_function(model)
    threshold = config["operating_point"]["nn"]["threshold"]
    start, stop = geometry.decision_range(events.counts.shape[-1])
    candidates = nn_candidates(asum, events.counts, geometry, score)
    nn = nn_first(candidates, len(events), threshold)
    base = analog_sum_first(asum, events.counts, config["operating_point"]["analog_sum"]["threshold"], (start, stop))
    for i in range(len(events)):
        sums = asum.group_sums(events.counts[i]).astype(int)
        expect_nn, expect_base = -1, -1
        for k in range(start, stop):
            if expect_base < 0 and (sums[:, k] > config["operating_point"]["analog_sum"]["threshold"]).any():
                expect_base = k
            for g in np.nonzero((sums[:, k - 1] <= geometry.gate) & (sums[:, k] > geometry.gate))[0]:
                modules = asum.group_modules[g]
                roi = events.counts[i][modules][:, k - geometry.n_before : k + geometry.n_after].reshape(1, -1)
                if expect_nn < 0 and score(roi)[0] > threshold:
                    expect_nn = k
        assert (nn[i], base[i]) == (expect_nn, expect_base)
    assert (base >= 0).any()
    # in blocks of a few events (how whole files are decided, to bound the memory) the same decisions
    blocks = analog_sum_first(asum, events.counts, config["operating_point"]["analog_sum"]["threshold"], (start, stop),
                              chunk=5)
    np.testing.assert_array_equal(blocks, base)


def test_analog_sum_operating_point_is_the_lowest_threshold_below_target(instrument):
    estimator = NSBRateEstimator(TriggerInput(instrument=instrument), DARK)
    samples = estimator.sample(8000, estimator.thetas_for([80, 100]), np.random.default_rng(2))
    point = analog_sum_threshold(estimator, samples, 1e4)
    rates, _ = estimator.analog_sum_rates(samples, [point.threshold - 1, point.threshold])
    assert rates[1] <= 1e4 < rates[0]
    with pytest.raises(ValueError, match="no threshold"):
        analog_sum_threshold(estimator, samples, 1e-9, search=(60, 70))


def test_evaluate_writes_the_summary_contract(trigger_model, simulated, tmp_path):
    out = tmp_path / "evaluation"
    code = main([
        "evaluate", "--model", str(trigger_model), "--gamma", str(simulated["gamma"]), "--proton", str(simulated["proton"]),
        "--output", str(out), "--n-rate-samples", "6000", "--rate-runs", "2", "--rate-precision", "0", "--rate-windows", "200",
    ])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    for key in ("accidental_rate_hz", "nsb_rate_ghz", "analog_sum", "nn", "threshold_ratio", "energy_bins_gev"):
        assert key in summary
    assert summary["nsb_rate_ghz"] == pytest.approx(DARK)
    n_bins = len(summary["energy_bins_gev"]) - 1
    for name in ("analog_sum", "nn"):
        s = summary[name]
        assert {"threshold", "energy_threshold_gev", "efficiency", "energy_bins_gev"} <= set(s)
        assert len(s["efficiency"]) == n_bins
        assert all(e is None or 0 <= e <= 1 for e in s["efficiency"])
        assert np.isfinite(s["rate_hz"]) and s["rate_hz"] >= 0 and s["rate_error_hz"] >= 0
    assert len(summary["nn"]["rate_runs_hz"]) == 2
    assert summary["nn"]["rate_precision"]["goal"] is None and summary["nn"]["rate_precision"]["runs"] == 2
    # a 3-epoch network may sit where no NSB sample reaches; the baseline's rate is always measured
    assert summary["analog_sum"]["rate_hz"] > 0
    assert sum(summary["analog_sum"]["n_showers"]) == 40
    ratio = summary["threshold_ratio"]
    a, n = summary["analog_sum"]["energy_threshold_gev"], summary["nn"]["energy_threshold_gev"]
    assert ratio is None or ratio == pytest.approx(n / a)
    matched = summary.get("analog_sum_at_nn_rate")
    if matched:
        # paired counts: NN minus rate-matched baseline showers per bin is exactly the discordant difference
        for i, total in enumerate(matched["n_showers"]):
            if total:
                difference = (summary["nn"]["efficiency"][i] - matched["efficiency"][i]) * total
                assert difference == pytest.approx(matched["showers_nn_only"][i] - matched["showers_analog_sum_only"][i])
    assert summary["proton"]["analog_sum"]["array_rate_hz"] >= 0
    # every real sim_telarray file went through both triggers
    real = summary["real_events"]
    gamma = next(v for k, v in real.items() if k.startswith("gamma_run000007"))
    assert gamma["telescope_events"] == 13 and gamma["analog_sum_triggers"] > 0
    for name in ("efficiency.png", "rates.png", "real_events.json"):
        assert (out / name).stat().st_size > 0
    # statistical errors from the bootstrap: none where there is no value (40 showers may leave too few resamples)
    for entry in (summary["analog_sum"], summary["nn"], *([matched] if matched else [])):
        error = entry["energy_threshold_error_gev"]
        assert error is None or (entry["energy_threshold_gev"] is not None and error >= 0)
    for key in ("threshold_ratio", "threshold_ratio_at_nn_rate"):
        assert (key in summary) == (f"{key}_error" in summary)
        assert summary.get(f"{key}_error") is None or (summary[key] is not None and summary[f"{key}_error"] >= 0)
    # the real-events check, recounted from the per-event rows it summarises
    threshold, check = summary["analog_sum"]["threshold"], summary["real_events_check"]
    rows = [(name, r) for name, v in json.loads((out / "real_events.json").read_text()).items() for r in v.get("events", [])]
    # the analog sum decides on exactly the samples the in-window largest group sum is taken over
    assert all(r["analog_sum"] == (r["max_group_sum_in_window"] > threshold) for _, r in rows)
    assert all(r["max_group_sum_in_window"] <= r["max_group_sum"] for _, r in rows)
    clear = [(name, r) for name, r in rows if r["max_group_sum_in_window"] >= threshold + 10]
    assert check["min_group_sum"] == threshold + 10 and check["n_events"] == len(clear) > 0
    assert check["n_nn_triggered"] == sum(r["nn"] for _, r in clear)
    assert check["fraction"] == pytest.approx(check["n_nn_triggered"] / check["n_events"])
    assert [(m["file"], m["event_id"], m["tel_id"]) for m in check["misses"]] == [
        (name, r["event_id"], r["tel_id"]) for name, r in clear if not r["nn"]]


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--gamma", "/nonexistent.h5"], "does not exist"),
        (["evaluate", "--model", "/nonexistent", "--gamma", "/nonexistent.h5"], "does not exist"),
        (["train", "--gamma", "{gamma}", "--rate", "2e7"], "need 0 < --rate"),
        (["train", "--gamma", "{gamma}", "--calibration-windows", "50"], "--calibration-windows >= 100"),
        (["train", "--gamma", "{gamma}", "--candidates", "0"], "--candidates must be at least 1"),
    ],
)
def test_cli_errors_are_clear(args, message, capsys, simulated):
    args = [a.format(gamma=simulated["gamma"]) for a in args]
    assert main(args) != 0
    assert message in capsys.readouterr().err


def test_evaluate_at_a_given_nn_threshold(trigger_model, simulated, tmp_path):
    # a threshold no score reaches: the NN then triggers no shower and no NSB window; the baseline keeps its own
    out = tmp_path / "evaluation"
    code = main([
        "evaluate", "--model", str(trigger_model), "--gamma", str(simulated["gamma"]), "--output", str(out),
        "--n-rate-samples", "3000", "--rate-runs", "2", "--rate-windows", "200", "--no-real", "--nn-threshold", "1e6",
    ])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    config = json.loads((trigger_model / "trigger.json").read_text())
    assert summary["nn"]["threshold"] == 1e6
    assert summary["analog_sum"]["threshold"] == config["operating_point"]["analog_sum"]["threshold"]
    assert summary["nn"]["rate_hz"] == 0 and not any(summary["nn"]["efficiency"])
    # no run sees a trigger: the rate is known exactly, so --rate-precision's default adds no runs
    precision = summary["nn"]["rate_precision"]
    assert precision["goal"] == 0.1 and precision["runs"] == 2 and precision["relative_error"] == 0 and precision["met"]


def test_training_that_never_beats_chance_fails_and_saves_nothing(simulated, tmp_path, capsys):
    # an unreachable accuracy floor fails every run: each seed is tried, then a clear error and no model
    out = tmp_path / "model"
    code = main([
        "train", "--gamma", str(simulated["gamma"]), "--output", str(out), "--epochs", "1", "--hidden", "4",
        "--n-nsb-examples", "3000", "--n-calibration", "3000", "--no-progress", "--seed", "5",
        "--TriggerTraining.min_val_accuracy=1.01", "--TriggerTraining.restarts=1",
    ])
    assert code != 0
    err = capsys.readouterr().err
    assert "every training run ended below 1.01" in err and "seed 5:" in err and "seed 6:" in err
    assert not (out / "trigger.json").exists()


def test_discordant_showers_count_each_side_per_bin():
    from types import SimpleNamespace

    from trigger.performance import discordant_showers

    result = SimpleNamespace(run=SimpleNamespace(energy=np.array([0.01, 0.02, 0.05, 0.2, 0.3])))
    nn = np.array([True, True, False, True, False])
    baseline = np.array([True, False, True, False, False])
    counts = discordant_showers(result, np.array([0.005, 0.1, 1.0]), nn, baseline)
    assert counts == {"first_only": [1, 1], "second_only": [1, 0]}
