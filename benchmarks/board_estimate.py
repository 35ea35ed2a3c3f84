"""yosys estimate of the partitioned trigger's own RTL: one readout board and the central board.

    .venv/bin/python benchmarks/board_estimate.py [--report testbench/build/hardware/report.json]
        [--model DIR] [--part PART] [--json PATH]

Runs `trigger.hardware.board_synth.estimate_boards` (hierarchy kept, each
module mapped once; logic depth per module) for the core parameters of the
given build and the clip of its trained trigger, and caches it in
~/.cache/lst-nn-trigger/yosys-boards: a later `trigger-synth build` of the same
parameters and part then writes these figures into report.json `boards`
instead of the single top's parts scaled to a board. Prints the resources per
board against its device and the deepest path of each module. The readout
board is synthesized for the readout device's part (XCKU5P), the central board
for the central device's (XCZU7EV); both are UltraScale+ (`-family xcup`).
"""

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

from _common import REPO, run_metadata

from lstcommon.files import write_json
from trigger.hardware.board_synth import estimate_boards
from trigger.hardware.links import CENTRAL_DEVICE, READOUT_DEVICE, board_rtl_resources, partition
from trigger.hardware.partition_rtl import chain_parameters
from trigger.hardware.spec import TriggerSpec


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--report", type=Path, default=REPO / "testbench" / "build" / "hardware" / "report.json",
                        help="report.json of a trigger-synth build (its core's latency and output width)")
    parser.add_argument("--model", type=Path, default=None, help="trained trigger (default: the report's model)")
    parser.add_argument("--part", default=None, help="default: the report's part (the family is what matters)")
    parser.add_argument("--json", type=Path, default=None, help="write metadata and the estimate to this file")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    report = json.loads(args.report.read_text())
    spec = TriggerSpec.load(args.model or report["model"]["dir"])
    params = chain_parameters(report, spec)
    part = args.part or report["part"]
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        est = estimate_boards(params, part, Path(tmp) / "boards")
    wall = time.perf_counter() - t0
    from trigger.instrument import LSTInstrument

    core = report.get("resources_core")
    boards = board_rtl_resources(est, core, partition(LSTInstrument()))
    print(f"parameters {params}, part {part}; {'cached' if est.get('cached') else 'synthesized'} in {wall:.0f} s")
    print("| board | LUT | FF | DSP | BRAM36 | of the device's LUT | within 70% |")
    print("|---|---|---|---|---|---|---|")
    for name, device in (("readout", READOUT_DEVICE), ("central", CENTRAL_DEVICE)):
        b = boards[name]
        print(f"| {name} ({device.part}) | {b['lut']:,} | {b['ff']:,} | {b['dsp']} | {b['bram']} | "
              f"{100 * b['fraction']['lut']:.1f}% | {'yes' if b['fits_70_percent_lut'] else 'no'} |")
    print("\n| board | module | LUT (own) | FF (own) | deepest path | within 4 LUT + 1 chain |")
    print("|---|---|---|---|---|---|")
    for name in ("readout", "central"):
        for module, m in sorted(est[name]["modules"].items()):
            d = m.get("logic_depth")
            if d is None:
                continue
            print(f"| {name} | `{module}` | {m['lut']:,} | {m['ff']:,} | {d['lut']} LUT + {d['carry_chains']} chain"
                  f"{'s' if d['carry_chains'] != 1 else ''} | {'yes' if m['meets_budget'] else '**no**'} |")
    if args.json:
        write_json(args.json, {"metadata": run_metadata(), "report": str(args.report), "parameters": params,
                               "part": part, "estimate": est, "boards": boards, "wall_s": round(wall, 1)})
        print(f"written {args.json}")


if __name__ == "__main__":
    main()
