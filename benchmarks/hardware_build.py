"""Time `trigger.hardware.build` on example trigger models and print the numbers of docs/hardware.md.

    .venv/bin/python benchmarks/hardware_build.py [--hidden 8 --hidden 16,8] [--n-check 2000] [--out DIR]

Each model is `trigger.hardware.example.write_example_model` (48 unsigned 8-bit
inputs, briefly trained on random data), built for XCZU7EV at 250 MHz. With
--json PATH, writes the run metadata and every report there.
"""

import argparse
import logging
import tempfile
import time
from pathlib import Path

from _common import run_metadata

from lstcommon.files import write_json
from trigger.hardware import build
from trigger.hardware.example import write_example_model


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hidden", action="append", help="hidden layer widths, comma separated (repeatable)")
    parser.add_argument("--n-check", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="keep the builds here (default: a temporary folder)")
    parser.add_argument("--json", type=Path, default=None, help="write metadata and reports to this file")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    hidden_sets = [tuple(int(w) for w in h.split(",")) for h in (args.hidden or ["8", "16,8"])]
    with tempfile.TemporaryDirectory() as tmp:
        root = args.out or Path(tmp)
        results = []
        for hidden in hidden_sets:
            name = "48-" + "-".join(map(str, hidden)) + "-1"
            model = write_example_model(root / name / "model", hidden=hidden, epochs=args.epochs)
            t0 = time.perf_counter()
            report = build(model, root / name / "build", n_check=args.n_check, overwrite=True)
            results.append({"model": name, "wall_s": round(time.perf_counter() - t0, 1), "report": report})
    if args.json:
        write_json(args.json, {"metadata": run_metadata(), "results": results})
    header = f"{'model':>12} {'checks':>7} {'mism.':>5} {'lat':>4} {'LUT':>7} {'FF':>6} {'DSP':>4} {'BRAM':>5} " \
             f"{'da4ml LUT':>9} {'da4ml FF':>8} {'hls s':>6} {'rtl s':>6} {'synth s':>7} {'total s':>7}"
    print(header)
    for r in results:
        rep, res, t = r["report"], r["report"]["resources"], r["report"]["timings_s"]
        mism = rep["bit_exact"]["hls_csim"]["mismatches"] + rep["bit_exact"]["verilog"]["mismatches"]
        print(f"{r['model']:>12} {rep['checks']['events']:>7} {mism:>5} {rep['latency_cycles']:>4} {res['lut']:>7} "
              f"{res['ff']:>6} {res['dsp']:>4} {res['bram']:>5} {rep['resources_da4ml']['lut']:>9.0f} "
              f"{rep['resources_da4ml']['ff']:>8} {t['hls']:>6} {t['rtl']:>6} {t['synth']:>7} {t['total']:>7}")
    if args.json:
        print(f"written {args.json}")


if __name__ == "__main__":
    main()
