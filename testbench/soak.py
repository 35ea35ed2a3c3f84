"""`make soak`: millions of network windows through the simulated board, every decision against the Python model.

    python testbench/soak.py --model DIR --hardware DIR --events a.h5,b.h5 [--windows 10000000] [--seed 1]

The simulated board (``trigger.deploy.open_simulated_board``: the Verilated
board wrapper around ``hdl/trigger_top.v`` and the build's network core, C++
with a ctypes API) runs about 15 times faster than the cocotb bench; the
driver packs the windows into DMA transfers as on the board (1024-bit DMA
words by default, 9 clocks a beat). The input pauses after a window whose
candidates would outrun the core (:func:`pacing`), so that the overload
windows are compared, not dropped: the losses themselves are ``make sim``'s
overload test. Windows come in
chunks: the telescope events of the given files redrawn, interleaved with
synthetic ones (``trigger_top/stimulus.py``: noise, bright pulses,
every-group steps, saturated and uniform windows); each chunk's decisions are
compared with :func:`trigger.hardware.expected.expected_decisions` (the
testbench's golden model) through :func:`trigger.deploy.check.compare_with_model`.
It stops when ``--windows`` network ROI windows (candidates) have been
compared and prints the same last line as ``make sim``:

    SIM SUMMARY events=N windows=M mismatches=K sim_time_us=T wall_s=W

(events: trigger-input windows; windows: network ROI windows compared;
sim_time_us: simulated time at 250 MHz), exiting non-zero when K > 0.
"""

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

from trigger.deploy.packing import SPB

sys.path.insert(0, str(Path(__file__).resolve().parent / "trigger_top"))

log = logging.getLogger("soak")

CLOCK_MHZ = 250.0


def pacing(counts, want, words_per_beat: int, slack: int) -> np.ndarray:
    """Idle input clocks after each window, so that the candidates never outrun the core.

    The core takes one candidate a clock, the picker one idle clock per beat
    with candidates, and the output one record a clock (a network record per
    candidate, an analog-sum record per beat that fires); a window that needs
    more clocks than its beats take to arrive leaves a backlog, which the
    pause after it works off (beyond ``slack`` clocks kept queued). Without it the overload windows of
    the stimulus (every group rising at once) would overflow the queue and
    their decisions be counted as lost, not compared.
    """
    n, _, n_samples = counts.shape
    cands = np.bincount(want.event, minlength=n)
    beats = np.zeros(n, np.int64)
    if len(want.event):
        pairs = np.unique(want.event.astype(np.int64) * n_samples + want.sample // SPB)
        beats = np.bincount(pairs // n_samples, minlength=n)
    records = cands + want.asum_fired.reshape(n, -1, SPB).any(axis=2).sum(axis=1)
    arrive = n_samples // SPB * words_per_beat
    gaps = np.zeros(n, np.uint32)
    backlog = 0
    for i in range(n):
        backlog = max(0, backlog + int(max(cands[i] + beats[i], records[i])) - arrive)
        gaps[i] = max(0, backlog - slack)
        backlog -= int(gaps[i])
    return gaps


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--hardware", type=Path, required=True)
    parser.add_argument("--events", default="", help="comma-separated project HDF5 files (telescope events)")
    parser.add_argument("--max-events", type=int, default=40, help="telescope events read from each file")
    parser.add_argument("--windows", type=int, default=10_000_000, help="network ROI windows to compare")
    parser.add_argument("--chunk", type=int, default=2000, help="trigger-input windows per chunk")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dma-width", type=int, default=1024, help="bits of the simulated board's DMA streams")
    parser.add_argument("--slack", type=int, default=0,
                        help="candidate clocks left queued when pacing the input (see pacing())")
    # the driver re-arms the receive DMA after each packet, POLL_CLOCKS of simulated software later: with
    # the board's default 256 records that wait, not the trigger, set the pace
    parser.add_argument("--packet", type=int, default=8192, help="records per receive DMA packet")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="soak: %(message)s")
    t_wall = time.perf_counter()

    from concurrent.futures import ThreadPoolExecutor

    from stimulus import synthetic_events

    from trigger.deploy import open_simulated_board
    from trigger.deploy.check import compare_decisions
    from trigger.events import read_trigger_events
    from trigger.hardware.expected import expected_decisions
    from trigger.hardware.spec import TriggerSpec
    from trigger.inputs import TriggerInput
    from trigger.nn.model import load_trigger, score_function

    model, config = load_trigger(args.model)
    spec = TriggerSpec.from_config(config)
    score = score_function(model)
    report = json.loads((args.hardware / "report.json").read_text())
    trigger_input = TriggerInput.from_description(config["input"])
    files = [f for f in args.events.split(",") if f]
    pool = [read_trigger_events(f, trigger_input, max_tel_events=args.max_events).counts for f in files]
    pool = np.concatenate(pool) if pool else np.zeros((0, spec.top.n_modules, 0), np.uint8)
    rng = np.random.default_rng(args.seed)
    output_kif = report["rtl"]["output_kif"]

    def make_chunk():
        n_rand = args.chunk // 2 if len(pool) else args.chunk
        rand, _ = synthetic_events(rng, n_rand)
        parts = [rand] + ([pool[rng.integers(0, len(pool), size=args.chunk - n_rand)]] if len(pool) else [])
        counts = np.concatenate(parts)[rng.permutation(args.chunk)]
        return counts, expected_decisions(counts, spec, score, output_kif)

    events = windows = mismatches = 0
    clocks = 0
    t_board = t_model = 0.0
    # the board (C++ through ctypes, which lets go of the GIL) runs a chunk while this thread works out the
    # model's decisions on the next one: two cores busy instead of one
    with open_simulated_board(args.hardware, dma_width=args.dma_width, packet=args.packet) as device, ThreadPoolExecutor(1) as pool_:
        device.configure_trigger(config, report)
        board = device.transport
        fmt_words = board.format.words_per_beat
        t0 = time.perf_counter()
        chunk = make_chunk()
        t_model += time.perf_counter() - t0
        while chunk is not None:
            counts, want = chunk
            board.pace_windows(pacing(counts, want, fmt_words, args.slack))
            before, t0 = board.cycles, time.perf_counter()
            running = pool_.submit(device.run, counts)
            t1 = time.perf_counter()
            chunk = make_chunk() if windows + len(want.event) < args.windows else None
            t_model += time.perf_counter() - t1
            decisions = running.result()
            t_board += time.perf_counter() - t0
            clocks += board.cycles - before
            result = compare_decisions(decisions, want)
            events += result.windows
            windows += result.candidates
            mismatches += result.n_mismatches
            for m in result.mismatches[:3]:
                log.error("MISMATCH %s", m)
            log.info("%d events, %d network windows, %d mismatches, %.0f s (board %.0f s, %.0f clocks/s; model %.0f s)",
                     events, windows, mismatches, time.perf_counter() - t_wall, t_board, clocks / max(t_board, 1e-9),
                     t_model)
    print(f"SIM SUMMARY events={events} windows={windows} mismatches={mismatches} "
          f"sim_time_us={clocks / CLOCK_MHZ:.1f} wall_s={time.perf_counter() - t_wall:.0f}")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
