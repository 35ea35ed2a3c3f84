"""Performance from DL2 files: ROC and AUC, energy bias and resolution, 68% angular resolution per energy bin.

Binning and per-bin statistics are pyirf's (``create_bins_per_decade``,
``energy_bias_resolution``, ``angular_resolution``); the ROC is scikit-learn's.
Events are read back with ctapipe's TableLoader, so anything that writes
ctapipe DL2 tables (the CNNs here, the Hillas + random-forest baseline) is
evaluated by the same code.
"""

from __future__ import annotations

import math
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.coordinates import angular_separation
from astropy.table import QTable, vstack
from ctapipe.io import TableLoader
from pyirf.benchmarks import angular_resolution, energy_bias_resolution
from pyirf.binning import create_bins_per_decade
from sklearn.metrics import roc_auc_score, roc_curve

from lstcommon.files import atomic_output, write_json

from .checks import check_dl2, check_outputs
from .errors import InputError

__all__ = [
    "bootstrap_metrics", "check_dl2", "check_outputs", "common_events", "default_energy_bins", "evaluate", "load_events",
    "metrics_from_events", "plot_comparison",
]

GAMMA_ID = 0
def default_energy_bins():
    """Three bins per decade from 30 GeV to 30 TeV."""
    return create_bins_per_decade(0.03 * u.TeV, 30 * u.TeV, 3)


def load_events(files, prefix="CNN", level="subarray") -> QTable:
    """True and reconstructed quantities per array event (``subarray``) or per image (``telescope``)."""
    name = prefix if level == "subarray" else f"{prefix}_tel"
    rows = []
    files = [files] if isinstance(files, (str, Path)) else list(files)
    if not files:
        raise InputError("no DL2 files given")
    for file_index, path in enumerate(files):
        path = check_dl2(path, prefix, level)
        with TableLoader(path) as loader:
            if level == "subarray":
                table = loader.read_subarray_events(dl2=True, simulated=True)
            else:
                table = loader.read_telescope_events(dl2=True, simulated=True, dl1_parameters=False)
        missing = [c for c in (f"{name}_prediction", f"{name}_energy", f"{name}_alt") if c not in table.colnames]
        if missing:
            raise InputError(f"{path}: DL2 file has no columns {', '.join(missing)} (prefix {prefix!r}, level {level!r})")
        out = QTable()
        # file_index: the gamma and proton files may share (obs_id, event_id)
        out["file_index"] = np.full(len(table), file_index)
        for key in ("obs_id", "event_id", "tel_id") if level == "telescope" else ("obs_id", "event_id"):
            out[key] = np.asarray(table[key])
        out["true_shower_primary_id"] = np.asarray(table["true_shower_primary_id"])
        out["true_energy"] = u.Quantity(table["true_energy"]).to(u.TeV)
        out["reco_energy"] = u.Quantity(table[f"{name}_energy"]).to(u.TeV)
        out["gammaness"] = np.asarray(table[f"{name}_prediction"], dtype=float)
        true_alt, true_az = u.Quantity(table["true_alt"]), u.Quantity(table["true_az"])
        reco_alt, reco_az = u.Quantity(table[f"{name}_alt"]), u.Quantity(table[f"{name}_az"])
        out["theta"] = angular_separation(true_az, true_alt, reco_az, reco_alt).to(u.deg)
        rows.append(out)
    return vstack(rows)


def common_events(named_events: dict) -> dict:
    """The same array events for every reconstruction: those that all of them reconstructed (finite outputs).

    Reconstructions differ in which events they can handle (image cuts, two
    images for a stereo geometry); comparing them on their own selections
    would compare the selections.
    """
    keys = ["file_index", "obs_id", "event_id"]

    def valid_keys(events):
        ok = np.isfinite(events["gammaness"]) & np.isfinite(events["reco_energy"]) & np.isfinite(events["theta"])
        return {tuple(int(v) for v in row) for row in zip(*(np.asarray(events[k])[ok] for k in keys), strict=True)}

    shared = set.intersection(*(valid_keys(e) for e in named_events.values()))
    out = {}
    for name, events in named_events.items():
        rows = zip(*(np.asarray(events[k]) for k in keys), strict=True)
        out[name] = events[np.array([tuple(int(v) for v in row) in shared for row in rows], dtype=bool)]
    return out


def _finite(values):
    return [None if (v is None or not math.isfinite(v)) else float(v) for v in values]


def metrics_from_events(events: QTable, energy_bins=None) -> dict:
    """AUC over all valid events; energy bias/resolution and 68% containment for gammas per true-energy bin."""
    energy_bins = default_energy_bins() if energy_bins is None else energy_bins
    is_gamma = events["true_shower_primary_id"] == GAMMA_ID
    valid = np.isfinite(events["gammaness"])
    labels = is_gamma[valid]
    auc = float(roc_auc_score(labels, events["gammaness"][valid])) if 0 < labels.sum() < len(labels) else float("nan")

    gammas = events[is_gamma]
    with_energy = gammas[np.isfinite(gammas["reco_energy"])]
    with_direction = gammas[np.isfinite(gammas["theta"])]
    eres = energy_bias_resolution(with_energy, energy_bins)
    ares = angular_resolution(with_direction, energy_bins)
    total = [energy_bins[0], energy_bins[-1]]
    eres_all = energy_bias_resolution(with_energy, u.Quantity(total))
    ares_all = angular_resolution(with_direction, u.Quantity(total))
    return {
        "auc": auc,
        "energy_bins_gev": energy_bins.to_value(u.GeV).tolist(),
        "energy_resolution": _finite(eres["resolution"]),
        "energy_bias": _finite(eres["bias"]),
        "angular_resolution_deg": _finite(ares["angular_resolution_68"].to_value(u.deg)),
        "n_gamma_energy": [int(n) for n in _counts(with_energy, energy_bins)],
        "n_gamma_direction": [int(n) for n in ares["n_events"]],
        "overall": {
            "energy_resolution": _finite(eres_all["resolution"])[0],
            "energy_bias": _finite(eres_all["bias"])[0],
            "angular_resolution_deg": _finite(ares_all["angular_resolution_68"].to_value(u.deg))[0],
            "n_events": len(events),
            "n_gamma": int(is_gamma.sum()),
            "n_valid_classification": int(valid.sum()),
        },
    }


def bootstrap_metrics(events: QTable, energy_bins=None, n=200, seed=0) -> dict:
    """:func:`metrics_from_events` with statistical errors: the standard deviation of each figure over ``n``
    resamplings of the events with replacement (``seed`` fixes them).

    Returns the metrics of ``events`` as :func:`metrics_from_events` does, plus
    ``errors``: ``auc``, ``energy_resolution``, ``energy_bias``,
    ``angular_resolution_deg`` (per bin; ``None`` where fewer than two
    resamplings give a value) and ``overall`` (the same three over all energies).
    """
    energy_bins = default_energy_bins() if energy_bins is None else energy_bins
    metrics = metrics_from_events(events, energy_bins)
    rng = np.random.default_rng(seed)
    per_bin = ("energy_resolution", "energy_bias", "angular_resolution_deg")
    draws = {key: [] for key in ("auc", *per_bin, *(f"overall_{k}" for k in per_bin))}
    for _ in range(n):
        sample = metrics_from_events(events[rng.integers(0, len(events), len(events))], energy_bins)
        draws["auc"].append(sample["auc"])
        for key in per_bin:
            draws[key].append([np.nan if v is None else v for v in sample[key]])
            draws[f"overall_{key}"].append(np.nan if sample["overall"][key] is None else sample["overall"][key])

    def spread(values):
        """Standard deviation over the resamplings (axis 0) of the finite values; NaN with fewer than two."""
        values = np.asarray(values, dtype=float)
        flat = values.reshape(len(values), -1)
        out = np.full(flat.shape[1], np.nan)
        for i, column in enumerate(flat.T):
            column = column[np.isfinite(column)]
            if len(column) >= 2:
                out[i] = np.std(column, ddof=1)
        return out.reshape(values.shape[1:])

    metrics["errors"] = {
        "auc": _finite([float(spread(draws["auc"]))])[0],
        **{key: _finite(spread(draws[key])) for key in per_bin},
        "overall": {key: _finite([float(spread(draws[f"overall_{key}"]))])[0] for key in per_bin},
        "n_resamplings": n,
    }
    return metrics


def _counts(events, bins):
    return np.histogram(events["true_energy"].to_value(u.TeV), bins=bins.to_value(u.TeV))[0]


def evaluate(files, prefix="CNN", level="subarray", output_dir=None, energy_bins=None, label=None,
             overwrite=True) -> dict:
    """Metrics of one reconstruction (DL2 prefix) over gamma and proton DL2 files; plots and JSON into output_dir.

    The JSON is strict (``null`` where a value is undefined, e.g. the AUC of
    gammas alone); both files are written whole or not at all.
    """
    if output_dir is not None:
        label = label or f"{prefix}_{level}"
        json_path, png_path = check_outputs(output_dir, label, overwrite)
    events = load_events(files, prefix=prefix, level=level)
    metrics = metrics_from_events(events, energy_bins)
    if output_dir is not None:
        with atomic_output(png_path, overwrite=overwrite) as tmp:
            plot_comparison({label: (metrics, events)}, tmp)
        write_json(json_path, metrics, overwrite=overwrite)
    return metrics


def plot_comparison(results: dict, path, title=None):
    """ROC, energy resolution and bias, and angular resolution of several reconstructions side by side.

    ``results`` maps a label to ``(metrics, events)``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(20, 4.8), layout="constrained")
    for label, (metrics, events) in results.items():
        valid = np.isfinite(events["gammaness"])
        is_gamma = events["true_shower_primary_id"][valid] == GAMMA_ID
        if 0 < is_gamma.sum() < len(is_gamma):
            fpr, tpr, _ = roc_curve(is_gamma, events["gammaness"][valid])
            axes[0].plot(fpr, tpr, label=f"{label} (AUC {metrics['auc']:.3f})")
        edges = np.asarray(metrics["energy_bins_gev"])
        centers = np.sqrt(edges[:-1] * edges[1:])
        for ax, key in zip(axes[1:], ("energy_resolution", "energy_bias", "angular_resolution_deg"), strict=True):
            values = np.array([np.nan if v is None else v for v in metrics[key]])
            ax.errorbar(centers, values, xerr=[centers - edges[:-1], edges[1:] - centers], fmt="o", label=label)
    axes[0].plot([0, 1], [0, 1], ls=":", color="gray")
    axes[0].set(xlabel="proton efficiency", ylabel="gamma efficiency", title="ROC")
    for ax, ylabel in zip(axes[1:], ("energy resolution (68% IQD / 2)", "energy bias (median)", "angular resolution 68% [deg]"),
                          strict=True):
        ax.set(xscale="log", xlabel="true energy [GeV]", ylabel=ylabel)
    axes[2].axhline(0, color="gray", ls=":")
    for ax in axes:
        ax.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)
    return Path(path)
