"""The energy thresholds' bootstrap errors and the real-events check, on inputs whose answers are known."""

import json
from types import SimpleNamespace

import numpy as np
import pytest

from trigger.evaluation import CRAB_INDEX, _erf_model, bootstrap_error, energy_threshold, threshold_bootstrap
from trigger.performance import _threshold_errors, real_events_check
from trigger.reports import format_real_events_check, gate_in_window_text

E_MIN, E_MAX = 0.005, 0.5  # TeV, as the benchmark's test gammas
TURN_ON = {"a": (0.8, np.log10(0.030), 0.2), "b": (0.8, np.log10(0.045), 0.2)}  # plateau, log10 E50 (TeV), width (dex)


def synthetic_run(n, seed=0):
    """``n`` showers from E^-2 with two paired triggers: one uniform draw per shower decides both, as two
    thresholds on the same light would, so a shower trigger "b" takes is one trigger "a" takes too."""
    rng = np.random.default_rng(seed)
    energy = 1 / (1 / E_MIN - rng.random(n) * (1 / E_MIN - 1 / E_MAX))  # E^-2: 1/E is uniform
    draw = rng.random(n)
    triggered = {name: draw < _erf_model(np.log10(energy), *p) for name, p in TURN_ON.items()}
    return SimpleNamespace(energy=energy, energy_min=E_MIN, energy_max=E_MAX, n_showers=n), triggered


def true_threshold(name):
    grid = np.linspace(np.log10(E_MIN), np.log10(E_MAX), 2000)
    return 10 ** grid[np.argmax((10**grid) ** (1 - CRAB_INDEX) * _erf_model(grid, *TURN_ON[name]))]


def test_identical_triggers_have_ratio_one_with_no_error():
    run, triggered = synthetic_run(1500)
    boot = threshold_bootstrap(run, {"first": triggered["a"], "second": triggered["a"].copy()}, n_resamples=60, seed=3)
    assert np.array_equal(boot["first"], boot["second"], equal_nan=True)
    assert bootstrap_error(boot["first"] / boot["second"]) == 0
    assert bootstrap_error(boot["first"]) > 0


def test_bootstrap_is_reproducible_and_resamples_all_triggers_together():
    run, triggered = synthetic_run(1500)
    once = threshold_bootstrap(run, triggered, n_resamples=20, seed=7)
    again = threshold_bootstrap(run, triggered, n_resamples=20, seed=7)
    other = threshold_bootstrap(run, triggered, n_resamples=20, seed=8)
    assert all(np.array_equal(once[k], again[k], equal_nan=True) for k in triggered)
    assert not np.array_equal(once["a"], other["a"], equal_nan=True)
    # one resample's "a" threshold is the nominal one computed on the same drawn showers
    sample = np.random.default_rng(7).integers(0, run.n_showers, run.n_showers)
    assert once["a"][0] == energy_threshold(run, triggered["a"], CRAB_INDEX, sample)[0]


def test_error_shrinks_as_one_over_sqrt_n_and_covers_the_truth():
    errors = {}
    for n in (1500, 6000):
        run, triggered = synthetic_run(n, seed=n)
        boot = threshold_bootstrap(run, triggered, n_resamples=200, seed=1)
        nominal = {k: energy_threshold(run, triggered[k])[0] for k in triggered}
        error = {k: bootstrap_error(boot[k]) for k in triggered}
        ratio_error = bootstrap_error(boot["b"] / boot["a"])
        errors[n] = (error["a"], ratio_error)
        for k in triggered:
            assert abs(nominal[k] - true_threshold(k)) < 3 * error[k], (n, k, nominal[k], true_threshold(k), error[k])
        ratio = nominal["b"] / nominal["a"]
        assert abs(ratio - true_threshold("b") / true_threshold("a")) < 3 * ratio_error
        # pairing: the same showers decide both, so the two thresholds move together (correlation ~0.35 here) and
        # the ratio is better known than two independent errors would say
        both = np.isfinite(boot["a"]) & np.isfinite(boot["b"])
        assert np.corrcoef(np.log(boot["a"][both]), np.log(boot["b"][both]))[0, 1] > 0.15
        assert ratio_error < ratio * np.hypot(error["a"] / nominal["a"], error["b"] / nominal["b"])
    for small, large in zip(errors[1500], errors[6000]):
        assert 0.35 < large / small < 0.7, errors  # 1/sqrt(4) = 0.5, within the bootstraps' own noise


def test_no_triggers_give_no_threshold_and_no_error():
    run, triggered = synthetic_run(400)
    none = np.zeros(run.n_showers, bool)
    boot = threshold_bootstrap(run, {"a": triggered["a"], "none": none}, n_resamples=30, seed=0)
    assert np.all(np.isnan(boot["none"])) and bootstrap_error(boot["none"]) is None
    assert bootstrap_error([]) is None
    # half the resamples without a threshold: what is left would be only the lucky ones
    assert bootstrap_error([1.0, 2.0, np.nan, np.nan, np.nan]) is None
    # summary.json's fields: None where there is no threshold, and strict JSON
    showers = SimpleNamespace(run=run, triggered={"analog_sum": triggered["a"], "nn": none})
    nominal = energy_threshold(run, triggered["a"])[0] * 1e3
    summary = {"analog_sum": {"energy_threshold_gev": nominal}, "nn": {"energy_threshold_gev": None}, "threshold_ratio": None}
    _threshold_errors(summary, showers, None, n_resamples=30, seed=0)
    assert summary["nn"]["energy_threshold_gev"] is None and summary["nn"]["energy_threshold_error_gev"] is None
    assert summary["analog_sum"]["energy_threshold_error_gev"] > 0
    assert summary["threshold_ratio_error"] is None and "threshold_ratio_at_nn_rate_error" not in summary
    json.dumps(summary, allow_nan=False)


def _row(event_id, in_window, nn, tel_id=1, whole=None, early=False):
    return {"obs_id": 7, "event_id": event_id, "tel_id": tel_id, "max_group_sum": whole or in_window,
            "max_group_sum_in_window": in_window, "gate_before_window": early, "brightest_module_share": 0.5,
            "analog_sum": in_window > 100, "nn": nn}


def test_real_events_check_counts_the_clear_showers_the_nn_misses():
    real = {
        "gamma.simtel.zst": {"events": [
            _row(1, 109, False),  # 9 counts over: not clear, left out
            _row(2, 110, True),
            _row(3, 150, False, tel_id=3, whole=180),
            _row(4, 40, False, whole=400),  # bright only outside the decision window: no test
        ]},
        "proton.simtel.zst": {"events": [_row(5, 300, True), _row(6, 111, False, tel_id=2, early=True)]},
        "muons.simtel.zst": {"error": "no LST"},
    }
    check = real_events_check(real, threshold=100)
    assert (check["min_group_sum"], check["n_events"], check["n_nn_triggered"]) == (110, 4, 2)
    assert check["fraction"] == pytest.approx(0.5)
    assert [(m["file"], m["event_id"], m["tel_id"], m["max_group_sum_in_window"], m["max_group_sum"])
            for m in check["misses"]] == [("gamma.simtel.zst", 3, 3, 150, 180), ("proton.simtel.zst", 6, 2, 111, 111)]
    assert [m["gate_before_window"] for m in check["misses"]] == [False, True]
    # the same count over the events with no group over the gate just before the decision range
    assert check["gate_in_window"] == {"n_events": 3, "n_nn_triggered": 2, "fraction": pytest.approx(2 / 3)}
    assert gate_in_window_text(check).endswith("NN triggers 2 of 3 = 0.667")
    assert gate_in_window_text(check) in "\n".join(format_real_events_check(check))
    empty = real_events_check({"muons.simtel.zst": {"error": "no LST"}}, threshold=100)
    assert (empty["n_events"], empty["fraction"], empty["misses"]) == (0, None, [])
