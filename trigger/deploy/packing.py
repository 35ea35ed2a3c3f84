"""Trigger-input windows to DMA words and the board's 128-bit records back to decisions per window.

The formats are those of ``hdl/trigger_board_top.v`` (its header has the
bit-level description):

- input: each beat (4 samples x N_MODULES module counts, sample ``j`` of module
  ``m`` at byte ``j*N_MODULES + m``) is a record of ``words_per_beat`` DMA words: the
  1060 beat bytes, one flags byte (bit 0 first beat of a window, bit 1 last
  beat, bit 7 end of batch) and zero padding;
- output: the top's records (docs/hardware.md) in packets of ``packet``
  records, the batch closed by an end record (kind 15) that counts what the
  board received and sent.
"""

from dataclasses import dataclass

import numpy as np

from ..sizes import N_MODULES

__all__ = ["KIND_ASUM", "KIND_END", "KIND_NN", "RECORD_DTYPE", "BoardFormat", "Decisions", "EndRecord",
           "check_windows", "decode_records", "decisions", "pack_windows"]

SPB = 4
BEAT_BYTES = SPB * N_MODULES
FLAG_FIRST, FLAG_LAST, FLAG_END = 0x01, 0x02, 0x80
KIND_ASUM, KIND_NN, KIND_END = 1, 2, 15
RECORD_BYTES = 16
RECORD_DTYPE = np.dtype([("kind", "u1"), ("bits", "u1"), ("group", "u2"), ("score", "i4"), ("sample", "u2"),
                         ("window", "u2"), ("time", "u4")])
CANDIDATE_DTYPE = np.dtype([("window", "i8"), ("sample", "i4"), ("group", "i4"), ("score", "i8"), ("passed", "?")])


@dataclass(frozen=True)
class BoardFormat:
    """What the driver must know of a board build: its DMA width (bits) and receive packet (records)."""

    dma_width: int = 128
    packet: int = 256

    def __post_init__(self):
        if self.dma_width not in (32, 64, 128, 256, 512, 1024):
            raise ValueError(f"DMA width must be a power of two from 32 to 1024 bits, got {self.dma_width}")
        if self.packet < 2 or self.packet & (self.packet - 1):
            raise ValueError(f"the receive packet must be a power of two of at least 2 records, got {self.packet}")

    @property
    def word_bytes(self) -> int:
        return self.dma_width // 8

    @property
    def words_per_beat(self) -> int:
        return -(-(BEAT_BYTES + 1) // self.word_bytes)

    @property
    def beat_bytes(self) -> int:
        """Bytes of one beat record in memory (the beat, its flags, padding to whole DMA words)."""
        return self.words_per_beat * self.word_bytes

    def end_of_batch(self) -> np.ndarray:
        """The record that asks the board for the end record (no beat)."""
        rec = np.zeros(self.beat_bytes, np.uint8)
        rec[BEAT_BYTES] = FLAG_END
        return rec


def check_windows(counts) -> np.ndarray:
    """Trigger-input windows as (n, N_MODULES, n_samples) uint8; bad input is a ``ValueError`` naming the problem."""
    arr = np.asarray(counts)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[1] != N_MODULES:
        raise ValueError(f"trigger input must be (n_windows, {N_MODULES}, n_samples) module counts, got shape "
                         f"{arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError("no windows to send")
    if arr.shape[2] == 0 or arr.shape[2] % SPB:
        raise ValueError(f"windows must be whole beats of {SPB} samples, got {arr.shape[2]} samples")
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"trigger input must be integer counts, got {arr.dtype}")
    if arr.dtype != np.uint8 and (arr.min() < 0 or arr.max() > 255):
        raise ValueError(f"trigger input counts must be within 0..255, got {arr.min()}..{arr.max()}")
    return arr.astype(np.uint8, copy=False)


def pack_windows(counts, fmt: BoardFormat, out=None) -> np.ndarray:
    """The beat records of ``counts`` (n, N_MODULES, n_samples) as bytes, one window after the other.

    ``out`` (a DMA buffer of at least that many bytes, any dtype) is filled in
    place and returned as a byte view; without it a new array is made.
    """
    counts = check_windows(counts)
    n, _, n_samples = counts.shape
    n_beats = n_samples // SPB
    size = n * n_beats * fmt.beat_bytes
    if out is None:
        out = np.zeros(size, np.uint8)
    view = np.asarray(out).reshape(-1).view(np.uint8)
    if view.size < size:
        raise ValueError(f"buffer of {view.size} bytes is too small for {n} windows ({size} bytes)")
    records = view[:size].reshape(n, n_beats, fmt.beat_bytes)
    # (n, N_MODULES, beats, 4) -> (n, beats, 4, N_MODULES): sample-major within a beat, module-minor
    records[..., :BEAT_BYTES] = counts.reshape(n, N_MODULES, n_beats, SPB).transpose(0, 2, 3, 1).reshape(
        n, n_beats, BEAT_BYTES)
    records[..., BEAT_BYTES:] = 0
    records[:, 0, BEAT_BYTES] |= FLAG_FIRST
    records[:, -1, BEAT_BYTES] |= FLAG_LAST
    return view[:size]


def decode_records(raw) -> np.ndarray:
    """128-bit records (bytes as the DMA wrote them, little-endian) as a structured array."""
    words = np.asarray(raw).reshape(-1).view("<u8").reshape(-1, 2)
    lo, hi = words[:, 0], words[:, 1]
    out = np.empty(len(words), RECORD_DTYPE)
    out["kind"] = lo & 0xF
    out["bits"] = lo >> 4 & 0xF
    out["group"] = lo >> 8 & 0xFFFF
    out["score"] = (lo >> 32).astype(np.uint32).view(np.int32)
    out["sample"] = hi & 0xFFFF
    out["window"] = hi >> 16 & 0xFFFF
    out["time"] = hi >> 32
    return out


@dataclass(frozen=True)
class EndRecord:
    """What the board counted in one batch."""

    partial_records: int
    records: int
    windows: int
    first_window: int
    beats: int

    @classmethod
    def parse(cls, raw) -> "EndRecord":
        lo, hi = (int(w) for w in np.asarray(raw).reshape(-1).view("<u8")[:2])
        if lo & 0xF != KIND_END:
            raise ValueError(f"not an end record (kind {lo & 0xF})")
        return cls(partial_records=lo >> 16 & 0xFFFF, records=lo >> 32, windows=hi & 0xFFFF,
                   first_window=hi >> 16 & 0xFFFF, beats=hi >> 32)


@dataclass
class Decisions:
    """The board's decisions on ``n_windows`` windows, in the order the windows were given.

    ``asum_fired[i, k]``: the analog sum fired at sample ``k`` of window ``i``
    (only samples of the decision range can be set); ``candidates``: one row
    per network record (``window``, ``sample``, ``group``, ``score`` as the
    core's output integer, ``passed``), in the order the board sent them;
    ``asum_first`` / ``nn_first``: the first such sample per window, -1 where none.
    """

    asum_fired: np.ndarray
    candidates: np.ndarray
    asum_first: np.ndarray
    nn_first: np.ndarray
    counters: dict
    batches: list

    @property
    def n_windows(self) -> int:
        return len(self.asum_fired)


def decisions(records: np.ndarray, window_index: np.ndarray, n_windows: int, n_samples: int) -> tuple:
    """``asum_fired``, ``candidates`` of decoded records whose window is ``window_index`` (0 .. n_windows-1)."""
    fired = np.zeros((n_windows, n_samples), bool)
    asum = records["kind"] == KIND_ASUM
    for j in range(SPB):
        hit = asum & (records["bits"] >> j & 1).astype(bool)
        fired[window_index[hit], records["sample"][hit].astype(np.int64) + j] = True
    nn = records["kind"] == KIND_NN
    cands = np.empty(int(nn.sum()), CANDIDATE_DTYPE)
    cands["window"] = window_index[nn]
    cands["sample"] = records["sample"][nn]
    cands["group"] = records["group"][nn]
    cands["score"] = records["score"][nn]
    cands["passed"] = (records["bits"][nn] & 1).astype(bool)
    return fired, cands


def first_samples(fired: np.ndarray, candidates: np.ndarray, n_windows: int) -> tuple:
    """First analog-sum sample and first passing candidate sample per window (-1: none)."""
    asum_first = np.where(fired.any(axis=1), fired.argmax(axis=1), -1)
    big = np.iinfo(np.int64).max
    nn_first = np.full(n_windows, big)
    passed = candidates[candidates["passed"]]
    np.minimum.at(nn_first, passed["window"], passed["sample"].astype(np.int64))
    return asum_first, np.where(nn_first == big, -1, nn_first)
