"""Outputs written whole or not at all, strict JSON, and input files checked before any work.

Every output is written under a hidden temporary name beside its final one
and renamed when complete, so an interrupted or failed command never leaves a
half-written file and never damages the one that was there. Temporary names
carry the writer's process id: those of processes that no longer run (killed
with SIGKILL) are removed the next time the same output is written.
"""

import contextlib
import json
import math
import os
import shutil
import tempfile
from pathlib import Path

from .errors import UserError, one_line
from .signals import raise_pending

__all__ = [
    "OutputError", "atomic_output", "atomic_folder", "dumps_json", "write_json", "write_text_atomic", "check_hdf5",
    "finite_or_none", "check_output_folder",
]


class OutputError(UserError, OSError):
    """The output cannot be written (it exists, or its folder cannot be made or written)."""


def _read_umask() -> int:
    # os.umask can only be read by setting it: once, at import, before a command starts threads
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale(folder: Path, name: str):
    """Partial outputs of ``name`` left by processes that were killed before they could clean up."""
    for stale in folder.glob(f".{name}.partial-*"):
        pid = stale.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
            else:
                stale.unlink(missing_ok=True)


def check_output_folder(folder) -> Path:
    """Refuse, before any work, an output folder that could not be made or written (nothing is created here)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder}: output must be a folder, and this is a file")
    existing = next(p for p in (folder, *folder.absolute().parents) if p.exists())
    if not existing.is_dir():
        raise OutputError(f"{folder}: cannot create output folder ({existing} is a file)")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"{folder}: cannot create output folder ({existing} is not writable)")
    return folder


def _prepare(path: Path, overwrite: bool) -> Path:
    if path.exists() and not overwrite:
        raise OutputError(f"{path}: output exists (use --overwrite to replace it)")
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"{folder}: cannot create output folder ({err.strerror or err})") from err
    if not os.access(folder, os.W_OK):
        raise OutputError(f"{folder}: output folder is not writable")
    _remove_stale(folder, path.name)
    return folder


@contextlib.contextmanager
def atomic_output(path, overwrite=False):
    """Yield a temporary path beside ``path``; rename it to ``path`` only when the block succeeds."""
    path = Path(path)
    folder = _prepare(path, overwrite)
    tmp = folder / f".{path.name}.partial-{os.getpid()}"
    try:
        yield tmp
        if tmp.is_file():
            # mkstemp-like writers create 0600 files: give the output the mode any new file gets here
            os.chmod(tmp, 0o666 & ~_UMASK)
        raise_pending()
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_folder(path, overwrite=False):
    """Yield an empty temporary folder beside ``path``; on success it replaces ``path`` as a whole.

    On an exception the temporary folder is removed and an older ``path`` is
    left untouched, so a half-written folder never carries the final name.
    """
    path = Path(path)
    folder = _prepare(path, overwrite)
    tmp = old = None
    # one try from mkdtemp to the final rename: a SIGTERM (raised as an exception) anywhere in between
    # removes the temporary folder and puts an older output back under its name
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.partial-", suffix=f"-{os.getpid()}", dir=folder))
        yield tmp
        os.chmod(tmp, 0o777 & ~_UMASK)  # mkdtemp makes 0700 folders, unreadable by colleagues
        raise_pending()  # a Ctrl-C or SIGTERM a library caught (Keras's load_model) must not commit the output
        if path.exists():
            old = folder / f".{path.name}.old-{os.getpid()}"
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
        os.replace(tmp, path)
    except BaseException:
        if old is not None and old.exists() and not path.exists():
            os.replace(old, path)
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def finite_or_none(value):
    """``value`` with every NaN or infinity (also inside lists and dicts, numpy scalars included) as None."""
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):  # numpy scalars and arrays
        return finite_or_none(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dumps_json(value) -> str:
    """Strict JSON (``null`` for NaN and infinities, which most parsers refuse as bare tokens)."""
    return json.dumps(finite_or_none(value), indent=2, allow_nan=False) + "\n"


def write_text_atomic(path, text: str, overwrite=True):
    with atomic_output(path, overwrite=overwrite) as tmp:
        Path(tmp).write_text(text)


def write_json(path, value, overwrite=True):
    write_text_atomic(path, dumps_json(value), overwrite=overwrite)


def check_hdf5(path, what="input file", nodes=(), hint=""):
    """Refuse, in one line naming ``path``, a file that is missing, empty, not HDF5, damaged or lacks ``nodes``."""
    import tables

    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: {what} does not exist")
    if not path.is_file():
        raise UserError(f"{path}: {what} is not a file")
    if path.stat().st_size == 0:
        raise UserError(f"{path}: {what} is empty (0 bytes)")
    try:
        is_hdf5 = tables.is_hdf5_file(str(path))
    except (tables.HDF5ExtError, OSError) as err:
        is_hdf5 = False
        if "signature" not in str(err):
            raise UserError(f"{path}: {what} cannot be read ({one_line(err)[:200]})") from err
    if not is_hdf5:
        raise UserError(f"{path}: {what} is not an HDF5 file")
    try:
        with tables.open_file(str(path), mode="r") as h5:
            missing = [node for node in nodes if node not in h5]
    except (tables.HDF5ExtError, OSError, ValueError) as err:
        cause = "truncated" if "truncated" in str(err) else "damaged"
        raise UserError(f"{path}: {what} is a {cause} HDF5 file and cannot be opened") from err
    if missing:
        raise UserError(f"{path}: {what} has no {missing[0]}{f' ({hint})' if hint else ''}")
    return path
