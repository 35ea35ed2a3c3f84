"""hdl/trigger_top.v with the generated network core, against the Python model, window by window.

Settings (environment, set by the Makefile):
    TB_MODEL, TB_HARDWARE   trained model folder and its `trigger-synth build` folder
    TB_EVENTS               comma-separated project HDF5 files (simulated, converted real)
    TB_MAX_EVENTS           telescope events taken from each file (default 40)
    TB_N_RANDOM             randomized events (default 60)
    TB_N_LONG               extra random + file events for a long run (default 0)
    TB_SEED                 seed of the random stimulus and back-pressure
    TB_STATS                JSON-lines file the per-test counts are appended to (the SIM SUMMARY)
"""

import json
import logging
import os
import time
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge
from cocotb.utils import get_sim_time
from cocotbext.axi import AxiLiteBus, AxiLiteMaster, AxiResp
from golden import GoldenModel
from stimulus import synthetic_events
from stream import Event, Score, Stream, beat_words, compare, latencies

from trigger.hardware.spec import TopSpec

log = logging.getLogger("cocotb.trigger_top")

ID, VERSION, CONTROL, STATUS = 0x00, 0x04, 0x08, 0x0C
NN_THR, ASUM_THR, SCRATCH, GATE_THR = 0x10, 0x14, 0x18, 0x1C
NN_COUNT, ASUM_COUNT, WINDOW_COUNT, DROP_COUNT, CAND_DROP_COUNT, EVENT_COUNT = 0x20, 0x24, 0x28, 0x2C, 0x30, 0x34

SEED = int(os.environ.get("TB_SEED", "1"))
_golden = None


def golden() -> GoldenModel:
    global _golden
    if _golden is None:
        _golden = GoldenModel(os.environ["TB_MODEL"], os.environ["TB_HARDWARE"])
    return _golden


def record_stats(name, score: Score, sim_us, wall_s):
    path = Path(os.environ.get("TB_STATS", "sim_stats.jsonl"))
    with open(path, "a") as f:
        f.write(json.dumps({"test": name, "events": score.events, "windows": score.windows,
                            "mismatches": score.mismatches, "sim_time_us": sim_us, "wall_s": wall_s}) + "\n")


async def setup(dut):
    cocotb.start_soon(Clock(dut.clk, 4, unit="ns").start())
    master = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil"), dut.clk, dut.rst_n, reset_active_level=False)
    logging.getLogger(f"cocotb.{dut._name}.s_axil").setLevel(logging.WARNING)  # a line per access otherwise
    stream = Stream(dut, np.random.default_rng(SEED))
    await reset(dut)
    return master, stream


async def reset(dut, cycles=4):
    dut.rst_n.value = 0
    await ClockCycles(dut.clk, cycles)
    await FallingEdge(dut.clk)
    dut.rst_n.value = 1


async def read(master, address):
    resp = await master.read(address, 4)
    assert resp.resp == AxiResp.OKAY, f"read 0x{address:02x}: {resp.resp}"
    return int.from_bytes(resp.data, "little")


async def write(master, address, value):
    resp = await master.write(address, (value & 0xFFFFFFFF).to_bytes(4, "little"))
    assert resp.resp == AxiResp.OKAY, f"write 0x{address:02x}: {resp.resp}"


async def configure(master, g: GoldenModel, enables=0b11):
    regs = g.registers
    await write(master, NN_THR, regs["nn_threshold"])
    await write(master, ASUM_THR, regs["asum_threshold"])
    await write(master, GATE_THR, regs["gate_threshold"])
    await write(master, CONTROL, enables)


async def counters(master):
    names = ("nn", "asum", "windows", "asum_lost", "cand_lost", "events")
    addresses = (NN_COUNT, ASUM_COUNT, WINDOW_COUNT, DROP_COUNT, CAND_DROP_COUNT, EVENT_COUNT)
    return {n: await read(master, a) for n, a in zip(names, addresses, strict=True)}


def gap_for(expected, rng, slack=6):
    """Idle clocks after an event so the one core keeps up with its candidates, with margin for back-pressure.

    The next event's beats still overlap the queue's last candidates; only
    events far brighter than showers (every group rising at once) need gaps.
    """
    n = len(expected.candidates)
    return max(0, n + n // 2 - 8) + int(rng.integers(0, slack))


def make_events(label, counts, expected, rng, gaps=True):
    return [Event(f"{label}[{i}]", beat_words(c), gap_for(e, rng) if gaps else 0)
            for i, (c, e) in enumerate(zip(counts, expected, strict=True))]


def check_counters(got, expected, score: Score, allow_loss=False, extra_events=0):
    """Register counters against what the model expects and what the stream delivered."""
    n_pass = sum(p for e in expected for *_, p in e.candidates)
    n_cand = sum(len(e.candidates) for e in expected)
    asum_beats = sum(len({s // 4 for s in e.asum_samples}) for e in expected)
    want = {"events": len(expected) + extra_events}
    if allow_loss:
        want |= {"cand_lost": score.missing_candidates, "asum_lost": score.missing_asum_records,
                 "windows": n_cand - score.missing_candidates}
    else:
        want |= {"nn": n_pass, "windows": n_cand, "asum": asum_beats, "asum_lost": 0, "cand_lost": 0}
    for name, value in want.items():
        if got[name] != value:
            score.mismatches += 1
            log.error("MISMATCH counter %s: RTL %d != expected %d", name, got[name], value)


def file_sets():
    files = [f for f in os.environ.get("TB_EVENTS", "").split(",") if f]
    max_events = int(os.environ.get("TB_MAX_EVENTS", "40"))
    return files, max_events


async def run_and_compare(dut, master, stream, events, expected, name, allow_loss=False, window_base=0):
    """Stream, drain, compare with the model and the counters; the counts go to the SIM SUMMARY."""
    t_wall, t_sim = time.perf_counter(), get_sim_time("us")
    records_before = len(stream.result.records)
    await stream.send(events)
    await stream.drain()
    records = stream.result.records[records_before:]
    score = compare(events, expected, records, allow_loss=allow_loss, window_base=window_base)
    log.info("%s: latency in clocks, beat taken to record taken (min, max): %s", name, latencies(stream, records))
    check_counters(await counters(master), expected, score, allow_loss=allow_loss, extra_events=window_base)
    record_stats(name, score, get_sim_time("us") - t_sim, time.perf_counter() - t_wall)
    log.info("%s: %d events, %d windows, %d mismatches, %d clocks, %.0f s", name, score.events, score.windows,
             score.mismatches, stream.result.clocks, time.perf_counter() - t_wall)
    return score


@cocotb.test()
async def registers_over_axi_lite(dut):
    """ID, version, thresholds (gate included) read back, enables at the core, unmapped address, idle status."""
    master, _ = await setup(dut)
    assert await read(master, ID) == 0x4C535454
    assert await read(master, VERSION) == 0x00010000
    assert await read(master, CONTROL) == 0
    assert await read(master, GATE_THR) == 0xFFFFFFFF  # nothing gates until configured
    rng = np.random.default_rng(SEED)
    for _ in range(5):
        values = [int(v) for v in rng.integers(0, 2**32, size=4)]
        for address, v in zip((NN_THR, ASUM_THR, GATE_THR, SCRATCH), values, strict=True):
            await write(master, address, v)
        assert [await read(master, a) for a in (NN_THR, ASUM_THR, GATE_THR, SCRATCH)] == values
    await write(master, CONTROL, 0b11)
    assert int(dut.nn_enable.value) == 1 and int(dut.asum_enable.value) == 1
    assert (await master.read(0x3C, 4)).resp == AxiResp.SLVERR
    status = await read(master, STATUS)
    assert status & 0xF == 0, f"status 0x{status:08x}: busy or a loss flag after reset"
    assert all(v == 0 for v in (await counters(master)).values())


@cocotb.test()
async def events_from_files(dut):
    """Simulated gamma/proton/NSB and real sim_telarray events: every decision equal to the model's."""
    master, stream = await setup(dut)
    g = golden()
    await configure(master, g)
    stream.p_ready = 0.8  # mild back-pressure: queued, never lost
    files, max_events = file_sets()
    assert files, "no event files given (TB_EVENTS)"
    events, expected = [], []
    rng = np.random.default_rng(SEED)
    for path in files:
        counts = g.read(path, max_events)
        exp = g.expect(counts)
        events += make_events(Path(path).name.split(".")[0], counts, exp, rng)
        expected += exp
        log.info("%s: %d events, %d candidates, %d analog-sum samples", path, len(counts),
                 sum(len(e.candidates) for e in exp), sum(len(e.asum_samples) for e in exp))
    score = await run_and_compare(dut, master, stream, events, expected, "events_from_files")
    assert score.mismatches == 0, f"{score.mismatches} mismatches (first: {score.messages[:3]})"


@cocotb.test()
async def random_stimulus(dut):
    """Saturated (255), all-zero, noise, bright pulses and every-group steps, back to back but paced."""
    master, stream = await setup(dut)
    g = golden()
    await configure(master, g)
    stream.p_ready = 0.9
    rng = np.random.default_rng(SEED + 1)
    n = int(os.environ.get("TB_N_RANDOM", "60"))
    counts, labels = synthetic_events(rng, n)
    expected = g.expect(counts)
    events = [Event(f"{label}[{i}]", beat_words(c), gap_for(e, rng))
              for i, (label, c, e) in enumerate(zip(labels, counts, expected, strict=True))]
    score = await run_and_compare(dut, master, stream, events, expected, "random_stimulus")
    assert score.mismatches == 0, f"{score.mismatches} mismatches (first: {score.messages[:3]})"


@cocotb.test()
async def overload_is_counted(dut):
    """Step events back to back: more candidates than one core can score in time; every loss is counted."""
    master, stream = await setup(dut)
    g = golden()
    await configure(master, g)
    rng = np.random.default_rng(SEED + 2)
    counts, _ = synthetic_events(rng, 24)
    counts[::2] = np.where(np.arange(40) >= 20, 255, 16).astype(np.uint8)[None, :]  # 474 candidates each
    expected = g.expect(counts)
    events = make_events("overload", counts, expected, rng, gaps=False)
    score = await run_and_compare(dut, master, stream, events, expected, "overload_is_counted", allow_loss=True)
    status = await read(master, STATUS)
    assert score.missing_candidates > 0 and status & 0b11, "the overload did not overload the queue"
    assert score.mismatches == 0, f"{score.mismatches} mismatches (first: {score.messages[:3]})"


@cocotb.test()
async def back_pressure_loses_nothing_silently(dut):
    """Output ready 10% of the time: records wait, or are dropped and counted; none twice, none wrong."""
    master, stream = await setup(dut)
    g = golden()
    await configure(master, g)
    stream.p_ready = 0.1
    rng = np.random.default_rng(SEED + 3)
    counts, _ = synthetic_events(rng, 16)
    expected = g.expect(counts)
    events = make_events("back-pressure", counts, expected, rng, gaps=False)
    score = await run_and_compare(dut, master, stream, events, expected, "back_pressure", allow_loss=True)
    assert score.mismatches == 0, f"{score.mismatches} mismatches (first: {score.messages[:3]})"


@cocotb.test()
async def reset_mid_stream(dut):
    """Reset in the middle of an event: nothing decided from before it, the next events exact."""
    master, stream = await setup(dut)
    g = golden()
    await configure(master, g)
    rng = np.random.default_rng(SEED + 4)
    counts, _ = synthetic_events(rng, 12)
    expected = g.expect(counts)
    first = make_events("before-reset", counts[:6], expected[:6], rng, gaps=False)
    await stream.send(first, abort_after_clocks=int(rng.integers(25, 55)))
    dut.rst_n.value = 0
    await stream.clock(int(rng.integers(1, 4)))
    dut.rst_n.value = 1
    n_before = len(stream.result.records)
    await stream.clock(20)
    assert len(stream.result.records) == n_before, "records after reset before any new window"
    stream.beats_since_reset = 0
    assert await read(master, CONTROL) == 0, "reset left the enables on"
    # with the enables off nothing is decided, even with a window streaming
    await stream.send(make_events("disabled", counts[:2], expected[:2], rng))
    await stream.drain()
    assert len(stream.result.records) == n_before, "decisions while disabled"
    await configure(master, g)
    events = make_events("after-reset", counts[6:], expected[6:], rng)
    score = await run_and_compare(dut, master, stream, events, expected[6:], "reset_mid_stream", window_base=2)
    assert score.mismatches == 0, f"{score.mismatches} mismatches (first: {score.messages[:3]})"


def endless_window(rng, n_samples, pulse_at, n_modules, pedestal=16):
    """One long window: a flat pedestal with a few shower-like pulses starting at the samples in ``pulse_at``.

    Each pulse lights a handful of neighbouring modules for a few samples, so
    it gives analog-sum fires and tens of gate candidates, few enough for the
    one core to score before the next: a continuous stream has no gaps.
    """
    counts = np.full((n_modules, n_samples), pedestal, dtype=np.int32)
    for t in pulse_at:
        m = int(rng.integers(0, n_modules - 12))
        width = int(rng.integers(2, 6))
        shape = np.exp(-0.5 * ((np.arange(12) - 3) / rng.uniform(0.8, 2.0)) ** 2)
        amp = rng.uniform(20, 300, size=(width, 1))
        stop = min(n_samples, t + 12)
        counts[m : m + width, t:stop] += (amp * shape[None, : stop - t]).astype(np.int32)
    return np.clip(counts, 0, 255).astype(np.uint8)


@cocotb.test()
async def endless_window_past_65536_samples(dut):
    """A window longer than the 16-bit sample field (a continuous stream): decisions right after the wrap too.

    The sample number in the window wraps at 65,536; the decision range must
    not (a 16-bit counter made the top skip samples 65,536 .. 65,545 as if
    they were the window's first N_BEFORE). Pulses sit around each 2^16
    boundary and at the window's start and end; every decision is compared
    with the model, the sample field modulo 2^16 against the time stamp.
    """
    master, stream = await setup(dut)
    g = golden()
    await configure(master, g)
    stream.p_ready = 0.9
    rng = np.random.default_rng(SEED + 6)
    n_samples = int(os.environ.get("TB_ENDLESS_SAMPLES", str(2**16 + 256)))
    wrap = 2**16
    # a pulse's candidates must be scored before its ROIs leave the history (SPAN * HIST_DEPTH beats): apart
    pulses = [0, 40, 1000, wrap - 200, wrap - 12, wrap + 1, wrap + 140, n_samples - 30]
    pulses = sorted({t for t in pulses if 0 <= t < n_samples} | {int(t) for t in rng.integers(0, wrap - 400, 4)})
    counts = endless_window(rng, n_samples, pulses, g.spec.top.n_modules)[None]
    expected = g.expect(counts)
    near_wrap = [s for s in expected[0].asum_samples if wrap <= s < wrap + g.geometry.n_before] + \
        [s for s, *_ in expected[0].candidates if wrap <= s < wrap + g.geometry.n_before]
    assert near_wrap, "the stimulus has no decision in the samples the 16-bit wrap hid"
    events = [Event("endless", beat_words(counts[0]))]
    before = len(stream.result.records)
    score = await run_and_compare(dut, master, stream, events, expected, "endless_window_past_65536")
    assert score.mismatches == 0, f"{score.mismatches} mismatches (first: {score.messages[:3]})"
    # the pipeline's clocks, beat taken to record taken, are what the report's latency budget uses (TopSpec)
    got = latencies(stream, stream.result.records[before:])
    top = TopSpec.for_trigger(g.config)
    want = {"asum": top.ASUM_LATENCY_CLOCKS, "nn": top.nn_latency_clocks(int(g.report["latency_cycles"]))}
    assert {k: v[0] for k, v in got.items()} == want, f"minimum latencies {got} != {want}"


@cocotb.test(skip=int(os.environ.get("TB_N_LONG", "0")) == 0)
async def long_run(dut):
    """TB_N_LONG events: the file events again and again, interleaved with random ones (make sim-long)."""
    master, stream = await setup(dut)
    g = golden()
    await configure(master, g)
    stream.p_ready = 0.95
    n_long = int(os.environ["TB_N_LONG"])
    rng = np.random.default_rng(SEED + 5)
    files, max_events = file_sets()
    pool = np.concatenate([g.read(p, max_events) for p in files])
    total = Score()
    chunk = 2000
    for start in range(0, n_long, chunk):
        n = min(chunk, n_long - start)
        n_rand = n // 2
        rand, _ = synthetic_events(rng, n_rand)
        counts = np.concatenate([pool[rng.integers(0, len(pool), size=n - n_rand)], rand])[rng.permutation(n)]
        expected = g.expect(counts)
        events = make_events(f"long{start}", counts, expected, rng)
        before = len(stream.result.records)
        await stream.send(events)
        await stream.drain()
        score = compare(events, expected, stream.result.records[before:], window_base=start)
        stream.result.records.clear()
        total.add(score)
        log.info("long run: %d / %d events, %d mismatches so far", start + n, n_long, total.mismatches)
    record_stats("long_run", total, get_sim_time("us"), 0.0)
    assert total.mismatches == 0, f"{total.mismatches} mismatches (first: {total.messages[:3]})"
