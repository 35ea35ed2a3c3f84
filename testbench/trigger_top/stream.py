"""Driver, monitor and scoreboard of the trigger top's AXI-Streams (one coroutine drives and samples both).

Everything is done at the falling clock edge, half a period away from the
registers: outputs are stable, and inputs set there are taken at the next
rising edge. A transfer happens at a rising edge where valid and ready were
both high, which is what the loop sees at the falling edge before it.
"""

import logging
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from cocotb.triggers import FallingEdge

log = logging.getLogger("cocotb.trigger_top.stream")

SPB = 4
KIND_ASUM, KIND_NN = 1, 2


def beat_words(counts) -> list[int]:
    """One event (N_MODULES, n_samples) uint8 -> its beats as integers: sample j of module m at bits (j*N_MODULES + m)*8."""
    counts = np.asarray(counts, dtype=np.uint8)
    n_samples = counts.shape[-1]
    if n_samples % SPB:
        raise ValueError(f"event windows must be whole beats of {SPB} samples, got {n_samples}")
    return [int.from_bytes(np.ascontiguousarray(counts[:, b : b + SPB].T).tobytes(), "little")
            for b in range(0, n_samples, SPB)]


@dataclass
class Record:
    kind: int
    bits: int     # analog sum: fired-sample mask; network: pass bit
    group: int
    score: int    # signed
    sample: int
    window: int
    time: int
    clock: int = 0  # driver clock count at which it was taken

    @classmethod
    def parse(cls, word: int) -> "Record":
        score = (word >> 32) & 0xFFFFFFFF
        if score & 0x80000000:
            score -= 1 << 32
        return cls(kind=word & 0xF, bits=(word >> 4) & 0xF, group=(word >> 8) & 0xFFFF, score=score,
                   sample=(word >> 64) & 0xFFFF, window=(word >> 80) & 0xFFFF, time=(word >> 96) & 0xFFFFFFFF)


@dataclass
class Event:
    label: str                # where it came from, for messages
    words: list
    gap: int = 0              # idle clocks after it
    first_beat: int | None = None  # beats since reset when its first beat was taken (set by the driver)


@dataclass
class StreamResult:
    records: list = field(default_factory=list)
    clocks: int = 0
    beats: int = 0
    events_started: int = 0


class Stream:
    """Drives events into s_axis (tuser on the first beat, tlast on the last) and collects m_axis records."""

    def __init__(self, dut, rng, p_ready=1.0):
        self.dut = dut
        self.rng = rng
        self.p_ready = p_ready
        self.beats_since_reset = 0
        self.beat_clock = {}  # beat number since reset -> driver clock count at which it was taken
        self.result = StreamResult()
        dut.s_axis_tvalid.value = 0
        dut.s_axis_tlast.value = 0
        dut.s_axis_tuser.value = 0
        dut.s_axis_tdata.value = 0
        dut.m_axis_tready.value = 0

    def _sample_outputs(self):
        """At a falling edge: record the transfer the next rising edge makes, and choose tready for it."""
        dut = self.dut
        ready = self.p_ready >= 1.0 or self.rng.random() < self.p_ready
        dut.m_axis_tready.value = int(ready)
        if ready and int(dut.m_axis_tvalid.value):
            record = Record.parse(int(dut.m_axis_tdata.value))
            record.clock = self.result.clocks
            self.result.records.append(record)
        self.result.clocks += 1

    async def clock(self, n=1):
        """n clocks with no input beat, still collecting output."""
        for _ in range(n):
            await FallingEdge(self.dut.clk)
            self.dut.s_axis_tvalid.value = 0
            self._sample_outputs()

    async def send(self, events, abort_after_clocks=None):
        """Stream ``events`` (each its beats then its gap); return early after ``abort_after_clocks`` clocks."""
        dut = self.dut
        start = self.result.clocks
        for event in events:
            event.first_beat = None
            for b, word in enumerate(event.words):
                await FallingEdge(dut.clk)
                dut.s_axis_tdata.value = word
                dut.s_axis_tuser.value = int(b == 0)
                dut.s_axis_tlast.value = int(b == len(event.words) - 1)
                dut.s_axis_tvalid.value = 1
                self._sample_outputs()
                while not int(dut.s_axis_tready.value):  # only low in and just after reset
                    await FallingEdge(dut.clk)
                    self._sample_outputs()
                self.beat_clock[self.beats_since_reset] = self.result.clocks
                if b == 0:
                    event.first_beat = self.beats_since_reset
                    self.result.events_started += 1
                self.beats_since_reset += 1
                self.result.beats += 1
                if abort_after_clocks is not None and self.result.clocks - start >= abort_after_clocks:
                    await FallingEdge(dut.clk)
                    dut.s_axis_tvalid.value = 0
                    self._sample_outputs()
                    return
            await self.clock(event.gap)
        await FallingEdge(dut.clk)
        dut.s_axis_tvalid.value = 0
        self._sample_outputs()

    async def drain(self, max_clocks=200_000):
        """Clock until the top is idle (nothing queued, in flight or waiting at the output)."""
        for _ in range(max_clocks):
            await self.clock(16)
            if not int(self.dut.busy.value) and not int(self.dut.m_axis_tvalid.value):
                await self.clock(4)
                return
        raise AssertionError(f"the top is still busy after {max_clocks * 16} clocks")


def latencies(stream: "Stream", records) -> dict:
    """Clocks from taking the beat that holds a decision's sample to taking its record (minimum, maximum)."""
    out = {}
    for kind, name in ((KIND_ASUM, "asum"), (KIND_NN, "nn")):
        lat = [r.clock - stream.beat_clock[r.time // SPB] for r in records
               if r.kind == kind and r.time // SPB in stream.beat_clock]
        if lat:
            out[name] = (min(lat), max(lat))
    return out


@dataclass
class Score:
    events: int = 0
    windows: int = 0
    mismatches: int = 0
    missing_candidates: int = 0
    missing_asum_records: int = 0
    messages: list = field(default_factory=list)

    def add(self, other: "Score"):
        for name in ("events", "windows", "mismatches", "missing_candidates", "missing_asum_records"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.messages += other.messages


def unwrapped_sample(record: Record, t0: int) -> int:
    """The record's sample in its window, beyond the 16-bit field: from its 32-bit time stamp and the window's start.

    The sample field holds the number modulo 2^16 (a window longer than 65,536
    samples wraps it); the caller checks the field against this. A wrong time
    stamp shows as a wrong sample.
    """
    return (record.time - t0) & 0xFFFFFFFF


def compare(events, expected, records, allow_loss=False, window_base=0, max_messages=20) -> Score:
    """Window by window: analog-sum samples, candidate list (sample, group, score, pass), first trigger samples.

    ``events[i]`` was the window numbered ``window_base + i`` since reset. With
    ``allow_loss`` the RTL may miss records (it must then count them, checked by
    the caller): what it reports must be a subsequence of the model's, nothing
    extra, nothing twice.
    """
    score = Score()
    asum = defaultdict(list)
    nn = defaultdict(list)
    for r in records:
        if r.kind == KIND_ASUM:
            asum[r.window].append(r)
        elif r.kind == KIND_NN:
            nn[r.window].append(r)
        else:
            score.mismatches += 1
            score.messages.append(f"record of unknown kind {r.kind}: {r}")
    known = {(window_base + i) & 0xFFFF for i in range(len(events))}
    for w in sorted((set(asum) | set(nn)) - known):
        score.mismatches += 1
        score.messages.append(f"records for window {w}, which was never sent: {(asum[w] + nn[w])[:3]}")

    def bad(i, event, what, rtl, gold):
        score.mismatches += 1
        if len(score.messages) < max_messages:
            score.messages.append(f"event {i} ({event.label}), window {(window_base + i) & 0xFFFF}: {what}: "
                                  f"RTL {rtl} != model {gold}")

    for i, (event, exp) in enumerate(zip(events, expected, strict=True)):
        w = (window_base + i) & 0xFFFF
        score.events += 1
        score.windows += len(exp.candidates)
        if event.first_beat is None:
            bad(i, event, "not sent", None, "sent")
            continue
        t0 = event.first_beat * SPB
        # analog sum: one record per beat with a fire, the fired samples as a mask
        rtl_asum, seen_beats = [], set()
        for r in asum[w]:
            sample = unwrapped_sample(r, t0)
            if sample & 0xFFFF != r.sample:
                bad(i, event, f"sample field of the analog-sum record at time {r.time}", r.sample, sample & 0xFFFF)
            if sample in seen_beats:
                bad(i, event, "analog-sum record twice for the beat at sample", sample, "once")
            seen_beats.add(sample)
            rtl_asum += [sample + j for j in range(SPB) if r.bits >> j & 1]
        rtl_asum.sort()
        exp_beats = {s // SPB * SPB for s in exp.asum_samples}
        if allow_loss:
            kept = [s for s in exp.asum_samples if s // SPB * SPB in seen_beats]
            if rtl_asum != kept or not seen_beats <= exp_beats:
                bad(i, event, "analog-sum samples (beats kept)", rtl_asum, kept)
            score.missing_asum_records += len(exp_beats - seen_beats)
        elif rtl_asum != exp.asum_samples:
            bad(i, event, "analog-sum samples", rtl_asum, exp.asum_samples)
        rtl_first = rtl_asum[0] if rtl_asum else -1
        if not allow_loss and rtl_first != exp.asum_first:
            bad(i, event, "first analog-sum sample", rtl_first, exp.asum_first)

        # network: every candidate of the decision range, in the model's order
        rtl_nn = []
        for r in nn[w]:
            sample = unwrapped_sample(r, t0)
            if sample & 0xFFFF != r.sample:
                bad(i, event, f"sample field of candidate ({sample}, {r.group}) at time {r.time}", r.sample,
                    sample & 0xFFFF)
            rtl_nn.append((sample, r.group, r.score, bool(r.bits & 1)))
        if allow_loss:
            it = iter(exp.candidates)
            if not all(any(c == e for e in it) for c in rtl_nn) or len(set(rtl_nn)) != len(rtl_nn):
                bad(i, event, "candidates (not a subsequence of the model's, or repeated)", rtl_nn[:5],
                    exp.candidates[:5])
            score.missing_candidates += len(exp.candidates) - len(rtl_nn)
        elif rtl_nn != exp.candidates:
            k = next((k for k, (a, b) in enumerate(zip(rtl_nn, exp.candidates)) if a != b),
                     min(len(rtl_nn), len(exp.candidates)))
            bad(i, event, f"candidate {k} of {len(exp.candidates)} (sample, group, score*2^f, pass)",
                rtl_nn[k] if k < len(rtl_nn) else "none", exp.candidates[k] if k < len(exp.candidates) else "none")
        passed = [s for s, _, _, p in rtl_nn if p]
        rtl_nn_first = min(passed) if passed else -1
        if not allow_loss and rtl_nn_first != exp.nn_first:
            bad(i, event, "first network trigger sample", rtl_nn_first, exp.nn_first)
    for m in score.messages:
        log.error("MISMATCH %s", m)
    return score
