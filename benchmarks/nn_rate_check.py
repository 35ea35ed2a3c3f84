"""The gated-NN rate estimator against counting, where counting is possible (MHz rates).

Counts rising edges of the NN trigger (a gate candidate whose ROI scores
above t) in plain simulated NSB camera windows, through the same trigger
code as on showers, at thresholds chosen from the counted candidates' scores (quantiles from
50 % to 99.7 %), and compares them with the importance-sampled rate of
:meth:`NSBRateEstimator.gated_rates` at the same thresholds, from two
samplers: tilts around the gate, and the adapted sampler ``evaluate`` uses
for the NN's rate at its operating point (aimed at each threshold). Writes ``OUTPUT/nn_rate_check.md`` and ``.json``.

    CTAPIPE_SVC_PATH=../shared/data/instrument python benchmarks/nn_rate_check.py MODEL --output docs/
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import metadata_markdown, run_metadata  # noqa: E402

from trigger.analog_sum import AnalogSumTrigger  # noqa: E402
from trigger.hardware.outputs import write_text_atomic  # noqa: E402
from trigger.inputs import TriggerInput  # noqa: E402
from trigger.nn.model import load_trigger, score_function  # noqa: E402
from trigger.nn.roi import RoiGeometry  # noqa: E402
from trigger.performance import TriggerPair, measure_rates  # noqa: E402
from trigger.rates import NSBRateEstimator, brute_force_gated_rate, gated_live_time  # noqa: E402

QUANTILES = (0.5, 0.8, 0.95, 0.99, 0.997)


def _count_part(model_dir, nsb, thresholds, n_windows, seed):
    """Counts and live time (s) of one process's share of the windows."""
    model, config = load_trigger(model_dir)
    trigger_input, geometry = TriggerInput(), RoiGeometry(**config["roi"])
    rates, _, _ = brute_force_gated_rate(trigger_input, nsb, geometry, score_function(model), thresholds, n_windows,
                                         np.random.default_rng(seed))
    live = gated_live_time(trigger_input, geometry, n_windows)
    return rates * live, live


def count(args, thresholds, nsb):
    """Counted rates and errors at ``thresholds``, the windows shared among ``args.jobs`` processes (own seeds)."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    sizes = np.diff(np.linspace(0, args.n_windows, args.jobs + 1).astype(int))
    with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as pool:
        parts = [pool.submit(_count_part, args.model, nsb, thresholds, int(m), [args.seed, k]) for k, m in enumerate(sizes)]
        counts, live = (sum(part.result()[i] for part in parts) for i in range(2))
    return counts / live, np.sqrt(np.maximum(counts, 1)) / live


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path, help="a trigger model folder (trigger-synth train)")
    parser.add_argument("--output", type=Path, default=Path("docs"))
    parser.add_argument("--n-windows", type=int, default=20_000, help="plain NSB camera windows counted")
    parser.add_argument("--n-samples", type=int, default=40_000, help="importance samples")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--quantiles", type=float, nargs="+", default=QUANTILES, help="score quantiles of the candidates")
    parser.add_argument("--thresholds", type=float, nargs="+", help="NN score thresholds instead of quantiles (e.g. the operating point)")
    parser.add_argument("--jobs", type=int, default=1, help="counting processes (each its own seed and share of the windows)")
    args = parser.parse_args()
    meta = run_metadata()
    model, config = load_trigger(args.model)
    geometry, score = RoiGeometry(**config["roi"]), score_function(model)
    trigger_input, nsb = TriggerInput(), config["operating_point"]["nsb_rate_ghz"]
    rng = np.random.default_rng(args.seed)

    t0 = time.perf_counter()
    if args.thresholds:
        thresholds = np.sort(args.thresholds)
        quantiles = [None] * len(thresholds)
    else:
        _, _, pilot = brute_force_gated_rate(trigger_input, nsb, geometry, score, [np.inf], max(args.n_windows // 8, 100), rng)
        quantiles, thresholds = args.quantiles, np.quantile(pilot, args.quantiles)
    counted, counted_err = count(args, thresholds, nsb)
    t_count = time.perf_counter() - t0
    t0 = time.perf_counter()
    estimator = NSBRateEstimator(trigger_input, nsb)
    # tilts around the gate: the lower thresholds pass most gate candidates
    samples = estimator.sample(args.n_samples, estimator.thetas_for([geometry.gate - 12, geometry.gate + 2]), rng)
    gate_rates, gate_errors = estimator.gated_rates(samples, geometry, score, thresholds)
    t_is = time.perf_counter() - t0
    t0 = time.perf_counter()
    # evaluate's own measurement, aimed at each threshold in turn
    asum, baseline = AnalogSumTrigger(instrument=trigger_input.instrument), config["operating_point"]["analog_sum"]["threshold"]
    adapted = [
        measure_rates(estimator, TriggerPair(asum, baseline, model, geometry, float(t)), args.n_samples, rng)["nn"]
        for t in thresholds
    ]
    adapted_rates, adapted_errors = (np.array([a[key] for a in adapted]) for key in ("rate_hz", "rate_error_hz"))
    t_adapted = time.perf_counter() - t0
    pull = lambda r, e: (r - counted) / np.hypot(e, counted_err)  # noqa: E731
    result = {
        "metadata": meta, "model": str(args.model), "n_windows": args.n_windows, "n_samples": args.n_samples,
        "seconds": {"counting": round(t_count, 1), "gate_tilts": round(t_is, 1), "adapted": round(t_adapted, 1)},
        "rows": [
            {"quantile": q, "threshold": float(t), "counted_hz": float(c), "counted_error_hz": float(ce),
             "gate_tilts_hz": float(r), "gate_tilts_error_hz": float(e), "gate_tilts_pull": float(p),
             "adapted_hz": float(ra), "adapted_error_hz": float(ea), "adapted_pull": float(pa)}
            for q, t, c, ce, r, e, p, ra, ea, pa in zip(
                quantiles, thresholds, counted, counted_err, gate_rates, gate_errors, pull(gate_rates, gate_errors),
                adapted_rates, adapted_errors, pull(adapted_rates, adapted_errors),
            )
        ],
    }
    args.output.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.output / "nn_rate_check.json", json.dumps(result, indent=2) + "\n")
    write_text_atomic(args.output / "nn_rate_check.md", report(result) + "\n")
    print(report(result))


def report(result) -> str:
    lines = [
        "# Gated-NN rate: importance sampling against counting",
        "",
        "Generated by `benchmarks/nn_rate_check.py`; every number below is measured by the script.",
        "",
        *metadata_markdown(result["metadata"]),
        f"- model: `{result['model']}`; {result['n_windows']} plain NSB camera windows counted "
        f"({result['seconds']['counting']} s); {result['n_samples']} importance samples with tilts around the gate "
        f"({result['seconds']['gate_tilts']} s) and as many per threshold from evaluate's adapted sampler "
        f"({result['seconds']['adapted']} s in all)",
        "",
        "| candidates passing | NN threshold | counted [kHz] | gate tilts [kHz] | pull | adapted sampler [kHz] | pull |",
        "|---|---|---|---|---|---|---|",
    ]
    k = lambda r, key: f"{r[key] / 1e3:.4g} ± {r[key.replace('_hz', '_error_hz')] / 1e3:.2g}"  # noqa: E731
    for r in result["rows"]:
        lines.append(
            f"| {'-' if r['quantile'] is None else f'{100 * (1 - r['quantile']):.1f} %'} | {r['threshold']:.4g} | {k(r, 'counted_hz')} | {k(r, 'gate_tilts_hz')} "
            f"| {r['gate_tilts_pull']:+.2f} | {k(r, 'adapted_hz')} | {r['adapted_pull']:+.2f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
