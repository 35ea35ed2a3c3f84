"""Evaluation on known inputs, on DL2 from a trained model, and the Hillas + random-forest baseline."""

import json

import astropy.units as u
import numpy as np
import pytest
from astropy.table import QTable

from reconstruction.errors import InputError
from reconstruction.evaluate import bootstrap_metrics, default_energy_bins, evaluate, metrics_from_events


def test_metrics_on_known_events():
    rng = np.random.default_rng(0)
    n = 400
    events = QTable()
    events["true_shower_primary_id"] = np.r_[np.zeros(n, int), np.full(n, 101)]
    events["true_energy"] = 10 ** rng.uniform(-1, 1, 2 * n) * u.TeV
    events["reco_energy"] = events["true_energy"] * 1.1  # a pure 10% bias, no spread
    events["gammaness"] = np.r_[rng.uniform(0.6, 1, n), rng.uniform(0, 0.4, n)]  # separable
    events["theta"] = np.full(2 * n, 0.2) * u.deg
    m = metrics_from_events(events)
    assert m["auc"] == 1.0
    assert len(m["energy_bins_gev"]) == len(m["energy_resolution"]) + 1 == len(default_energy_bins())
    filled = [i for i, k in enumerate(m["n_gamma_energy"]) if k > 0]
    assert filled and all(m["energy_bias"][i] == pytest.approx(0.1) for i in filled)
    assert all(m["energy_resolution"][i] == pytest.approx(0.0, abs=1e-9) for i in filled)
    assert all(m["angular_resolution_deg"][i] == pytest.approx(0.2) for i in filled)
    # empty bins are null, not NaN, so the JSON stays standard
    assert all(m["energy_resolution"][i] is None for i, k in enumerate(m["n_gamma_energy"]) if k == 0)
    json.dumps(m, allow_nan=False)


def test_bootstrap_errors_match_the_known_spread():
    """The bootstrap error of a 68 % containment and of a resolution shrinks as 1/sqrt(n) and is ~0 without spread."""
    rng = np.random.default_rng(1)

    def events(n):
        t = QTable()
        t["true_shower_primary_id"] = np.r_[np.zeros(n, int), np.full(n, 101)]
        t["true_energy"] = np.full(2 * n, 0.5) * u.TeV
        t["reco_energy"] = t["true_energy"] * (1 + 0.2 * rng.standard_normal(2 * n))
        t["gammaness"] = rng.uniform(0, 1, 2 * n)
        t["theta"] = np.abs(rng.standard_normal(2 * n)) * 0.1 * u.deg
        return t

    small, large = bootstrap_metrics(events(100), n=100), bootstrap_metrics(events(1600), n=100)
    for key in ("energy_resolution", "angular_resolution_deg"):
        ratio = small["errors"]["overall"][key] / large["errors"]["overall"][key]
        assert 2.5 < ratio < 6.5, (key, ratio)  # sqrt(16) = 4
    # the AUC of random scores: its error is that of a Mann-Whitney U, about 0.04 for 100 + 100 events
    assert 0.02 < small["errors"]["auc"] < 0.07
    # bins without gammas have no error, as they have no value
    filled = [i for i, k in enumerate(small["n_gamma_energy"]) if k]
    assert all((small["errors"]["energy_resolution"][i] is None) == (i not in filled)
               for i in range(len(small["n_gamma_energy"])))
    json.dumps(small, allow_nan=False)


def test_evaluate_dl2_writes_json_and_plot(mono_dl2, tmp_path):
    m = evaluate(mono_dl2, level="telescope", output_dir=tmp_path, label="mono")
    assert 0 <= m["auc"] <= 1
    assert json.loads((tmp_path / "mono.json").read_text())["auc"] == m["auc"]
    assert (tmp_path / "mono.png").stat().st_size > 10_000
    with pytest.raises(InputError, match="gamma.dl2.h5: DL2 file has no /dl2/event/subarray/classification/Nothing"):
        evaluate(mono_dl2, prefix="Nothing")


def test_hillas_random_forest_baseline(reco_files, tmp_path):
    from reconstruction.baseline import PREFIX, HillasRandomForest

    rf = HillasRandomForest(tmp_path / "work", n_estimators=20, max_depth=6).fit(reco_files)
    out = [rf.predict(f, tmp_path / f.name.replace(".dl1.h5", ".rf.dl2.h5")) for f in reco_files]
    m = evaluate(out, prefix=PREFIX)
    # trained and evaluated on the same showers: the forest must separate them
    assert m["auc"] > 0.8
    assert m["overall"]["energy_resolution"] is not None and m["overall"]["angular_resolution_deg"] < 2
