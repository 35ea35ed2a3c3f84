"""PNG figures of a trigger evaluation (matplotlib, no display needed)."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .io import atomic_output  # noqa: E402

__all__ = ["plot_efficiency", "plot_rates"]

LABELS = {"analog_sum": "analog sum (baseline)", "nn": "NN behind the gate"}


def _save(fig, path):
    with atomic_output(path, overwrite=True) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)


def plot_efficiency(summary, path):
    """Array-trigger efficiency versus true energy for both triggers, with the energy thresholds."""
    bins = np.asarray(summary["energy_bins_gev"])
    centres = np.sqrt(bins[1:] * bins[:-1])
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for name, color in (("analog_sum", "C0"), ("nn", "C3")):
        s = summary[name]
        eff = np.array([np.nan if e is None else e for e in s["efficiency"]])
        ax.errorbar(centres, eff, yerr=s["efficiency_error"], xerr=[centres - bins[:-1], bins[1:] - centres],
                    fmt="o", ms=3, color=color, label=f"{LABELS[name]}, threshold {s['threshold']:.4g}")
        if s["energy_threshold_gev"]:
            ax.axvline(s["energy_threshold_gev"], color=color, ls="--", lw=1,
                       label=f"energy threshold {s['energy_threshold_gev']:.1f} GeV")
    ax.set_xscale("log")
    ax.set_xlabel("true energy [GeV]")
    ax.set_ylabel("array trigger efficiency (2 of 4 LSTs)")
    a, n = summary["analog_sum"], summary["nn"]
    ax.set_title(
        f"gammas; NSB rate per telescope: analog sum {a['rate_hz']:.3g} ± {a['rate_error_hz']:.2g} Hz, "
        f"NN {n['rate_hz']:.3g} ± {n['rate_error_hz']:.2g} Hz",
        fontsize=9,
    )
    ax.set_ylim(0, 1.05)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    _save(fig, path)


def plot_rates(rates, path):
    """Accidental rate versus threshold for the analog sum (counts) and the NN (score)."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, name, xlabel in ((axes[0], "analog_sum", "group-sum threshold [counts]"), (axes[1], "nn", "NN score threshold (logit)")):
        scan = rates["scan"][name]
        r = np.asarray(scan["rate_hz"])
        ok = r > 0
        ax.errorbar(np.asarray(scan["threshold"])[ok], r[ok], yerr=np.asarray(scan["rate_error_hz"])[ok], fmt="o-", ms=3)
        point = rates[name]
        ax.axhline(point["rate_hz"], color="k", ls=":", lw=1)
        ax.axvline(point["threshold"], color="C3", ls="--", lw=1,
                   label=f"operating point {point['threshold']:.4g}: {point['rate_hz']:.3g} ± {point['rate_error_hz']:.2g} Hz")
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("NSB accidental rate per telescope [Hz]")
        ax.set_title(LABELS[name] + (f" (gate {rates['gate']['threshold']} counts)" if name == "nn" else ""))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"NSB {rates['nsb_rate_ghz']:.4g} p.e./ns per pixel: analog sum importance-sampled, NN by subset simulation")
    fig.tight_layout()
    _save(fig, path)
