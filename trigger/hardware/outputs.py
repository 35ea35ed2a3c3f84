"""Quieting chatty libraries: what hls4ml and da4ml print goes to our log.

Outputs are written whole or not at all by :mod:`lstcommon.files` (``atomic_folder``, ``write_text_atomic``).
"""

import contextlib
import io
import logging
import warnings
from pathlib import Path

__all__ = ["captured", "tail"]

log = logging.getLogger(__name__)


@contextlib.contextmanager
def captured(name: str, log_file: Path | None = None):
    """Route what hls4ml/da4ml print and warn into our log (and ``log_file``), so library use stays quiet.

    The text is kept (``buffer.getvalue()``) to quote in an error message when the step fails.
    """
    buffer = io.StringIO()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
                yield buffer
        finally:
            if log_file is not None:
                Path(log_file).parent.mkdir(parents=True, exist_ok=True)
                with open(log_file, "a") as f:
                    f.write(buffer.getvalue())
            for text in buffer.getvalue().splitlines():
                if text.strip():
                    log.debug("%s: %s", name, text)
            seen = set()
            for w in caught:
                message = str(w.message).split("\n")[0].strip()
                if issubclass(w.category, DeprecationWarning) or message in seen:
                    continue
                seen.add(message)
                log.warning("%s: %s", name, " ".join(str(w.message).split()))


def tail(text: str, n: int = 20) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return "\n".join(lines[-n:])
