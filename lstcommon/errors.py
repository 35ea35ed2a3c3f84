"""The one error type a command reports in one line and exit code 2."""

__all__ = ["UserError", "one_line"]


class UserError(Exception):
    """Bad input or configuration: the message names the file (or option) and the problem.

    Commands print it as one line, without a traceback, and exit with 2;
    anything else that escapes a command is a bug and keeps its traceback.
    """


def one_line(message) -> str:
    """The message folded onto one line (HDF5 and Keras errors carry their own line breaks)."""
    return " ".join(str(message).split())
