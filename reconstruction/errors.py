"""The two kinds of bad input a reconstruction command reports in one line (exit code 2).

Both are :class:`lstcommon.UserError` (the commands' contract) and ``ValueError``
(what the Python API raised before, so callers that catch it keep working).
"""

from lstcommon import UserError

__all__ = ["InputError", "SettingError"]


class InputError(UserError, ValueError):
    """A file, a model folder or a selection that cannot be used; the message names the file and what is wrong."""


class SettingError(UserError, ValueError):
    """A setting out of its range; the message names the option (``--epochs``, ``--NetworkSpec.depth``...)."""
