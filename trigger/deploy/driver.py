"""The trigger driver: registers by name, windows through DMA, decisions per window, on any transport.

:class:`TriggerDevice` holds everything the board and the simulated board
share: the register map, the packing of windows into beat records, the batch
protocol (send, wait for STATUS.busy to clear, end of batch, receive packets
up to the end record) and the decoding of records into decisions. A transport
moves words only: :class:`trigger.deploy.pynq_overlay.PynqTransport` (AXI DMA
and MMIO of a PYNQ overlay) or :class:`trigger.deploy.simboard.SimulatedBoard`
(the Verilated board wrapper).
"""

import logging
import time

import numpy as np

from .errors import DeviceClosedError, OverlayError, TransferError
from .packing import (
    KIND_END,
    RECORD_BYTES,
    SPB,
    BoardFormat,
    Decisions,
    EndRecord,
    check_windows,
    decisions,
    decode_records,
    first_samples,
    pack_windows,
)
from .registers import CONTROL_BITS, ID_VALUE, RegisterMap

__all__ = ["DMA_VLNV_PREFIX", "VERSION_MAJOR", "VLNV", "TriggerDevice", "find_trigger_ip"]

log = logging.getLogger(__name__)

# the IP that trigger-synth build --board packages (trigger/hardware/board.py)
VLNV = "cta-lst:trigger:trigger_board_top:1.0"
DMA_VLNV_PREFIX = "xilinx.com:ip:axi_dma:"
VERSION_MAJOR = 1
DEFAULT_LENGTH_WIDTH = 14  # AXI DMA's default buffer length register width (bits)
MAX_WINDOWS_PER_BATCH = 0xFFFF  # the records' window number has 16 bits


def find_trigger_ip(ip_dict: dict, trigger_name: str | None = None, dma_name: str | None = None) -> dict:
    """The trigger IP and its DMA in an overlay's ``ip_dict`` (PYNQ's, or the simulated board's).

    Returns ``{"trigger": name, "dma": name, "format": BoardFormat, "max_transfer_bytes": int}``;
    raises :class:`OverlayError` naming what the overlay holds instead.
    """
    def kind(name):
        return str(ip_dict[name].get("type", ""))

    triggers = [n for n in ip_dict if kind(n).split(":")[:3] == VLNV.split(":")[:3]]
    dmas = [n for n in ip_dict if kind(n).startswith(DMA_VLNV_PREFIX)]
    held = ", ".join(f"{n} ({kind(n)})" for n in ip_dict) or "nothing"
    if trigger_name is None:
        if len(triggers) != 1:
            what = "no" if not triggers else f"{len(triggers)}"
            raise OverlayError(f"{what} trigger IP of type {VLNV} in this overlay (it holds {held})"
                               + ("; name one with trigger_name" if triggers else ""))
        trigger_name = triggers[0]
    elif trigger_name not in triggers:
        raise OverlayError(f"{trigger_name!r} is not a trigger IP of type {VLNV} (the overlay holds {held})")
    if kind(trigger_name) != VLNV:
        raise OverlayError(f"trigger IP {trigger_name!r} is {kind(trigger_name)}; this driver knows {VLNV}")
    if dma_name is None:
        if len(dmas) != 1:
            raise OverlayError(f"{'no' if not dmas else len(dmas)} AXI DMA in this overlay (it holds {held})"
                               + ("; name one with dma_name" if dmas else ""))
        dma_name = dmas[0]
    elif dma_name not in dmas:
        raise OverlayError(f"{dma_name!r} is not an AXI DMA (the overlay holds {held})")
    params = ip_dict[trigger_name].get("parameters", {})
    try:
        fmt = BoardFormat(int(params.get("DMA_W", 128)), int(params.get("PACKET", 256)))
    except ValueError as err:
        raise OverlayError(f"trigger IP {trigger_name!r}: {err}") from None
    width = int(ip_dict[dma_name].get("parameters", {}).get("C_SG_LENGTH_WIDTH", DEFAULT_LENGTH_WIDTH))
    return {"trigger": trigger_name, "dma": dma_name, "format": fmt, "max_transfer_bytes": (1 << width) - 1}


class TriggerDevice:
    """The trigger on a board, through a transport.

    A transport has ``read(offset)``, ``write(offset, value)`` (AXI-Lite),
    ``allocate(nbytes)`` (a DMA buffer: a numpy uint8 array or PYNQ buffer),
    ``free(buffer)``, ``send(buffer, nbytes)`` / ``receive(buffer)`` (start
    MM2S / S2MM), ``send_done()`` / ``receive_done()`` (poll; the simulated
    board lets time pass there), ``format`` (:class:`BoardFormat`),
    ``max_transfer_bytes`` and ``close()``.
    """

    def __init__(self, transport, timeout_s: float = 60.0):
        self._transport = transport
        self.timeout_s = float(timeout_s)
        self.format: BoardFormat = transport.format
        self.registers = RegisterMap(_Checked(self))
        self._closed = False
        ident = self.registers["id"]
        if ident != ID_VALUE:
            raise OverlayError(f"register ID reads {ident:#010x}, not the trigger's {ID_VALUE:#010x} (wrong overlay, "
                               "or the PL is not configured)")
        version = self.registers["version"]
        if version >> 16 != VERSION_MAJOR:
            raise OverlayError(f"trigger version {version >> 16}.{version & 0xFFFF}; this driver knows version "
                               f"{VERSION_MAJOR}.x")
        self._flush = None

    # ------------------------------------------------------------ lifetime
    @property
    def transport(self):
        """What moves the words: the PYNQ overlay's DMA and MMIO, or the simulated board."""
        return self._transport

    @property
    def closed(self) -> bool:
        return self._closed

    def _check_open(self):
        if self._closed:
            raise DeviceClosedError("the trigger device is closed")

    def close(self):
        """Free the buffers and release the transport; any later operation raises DeviceClosedError."""
        if self._closed:
            return
        if self._flush is not None:
            self._transport.free(self._flush)
            self._flush = None
        self._transport.close()
        self._closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ----------------------------------------------------------- registers
    def configure(self, nn_threshold: int, asum_threshold: int, gate_threshold: int, nn_enable: bool = True,
                  asum_enable: bool = True, clear_counters: bool = True):
        """Thresholds (register units), enables and, by default, cleared counters."""
        self._check_open()
        regs = self.registers
        regs["nn_threshold"] = int(nn_threshold)
        regs["asum_threshold"] = int(asum_threshold)
        regs["gate_threshold"] = int(gate_threshold)
        control = (int(bool(nn_enable)) << CONTROL_BITS["nn_enable"]
                   | int(bool(asum_enable)) << CONTROL_BITS["asum_enable"])
        if clear_counters:
            regs["control"] = control | 1 << CONTROL_BITS["clear_counters"]
        regs["control"] = control

    def configure_trigger(self, trigger_config: dict, report: dict, **kwargs):
        """Registers of a trained trigger (``trigger.json``) and its build (``report.json``)."""
        from ..hardware.top import register_values

        values = register_values(trigger_config, report["rtl"]["output_kif"])
        self.configure(values["nn_threshold"], values["asum_threshold"], values["gate_threshold"], **kwargs)
        return values

    # -------------------------------------------------------------- events
    def batch_limit(self, n_samples: int) -> int:
        """The most windows of ``n_samples`` one DMA transfer (and the 16-bit window numbers) allow."""
        per_window = n_samples // SPB * self.format.beat_bytes
        return min(MAX_WINDOWS_PER_BATCH, self._transport.max_transfer_bytes // per_window)

    def run(self, counts, windows_per_batch: int | None = None) -> Decisions:
        """Send trigger-input windows (n, N_MODULES, n_samples) through the trigger; decisions per window.

        Windows go in batches of ``windows_per_batch`` (default: the most one
        DMA transfer holds); asking for more than a transfer can hold is a
        ``ValueError``. Each batch is checked against the board's end record
        (beats, windows, records) and a ``TransferError`` raised on any
        difference or timeout. Losses the trigger counts (queue overflow,
        records lost to back-pressure) are logged as warnings with the counters.
        """
        self._check_open()
        counts = check_windows(counts)
        n, _, n_samples = counts.shape
        limit = self.batch_limit(n_samples)
        if limit < 1:
            raise ValueError(f"one window of {n_samples} samples ({n_samples // SPB * self.format.beat_bytes} bytes) "
                             f"is larger than the DMA's {self._transport.max_transfer_bytes}-byte transfer limit")
        if windows_per_batch is None:
            windows_per_batch = limit
        elif windows_per_batch < 1 or windows_per_batch > limit:
            size = windows_per_batch * n_samples // SPB * self.format.beat_bytes
            raise ValueError(f"{windows_per_batch} windows per batch ({size} bytes) is more than one DMA transfer "
                             f"holds ({self._transport.max_transfer_bytes} bytes, at most {limit} windows)"
                             if windows_per_batch > limit else
                             f"windows_per_batch must be at least 1, got {windows_per_batch}")
        n_batch = min(windows_per_batch, n)
        send_buf = self._transport.allocate(n_batch * n_samples // SPB * self.format.beat_bytes)
        recv_buf = self._transport.allocate(self.format.packet * RECORD_BYTES)
        if self._flush is None:
            self._flush = self._transport.allocate(self.format.beat_bytes)
            np.asarray(self._flush).reshape(-1).view(np.uint8)[:] = self.format.end_of_batch()
        try:
            parts, batches = [], []
            for start in range(0, n, n_batch):
                block = counts[start : start + n_batch]
                records, end = self._batch(block, send_buf, recv_buf)
                index = (records["window"].astype(np.int64) - end.first_window) % (1 << 16)
                if len(index) and index.max() >= len(block):
                    raise TransferError(f"records name windows up to {index.max()} of a batch of {len(block)}")
                parts.append((records, index + start))
                batches.append(end)
        finally:
            self._transport.free(send_buf)
            self._transport.free(recv_buf)
        records = np.concatenate([p[0] for p in parts])
        index = np.concatenate([p[1] for p in parts])
        fired, cands = decisions(records, index, n, n_samples)
        asum_first, nn_first = first_samples(fired, cands, n)
        counters = self.registers.counters()
        status = self.registers.status()
        lost = {k: v for k, v in status.items() if k in ("queue_overflow", "candidate_too_old", "record_lost") and v}
        if lost or counters["drop_count"] or counters["cand_drop_count"]:
            log.warning("the trigger lost decisions: %s, counters %s", ", ".join(lost) or "-", counters)
        return Decisions(fired, cands, asum_first, nn_first, counters, batches)

    def _batch(self, block, send_buf, recv_buf):
        t = self._transport
        nbytes = pack_windows(block, self.format, out=send_buf).size
        n_beats = len(block) * block.shape[-1] // SPB
        deadline = time.monotonic() + self.timeout_s
        chunks = []
        self._arm(recv_buf)
        t.send(send_buf, nbytes)
        state = "sending"
        while True:
            if t.receive_done():
                got = self._take(recv_buf)
                chunks.append(got)
                if len(got) and got["kind"][-1] == KIND_END:
                    break
                self._arm(recv_buf)
            if state == "sending" and t.send_done():
                state = "draining"
            if state == "draining" and not self.registers.status()["busy"]:
                t.send(self._flush, self.format.beat_bytes)
                state = "ending"
            if time.monotonic() > deadline:
                raise TransferError(f"batch of {len(block)} windows not finished after {self.timeout_s:g} s "
                                    f"(state {state}, status {self.registers.status()})")
        records = np.concatenate(chunks)
        end = EndRecord.parse(self._last_raw)
        records = records[:-1]
        expected = {"beats": n_beats, "windows": len(block), "records": len(records), "partial_records": 0}
        found = {k: getattr(end, k) for k in expected}
        if found != expected:
            raise TransferError(f"the board's end record {found} does not match the batch {expected}")
        return records, end

    def _arm(self, recv_buf):
        view = np.asarray(recv_buf).reshape(-1).view(np.uint8)
        view[:] = 0
        self._transport.receive(recv_buf)

    def _take(self, recv_buf):
        """Records of one received packet: up to the end record, or the whole packet."""
        raw = np.array(np.asarray(recv_buf).reshape(-1).view(np.uint8))
        records = decode_records(raw)
        ends = np.flatnonzero(records["kind"] == KIND_END)
        if len(ends):
            self._last_raw = raw[ends[0] * RECORD_BYTES : (ends[0] + 1) * RECORD_BYTES]
            return records[: ends[0] + 1]
        if (records["kind"] == 0).any():
            raise TransferError("a receive packet ended early without an end record")
        return records


class _Checked:
    """The transport's register port, refusing access once the device is closed."""

    def __init__(self, device):
        self._device = device

    def read(self, offset):
        self._device._check_open()
        return self._device._transport.read(offset)

    def write(self, offset, value):
        self._device._check_open()
        self._device._transport.write(offset, value)
