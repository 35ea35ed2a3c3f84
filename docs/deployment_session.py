"""The board session of docs/deployment.md: the same code on a PYNQ board and on the simulated board.

On the board (PYNQ 3.x/4.x, the overlay from `make bitstream` copied next to
this script; the trained model folder and its build's report.json too):

    python3 deployment_session.py --bitfile trigger_board.bit --model model --hardware hardware \
        --events gamma.dl1.h5 proton.dl1.h5

Here, without a board (the Verilated board wrapper; built on first use):

    .venv/bin/python docs/deployment_session.py --hardware demo-output/hardware --model demo-output/model \
        --events testbench/build/events/gamma.dl1.h5 testbench/build/events/proton.dl1.h5 --max-events 40

It opens the trigger, shows its registers, configures the trained operating
point, streams the telescope events of the files through it and compares the
decisions, window by window, with the Python model; the exit status is 1 when
any window differs.
"""

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bitfile", type=Path, help="the overlay on a PYNQ board (without it: the simulated board)")
    parser.add_argument("--hardware", type=Path, required=True, help="the trigger-synth build (report.json, rtl/)")
    parser.add_argument("--model", type=Path, required=True, help="the trained trigger (model.keras, trigger.json)")
    parser.add_argument("--events", type=Path, nargs="+", required=True, help="project event files (.dl1.h5)")
    parser.add_argument("--max-events", type=int, default=None, help="telescope events per file")
    parser.add_argument("--windows-per-batch", type=int, default=None, help="windows per DMA transfer")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")

    from trigger.deploy import open_board, open_simulated_board
    from trigger.deploy.check import compare_with_model
    from trigger.events import read_trigger_events
    from trigger.inputs import TriggerInput
    from trigger.nn.model import load_trigger

    model, config = load_trigger(args.model)
    report = json.loads((args.hardware / "report.json").read_text())
    trigger_input = TriggerInput.from_description(config["input"])
    counts = np.concatenate([read_trigger_events(f, trigger_input, max_tel_events=args.max_events).counts
                             for f in args.events])

    t0 = time.perf_counter()
    # the only line that differs between the board and the simulated board
    device = open_board(args.bitfile) if args.bitfile else open_simulated_board(args.hardware)
    t_open = time.perf_counter() - t0
    with device:
        print("registers after reset:", device.registers.dump())
        print("operating point:", device.configure_trigger(config, report))
        cycles0 = getattr(device.transport, "cycles", None)
        t0 = time.perf_counter()
        decisions = device.run(counts, windows_per_batch=args.windows_per_batch)
        wall = time.perf_counter() - t0
        cycles = None if cycles0 is None else device.transport.cycles - cycles0
        print("counters:", decisions.counters)
        print("status:", device.registers.status())

    result = compare_with_model(decisions, counts, model, config, report)
    where = f"board {args.bitfile}" if args.bitfile else "simulated board"
    print(f"{where}: opened in {t_open:.1f} s; {len(counts)} windows of {counts.shape[-1]} samples in "
          f"{len(decisions.batches)} batches, {wall:.2f} s" + (f", {cycles} clocks" if cycles else ""))
    print(f"analog sum fired in {int((decisions.asum_first >= 0).sum())} windows, network passed in "
          f"{int((decisions.nn_first >= 0).sum())}; {len(decisions.candidates)} candidates scored")
    print(f"DEPLOY SUMMARY windows={result.windows} candidates={result.candidates} "
          f"mismatches={result.n_mismatches} wall_s={wall:.2f}")
    for m in result.mismatches[:10]:
        print("mismatch:", m)
    return 1 if result.n_mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
