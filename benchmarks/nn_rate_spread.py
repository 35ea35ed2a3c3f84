"""How far one run of evaluate's gated-NN rate estimate can be trusted: many independent runs, pooled.

The importance-sampled rate of the gated NN (:func:`trigger.operating_point.
adapted_samples`, as ``trigger-synth evaluate`` uses it: four cross-entropy
runs pooled, their scatter in the quoted error) is unbiased, but if
its weights are heavy-tailed a run's value is usually below the true rate,
its quoted error too small, and now and then one heavy sample lifts it far
above. Repeating the run with independent seeds shows the spread directly:
it should match the quoted error. The mean of the runs is again an unbiased
estimate, with an error from the runs' scatter, and should agree with the
counted rate where counting is possible (``--counted``: a
``nn_rate_check.json`` of the same model). The analog sum's rate at its
threshold comes from the same samples for comparison.

    CTAPIPE_SVC_PATH=../shared/data/instrument python benchmarks/nn_rate_spread.py MODEL --thresholds 0.44 1.49 --output docs/
"""

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import metadata_markdown, run_metadata  # noqa: E402

from trigger.hardware.outputs import write_text_atomic  # noqa: E402

_state = {}


def _load(model_dir):
    from trigger.inputs import TriggerInput
    from trigger.nn.model import load_trigger
    from trigger.nn.roi import RoiGeometry
    from trigger.rates import NSBRateEstimator

    model, config = load_trigger(model_dir)
    estimator = NSBRateEstimator(TriggerInput(), config["operating_point"]["nsb_rate_ghz"])
    _state.update(model=model, config=config, geometry=RoiGeometry(**config["roi"]), estimator=estimator)


def one_run(threshold, seed, n_samples):
    """One estimate of evaluate's at ``threshold``: (NN rate, its quoted error, analog-sum rate, error, seconds)."""
    from trigger.analog_sum import AnalogSumTrigger
    from trigger.performance import TriggerPair, measure_rates

    s = _state
    t0 = time.perf_counter()
    baseline = s["config"]["operating_point"]["analog_sum"]["threshold"]
    pair = TriggerPair(AnalogSumTrigger(instrument=s["estimator"].instrument), baseline, s["model"], s["geometry"], threshold)
    rates = measure_rates(s["estimator"], pair, n_samples, np.random.default_rng(seed))
    nn, asum = rates["nn"], rates["analog_sum"]
    return nn["rate_hz"], nn["rate_error_hz"], asum["rate_hz"], asum["rate_error_hz"], time.perf_counter() - t0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path, help="a trigger model folder (trigger-synth train)")
    parser.add_argument("--thresholds", type=float, nargs="+", help="NN score thresholds (default: the model's operating point)")
    parser.add_argument("--runs", type=int, default=20, help="independent runs per threshold")
    parser.add_argument("--n-samples", type=int, default=40_000, help="importance samples per run")
    parser.add_argument("--seed", type=int, default=1000, help="first seed; runs use consecutive seeds")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--counted", type=Path, help="a nn_rate_check.json whose counted rates to compare with")
    parser.add_argument("--output", type=Path, default=Path("docs"))
    args = parser.parse_args()
    meta = run_metadata()
    config = json.loads((args.model / "trigger.json").read_text())
    thresholds = args.thresholds or [config["operating_point"]["nn"]["threshold"]]
    counted = {}
    if args.counted:
        for row in json.loads(args.counted.read_text())["rows"]:
            counted[round(row["threshold"], 4)] = (row["counted_hz"], row["counted_error_hz"])
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn"), initializer=_load, initargs=(args.model,)) as pool:
        jobs = {(t, k): pool.submit(one_run, t, args.seed + k, args.n_samples) for t in thresholds for k in range(args.runs)}
        runs = {key: job.result() for key, job in jobs.items()}
    rows = []
    for t in thresholds:
        r = np.array([runs[(t, k)] for k in range(args.runs)])
        rate, error, as_rate, as_error = r[:, 0], r[:, 1], r[:, 2], r[:, 3]
        c = counted.get(round(t, 4))
        rows.append({
            "threshold": t, "runs_hz": rate.tolist(), "quoted_errors_hz": error.tolist(),
            "mean_hz": float(rate.mean()), "mean_error_hz": float(rate.std(ddof=1) / np.sqrt(len(rate))),
            "median_hz": float(np.median(rate)), "min_hz": float(rate.min()), "max_hz": float(rate.max()),
            "median_quoted_error_hz": float(np.median(error)), "scatter_hz": float(rate.std(ddof=1)),
            "analog_sum_mean_hz": float(as_rate.mean()), "analog_sum_scatter_hz": float(as_rate.std(ddof=1)),
            "analog_sum_median_quoted_error_hz": float(np.median(as_error)),
            "counted_hz": c[0] if c else None, "counted_error_hz": c[1] if c else None,
            "seconds_per_run": float(r[:, 4].mean()),
        })
    result = {"metadata": meta, "model": str(args.model), "n_samples": args.n_samples, "runs": args.runs,
              "operating_point": config["operating_point"], "wall_s": round(time.perf_counter() - t0, 1), "rows": rows}
    args.output.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.output / "nn_rate_spread.json", json.dumps(result, indent=2) + "\n")
    write_text_atomic(args.output / "nn_rate_spread.md", report(result) + "\n")
    print(report(result))


def report(result) -> str:
    op = result["operating_point"]
    lines = [
        "# Gated-NN rate: the spread of evaluate's estimate over independent runs",
        "",
        "Generated by `benchmarks/nn_rate_spread.py`; every number below is measured by the script.",
        "",
        *metadata_markdown(result["metadata"]),
        f"- model: `{result['model']}` (operating point: NN {op['nn']['threshold']:.4g} at {op['nn']['rate_hz']:.3g} Hz, "
        f"analog sum {op['analog_sum']['threshold']} counts at {op['analog_sum']['rate_hz']:.3g} Hz, from training); "
        f"{result['runs']} runs of {result['n_samples']} importance samples per threshold, {result['wall_s']} s in all",
        "",
        "| NN threshold | runs: min / median / max [Hz] | one run's quoted error (median) [Hz] | scatter of the runs [Hz] "
        "| mean of the runs [Hz] | counted [Hz] | analog sum: mean, scatter, quoted error [Hz] |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        counted = f"{r['counted_hz']:.4g} ± {r['counted_error_hz']:.2g}" if r["counted_hz"] is not None else "-"
        lines.append(
            f"| {r['threshold']:.4g} | {r['min_hz']:.3g} / {r['median_hz']:.3g} / {r['max_hz']:.3g} "
            f"| {r['median_quoted_error_hz']:.2g} | {r['scatter_hz']:.2g} | {r['mean_hz']:.3g} ± {r['mean_error_hz']:.2g} | {counted} "
            f"| {r['analog_sum_mean_hz']:.4g}, {r['analog_sum_scatter_hz']:.2g}, {r['analog_sum_median_quoted_error_hz']:.2g} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
