"""Both triggers under moonlight: the thresholds set again at 2x and 5x the dark night-sky background.

A trigger that wins only on dark nights is worth little: LSTs observe with
the moon up. For each NSB factor (``--factors``, default 1 2 5 times the
model's dark NSB) this script simulates the same test gammas with that NSB
(the same seed, so the showers are the same; only the NSB in their waveforms
differs), sets both thresholds again for the same accidental rate per
telescope at that NSB (``trigger-synth evaluate --nsb-rate``: the analog sum
by importance sampling, the NN by subset simulation on the grid), measures
both rates again on independent samples (the NN's to ``--rate-precision``),
and reports both energy thresholds and their ratio with statistical errors.
The network is the one given (``--model``, default the shipped full-size
network): it was trained at dark NSB and is not retrained; the gate stays at
its dark-sky value, so its candidate rate rises with the NSB (reported, as
it is the central board's input rate). At 5x that is about 2 GHz of
candidates, which neither the central board nor the rate estimator can
follow: at the levels given to ``--retrain`` a network is trained at that
NSB instead (``train --nsb-rate``: the gate set again for its 10 MHz of
candidates, training gammas simulated with that NSB, the benchmark's recipe
otherwise), as a camera would load other weights and thresholds for moonlight.

    CTAPIPE_SVC_PATH=../shared/data/instrument LST_TRIGGER_DATA=../shared/data \\
        python benchmarks/trigger_moonlight.py --output docs/trigger_moonlight

Writes ``OUTPUT/trigger_moonlight.md`` and ``.json``; ``--reuse`` keeps the
simulated files and finished evaluations in ``--work``.
"""

import argparse
import contextlib
import json
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import metadata_markdown, or_na, run_metadata  # noqa: E402
from trigger_performance import run, training_set  # noqa: E402

from lstcommon.files import write_json  # noqa: E402
from trigger.reports import with_error  # noqa: E402
from trigger.simulation.showers import DEFAULT_SHOWER_MODEL  # noqa: E402


def cpu_seconds() -> float:
    """CPU of this process and the children it waited for (the evaluation runs in this process)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def simulate(work: Path, factors, dark_ghz, args, timings):
    """The test gammas at each NSB factor, and the training gammas at each ``--retrain`` factor, in shards on one
    Dask cluster (skipped where ``--reuse`` finds them)."""
    from lstcommon.parallel import engine

    _, _, n_train, train_min, train_max, train_seed = training_set(args.n_train)
    sets = [(f, f"test-nsb{f:g}x", args.n_test, "5 GeV", "500 GeV", args.seed) for f in factors] + \
        [(f, f"train-nsb{f:g}x", n_train, train_min, train_max, train_seed) for f in factors if f in args.retrain]
    todo = [s for s in sets if not (args.reuse and (work / s[1] / "gamma.dl1.h5").exists())]
    if not todo:
        return
    with engine(args.jobs) if args.jobs > 1 else contextlib.nullcontext() as client:
        on_cluster = [] if client is None else ["--workers", args.jobs, "--scheduler", client.scheduler.address]
        for f, folder, n, e_min, e_max, seed in todo:
            run(["simulate", "--particles", "gamma", "--n-events", n, "--energy-min", e_min, "--energy-max", e_max,
                 "--seed", seed, "--shower-model", args.shower_model, "--nsb-rate", f"{f * dark_ghz} GHz",
                 "--output", work / folder, "--overwrite", "--no-progress", *on_cluster],
                timings, f"simulate {folder}")


def model_for(work: Path, factor, dark_ghz, args, timings) -> Path:
    """The network used at ``factor``: the given one, or one trained at that NSB (``--retrain``)."""
    if factor not in args.retrain:
        return args.model
    model = work / f"model-nsb{factor:g}x"
    if not (args.reuse and (model / "trigger.json").exists()):
        run(["train", "--gamma", work / f"train-nsb{factor:g}x" / "gamma.dl1.h5", "--output", model,
             "--nsb-rate", factor * dark_ghz, "--rate", args.rate, "--epochs", args.epochs,
             "--n-nsb-examples", args.n_nsb_examples, "--n-calibration", args.n_rate_samples, "--seed", args.train_seed,
             "--candidates", args.candidates, "--no-progress", "--overwrite"], timings, f"train {factor:g}x")
    return model


def evaluate(work: Path, factor, dark_ghz, args, timings) -> dict:
    """``evaluate`` at one NSB factor; its summary and what the run cost."""
    model = model_for(work, factor, dark_ghz, args, timings)
    out = work / f"evaluation-nsb{factor:g}x"
    if not (args.reuse and (out / "summary.json").exists()):
        cpu, wall = cpu_seconds(), time.perf_counter()
        run(["evaluate", "--model", model, "--gamma", work / f"test-nsb{factor:g}x" / "gamma.dl1.h5",
             "--output", out, "--nsb-rate", factor * dark_ghz, "--rate", args.rate, "--rate-precision", args.rate_precision,
             "--n-rate-samples", args.n_rate_samples, "--no-real", "--overwrite", "--no-progress"],
            timings, f"evaluate {factor:g}x")
        (out / "cost.json").write_text(json.dumps({"wall_s": round(time.perf_counter() - wall, 1),
                                                   "cpu_s": round(cpu_seconds() - cpu, 1)}))
    s = json.loads((out / "summary.json").read_text())
    cost = json.loads((out / "cost.json").read_text())
    nn, asum = s["nn"], s["analog_sum"]
    matched = s.get("analog_sum_at_nn_rate") or {}
    trained = json.loads((model / "trigger.json").read_text())["operating_point"]
    return {
        "factor": factor,
        "model": str(model),
        "model_nsb_rate_ghz": float(trained["nsb_rate_ghz"]),
        "gate_threshold": s["gate"]["threshold"],
        "nsb_rate_ghz": s["nsb_rate_ghz"],
        "analog_sum_threshold": asum["threshold"],
        "analog_sum_rate_hz": asum["rate_hz"],
        "analog_sum_rate_error_hz": asum["rate_error_hz"],
        "nn_threshold": nn["threshold"],
        "nn_rate_hz": nn["rate_hz"],
        "nn_rate_error_hz": nn["rate_error_hz"],
        "nn_rate_precision": nn.get("rate_precision"),
        "gate_rate_hz": s["gate"]["rate_hz"],
        "gate_rate_error_hz": s["gate"]["rate_error_hz"],
        "analog_sum_energy_threshold_gev": asum["energy_threshold_gev"],
        "analog_sum_energy_threshold_error_gev": asum.get("energy_threshold_error_gev"),
        "nn_energy_threshold_gev": nn["energy_threshold_gev"],
        "nn_energy_threshold_error_gev": nn.get("energy_threshold_error_gev"),
        "matched_threshold": matched.get("threshold"),
        "matched_rate_hz": matched.get("rate_hz"),
        "threshold_ratio": s.get("threshold_ratio"),
        "threshold_ratio_error": s.get("threshold_ratio_error"),
        "threshold_ratio_at_nn_rate": s.get("threshold_ratio_at_nn_rate"),
        "threshold_ratio_at_nn_rate_error": s.get("threshold_ratio_at_nn_rate_error"),
        "evaluate_wall_s": cost["wall_s"],
        "evaluate_cpu_s": cost["cpu_s"],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=Path("docs/trigger_moonlight"), help="where the report goes")
    parser.add_argument("--work", type=Path, default=Path("benchmark-output/trigger-moonlight"),
                        help="simulated files and evaluations")
    parser.add_argument("--model", type=Path, default=Path("models/lst-nn-v2"), help="trained trigger folder")
    parser.add_argument("--factors", type=float, nargs="+", default=[1, 2, 5], help="NSB in units of the model's dark NSB")
    parser.add_argument("--n-test", type=int, default=3000, help="test gamma showers (5-500 GeV) per NSB level")
    parser.add_argument("--seed", type=int, default=202, help="seed of the test gammas (the same at every NSB)")
    parser.add_argument("--rate", type=float, default=None, help="accidental rate per telescope, Hz (default the model's)")
    parser.add_argument("--rate-precision", type=float, default=0.1, help="relative error of the NN's rate")
    parser.add_argument("--n-rate-samples", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="Dask worker processes for the simulation")
    parser.add_argument("--shower-model", default=DEFAULT_SHOWER_MODEL)
    parser.add_argument("--retrain", type=float, nargs="*", default=[],
                        help="NSB factors at which a network trained at that NSB replaces --model (e.g. 5)")
    parser.add_argument("--n-train", type=int, default=1500, help="training gammas per retrained level")
    parser.add_argument("--train-seed", type=int, default=0)
    parser.add_argument("--candidates", type=int, default=1, help="networks per retraining (train --candidates)")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--n-nsb-examples", type=int, default=400_000)
    parser.add_argument("--reuse", action="store_true", help="keep simulated files and finished evaluations in --work")
    args = parser.parse_args()
    config_file = args.model / "trigger.json"
    if not config_file.is_file():
        parser.exit(2, f"error: {args.model}: not a trained trigger folder (no trigger.json)\n")
    if set(args.retrain) - set(args.factors):
        parser.exit(2, f"error: --retrain {args.retrain}: every level must be one of --factors {args.factors}\n")
    if min(args.factors) <= 0 or args.n_test < 100:
        parser.exit(2, f"error: --factors must be > 0 and --n-test at least 100, got {args.factors} and {args.n_test}\n")
    point = json.loads(config_file.read_text())["operating_point"]
    dark = float(point["nsb_rate_ghz"])
    args.rate = float(point["target_rate_hz"]) if args.rate is None else args.rate
    meta = run_metadata()
    work, out = args.work, args.output
    work.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    factors = list(dict.fromkeys(args.factors))
    timings = {}
    simulate(work, factors, dark, args, timings)
    rows = [evaluate(work, f, dark, args, timings) for f in factors]
    result = {"metadata": meta, "model": str(args.model), "dark_nsb_ghz": dark, "target_rate_hz": args.rate,
              "n_test": args.n_test, "shower_model": args.shower_model, "timings_s": timings, "levels": rows}
    write_json(out / "trigger_moonlight.json", result)
    (out / "trigger_moonlight.md").write_text(report(result) + "\n")
    print(report(result))


def report(result) -> str:
    num = or_na("{:.3g}")
    lines = [
        "# Both triggers under moonlight",
        "",
        "Generated by `benchmarks/trigger_moonlight.py`; every number below is measured by the script.",
        "",
        *metadata_markdown(result["metadata"]),
        f"- network: `{result['model']}` (trained at dark NSB, {result['dark_nsb_ghz']:.4g} p.e./ns per pixel), except "
        f"where the table says it was retrained at that level's NSB (its gate set again for 10 MHz there)",
        f"- test set per NSB level: {result['n_test']} gammas 5-500 GeV, 4 LSTs, 2-of-4 array trigger, shower model "
        f"{result['shower_model']}; the same showers at every level (same seed), only the NSB differs",
        f"- both thresholds set again at each level for {result['target_rate_hz']:.4g} Hz per telescope, then both "
        "rates measured again on independent samples (the NN's by subset simulation to the precision shown)",
        f"- timings [s]: {', '.join(f'{k} {v}' for k, v in result['timings_s'].items())}",
        "",
        "| NSB | network | analog sum: threshold, rate [Hz] | NN: threshold, rate [Hz] (runs, relative error) "
        "| gate: threshold, rate [MHz] | energy threshold [GeV] analog sum / NN | ratio | ratio at the NN's measured rate |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in result["levels"]:
        p = r["nn_rate_precision"] or {}
        lines.append(
            f"| {r['factor']:g}x ({r['nsb_rate_ghz']:.3g} p.e./ns) "
            f"| {'trained at this NSB' if r['model'] != result['model'] else 'dark'} "
            f"| {r['analog_sum_threshold']}, {with_error(r['analog_sum_rate_hz'], r['analog_sum_rate_error_hz'], '{:.0f}')} "
            f"| {r['nn_threshold']:.4g}, {with_error(r['nn_rate_hz'], r['nn_rate_error_hz'], '{:.0f}')} "
            f"({p.get('runs', 'n/a')}, {num(p.get('relative_error'), '{:.3f}')}) "
            f"| {r['gate_threshold']}, {with_error(r['gate_rate_hz'] / 1e6, r['gate_rate_error_hz'] / 1e6, '{:.2f}')} "
            f"| {with_error(r['analog_sum_energy_threshold_gev'], r['analog_sum_energy_threshold_error_gev'], '{:.1f}')} / "
            f"{with_error(r['nn_energy_threshold_gev'], r['nn_energy_threshold_error_gev'], '{:.1f}')} "
            f"| **{with_error(r['threshold_ratio'], r['threshold_ratio_error'], '{:.3f}')}** "
            f"| {with_error(r['threshold_ratio_at_nn_rate'], r['threshold_ratio_at_nn_rate_error'], '{:.3f}')} |"
        )
    lines += [
        "",
        "Errors are statistical: rates from the estimators' own errors (the NN's: the scatter of independent "
        "subset-simulation runs), energy thresholds and ratios from a paired bootstrap over the test gammas. "
        "The cost of each evaluation (threshold setting, rates, showers) in wall / CPU seconds of this process: "
        + ", ".join(f"{r['factor']:g}x {r['evaluate_wall_s']} / {r['evaluate_cpu_s']}" for r in result["levels"])
        + "; of it the NN's rate measurement at the operating point: "
        + ", ".join(f"{r['factor']:g}x {num((r['nn_rate_precision'] or {}).get('wall_s'), '{}')} / "
                    f"{num((r['nn_rate_precision'] or {}).get('cpu_s'), '{}')}" for r in result["levels"]) + ".",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
