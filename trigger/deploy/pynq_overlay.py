"""The trigger on a PYNQ board (PYNQ 3.x/4.x): an ``Overlay`` subclass and a ``DefaultIP`` bound to the IP.

Imported only by :func:`trigger.deploy.open_board` (pynq is the optional
extra ``board``; importing this module needs it). The overlay is what
``trigger-synth build --board`` makes (``board/vivado/trigger_board.bit``
and its ``.hwh``); the driver code behind it is
:class:`trigger.deploy.driver.TriggerDevice`, the same as on the simulated board.

    from trigger.deploy.pynq_overlay import TriggerOverlay
    ol = TriggerOverlay("trigger_board.bit")
    ol.trigger_board_top_0.registers.dump()       # the DefaultIP driver: registers by name
    decisions = ol.device.run(counts)               # windows through the AXI DMA
"""

import numpy as np
from pynq import DefaultIP, Overlay, allocate

from .driver import VLNV, TriggerDevice, find_trigger_ip
from .errors import TransferError
from .registers import RegisterMap

__all__ = ["PynqTransport", "TriggerIP", "TriggerOverlay"]


class TriggerIP(DefaultIP):
    """PYNQ binds this driver to every instance of the trigger IP: its registers by name over MMIO."""

    bindto = [VLNV]

    def __init__(self, description):
        super().__init__(description=description)
        self.registers = RegisterMap(self)


class PynqTransport:
    """AXI-Lite through the trigger IP's MMIO, streams through the overlay's AXI DMA (simple mode)."""

    def __init__(self, overlay, trigger_name=None, dma_name=None):
        found = find_trigger_ip(overlay.ip_dict, trigger_name, dma_name)
        self.format = found["format"]
        self.max_transfer_bytes = found["max_transfer_bytes"]
        self.ip = getattr(overlay, found["trigger"])
        self.dma = getattr(overlay, found["dma"])
        self._buffers = []

    def read(self, offset):
        return self.ip.read(offset)

    def write(self, offset, value):
        self.ip.write(offset, value)

    def allocate(self, nbytes):
        buf = allocate(shape=(-(-int(nbytes) // 4) * 4,), dtype=np.uint8)
        self._buffers.append(buf)
        return buf

    def free(self, buffer):
        for i, buf in enumerate(self._buffers):
            if buf is buffer:
                del self._buffers[i]
                buffer.freebuffer()
                return

    def _check(self, nbytes, what):
        if nbytes > self.max_transfer_bytes:
            raise ValueError(f"{what}: transfer of {nbytes} bytes is larger than the DMA's limit of "
                             f"{self.max_transfer_bytes} bytes")

    def send(self, buffer, nbytes):
        self._check(nbytes, "send")
        if not self.dma.sendchannel.idle and self.dma.sendchannel.running:
            raise TransferError("send: the MM2S channel is still busy")
        self.dma.sendchannel.transfer(buffer, start=0, nbytes=int(nbytes))

    def receive(self, buffer):
        self._check(buffer.nbytes, "receive")
        self.dma.recvchannel.transfer(buffer)

    def send_done(self):
        return bool(self.dma.sendchannel.idle)

    def receive_done(self):
        if not self.dma.recvchannel.idle:
            return False
        self.dma.recvchannel.wait()  # returns at once; invalidates the buffer's cache lines
        return True

    def close(self):
        for buf in self._buffers:
            buf.freebuffer()
        self._buffers.clear()


class TriggerOverlay(Overlay):
    """The trigger overlay: downloads the bitstream and opens the trigger device on it (``.device``)."""

    def __init__(self, bitfile, trigger_name=None, dma_name=None, timeout_s=60.0, **kwargs):
        super().__init__(bitfile, **kwargs)
        self.device = TriggerDevice(PynqTransport(self, trigger_name, dma_name), timeout_s=timeout_s)
