"""Full-size trigger comparison: the NN trigger against the analog-sum baseline at equal NSB rate.

Simulates independent training and test sets, trains the NN trigger and
evaluates both triggers with the project's own command line (the same code a
user runs), then writes ``OUTPUT/trigger_performance.md`` with the run's
metadata, the headline numbers and the efficiency table, and copies the
evaluation's ``summary.json`` and plots next to it.

    CTAPIPE_SVC_PATH=../shared/data/instrument python benchmarks/trigger_performance.py --output docs/

The test set is never used for choices: training, the gate and the operating
points see only the training set and NSB importance samples.
"""

import argparse
import contextlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import metadata_markdown, or_na, run_metadata  # noqa: E402

from lstcommon.files import write_json  # noqa: E402
from trigger.cli import main as trigger_synth  # noqa: E402
from trigger.reports import gate_in_window_text, with_error  # noqa: E402
from trigger.simulation.showers import DEFAULT_SHOWER_MODEL  # noqa: E402


def run(args, timings, label) -> float:
    t0 = time.perf_counter()
    code = trigger_synth([str(a) for a in args])
    timings[label] = round(time.perf_counter() - t0, 1)
    if code != 0:
        raise SystemExit(f"trigger-synth {args[0]} failed with exit code {code}")
    return timings[label]


def training_set(n):
    """The NN's training gammas: (folder, particle, showers, E min, E max, seed), shared by the trigger benchmarks."""
    return ("train", "gamma", n, "10 GeV", "1 TeV", 101)


def simulate_sets(work, sets, timings, n_jobs, reuse, shower_model=DEFAULT_SHOWER_MODEL):
    """Simulate ``sets`` (as :func:`training_set`) into ``work``, skipping files already there when ``reuse``.

    One set after the other, each in shards on one Dask cluster of ``n_jobs`` worker processes (``simulate
    --scheduler``): the files are those one process writes, and every set uses every core.
    """
    from lstcommon.parallel import engine

    jobs = [
        (f"simulate {folder} {particle}",
         ["simulate", "--particles", particle, "--n-events", n, "--energy-min", e_min, "--energy-max", e_max,
          "--seed", seed, "--shower-model", shower_model, "--output", work / folder, "--overwrite", "--no-progress"])
        for folder, particle, n, e_min, e_max, seed in sets
        if not (reuse and (work / folder / f"{particle}.dl1.h5").exists())
    ]
    if not jobs:
        return
    n_jobs = max(1, n_jobs)
    t0 = time.perf_counter()
    with engine(n_jobs) if n_jobs > 1 else contextlib.nullcontext() as client:
        on_cluster = [] if client is None else ["--workers", n_jobs, "--scheduler", client.scheduler.address]
        for label, args in jobs:
            run([*args, *on_cluster], timings, label)
    timings[f"simulation wall ({n_jobs} workers)"] = round(time.perf_counter() - t0, 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=Path("docs"), help="where the report and figures go")
    parser.add_argument("--work", type=Path, default=Path("benchmark-output/trigger"), help="simulated files and model")
    parser.add_argument("--n-train", type=int, default=1500, help="training gamma showers (10 GeV-1 TeV)")
    parser.add_argument("--n-test", type=int, default=3000, help="test gamma showers (5-500 GeV)")
    parser.add_argument("--n-proton", type=int, default=3000, help="test proton showers (100 GeV-10 TeV)")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0, help="training seed (networks of different seeds differ: docs/trigger.md)")
    parser.add_argument("--candidates", type=int, default=3,
                        help="networks trained from consecutive seeds; train keeps the best at its own threshold on held-out gamma ROIs")
    parser.add_argument("--n-rate-samples", type=int, default=100_000, help="importance samples per rate measurement")
    parser.add_argument("--n-nsb-examples", type=int, default=400_000, help="importance samples for the NSB training examples")
    parser.add_argument("--nn-threshold", type=float, help="evaluate the NN at this threshold, not the trained one (e.g. one "
                        "whose rate benchmarks/nn_rate_check.py counted)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="Dask worker processes for the simulation (docs/parallel.md)")
    parser.add_argument("--shower-model", default=DEFAULT_SHOWER_MODEL,
                        help="the toy's parameter set (v1: the first toy; v2, the default: calibrated against sim_telarray, "
                             "docs/simulation.md); use another --work for each, --reuse does not tell them apart")
    parser.add_argument("--reuse", action="store_true", help="reuse simulated files already in --work")
    parser.add_argument("--reuse-model", action="store_true", help="also reuse the trained model in --work (evaluate only)")
    args = parser.parse_args()
    meta = run_metadata()
    work, out = args.work, args.output
    work.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    timings = {}
    sets = [
        training_set(args.n_train),
        ("test", "gamma", args.n_test, "5 GeV", "500 GeV", 202),
        ("test", "proton", args.n_proton, "100 GeV", "10 TeV", 303),
    ]
    simulate_sets(work, sets, timings, args.jobs, args.reuse, args.shower_model)
    if not (args.reuse_model and (work / "model/trigger.json").exists()):
        run(["train", "--gamma", work / "train/gamma.dl1.h5", "--output", work / "model", "--epochs", args.epochs,
             "--n-nsb-examples", args.n_nsb_examples, "--n-calibration", args.n_rate_samples, "--seed", args.seed, "--candidates", args.candidates, "--no-progress", "--overwrite"],
            timings, "train")
    chosen = [] if args.nn_threshold is None else ["--nn-threshold", args.nn_threshold]
    run(["evaluate", "--model", work / "model", "--gamma", work / "test/gamma.dl1.h5", "--proton", work / "test/proton.dl1.h5",
         "--output", work / "evaluation", "--n-rate-samples", args.n_rate_samples, "--overwrite", *chosen], timings, "evaluate")

    summary = json.loads((work / "evaluation/summary.json").read_text())
    model = json.loads((work / "model/trigger.json").read_text())
    for name in ("efficiency.png", "rates.png"):
        shutil.copy(work / "evaluation" / name, out / f"trigger_{name}")
    result = {"metadata": meta, "timings_s": timings, "summary": summary, "model": model}
    write_json(out / "trigger_performance.json", result)
    (out / "trigger_performance.md").write_text(report(result, args) + "\n")
    print(report(result, args))


def report(result, args) -> str:
    s, m = result["summary"], result["model"]
    a, n = s["analog_sum"], s["nn"]
    fmt = or_na("{:.1f}")
    lines = [
        "# NN trigger versus the analog-sum baseline (full-size run)",
        "",
        "Generated by `benchmarks/trigger_performance.py`; every number below is measured by the script.",
        "",
        *metadata_markdown(result["metadata"]),
        f"- sets: training {args.n_train} gamma showers (10 GeV-1 TeV, E^-2), test {args.n_test} gamma showers "
        f"(5-500 GeV, E^-2) and {args.n_proton} protons (100 GeV-10 TeV, E^-2, 10 deg cone), 4 LSTs, max impact 500 m; "
        f"{args.n_nsb_examples} importance samples for the NSB training examples, {args.n_rate_samples} per rate measurement; "
        f"{args.epochs} epochs, {args.candidates} candidate network(s) from training seed {args.seed} on",
        f"- shower model: {args.shower_model} (docs/simulation.md: v1 the first toy, v2 calibrated against sim_telarray)",
        f"- timings [s]: {', '.join(f'{k} {v}' for k, v in result['timings_s'].items())}",
        *([f"- NN threshold {args.nn_threshold} given by `--nn-threshold`, not the trained one "
           f"({m['operating_point']['nn']['threshold']:.5g}); the NN's rate below is the importance-sampled estimate"]
          if args.nn_threshold is not None else []),
        "",
        "![efficiency](trigger_efficiency.png)",
        "",
        "![rates](trigger_rates.png)",
        "",
        "## Headline",
        "",
        "| | threshold | NSB rate per telescope [Hz] | energy threshold [GeV] | Crab rate (array) [Hz] | proton rate (array) [Hz] |",
        "|---|---|---|---|---|---|",
    ]
    for name, label in (("analog_sum", "analog sum"), ("nn", "NN behind the gate")):
        t = s[name]
        p = s.get("proton", {}).get(name, {})
        lines.append(
            f"| {label} | {t['threshold']:.5g} | {t['rate_hz']:.3g} ± {t['rate_error_hz']:.2g} "
            f"| {with_error(t['energy_threshold_gev'], t.get('energy_threshold_error_gev'))} "
            f"| {t['crab_rate_hz']:.3g} | {fmt(p.get('array_rate_hz'), '{:.3g}')} |"
        )
    matched = s.get("analog_sum_at_nn_rate")
    if matched:
        lines.append(
            f"| analog sum at the NN's measured rate | {matched['threshold']} | {matched['rate_hz']:.3g} ± "
            f"{matched['rate_error_hz']:.2g} | {with_error(matched['energy_threshold_gev'], matched.get('energy_threshold_error_gev'))} "
            f"| {matched['crab_rate_hz']:.3g} | - |"
        )
    lines += [
        "",
        f"**threshold_ratio** (NN / analog sum energy threshold) = "
        f"**{with_error(s['threshold_ratio'], s.get('threshold_ratio_error'), '{:.3f}')}** "
        "(goal: <= 0.6); against the analog sum at the NN's independently measured rate: "
        f"**{with_error(s.get('threshold_ratio_at_nn_rate'), s.get('threshold_ratio_at_nn_rate_error'), '{:.3f}')}**.",
        *([f"Errors of the energy thresholds and their ratios: statistical, from the finite number of test showers "
           f"({s['threshold_error_method']['n_resamples']} paired bootstrap resamples, the same showers for every trigger; "
           "half the 16-84 % interval)."] if "threshold_error_method" in s else []),
        "",
        f"Gate: group sum > {s['gate']['threshold']} counts ({s['gate']['rate_hz']:.3g} Hz of NSB candidates per telescope); "
        f"network: hidden {m['architecture']['hidden']}, {m['architecture']['ebops']:.0f} EBOPs; "
        f"{m['training']['n_signal']} gamma and {m['training']['n_background']} NSB training ROIs.",
        *(["Candidates (seed: held-out gamma ROIs above the candidate's own threshold): "
           + ", ".join(f"{c['seed']}: {100 * c['validation_gamma_efficiency']:.1f} % at {c['threshold']:.5g}"
                       for c in m["training"]["candidates"])
           + f"; kept seed {m['training']['chosen_seed']}, its threshold then set again on independent NSB windows."]
          if len(m["training"].get("candidates", [])) > 1 else []),
        "",
        "## Array efficiency per true-energy bin (2 of 4 LSTs)",
        "",
        "Showers only one trigger fires on (the NN, or the analog sum at the NN's rate) carry the whole difference "
        "between the two (same showers for both): with b and c such counts, the excess b - c has error sqrt(b + c).",
        "",
        "| E [GeV] | showers | analog sum | NN | analog sum at the NN's rate | only NN / only analog sum at the NN's rate |",
        "|---|---|---|---|---|---|",
    ]
    bins = s["energy_bins_gev"]
    for i in range(len(bins) - 1):
        at = fmt(matched["efficiency"][i], "{:.3f}") if matched else "-"
        only = f"{matched['showers_nn_only'][i]} / {matched['showers_analog_sum_only'][i]}" if matched else "-"
        lines.append(f"| {bins[i]:.1f}-{bins[i + 1]:.1f} | {a['n_showers'][i]} | {fmt(a['efficiency'][i], '{:.3f}')} "
                     f"| {fmt(n['efficiency'][i], '{:.3f}')} | {at} | {only} |")
    if "real_events" in s:
        lines += ["", "## Real sim_telarray LST events", "", "| file | telescope events | analog sum triggers | NN triggers |",
                  "|---|---|---|---|"]
        for name, r in s["real_events"].items():
            lines.append(f"| `{name}` | {r.get('telescope_events', '-')} | {r.get('analog_sum_triggers', '-')} | {r.get('nn_triggers', '-')} |")
    check = s.get("real_events_check")
    if check:
        fraction = "n/a (no such event)" if check["fraction"] is None else f"**{check['fraction']:.3f}**"
        lines += ["", f"Telescope events whose largest group sum (in the samples where both triggers decide) is at least "
                  f"{check['min_group_sum']} counts, {check['min_group_sum'] - check['analog_sum_threshold']} over the "
                  f"analog-sum threshold: the NN triggers {check['n_nn_triggered']} of {check['n_events']} = {fraction} "
                  f"(goal >= {check['goal']})."]
        inside = gate_in_window_text(check)
        if inside:
            # in the others a group's rising edge lies where the file holds no full ROI, which a streaming trigger has
            lines[-1] += f" {inside[0].upper()}{inside[1:]}."
        if check["misses"]:
            lines += ["", "| missed: file | event | telescope | largest group sum (decision window / whole readout) "
                      "| over the gate at the sample before the first full ROI | brightest module's share of the group's excess |",
                      "|---|---|---|---|---|---|"]
            lines += [f"| `{m['file']}` | {m['event_id']} | {m['tel_id']} | {m['max_group_sum_in_window']} / {m['max_group_sum']} "
                      f"| {'yes' if m.get('gate_before_window') else 'no'} | {fmt(m.get('brightest_module_share'), '{:.2f}')} |"
                      for m in check["misses"]]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
