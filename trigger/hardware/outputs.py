"""Staged outputs (written under a temporary name, renamed when complete) and quieting chatty libraries."""

import contextlib
import io
import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path

__all__ = ["captured", "staged_dir", "write_text_atomic"]

log = logging.getLogger(__name__)


@contextlib.contextmanager
def staged_dir(final: Path):
    """Yield an empty temporary folder beside ``final``; on success it replaces ``final``.

    On an exception the temporary folder is removed and an older ``final`` is left
    untouched, so a half-written project never carries the final name.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.partial-", dir=final.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if final.exists():
        old = final.parent / f".{final.name}.old-{os.getpid()}"
        shutil.rmtree(old, ignore_errors=True)
        os.replace(final, old)
    os.replace(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def write_text_atomic(path: Path, text: str):
    path = Path(path)
    tmp = path.parent / f".{path.name}.partial-{os.getpid()}"
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


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
