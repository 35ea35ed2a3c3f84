"""Ctrl-C and SIGTERM as exceptions, remembered so that a library cannot swallow them.

Keras's ``load_model`` wraps its weight extraction in a bare ``except:``: a
signal that lands there raises, is caught, and the command would go on to
write its output as if nobody had asked it to stop (seen in CI: a build sent
SIGTERM during its model step finished with exit 0). The handlers below record
the signal before raising, and :func:`raise_pending` raises it again where
outputs are committed, so an interrupted command never renames a result into
place.
"""

import contextlib
import signal
import threading

__all__ = ["Terminated", "interrupt_behind", "interrupts_raise", "raise_pending"]


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the process is so that cleanup runs as for Ctrl-C."""


_pending: list[int] = []


def _exception(signum: int) -> KeyboardInterrupt:
    return Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def _handler(signum, frame):
    _pending.append(signum)
    raise _exception(signum)


def raise_pending():
    """Raise a Ctrl-C or SIGTERM received in this block that something caught and dropped."""
    if _pending:
        raise _exception(_pending[0])


def interrupt_behind(err: BaseException) -> BaseException:
    """The Ctrl-C or SIGTERM that ``err`` stands for, or ``err`` itself.

    A compiled function (numba's dispatcher) that the signal interrupts re-raises
    it as ``SystemError: ... returned a result with an exception set``; once a
    signal is recorded, any exception is the signal's consequence, not a bug.
    """
    return _exception(_pending[0]) if _pending and not isinstance(err, KeyboardInterrupt) else err


@contextlib.contextmanager
def interrupts_raise():
    """Within the block, SIGTERM raises :class:`Terminated` and Ctrl-C ``KeyboardInterrupt``, both remembered.

    Only the main thread can install handlers; elsewhere the block changes nothing. An
    ignored SIGINT (a command started in the background by a shell) stays ignored.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _pending.clear()
    previous = {signal.SIGTERM: signal.signal(signal.SIGTERM, _handler)}
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, _handler)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _pending.clear()
