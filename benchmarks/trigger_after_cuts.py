"""What the extra showers are worth: each trigger's showers through the Hillas + RF baseline, then one fixed cut.

A trigger that adds showers nobody can reconstruct does not lower the
analysis threshold. This script takes a trained trigger and its evaluation
(``summary.json``: the operating point, and the analog sum at the NN's
measured rate), runs the triggers again on the evaluation's test gammas and
protons, and keeps for each trigger only the telescope events it reads out
(those that fired, in array events its 2-of-4 coincidence accepted). Those
are reconstructed with the baseline of ``reconstruction/`` (ctapipe's
HillasReconstructor and random forests, trained once, on showers of their
own, on every read-out image, so no trigger has a forest of its own), and
one cut, the same for every trigger, is applied: gammaness >= ``--gammaness``
and, for gammas, theta <= ``--theta``.

Per trigger it reports the effective area against true energy after the
trigger, after reconstruction and after the cuts, the energy threshold (peak
of the Crab-weighted differential rate, as ``evaluate``) at each stage with
paired bootstrap errors of the NN's ratio to the analog sum, the showers only
one of the two keeps after cuts, and the proton rate after the gammaness cut.

    CTAPIPE_SVC_PATH=../shared/data/instrument python benchmarks/trigger_after_cuts.py \\
        --model WORK/model-seed0 --evaluation WORK/evaluation-seed0 \\
        --gamma WORK/test/gamma.dl1.h5 --proton WORK/test/proton.dl1.h5 --work /tmp/after_cuts --output docs/trigger_after_cuts

Writes ``OUTPUT/trigger_after_cuts.md``, ``.json`` and ``.png``.
"""

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import astropy.units as u
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import metadata_markdown, or_na, run_metadata  # noqa: E402
from trigger_performance import simulate_sets  # noqa: E402

from lstcommon.files import write_json  # noqa: E402
from reconstruction.baseline import PREFIX, HillasRandomForest  # noqa: E402
from reconstruction.evaluate import load_events  # noqa: E402
from reconstruction.predict import copy_file  # noqa: E402
from trigger.evaluation import (  # noqa: E402
    CRAB_INDEX,
    PROTON_INDEX,
    PROTON_NORM,
    bootstrap_error,
    efficiency,
    energy_threshold,
    spectrum_rate,
    threshold_bootstrap,
)
from trigger.inputs import TriggerInput  # noqa: E402
from trigger.nn.model import load_trigger  # noqa: E402
from trigger.performance import (  # noqa: E402
    TriggerPair,
    analog_sum_first_at,
    array_triggered,
    energy_bins,
    evaluate_showers,
    read_out,
)
from trigger.reports import with_error  # noqa: E402
from trigger.simulation.showers import DEFAULT_SHOWER_MODEL  # noqa: E402

#: the triggers compared, in the order of the tables: the two at the NN's measured rate first
TRIGGERS = ("nn", "analog_sum_at_nn_rate", "analog_sum")
LABELS = {"nn": "NN behind the gate", "analog_sum_at_nn_rate": "analog sum at the NN's rate",
          "analog_sum": "analog sum at its own rate"}
STAGES = ("triggered", "reconstructed", "after_cuts")
#: the pixel-wise groups the baseline does not read (it needs the DL1 images, not the waveforms)
WAVEFORMS = ("/r0", "/r1", "/dl0")


def decisions(path, pair: TriggerPair, thresholds, trigger_input, instrument) -> tuple:
    """The showers of ``path`` under every trigger of :data:`TRIGGERS`: (ShowerResult, name -> (first, triggered))."""
    result = evaluate_showers(path, pair, trigger_input, instrument)
    out = {name: (result.telescope[name], result.triggered[name]) for name in ("nn", "analog_sum")}
    first = analog_sum_first_at(result, pair, thresholds["analog_sum_at_nn_rate"])
    out["analog_sum_at_nn_rate"] = (first, array_triggered(result.run, result.events, first, instrument))
    return result, out


def reconstruct(forest, path, result, telescope_events, work: Path, name: str) -> dict:
    """The baseline on the telescope events one trigger reads out: per shower of ``result``, its reconstruction."""
    subset = work / f"{Path(path).name.replace('.dl1.h5', '')}.{name}.dl1.h5"
    copy_file(path, subset, skip=WAVEFORMS, drop_levels=("R0", "R1", "DL0"), telescope_events=telescope_events)
    dl2 = forest.predict(subset, work / subset.name.replace(".dl1.h5", ".dl2.h5"), overwrite=True)
    subset.unlink()
    events = load_events([dl2], prefix=PREFIX)
    index = {(int(o), int(e)): i for i, (o, e) in enumerate(zip(events["obs_id"], events["event_id"]))}
    rows = np.array([index.get((int(o), int(e)), -1) for o, e in result.run.keys()])
    found = rows >= 0

    def column(key, unit=None):
        values = np.full(len(rows), np.nan)
        data = events[key] if unit is None else events[key].to_value(unit)
        values[found] = np.asarray(data, dtype=float)[rows[found]]
        return values

    return {"gammaness": column("gammaness"), "theta_deg": column("theta", u.deg),
            "reco_energy_tev": column("reco_energy", u.TeV)}


def stages(triggered, reco, gammaness_cut, theta_cut_deg=None) -> dict:
    """Per shower: kept by the trigger, reconstructed, and passing the cuts (theta only where given)."""
    triggered = np.asarray(triggered, bool)
    valid = triggered & np.isfinite(reco["gammaness"]) & np.isfinite(reco["theta_deg"]) \
        & np.isfinite(reco["reco_energy_tev"])
    passed = valid & (np.nan_to_num(reco["gammaness"], nan=-1) >= gammaness_cut)
    if theta_cut_deg is not None:
        passed &= np.nan_to_num(reco["theta_deg"], nan=np.inf) <= theta_cut_deg
    return {"triggered": triggered, "reconstructed": valid, "after_cuts": passed}


def gamma_report(run, kept: dict, bins, resamples, seed) -> dict:
    """Effective areas and energy thresholds of every trigger at every stage, with paired bootstrap errors."""
    area = np.pi * run.max_impact**2
    flat = {f"{name}/{stage}": kept[name][stage] for name in TRIGGERS for stage in STAGES}
    boot = threshold_bootstrap(run, flat, resamples, seed)
    out = {"energy_bins_gev": (bins * 1e3).tolist(), "max_impact_m": run.max_impact, "triggers": {}, "ratios": {}}
    for name in TRIGGERS:
        entry = {}
        for stage in STAGES:
            eff, err, total = efficiency(run.energy, kept[name][stage], bins)
            threshold, _ = energy_threshold(run, kept[name][stage], CRAB_INDEX)
            error = bootstrap_error(boot[f"{name}/{stage}"])
            entry[stage] = {
                "n_showers_kept": int(kept[name][stage].sum()),
                "effective_area_m2": [None if not np.isfinite(e) else float(e * area) for e in eff],
                "effective_area_error_m2": [float(e * area) for e in err],
                "n_showers": [int(t) for t in total],
                "energy_threshold_gev": threshold * 1e3 if np.isfinite(threshold) else None,
                "energy_threshold_error_gev": None if error is None or not np.isfinite(threshold) else error * 1e3,
            }
        out["triggers"][name] = entry
    for baseline in ("analog_sum_at_nn_rate", "analog_sum"):
        for stage in STAGES:
            n, b = (out["triggers"][k][stage]["energy_threshold_gev"] for k in ("nn", baseline))
            with np.errstate(invalid="ignore", divide="ignore"):
                values = boot[f"nn/{stage}"] / boot[f"{baseline}/{stage}"]
            out["ratios"][f"nn/{baseline}/{stage}"] = {
                "ratio": n / b if n and b else None,
                "error": bootstrap_error(values) if n and b else None,
            }
    nn, matched = kept["nn"]["after_cuts"], kept["analog_sum_at_nn_rate"]["after_cuts"]
    only = lambda a, b: np.histogram(run.energy[a & ~b], bins=bins)[0].astype(int).tolist()  # noqa: E731
    out["after_cuts_nn_only"], out["after_cuts_analog_sum_only"] = only(nn, matched), only(matched, nn)
    return out


def proton_report(run, kept: dict) -> dict:
    out = {"showers": run.n_showers, "energy_range_tev": [run.energy_min, run.energy_max],
           "viewcone_deg": float(np.degrees(run.viewcone)), "triggers": {}}
    for name in TRIGGERS:
        out["triggers"][name] = {}
        for stage in STAGES:
            rate, error = spectrum_rate(run, kept[name][stage], PROTON_NORM, PROTON_INDEX, per_steradian=True)
            out["triggers"][name][stage] = {"n_showers_kept": int(kept[name][stage].sum()), "array_rate_hz": rate,
                                            "array_rate_error_hz": error}
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="trained trigger folder (trigger.json, model.keras)")
    parser.add_argument("--evaluation", type=Path, required=True,
                        help="its evaluation folder: summary.json gives the thresholds (with analog_sum_at_nn_rate)")
    parser.add_argument("--gamma", type=Path, help="test gammas (default: the evaluation's gamma_file)")
    parser.add_argument("--proton", type=Path, required=True, help="test protons (the evaluation's)")
    parser.add_argument("--work", type=Path, default=Path("benchmark-output/trigger-after-cuts"),
                        help="the forest's training showers, its model and the DL2 files")
    parser.add_argument("--output", type=Path, default=Path("docs/trigger_after_cuts"))
    parser.add_argument("--n-forest", type=int, default=3000, help="gamma and proton showers to train the forests on")
    parser.add_argument("--gammaness", type=float, default=0.5, help="the gamma/hadron cut (RF gammaness >= this)")
    parser.add_argument("--theta", type=float, default=0.3, help="the direction cut for gammas [deg]")
    parser.add_argument("--bins-per-decade", type=int, default=5)
    parser.add_argument("--resamples", type=int, default=300, help="paired bootstrap resamples of the test gammas")
    parser.add_argument("--shower-model", default=DEFAULT_SHOWER_MODEL, help="of the forest's training showers: "
                        "the test files' (v2 unless they were simulated with another)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="Dask workers for the simulation")
    parser.add_argument("--reuse", action="store_true", help="keep the forest's training showers in --work")
    args = parser.parse_args()
    summary_path = args.evaluation / "summary.json"
    for path in (summary_path, args.model / "trigger.json", args.proton, *([args.gamma] if args.gamma else [])):
        if not Path(path).exists():
            parser.exit(2, f"error: {path}: no such file\n")
    if not 0 <= args.gammaness <= 1 or not args.theta > 0:
        parser.exit(2, f"error: --gammaness must be in [0, 1] and --theta > 0, got {args.gammaness} and {args.theta}\n")
    summary = json.loads(summary_path.read_text())
    if "analog_sum_at_nn_rate" not in summary:
        parser.exit(2, f"error: {summary_path}: no analog_sum_at_nn_rate (the NN's rate was not measured)\n")
    gamma = args.gamma or Path(summary["gamma_file"])
    meta = run_metadata()
    args.work.mkdir(parents=True, exist_ok=True)
    args.output.mkdir(parents=True, exist_ok=True)
    timings = {}

    model, config = load_trigger(args.model)
    trigger_input = TriggerInput.from_description(config["input"])
    instrument = trigger_input.instrument
    thresholds = {name: summary[name]["threshold"] for name in TRIGGERS}
    # the evaluation's thresholds: the model's unless evaluate set them again (--rate, --nsb-rate, --nn-threshold)
    pair = replace(TriggerPair.at_operating_point(model, config), threshold=thresholds["analog_sum"],
                   nn_threshold=thresholds["nn"])

    sets = [("forest", "gamma", args.n_forest, "5 GeV", "1 TeV", 611), ("forest", "proton", args.n_forest, "100 GeV",
                                                                         "10 TeV", 612)]
    simulate_sets(args.work, sets, timings, args.jobs, args.reuse, args.shower_model)
    t0 = time.perf_counter()
    forest = HillasRandomForest(args.work / "forest-model", n_jobs=args.jobs)
    forest.fit([args.work / "forest/gamma.dl1.h5", args.work / "forest/proton.dl1.h5"])
    timings["forest training"] = round(time.perf_counter() - t0, 1)

    report = {"metadata": meta, "model": str(args.model), "evaluation": str(args.evaluation),
              "thresholds": thresholds, "rates_hz": {name: [summary[name]["rate_hz"], summary[name]["rate_error_hz"]]
                                                     for name in TRIGGERS},
              "cuts": {"gammaness_min": args.gammaness, "theta_max_deg": args.theta}, "timings_s": timings}
    for particle, path in (("gamma", gamma), ("proton", args.proton)):
        t0 = time.perf_counter()
        result, by_trigger = decisions(path, pair, thresholds, trigger_input, instrument)
        timings[f"{particle} triggers"] = round(time.perf_counter() - t0, 1)
        t0 = time.perf_counter()
        kept, done = {}, {}
        for name, (first, triggered) in by_trigger.items():
            telescope_events = read_out(result, first, triggered)
            # the analog sum at the NN's rate is often the analog sum at its own threshold: reconstructed once
            key = frozenset(telescope_events)
            if key not in done:
                done[key] = reconstruct(forest, path, result, telescope_events, args.work, name)
            reco = done[key]
            kept[name] = stages(triggered, reco, args.gammaness, args.theta if particle == "gamma" else None)
        timings[f"{particle} reconstruction"] = round(time.perf_counter() - t0, 1)
        if particle == "gamma":
            report["gamma"] = gamma_report(result.run, kept, energy_bins(result.run, args.bins_per_decade),
                                           args.resamples, seed=0)
        else:
            report["proton"] = proton_report(result.run, kept)
    write_json(args.output / "trigger_after_cuts.json", report)
    plot(report, args.output / "trigger_after_cuts.png")
    text = markdown(report, args)
    (args.output / "trigger_after_cuts.md").write_text(text + "\n")
    print(text)


def plot(report, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    g = report["gamma"]
    bins = np.asarray(g["energy_bins_gev"])
    centres = np.sqrt(bins[1:] * bins[:-1])
    fig, ax = plt.subplots(figsize=(7, 4.5))
    colours = {"nn": "C3", "analog_sum_at_nn_rate": "C0", "analog_sum": "C7"}
    styles = {"triggered": ":", "reconstructed": "--", "after_cuts": "-"}
    for name in TRIGGERS:
        for stage in STAGES:
            entry = g["triggers"][name][stage]
            area = np.array([np.nan if a is None else a for a in entry["effective_area_m2"]])
            ax.errorbar(centres, area, yerr=entry["effective_area_error_m2"], ls=styles[stage], color=colours[name],
                        label=f"{LABELS[name]}, {stage.replace('_', ' ')}", capsize=0, lw=1.2)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("true energy [GeV]")
    ax.set_ylabel("effective area [m²]")
    ax.set_xlim(bins[0], min(bins[-1], 300))
    ax.set_ylim(bottom=10)
    cuts = report["cuts"]
    ax.set_title(f"trigger, Hillas + RF reconstruction, gammaness ≥ {cuts['gammaness_min']}, "
                 f"θ ≤ {cuts['theta_max_deg']}°", fontsize=9)
    ax.legend(fontsize=6.5, ncol=1)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def markdown(report, args) -> str:
    g, p = report["gamma"], report["proton"]
    fmt = or_na("{:.3f}")
    lines = [
        "# What the extra showers are worth: trigger, reconstruction, cuts",
        "",
        "Generated by `benchmarks/trigger_after_cuts.py`; every number below is measured by the script.",
        "",
        *metadata_markdown(report["metadata"]),
        f"- trigger: `{report['model']}`, operating point from `{report['evaluation']}/summary.json` "
        f"(thresholds: {', '.join(f'{k} {v}' for k, v in report['thresholds'].items())})",
        f"- reconstruction: `reconstruction.baseline.HillasRandomForest` trained on {args.n_forest} gammas "
        f"(5 GeV-1 TeV) and {args.n_forest} protons of its own (every read-out image), applied to the telescope events "
        "each trigger reads out",
        "- reconstructed: ctapipe's HillasReconstructor has a direction (at least two read-out images that pass its "
        "default quality cuts: intensity > 50 p.e., more than 3 pixels after cleaning, positive width) and the forests "
        "give a gammaness and an energy",
        f"- cuts, the same for every trigger: gammaness >= {report['cuts']['gammaness_min']}, and for gammas "
        f"theta <= {report['cuts']['theta_max_deg']} deg",
        f"- timings [s]: {', '.join(f'{k} {v}' for k, v in report['timings_s'].items())}",
        "",
        "Energy threshold (peak of the Crab-weighted differential rate) ± half the 16-84 % interval of a paired "
        f"bootstrap over the {sum(g['triggers']['nn']['triggered']['n_showers'])} test gammas:",
        "",
        "| trigger | NSB rate [Hz] | triggered (showers) | reconstructed (showers) | after cuts (showers) |",
        "|---|---|---|---|---|",
    ]
    for name in TRIGGERS:
        rate, error = report["rates_hz"][name]
        cells = [with_error(g["triggers"][name][s]["energy_threshold_gev"], g["triggers"][name][s][
            "energy_threshold_error_gev"], "{:.1f}", "GeV") + f" ({g['triggers'][name][s]['n_showers_kept']})"
            for s in STAGES]
        lines.append(f"| {LABELS[name]} | {rate:.3g} ± {error:.2g} | {' | '.join(cells)} |")
    for baseline in ("analog_sum_at_nn_rate", "analog_sum"):
        cells = [with_error(g["ratios"][f"nn/{baseline}/{s}"]["ratio"], g["ratios"][f"nn/{baseline}/{s}"]["error"],
                            "{:.3f}") for s in STAGES]
        lines.append(f"| ratio NN / {LABELS[baseline]} | | {' | '.join(cells)} |")
    bins = g["energy_bins_gev"]
    lines += ["", "Effective area after cuts [m²] per bin of true energy, and the showers after cuts that only one of "
              "the two triggers at the NN's rate keeps (their difference has the variance of their sum):", "",
              "| E [GeV] | " + " | ".join(LABELS[n] for n in TRIGGERS) + " | only NN | only analog sum |",
              "|---|" + "---|" * (len(TRIGGERS) + 2)]
    for i in range(len(bins) - 1):
        cells = [with_error(g["triggers"][n]["after_cuts"]["effective_area_m2"][i],
                            g["triggers"][n]["after_cuts"]["effective_area_error_m2"][i], "{:.0f}") for n in TRIGGERS]
        lines.append(f"| {bins[i]:.3g}-{bins[i + 1]:.3g} | {' | '.join(cells)} | {g['after_cuts_nn_only'][i]} "
                     f"| {g['after_cuts_analog_sum_only'][i]} |")
    lines += ["", f"Protons ({p['showers']} showers, {p['energy_range_tev'][0]:.3g}-{p['energy_range_tev'][1]:.3g} TeV, "
              f"{p['viewcone_deg']:.0f} deg cone; array rate of cosmic-ray protons, no theta cut):", "",
              "| trigger | triggered | reconstructed | gammaness cut |", "|---|---|---|---|"]
    for name in TRIGGERS:
        cells = [f"{with_error(p['triggers'][name][s]['array_rate_hz'], p['triggers'][name][s]['array_rate_error_hz'], '{:.4g}')} Hz "
                 f"({p['triggers'][name][s]['n_showers_kept']})" for s in STAGES]
        lines.append(f"| {LABELS[name]} | {' | '.join(cells)} |")
    n_only, a_only = sum(g["after_cuts_nn_only"]), sum(g["after_cuts_analog_sum_only"])
    lines += ["", f"After cuts {n_only} test gammas pass only with the NN and {a_only} only with the analog sum at the "
              f"same rate (excess {n_only - a_only} ± {fmt(float(np.sqrt(n_only + a_only)))})."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
