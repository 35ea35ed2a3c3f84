"""The yosys estimate of the whole trigger top around a built network core: the Resources table of docs/hardware.md.

    .venv/bin/python benchmarks/top_estimate.py [--report demo-output/hardware/report.json] [--json PATH]
        [--links [--nsb-windows N] [--model DIR]]

With ``--links``: also the partitioned trigger of docs/hardware.md (readout
boards + central board, ``trigger.hardware.links``): per-board resources from
the estimate, the link budget, and the gate-candidate rates counted in plain
NSB windows at dark and 5x dark NSB, with the dark gate kept and with the gate
raised to hold the design's accept rate (the first-level accept rate of the
links), and the latency budget.

Runs `trigger.hardware.top.estimate_top_logic` (the same call `trigger-synth
build` makes; cached in ~/.cache/lst-nn-trigger/yosys-top by sources, parameters
and part) for the core of the given build, and prints every part of the top,
the core (`resources_core` of the report), the sum and the budget verdict.
"""

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

from _common import REPO, run_metadata

from lstcommon.files import write_json
from trigger.hardware.top import HDL_DIR, budget, core_parameters, estimate_top_logic


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--report", type=Path, default=REPO / "demo-output" / "hardware" / "report.json",
                        help="report.json of a trigger-synth build (its core and parameters)")
    parser.add_argument("--part", default=None, help="default: the report's part")
    parser.add_argument("--json", type=Path, default=None, help="write metadata and the estimate to this file")
    parser.add_argument("--links", action="store_true", help="also the partitioned trigger and its link budget")
    parser.add_argument("--nsb-windows", type=int, default=1500, help="plain NSB windows counted per NSB level")
    parser.add_argument("--model", type=Path, default=None, help="trained trigger (default: the report's model)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    report = json.loads(args.report.read_text())
    part = args.part or report["part"]
    # a build without yosys (--no-synth, the testbench's) has no core estimate: the top alone then
    core = report.get("resources_core") or report.get("resources") or {"lut": 0, "ff": 0, "dsp": 0, "bram": 0,
                                                                      "note": "not estimated in this build"}
    kif = report["rtl"]["output_kif"]
    kif = kif[0] if isinstance(kif[0], (list, tuple)) else kif
    rtl = {"top": report["rtl"].get("top", "trigger_nn"), "ports": {"model_inp": 3 * 16 * 8, "model_out": sum(kif)}}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        top = estimate_top_logic(HDL_DIR, rtl, core_parameters(report), part, Path(tmp) / "top")
    wall = time.perf_counter() - t0
    whole = {k: top[k] + core.get(k, 0) for k in ("lut", "ff", "dsp", "bram")}
    verdict = budget(whole, part)
    print("| part (module) | LUT each | FF each | BRAM each | count | LUT total | FF total |")
    print("|---|---|---|---|---|---|---|")
    for s in top["slices"]:
        n = s["count"] * s["scale"]
        each = s["each"]
        print(f"| {s['name']} (`{s['module']}`) | {each['lut']:,} | {each['ff']:,} | {each['bram']} | "
              f"{s['count']:,}{f' x {s['scale']}' if s['scale'] != 1 else ''} | {each['lut'] * n:,} | "
              f"{each['ff'] * n:,} |")
    print(f"| **top** | | | {top['bram']} | | **{top['lut']:,}** | {top['ff']:,} |")
    print(f"| network core ({args.report}) | | | {core.get('bram', 0)} | | {core['lut']:,} | {core['ff']:,} |")
    print(f"| **core + top** | | | {whole['bram']} | | **{whole['lut']:,}** | {whole['ff']:,} |")
    print(f"budget: {verdict['lut']:,} of {verdict['lut_budget']:,} LUT ({100 * verdict['fraction_of_budget']:.1f}%), "
          f"fits: {verdict['fits']}; {'cached' if top.get('cached') else 'synthesized'} in {wall:.0f} s")
    links = partitioned(args, report, top, core) if args.links else None
    if args.json:
        write_json(args.json, {"metadata": run_metadata(), "report": str(args.report), "top": top, "core": core,
                               "whole": whole, "budget": verdict, "wall_s": round(wall, 1), "partitioned": links})
        print(f"written {args.json}")


def partitioned(args, report, top_logic, core) -> dict:
    """Per-board resources, candidate rates at dark and 5x dark NSB (counted), link and latency budgets."""
    import numpy as np

    from trigger.hardware.links import candidate_rates, group_owners, link_budget, partition, partitioned_report
    from trigger.hardware.spec import TriggerSpec
    from trigger.inputs import TriggerInput
    from trigger.instrument import LSTInstrument

    spec = TriggerSpec.load(args.model or report["model"]["dir"])
    top = spec.top
    instrument = LSTInstrument()
    trigger_input = TriggerInput.from_description(spec.config["input"])
    boards = partition(instrument)
    owner = group_owners(instrument, len(boards))
    accept = float(spec.config["operating_point"].get("gate_rate_hz") or 1e7)
    dark = float(spec.nsb_rate_ghz)
    gates = np.arange(spec.geometry.gate, spec.geometry.gate + 40)
    rng = np.random.default_rng(args.seed)
    rows = []
    for factor in (1, 5):
        t0 = time.perf_counter()
        rate, err, share = candidate_rates(trigger_input, dark * factor, gates, args.nsb_windows, rng, boards=owner)
        ok = np.flatnonzero(rate <= accept)
        i = int(ok[0]) if len(ok) else len(gates) - 1
        rows.append({"nsb_ghz": dark * factor, "factor": factor, "dark_gate": int(gates[0]),
                     "rate_at_dark_gate_hz": float(rate[0]), "error_hz": float(err[0]),
                     "gate_for_accept_rate": int(gates[i]), "rate_there_hz": float(rate[i]),
                     "rate_there_error_hz": float(err[i]), "busiest_board_share": share[i],
                     "cpu_s": round(time.perf_counter() - t0, 1)})
    out = partitioned_report(top, spec.clip, accept, instrument, report["clock_mhz"], report["latency_cycles"],
                             top_logic, core)
    out["nsb"] = rows
    # the links at the counted rates: with the gate raised at 5x dark, and the worst case of the dark gate kept
    out["links_measured"] = {
        f"{r['factor']}x dark, gate {r['gate_for_accept_rate']}": link_budget(
            top, spec.clip, r["rate_there_hz"], boards, r["busiest_board_share"])["links"][1] for r in rows}
    out["links_measured"][f"5x dark, dark gate {rows[1]['dark_gate']} kept"] = link_budget(
        top, spec.clip, rows[1]["rate_at_dark_gate_hz"], boards)["links"][1]
    print("\n| NSB | gate | candidates / s (counted) | busiest board | link Gbit/s | utilisation |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        lk = out["links_measured"][f"{r['factor']}x dark, gate {r['gate_for_accept_rate']}"]
        print(f"| {r['factor']}x dark ({r['nsb_ghz']:.3f} GHz) | {r['gate_for_accept_rate']} | "
              f"{r['rate_there_hz']:.3g} +- {r['rate_there_error_hz']:.2g} | {r['busiest_board_share']:.3f} | "
              f"{lk['gbps_per_link']:.3f} | {lk['utilisation']:.1%} |")
    lk = out["links_measured"][f"5x dark, dark gate {rows[1]['dark_gate']} kept"]
    print(f"| 5x dark, dark gate {rows[1]['dark_gate']} kept | {rows[1]['dark_gate']} | "
          f"{rows[1]['rate_at_dark_gate_hz']:.3g} | | {lk['gbps_per_link']:.3f} | {lk['utilisation']:.1%} |")
    print(json.dumps({k: out[k] for k in ("boards", "latency_budget")}, indent=1))
    return out


if __name__ == "__main__":
    main()
