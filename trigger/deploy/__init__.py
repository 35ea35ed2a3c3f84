"""Deployment: the PYNQ driver of the trigger and the simulated board it also runs on.

``open_board(bitfile)`` (a Zynq board with PYNQ 3.x/4.x; imports pynq only
then) and ``open_simulated_board(hardware_dir)`` (the Verilated board wrapper
of a ``trigger-synth build``) both return a
:class:`~trigger.deploy.driver.TriggerDevice`: registers by name,
``run(counts)`` for decisions per window. See docs/deployment.md.
"""

from .driver import VLNV, TriggerDevice, find_trigger_ip
from .errors import BoardError, BuildFolderError, DeviceClosedError, OverlayError, TransferError
from .packing import BoardFormat, Decisions, decode_records, pack_windows
from .registers import REGISTERS, RegisterMap

__all__ = [
    "REGISTERS", "VLNV", "BoardError", "BoardFormat", "BuildFolderError", "Decisions", "DeviceClosedError", "OverlayError",
    "RegisterMap", "TransferError", "TriggerDevice", "decode_records", "find_trigger_ip", "open_board",
    "open_simulated_board", "pack_windows",
]


def open_simulated_board(hardware_dir, dma_width: int = 128, packet: int = 256, **kwargs) -> TriggerDevice:
    """The trigger of a build on the simulated board (Verilator; built once and cached)."""
    from .simboard import open_simulated_board as _open

    return _open(hardware_dir, dma_width=dma_width, packet=packet, **kwargs)


def open_board(bitfile, **kwargs) -> TriggerDevice:
    """The trigger on a PYNQ board: downloads ``bitfile`` (its ``.hwh`` beside it) and returns the device."""
    from .pynq_overlay import TriggerOverlay

    return TriggerOverlay(bitfile, **kwargs).device
