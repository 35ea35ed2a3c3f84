"""Errors of the deployment driver: each names what is wrong."""

from lstcommon import UserError

__all__ = ["BoardError", "BuildFolderError", "DeviceClosedError", "OverlayError", "TransferError"]


class BoardError(RuntimeError):
    """Something went wrong talking to the trigger on a board (or the simulated board)."""


class OverlayError(BoardError):
    """The overlay does not hold the trigger, or not the one this driver knows."""


class DeviceClosedError(BoardError):
    """An operation on a device that was closed."""


class TransferError(BoardError):
    """A DMA transfer did not finish, or the board's counts disagree with what was sent."""


class BuildFolderError(BoardError, UserError):
    """The folder given as a ``trigger-synth build`` is not one (or not a whole one): bad input, not a board fault."""
