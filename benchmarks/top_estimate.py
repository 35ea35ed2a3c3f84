"""The yosys estimate of the whole trigger top around a built network core: the Resources table of docs/hardware.md.

    .venv/bin/python benchmarks/top_estimate.py [--report demo-output/hardware/report.json] [--json PATH]

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
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    report = json.loads(args.report.read_text())
    part = args.part or report["part"]
    core = report.get("resources_core") or report["resources"]
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
    if args.json:
        write_json(args.json, {"metadata": run_metadata(), "report": str(args.report), "top": top, "core": core,
                               "whole": whole, "budget": verdict, "wall_s": round(wall, 1)})
        print(f"written {args.json}")


if __name__ == "__main__":
    main()
