"""The gated-NN rate estimators against counting.

Counts rising edges of the NN trigger (a gate candidate whose ROI scores
above t) in plain simulated NSB camera windows, through the same trigger
code as on showers, at thresholds chosen from the counted candidates' scores
(quantiles from 50 % to 99.7 %) or given, and compares them with two
estimates at the same thresholds: importance sampling with tilts around the
gate (:meth:`NSBRateEstimator.gated_rates`, good at MHz rates), and the
subset simulation that ``train`` and ``evaluate`` use
(:func:`trigger.operating_point.subset_rates`, ``--runs`` independent runs,
their scatter the error). Counting near 1 kHz takes tens of minutes;
``--counted`` reuses the counts of an earlier run of this script on the same
model instead. Writes ``OUTPUT/nn_rate_check.md`` and ``.json``. Counting and the
subset simulations run on Dask (``--workers N`` local processes, or
``--scheduler ADDRESS``: docs/parallel.md).

    CTAPIPE_SVC_PATH=../shared/data/instrument python benchmarks/nn_rate_check.py MODEL --output docs/ --workers 2
"""

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import metadata_markdown, run_metadata  # noqa: E402

from lstcommon.files import dumps_json, write_text_atomic  # noqa: E402
from lstcommon.parallel import check_engine_options, engine, n_workers  # noqa: E402
from trigger.inputs import TriggerInput  # noqa: E402
from trigger.nn.model import read_config  # noqa: E402
from trigger.nn.roi import RoiGeometry  # noqa: E402
from trigger.parallel import SavedScore  # noqa: E402
from trigger.rates import NSBRateEstimator, brute_force_gated_rate  # noqa: E402
from trigger.subset_simulation import N_PER_LEVEL, SubsetSimulation  # noqa: E402

QUANTILES = (0.5, 0.8, 0.95, 0.99, 0.997)


def _model(model_dir):
    """The trigger's ROI, its score (picklable: it travels to the workers), input and NSB rate."""
    config = read_config(model_dir)
    return RoiGeometry(**config["roi"]), SavedScore(model_dir), TriggerInput(), config["operating_point"]["nsb_rate_ghz"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path, help="a trigger model folder (trigger-synth train)")
    parser.add_argument("--output", type=Path, default=Path("docs"))
    parser.add_argument("--n-windows", type=int, default=20_000, help="plain NSB camera windows counted")
    parser.add_argument("--counted", type=Path, nargs="+", help="nn_rate_check.json of earlier runs on this model: their counts, not new ones")
    parser.add_argument("--n-samples", type=int, default=40_000, help="importance samples (tilts around the gate)")
    parser.add_argument("--runs", type=int, default=8, help="independent subset simulations")
    parser.add_argument("--n-per-level", type=int, default=N_PER_LEVEL, help="windows per level of a subset simulation")
    parser.add_argument("--min-rate", type=float, default=50.0, help="Hz: a stratum's levels stop below this share of the rate")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--quantiles", type=float, nargs="+", default=QUANTILES, help="score quantiles of the candidates")
    parser.add_argument("--thresholds", type=float, nargs="+", help="NN score thresholds instead of quantiles (e.g. the operating point)")
    parser.add_argument("--workers", type=int, default=1,
                        help="Dask workers (a LocalCluster of processes) for counting and the subset simulations; 1: here")
    parser.add_argument("--scheduler", help="address of a running Dask scheduler instead (docs/parallel.md)")
    args = parser.parse_args()
    scheduler = check_engine_options(args.workers, args.scheduler)
    meta = run_metadata()
    parallel = scheduler is not None or args.workers > 1
    with engine(args.workers, scheduler) if parallel else contextlib.nullcontext() as client:
        result = measure(args, meta, client)
    args.output.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.output / "nn_rate_check.json", dumps_json(result))
    write_text_atomic(args.output / "nn_rate_check.md", report(result) + "\n")
    print(report(result))


def measure(args, meta, client) -> dict:
    geometry, score, trigger_input, nsb = _model(args.model)
    rng = np.random.default_rng(args.seed)

    t0 = time.perf_counter()
    if args.counted:
        rows = sorted((r for p in args.counted for r in json.loads(p.read_text())["rows"]), key=lambda r: r["threshold"])
        thresholds = np.array([r["threshold"] for r in rows])
        quantiles = [r["quantile"] for r in rows]
        counted, counted_err = (np.array([r[k] for r in rows]) for k in ("counted_hz", "counted_error_hz"))
        n_windows = sorted({json.loads(p.read_text())["n_windows"] for p in args.counted})
    else:
        if args.thresholds:
            thresholds = np.sort(args.thresholds)
            quantiles = [None] * len(thresholds)
        else:
            _, _, pilot = brute_force_gated_rate(trigger_input, nsb, geometry, score, [np.inf], max(args.n_windows // 8, 100), rng,
                                                 client=client)
            quantiles, thresholds = args.quantiles, np.quantile(pilot, args.quantiles)
        counted, counted_err, _ = brute_force_gated_rate(trigger_input, nsb, geometry, score, thresholds, args.n_windows,
                                                         np.random.default_rng([args.seed, 1]), client=client)
        n_windows = [args.n_windows]
    t_count = time.perf_counter() - t0

    t0 = time.perf_counter()
    estimator = NSBRateEstimator(trigger_input, nsb)
    # tilts around the gate: the lower thresholds pass most gate candidates
    samples = estimator.sample(args.n_samples, estimator.thetas_for([geometry.gate - 12, geometry.gate + 2]), rng, client=client,
                               view=geometry.view)
    gate_rates, gate_errors = estimator.gated_rates(samples, geometry, score, thresholds)
    t_is = time.perf_counter() - t0

    t0 = time.perf_counter()
    options = {"n_per_level": args.n_per_level, "min_rate_hz": args.min_rate}
    simulation = SubsetSimulation(estimator, geometry, score, n_per_level=args.n_per_level)
    per_run = simulation.camera_rates(thresholds, np.random.default_rng(args.seed + 1), min_rate_hz=args.min_rate,
                                      n_runs=args.runs, client=client).per_run
    t_subset = time.perf_counter() - t0
    subset, subset_err = per_run.mean(axis=0), per_run.std(axis=0, ddof=1) / np.sqrt(len(per_run))

    pull = lambda r, e: (r - counted) / np.hypot(e, counted_err)  # noqa: E731
    result = {
        "metadata": meta, "model": str(args.model), "n_windows": n_windows[0] if len(n_windows) == 1 else n_windows,
        "counted_from": [str(p) for p in args.counted] if args.counted else None, "n_samples": args.n_samples,
        "subset": {"runs": args.runs, **options, "workers": n_workers(client) if client is not None else 1},
        "seconds": {"counting": round(t_count, 1), "gate_tilts": round(t_is, 1), "subset": round(t_subset, 1)},
        "rows": [
            {"quantile": q, "threshold": float(t), "counted_hz": float(c), "counted_error_hz": float(ce),
             "gate_tilts_hz": float(r), "gate_tilts_error_hz": float(e), "gate_tilts_pull": float(p),
             "subset_hz": float(rs), "subset_error_hz": float(es), "subset_pull": float(ps), "subset_runs_hz": runs.tolist()}
            for q, t, c, ce, r, e, p, rs, es, ps, runs in zip(
                quantiles, thresholds, counted, counted_err, gate_rates, gate_errors, pull(gate_rates, gate_errors),
                subset, subset_err, pull(subset, subset_err), per_run.T,
            )
        ],
    }
    return result


def report(result) -> str:
    s = result["subset"]
    counted = (f"counts read from {', '.join(f'`{p}`' for p in result['counted_from'])} ({result['n_windows']} windows)"
               if result["counted_from"] else f"{result['n_windows']} plain NSB camera windows counted ({result['seconds']['counting']} s)")
    lines = [
        "# Gated-NN rate: estimators against counting",
        "",
        "Generated by `benchmarks/nn_rate_check.py`; every number below is measured by the script"
        + (", except the counted rates, read from an earlier run." if result["counted_from"] else "."),
        "",
        *metadata_markdown(result["metadata"]),
        f"- model: `{result['model']}`; {counted}; {result['n_samples']} importance samples with tilts around the gate "
        f"({result['seconds']['gate_tilts']} s); {s['runs']} independent subset simulations ({s['n_per_level']} windows per "
        f"level, levels down to {s['min_rate_hz']:g} Hz per stratum) on {s.get('workers', s.get('jobs'))} worker(s) "
        f"({result['seconds']['subset']} s)",
        "",
        "| candidates passing | NN threshold | counted [kHz] | gate tilts [kHz] | pull | subset simulation [kHz] | pull | lowest / highest run [kHz] |",
        "|---|---|---|---|---|---|---|---|",
    ]
    k = lambda r, key: f"{r[key] / 1e3:.3g} ± {r[key.replace('_hz', '_error_hz')] / 1e3:.2g}"  # noqa: E731
    for r in result["rows"]:
        lines.append(
            f"| {'-' if r['quantile'] is None else f'{100 * (1 - r['quantile']):.1f} %'} | {r['threshold']:.4g} | {k(r, 'counted_hz')} "
            f"| {k(r, 'gate_tilts_hz')} | {r['gate_tilts_pull']:+.2f} | {k(r, 'subset_hz')} | {r['subset_pull']:+.2f} "
            f"| {min(r['subset_runs_hz']) / 1e3:.3g} / {max(r['subset_runs_hz']) / 1e3:.3g} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
