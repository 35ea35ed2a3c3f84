"""The last line of `make sim`: SIM SUMMARY events=N windows=M mismatches=K sim_time_us=T wall_s=W.

Sums the per-test counts the testbenches appended to the stats file, and
exits non-zero when any window mismatched, any cocotb test failed or an
earlier step (lint, model build) failed.
"""

import argparse
import json
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path


def failed_tests(results: Path) -> list[str]:
    if not results.is_file():
        return [f"{results} (missing: the testbench did not run)"]
    root = ET.parse(results).getroot()
    return [f"{case.get('classname')}.{case.get('name')}" for case in root.iter("testcase")
            if case.find("failure") is not None or case.find("error") is not None]


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--stats", type=Path, required=True)
    parser.add_argument("--results", type=Path, nargs="*", default=[])
    parser.add_argument("--start", type=float, required=True, help="wall clock (s since epoch) at the start")
    parser.add_argument("--status", type=int, default=0, help="non-zero when a step before the summary failed")
    args = parser.parse_args(argv)
    totals = {"events": 0, "windows": 0, "mismatches": 0, "sim_time_us": 0.0}
    if args.stats.is_file():
        for line in args.stats.read_text().splitlines():
            row = json.loads(line)
            for k in totals:
                totals[k] += row[k]
    failed = [f for r in args.results for f in failed_tests(r)]
    for name in failed:
        print(f"failed: {name}", file=sys.stderr)
    wall = time.time() - args.start
    print(f"SIM SUMMARY events={totals['events']} windows={totals['windows']} mismatches={totals['mismatches']} "
          f"sim_time_us={totals['sim_time_us']:.1f} wall_s={wall:.0f}")
    return 1 if totals["mismatches"] or failed or args.status else 0


if __name__ == "__main__":
    sys.exit(main())
