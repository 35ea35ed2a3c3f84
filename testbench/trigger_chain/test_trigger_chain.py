"""The partitioned trigger (hdl/trigger_chain_top.v: readout boards, links, central board) against the Python model.

The decisions of every window are the single top's (the same golden model,
testbench/trigger_top/golden.py); the central board reports time stamps, so
the bench maps each record to its window by time and compares the network's
candidates as a set in the model's order (sample, then group: the boards'
candidates meet at the merge in arrival order). Every candidate frame on every
link is also decoded with the layout of ``trigger.hardware.links.candidate_bits``
and checked: length, frame type, CRC-8, group and time stamp, and the ROI
contents against the model's ROI (``min(count, clip)`` of the group's three
modules over samples k-N_BEFORE .. k+N_AFTER-1). The links lose a fifth of
their slots at random (``link_stall``), so frames arrive with holes and the
boards' queues see back-pressure; the output's tready drops too.

The second test measures the chain's on-chip latency with idle links and
asserts it equals ``TopSpec``'s count of the RTL's stages (the clocks the
report's latency budget uses).

Settings (environment, set by the Makefile): TB_MODEL, TB_HARDWARE, TB_EVENTS,
TB_MAX_EVENTS, TB_N_RANDOM, TB_SEED, TB_STATS as for testbench/trigger_top.
"""

import json
import logging
import os
import time
from collections import Counter
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge
from cocotb.utils import get_sim_time
from golden import GoldenModel
from stimulus import synthetic_events
from stream import KIND_ASUM, KIND_NN, SPB, Event, Score, Stream, beat_words, compare, latencies

from trigger.hardware.links import candidate_bits, group_owners, link_pacing
from trigger.instrument import N_MODULES

log = logging.getLogger("cocotb.trigger_chain")

SEED = int(os.environ.get("TB_SEED", "1"))
LINK_STALL_P = 0.2  # the events test: each link loses a fifth of its slots, at random
CLOCK_NS = 4
_golden = None


def golden() -> GoldenModel:
    global _golden
    if _golden is None:
        _golden = GoldenModel(os.environ["TB_MODEL"], os.environ["TB_HARDWARE"])
    return _golden


def crc8(bits: int, n: int) -> int:
    """CRC-8 (polynomial 0x07, initial 0) of bits 0 .. n-1 of ``bits``, bit 0 first (trigger_readout_board.v)."""
    c = 0
    for i in range(n):
        fb = ((c >> 7) ^ (bits >> i)) & 1
        c = ((c << 1) & 0xFF) ^ (0x07 if fb else 0)
    return c


class LinkMonitor:
    """Collects the words on every readout board's link into frames (tlast ends one)."""

    def __init__(self, dut, n_boards):
        self.dut = dut
        self.n_boards = n_boards
        self.words = [[] for _ in range(n_boards)]
        self.frames = []  # (board, [words])
        self.running = True

    async def run(self):
        dut = self.dut
        while self.running:
            await FallingEdge(dut.clk)
            xfer = int(dut.link_xfer.value)
            if not xfer:
                continue
            data = int(dut.link_tdata.value)
            last = int(dut.link_tlast.value)
            for b in range(self.n_boards):
                if xfer >> b & 1:
                    self.words[b].append(data >> (64 * b) & (2**64 - 1))
                    if last >> b & 1:
                        self.frames.append((b, self.words[b]))
                        self.words[b] = []


class TimedStream(Stream):
    """The stream, with the simulation time of each of its clocks (the falling edge it drives and samples at)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.clock_ns = {}

    def _sample_outputs(self):
        super()._sample_outputs()
        self.clock_ns[self.result.clocks] = get_sim_time("ns")


class OfferMonitor:
    """When each readout board's link starts offering a frame (tvalid rising), and the links' slot counter then."""

    def __init__(self, dut, n_boards):
        self.dut = dut
        self.n_boards = n_boards
        self.offers = []  # (time ns at the falling edge, board, link_phase)
        self.running = True

    async def run(self):
        dut = self.dut
        before = 0
        while self.running:
            await FallingEdge(dut.clk)
            valid = int(dut.link_tvalid.value)
            for b in range(self.n_boards):
                if valid >> b & 1 and not before >> b & 1:
                    self.offers.append((get_sim_time("ns"), b, int(dut.link_phase.value)))
            before = valid


def check_frames(frames, layout, events, counts, g: GoldenModel, owners, score: Score, max_messages=10):
    """Every frame: length, type, CRC, and its candidate (group, time, ROI) one the model expects, on its board."""
    top = g.spec.top
    clip = g.spec.clip
    gm = np.asarray(g.analog_sum.group_modules)
    starts = {e.first_beat * SPB: i for i, e in enumerate(events)}
    n_samples = counts.shape[-1]
    bad = []
    for board, words in frames:
        if len(words) * 64 != layout["frame_bits"]:
            bad.append(f"board {board}: frame of {len(words)} words, not {layout['frame_bits'] // 64}")
            continue
        frame = sum(w << (64 * k) for k, w in enumerate(words))
        payload = frame & ((1 << layout["payload_w"]) - 1)
        crc = frame >> (layout["frame_bits"] - 8)
        kind = frame & 0xF
        group = frame >> layout["off_group"] & ((1 << layout["group_bits"]) - 1)
        t = frame >> layout["off_time"] & 0xFFFFFFFF
        each = layout["bits_per_count"]
        roi = [frame >> (layout["off_roi"] + k * each) & ((1 << each) - 1) for k in range(top.n_nn_inputs)]
        if crc != crc8(payload, layout["payload_w"]) or kind != 2:
            bad.append(f"board {board}: frame type {kind} or CRC 0x{crc:02x} wrong")
            continue
        if owners[group] != board:
            bad.append(f"board {board}: sent group {group}, which board {owners[group]} owns")
        t0 = max((s for s in starts if s <= t), default=None)
        if t0 is None or t - t0 >= n_samples:
            bad.append(f"board {board}: candidate at time {t} in no window")
            continue
        i, k = starts[t0], t - t0
        want = counts[i][gm[group], k - top.n_before : k + top.n_after].astype(int)
        if clip is not None:
            want = np.minimum(want, clip)
        if roi != want.ravel().tolist():
            bad.append(f"board {board}: ROI of group {group} at sample {k} of window {i}: {roi[:8]}... != "
                       f"{want.ravel().tolist()[:8]}...")
    score.mismatches += len(bad)
    for m in bad[:max_messages]:
        log.error("MISMATCH link frame %s", m)
    return len(frames)


def by_window(records, events, n_samples):
    """The central board's records (time stamps only) with the window and sample the single top would report."""
    starts = sorted((e.first_beat * SPB, i) for i, e in enumerate(events) if e.first_beat is not None)
    out = []
    for r in records:
        t0, i = max(((s, i) for s, i in starts if s <= r.time), default=(None, None))
        if t0 is None or r.time - t0 >= n_samples:
            r.window = 0xFFFF  # in no window: compare() reports it
        else:
            r.window, r.sample = i & 0xFFFF, (r.time - t0) & 0xFFFF
        out.append(r)
    # the boards' candidates meet in arrival order; the model's order is (sample, group) within a window
    return sorted(out, key=lambda r: (r.kind != KIND_NN, r.window, r.time, r.group))


def board_owners(g: GoldenModel):
    """The readout board of every group (``links.group_owners``) and the number of boards."""
    owners = group_owners(g.trigger_input.instrument)
    return owners, int(owners.max()) + 1


class LinkStaller:
    """Takes slots from the links at random (trigger_chain_top's ``link_stall``), as a lane's alignment and
    clock-compensation idles do: a frame's words then arrive with holes of any length, and a board's queue and
    the central board's receive FIFO see back-pressure. Counts the words a stall held back."""

    def __init__(self, dut, n_boards, rng, p, slots):
        self.dut, self.n_boards, self.rng, self.p, self.slots = dut, n_boards, rng, p, slots
        self.held = 0
        self.running = True

    async def run(self):
        dut = self.dut
        weights = 1 << np.arange(self.n_boards, dtype=np.uint64)
        while self.running:
            # driven just after the rising edge, so that the link monitor, sampling at the falling edge, sees
            # the transfers the next rising edge makes
            await RisingEdge(dut.clk)
            stall = self.rng.random(self.n_boards) < self.p
            dut.link_stall.value = int(np.sum(weights[stall]))
            await FallingEdge(dut.clk)
            # a word offered in a slot its lane lost waits (the links' slots: link_phase < LINK_SLOTS)
            if int(dut.link_phase.value) < self.slots:
                self.held += bin(int(dut.link_tvalid.value) & int(dut.link_stall.value)).count("1")
        await RisingEdge(dut.clk)
        dut.link_stall.value = 0


def frame_clocks(g: GoldenModel, layout) -> float:
    """Clocks one candidate frame takes on a link, on average (trigger_chain_top's pacing, links.link_pacing)."""
    slots, period = link_pacing(float(g.report["clock_mhz"]))
    return layout["frame_bits"] // 64 * period / slots


def gap_for(expected, owners, rng, clocks_per_frame, slack=6):
    """Idle clocks after an event so that the busiest board's link carries its candidates before the next."""
    per_board = Counter(owners[g] for _, g, _, _ in expected.candidates)
    busiest = max(per_board.values(), default=0)
    return int(busiest * clocks_per_frame * 1.25) + int(rng.integers(0, slack))


def record_stats(name, score: Score, sim_us, wall_s):
    path = Path(os.environ.get("TB_STATS", "sim_stats.jsonl"))
    with open(path, "a") as f:
        f.write(json.dumps({"test": name, "events": score.events, "windows": score.windows,
                            "mismatches": score.mismatches, "sim_time_us": sim_us, "wall_s": wall_s}) + "\n")


async def setup(dut, g: GoldenModel):
    cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns").start())
    stream = TimedStream(dut, np.random.default_rng(SEED))
    regs = g.registers
    dut.nn_threshold.value = regs["nn_threshold"] & 0xFFFFFFFF
    dut.asum_threshold.value = regs["asum_threshold"] & 0xFFFFFFFF
    dut.gate_threshold.value = regs["gate_threshold"] & 0xFFFFFFFF
    dut.nn_enable.value = 1
    dut.asum_enable.value = 1
    dut.link_stall.value = 0
    dut.rst_n.value = 0
    await ClockCycles(dut.clk, 4)
    await FallingEdge(dut.clk)
    dut.rst_n.value = 1
    return stream


@cocotb.test()
async def chain_events_against_the_model(dut):
    """Simulated and real telescope events and synthetic windows through 12 readout boards and the central board."""
    t_wall, t_sim = time.perf_counter(), get_sim_time("us")
    g = golden()
    stream = await setup(dut, g)
    stream.p_ready = 0.9
    owners, n_boards = board_owners(g)
    layout = candidate_bits(g.spec.top, g.spec.clip)
    rng = np.random.default_rng(SEED)
    files = [f for f in os.environ.get("TB_EVENTS", "").split(",") if f]
    max_events = int(os.environ.get("TB_MAX_EVENTS", "40"))
    parts = [(Path(path).name.split(".")[0], g.read(path, max_events)) for path in files]
    synthetic, labels = synthetic_events(rng, int(os.environ.get("TB_N_RANDOM", "60")))
    parts.append(("synthetic", synthetic))
    n_samples = synthetic.shape[-1]
    counts = np.concatenate([c[..., :n_samples] for _, c in parts if c.shape[-1] >= n_samples])
    names = [f"{name}[{i}]" for name, c in parts if c.shape[-1] >= n_samples for i in range(len(c))]
    expected = g.expect(counts)
    # the links lose LINK_STALL_P of their slots: the gaps between events leave room for that
    clocks_per_frame = frame_clocks(g, layout) / (1 - LINK_STALL_P)
    events = [Event(name, beat_words(c), gap_for(e, owners, rng, clocks_per_frame))
              for name, c, e in zip(names, counts, expected, strict=True)]
    log.info("%d windows, %d candidates, %d analog-sum samples", len(events),
             sum(len(e.candidates) for e in expected), sum(len(e.asum_samples) for e in expected))

    monitor = LinkMonitor(dut, n_boards)
    staller = LinkStaller(dut, n_boards, np.random.default_rng(SEED + 1), LINK_STALL_P,
                          link_pacing(float(g.report["clock_mhz"]))[0])
    cocotb.start_soon(monitor.run())
    cocotb.start_soon(staller.run())
    await stream.send(events)
    await stream.drain()
    monitor.running = staller.running = False
    records = by_window(stream.result.records, events, n_samples)
    score = compare(events, expected, records)
    n_frames = check_frames(monitor.frames, layout, events, counts, g, owners, score)
    n_cand = sum(len(e.candidates) for e in expected)
    if n_frames != n_cand:
        score.mismatches += 1
        log.error("MISMATCH %d candidate frames on the links, the model has %d candidates", n_frames, n_cand)
    for name in ("crc_errors", "asum_lost", "misaligned", "cand_lost"):
        if int(getattr(dut, name).value):
            score.mismatches += 1
            log.error("MISMATCH %s = %d after the run", name, int(getattr(dut, name).value))
    if staller.held == 0:
        score.mismatches += 1
        log.error("MISMATCH the link stalls held back no word: the run did not test them")
    log.info("%d link words held back by a lost slot; latency under this load, clocks from the beat taken to "
             "the record taken (min, max): %s", staller.held, latencies(stream, stream.result.records))
    frames_per_board = Counter(b for b, _ in monitor.frames)
    log.info("frames per board: %s; %d clocks", dict(sorted(frames_per_board.items())), stream.result.clocks)
    record_stats("chain_events_against_the_model", score, get_sim_time("us") - t_sim, time.perf_counter() - t_wall)
    log.info("chain: %d events, %d windows, %d mismatches, %.0f s", score.events, score.windows, score.mismatches,
             time.perf_counter() - t_wall)
    assert score.mismatches == 0, f"{score.mismatches} mismatches (first: {score.messages[:3]})"


def lone_candidate_windows(g: GoldenModel, owners, n_samples=40):
    """One window per readout board: a pulse on the three modules of one of its groups, one sample long.

    Its height is the lowest at which the model has that group's sum as the
    window's only candidate and the analog sum firing (the groups sharing two
    of its modules stay below the gate), so that the frame has the link, the
    merge and the output to itself: the latency of an idle chain.
    """
    gm = np.asarray(g.analog_sum.group_modules)
    heights = np.arange(1, 256)
    windows = []
    for b in range(int(owners.max()) + 1):
        group = int(np.flatnonzero(owners == b)[0])
        t = n_samples // 2 + b % SPB  # the candidate's place in its beat varies too
        c = np.zeros((len(heights), N_MODULES, n_samples), dtype=np.uint8)
        c[:, gm[group], t] = heights[:, None]
        exp = g.expect(c)
        ok = [i for i, e in enumerate(exp) if len(e.candidates) == 1 and e.candidates[0][1] == group and e.asum_samples]
        assert ok, f"no pulse height makes group {group} the only candidate of board {b} with the analog sum firing"
        windows.append((c[ok[0]], exp[ok[0]]))
    return windows


@cocotb.test()
async def chain_latency_with_idle_links(dut):
    """Clocks from the beat taken to the analog-sum and network records, links idle: TopSpec's count of the stages.

    Records are taken every clock (m_axis_tready high) and each window's one
    candidate finds the boards' queues, links and the merge empty. The
    network path's clocks depend on where in the links' slot pattern
    (LINK_SLOTS of every LINK_PERIOD clocks) its frame is first offered: the
    bench reads that phase (link_phase) when the frame's link turns valid,
    and checks, for every record, the readout board's clocks to that point
    and the whole path against TopSpec at that phase. It holds for the pacing
    links.link_pacing gives at the build's clock (the chain's LINK_SLOTS,
    LINK_PERIOD, set from it by the Makefile).
    """
    t_wall, t_sim = time.perf_counter(), get_sim_time("us")
    g = golden()
    stream = await setup(dut, g)
    stream.p_ready = 1.0
    owners, n_boards = board_owners(g)
    top = g.spec.top
    layout = candidate_bits(top, g.spec.clip)
    words = layout["frame_bits"] // 64
    slots, period = link_pacing(float(g.report["clock_mhz"]))
    core = int(g.report["latency_cycles"])
    worst = top.chain_latency_clocks(core, words, slots, period)
    windows = lone_candidate_windows(g, owners)
    # a gap well past the worst latency empties the chain; gaps differing by a clock move the frames' link phase
    events = [Event(f"lone candidate, board {b}", beat_words(c), 2 * worst + b) for b, (c, _) in enumerate(windows)]
    expected = [e for _, e in windows]
    offers = OfferMonitor(dut, n_boards)
    cocotb.start_soon(offers.run())
    await stream.send(events)
    await stream.drain()
    offers.running = False
    n_samples = windows[0][0].shape[-1]
    records = by_window(stream.result.records, events, n_samples)
    score = compare(events, expected, records)

    # one frame per window, in the windows' order, from the board that owns the window's group
    offer = {}
    for (t_ns, board, phase), event, e in zip(sorted(offers.offers), events, expected, strict=False):
        sample, group = e.candidates[0][:2]
        if board == owners[group]:
            offer[event.first_beat * SPB + sample] = (t_ns, board, phase)
    got, want = {}, {}
    for r in records:
        beat_clock = stream.beat_clock[r.time // SPB]
        if r.kind == KIND_ASUM:
            got[("asum", r.time)], want[("asum", r.time)] = r.clock - beat_clock, top.chain_asum_latency_clocks
            continue
        t_ns, board, phase = offer.get(r.time, (None, None, 0))
        # the beat is taken at the rising edge after the stream's falling edge, the frame pushed at the one before
        # the falling edge where its link is seen valid
        readout = None if t_ns is None else round((t_ns - stream.clock_ns[beat_clock]) / CLOCK_NS) - 1
        key = ("nn", r.time, phase)
        got[key] = (readout, r.clock - beat_clock)
        want[key] = (top.chain_readout_latency_clocks, top.chain_latency_clocks(core, words, slots, period, phase))
    kinds = Counter(k[0] for k in got)
    log.info("idle chain, beat taken to record taken: analog sum %s clocks; network %s clocks (readout board %s) at "
             "link phases %s (%d-word frames, %d of %d slots; worst phase %d clocks)",
             sorted({v for k, v in got.items() if k[0] == "asum"}),
             sorted({v[1] for k, v in got.items() if k[0] == "nn"}),
             sorted({v[0] for k, v in got.items() if k[0] == "nn"}),
             sorted({k[2] for k in got if k[0] == "nn"}), words, slots, period, worst)
    if kinds != {"asum": len(events), "nn": len(events)} or len(offers.offers) != len(events) or got != want:
        score.mismatches += 1
        log.error("MISMATCH latency in clocks (kind, time[, phase]) -> measured %s, expected %s; %d frames",
                  {k: v for k, v in got.items() if want.get(k) != v},
                  {k: v for k, v in want.items() if got.get(k) != v}, len(offers.offers))
    record_stats("chain_latency_with_idle_links", score, get_sim_time("us") - t_sim, time.perf_counter() - t_wall)
    assert score.mismatches == 0, f"{score.mismatches} mismatches (first: {score.messages[:3]}); latency {got} != {want}"
