"""Where the real instrument and simulation files live.

The project never ships or downloads them: they are read from a data folder
beside the checkout (``../shared/data``), or from the folder named by the
``LST_TRIGGER_DATA`` environment variable, or from an explicit argument.
"""

import os
from pathlib import Path

from lstcommon import UserError

__all__ = ["DataFolderError", "data_dir", "data_file", "ENV_VAR"]

ENV_VAR = "LST_TRIGGER_DATA"

# The checkout's parent holds shared/data; the current directory's parent is
# tried too so that a clone anywhere beside shared/ works.
_CANDIDATES = (
    Path(__file__).resolve().parents[2] / "shared" / "data",
    Path.cwd().parent / "shared" / "data",
)


class DataFolderError(UserError, FileNotFoundError):
    """The instrument data folder or one of its files is missing."""


def data_dir(path=None) -> Path:
    """Return the data folder: ``path``, else ``$LST_TRIGGER_DATA``, else ``../shared/data``."""
    if path is None:
        path = os.environ.get(ENV_VAR)
    if path is not None:
        folder = Path(path).expanduser()
        if not folder.is_dir():
            raise DataFolderError(
                f"instrument data folder {str(folder)!r} does not exist "
                f"(set {ENV_VAR} or pass data_dir= to point at shared/data)"
            )
        return folder
    for folder in _CANDIDATES:
        if folder.is_dir():
            return folder
    tried = ", ".join(repr(str(c)) for c in _CANDIDATES)
    raise DataFolderError(
        f"instrument data folder not found (tried {tried}); "
        f"set {ENV_VAR} to the folder holding instrument/ and simtel-model/"
    )


def data_file(relative, path=None) -> Path:
    """Return one file of the data folder, with an error naming it when it is missing."""
    full = data_dir(path) / relative
    if not full.is_file():
        raise DataFolderError(f"instrument file {str(full)!r} is missing")
    return full
