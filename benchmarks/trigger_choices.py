"""The NN trigger's design choices, compared on a validation set (never the test set).

Trains one model per variant of ``trigger-synth train`` on the training
gammas of ``trigger_performance.py`` (same seed, so the set is reused when
its work folder is given), evaluates each on an independent validation set
of gamma showers (its own seed, 5-200 GeV) and writes
``OUTPUT/trigger_choices.md`` and ``.json``. The figure of merit is the
number of validation showers the NN triggers (2 of 4 LSTs) at 12.6-79 GeV
divided by the number the analog sum triggers at the NN's independently
measured NSB rate: a gain at equal rate, with its binomial error.

    CTAPIPE_SVC_PATH=../shared/data/instrument python benchmarks/trigger_choices.py --output docs/
"""

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import metadata_markdown, or_na, run_metadata  # noqa: E402
from trigger_performance import run, simulate_sets, training_set  # noqa: E402

from lstcommon.files import dumps_json, write_text_atomic  # noqa: E402

# name -> extra train options; the first is the default configuration
VARIANTS = {
    "default (clip 5 bits, 4 module features, hidden 8, true NSB weights, gate 10 MHz)": [],
    "no input clip": ["--clip-bits", 0],
    "6-bit clip": ["--clip-bits", 6],
    "plain MLP (no shared module layer)": ["--module-features", 0],
    "tilted NSB weights": ["--nsb-weighting", "tilted"],
    "gate at 25 MHz": ["--gate-rate", "2.5e7"],
    "hard negatives (2 rounds)": ["--hard-negative-rounds", 2],
    # the time the network sees (the default ROI is 10 samples before the candidate and 6 from it on): a shorter
    # history also lets both triggers decide from the 7th sample of a file's readout instead of the 11th
    "ROI 6 + 6 samples": ["--roi-before", 6, "--roi-after", 6],
    "ROI 8 + 8 samples": ["--roi-before", 8, "--roi-after", 8],
    # where the network looks: the group's 3 modules and the 9 around them (NSB is local to a module, a shower's
    # light spreads into the ring)
    "ring view (12 modules)": ["--view", "ring"],
}
GAIN_RANGE_GEV = (12.5, 80.0)


def gain(summary):
    """NN-triggered / analog-sum-triggered validation showers in GAIN_RANGE_GEV, the latter at the NN's measured rate."""
    bins = np.asarray(summary["energy_bins_gev"])
    centre = np.sqrt(bins[:-1] * bins[1:])
    sel = (centre > GAIN_RANGE_GEV[0]) & (centre < GAIN_RANGE_GEV[1])
    reference = summary.get("analog_sum_at_nn_rate") or summary["analog_sum"]
    n = np.asarray(summary["nn"]["n_showers"])[sel]
    k_nn = float(np.sum(np.nan_to_num(np.asarray(summary["nn"]["efficiency"], dtype=float)[sel]) * n))
    k_ref = float(np.sum(np.nan_to_num(np.asarray(reference["efficiency"], dtype=float)[sel]) * n))
    if k_ref == 0:
        return k_nn, k_ref, None, None
    ratio = k_nn / k_ref
    if "showers_nn_only" in reference:
        # same showers for both: only the discordant ones carry the difference (McNemar)
        discordant = np.sum(np.asarray(reference["showers_nn_only"])[sel] + np.asarray(reference["showers_analog_sum_only"])[sel])
        return k_nn, k_ref, ratio, float(np.sqrt(discordant)) / k_ref
    # no rate-matched baseline (the NN's rate fell outside the scan): the two counts taken as independent
    return k_nn, k_ref, ratio, ratio * np.sqrt(1 / max(k_nn, 1) + 1 / k_ref)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=Path("docs"))
    parser.add_argument("--work", type=Path, default=Path("benchmark-output/trigger"),
                        help="work folder of trigger_performance.py (its training set is reused)")
    parser.add_argument("--n-train", type=int, default=1500)
    parser.add_argument("--n-validation", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--n-rate-samples", type=int, default=50_000)
    parser.add_argument("--n-nsb-examples", type=int, default=400_000, help="importance samples for the NSB training examples")
    parser.add_argument("--seed", type=int, default=0, help="training seed of every variant")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="Dask worker processes for the simulation")
    parser.add_argument("--reuse-models", action="store_true", help="evaluate the models already trained in --work")
    parser.add_argument("--only", nargs="*", help="run only the variants whose names start with these")
    args = parser.parse_args()
    meta = run_metadata()
    work, out = args.work, args.output
    out.mkdir(parents=True, exist_ok=True)
    timings = {}
    sets = [training_set(args.n_train), ("validation", "gamma", args.n_validation, "5 GeV", "200 GeV", 404)]
    simulate_sets(work, sets, timings, args.jobs, reuse=True)
    results = {}
    for i, (name, options) in enumerate(VARIANTS.items()):
        if args.only and not any(name.startswith(o) for o in args.only):
            continue
        model, evaluation = work / "choices" / f"model_{i}", work / "choices" / f"evaluation_{i}"
        if not (args.reuse_models and (model / "trigger.json").exists()):
            try:
                run(["train", "--gamma", work / "train/gamma.dl1.h5", "--output", model, "--epochs", args.epochs, "--seed", args.seed,
                     "--n-nsb-examples", args.n_nsb_examples, "--n-calibration", args.n_rate_samples, "--no-progress",
                     "--overwrite", *options], timings, f"train {i}")
            except SystemExit as err:
                # e.g. every training run died: a result of the variant, not of the benchmark
                results[name] = {"options": [str(o) for o in options], "failed": str(err)}
                print(f"{name}: {err}", flush=True)
                continue
        run(["evaluate", "--model", model, "--gamma", work / "validation/gamma.dl1.h5", "--output", evaluation,
             "--n-rate-samples", args.n_rate_samples, "--no-real", "--overwrite"], timings, f"evaluate {i}")
        summary = json.loads((evaluation / "summary.json").read_text())
        config = json.loads((model / "trigger.json").read_text())
        k_nn, k_ref, ratio, error = gain(summary)
        results[name] = {
            "options": [str(o) for o in options], "ebops": config["architecture"]["ebops"],
            "nn_rate_hz": summary["nn"]["rate_hz"], "nn_rate_error_hz": summary["nn"]["rate_error_hz"],
            "analog_sum_at_nn_rate_threshold": (summary.get("analog_sum_at_nn_rate") or summary["analog_sum"])["threshold"],
            "showers_nn": k_nn, "showers_analog_sum_at_nn_rate": k_ref, "gain": ratio, "gain_error": error,
            "threshold_ratio_at_nn_rate": summary.get("threshold_ratio_at_nn_rate"),
            "attempts": config["training"].get("attempts"),
        }
        print(f"{name}: gain {ratio} +- {error}, NN rate {summary['nn']['rate_hz']:.3g} Hz", flush=True)
    result = {"metadata": meta, "timings_s": timings, "gain_range_gev": GAIN_RANGE_GEV, "variants": results}
    write_text_atomic(out / "trigger_choices.json", dumps_json(result))
    write_text_atomic(out / "trigger_choices.md", report(result, args) + "\n")
    print(report(result, args))


def report(result, args) -> str:
    fmt = or_na("{:.2f}")
    lo, hi = result["gain_range_gev"]
    lines = [
        "# NN trigger design choices on a validation set",
        "",
        "Generated by `benchmarks/trigger_choices.py`; every number below is measured by the script.",
        "",
        *metadata_markdown(result["metadata"]),
        f"- sets: training {args.n_train} gamma showers (10 GeV-1 TeV, seed 101, as `trigger_performance.py`), validation "
        f"{args.n_validation} gamma showers (5-200 GeV, seed 404); {args.n_rate_samples} importance samples per rate, {args.n_nsb_examples} for the NSB training examples; "
        f"{args.epochs} epochs, training seed {args.seed}",
        f"- timings [s]: {', '.join(f'{k} {v}' for k, v in result['timings_s'].items())}",
        "",
        f"Gain = validation showers triggered (2 of 4 LSTs, {lo:g}-{hi:g} GeV) by the NN / by the analog sum at the NN's "
        "independently measured NSB rate; > 1 means more showers at equal rate. Both triggers see the same showers: the "
        "error comes from the showers only one of them triggers (McNemar).",
        "",
        "| variant | EBOPs | NN rate [Hz] | analog sum at that rate | showers NN / analog sum | gain | threshold ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in result["variants"].items():
        if "failed" in r:
            lines.append(f"| {name} | - | - | - | - | {r['failed']} (the log says why) | - |")
            continue
        lines.append(
            f"| {name} | {r['ebops']:.0f} | {r['nn_rate_hz']:.3g} ± {r['nn_rate_error_hz']:.2g} | {r['analog_sum_at_nn_rate_threshold']} "
            f"| {r['showers_nn']:.0f} / {r['showers_analog_sum_at_nn_rate']:.0f} | {fmt(r['gain'])} ± {fmt(r['gain_error'])} "
            f"| {fmt(r['threshold_ratio_at_nn_rate'], '{:.3f}')} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
