"""What the trigger and reconstruction packages share below both: how a command fails, and how it writes.

``trigger`` and ``reconstruction`` never import each other; both import this
package, which imports neither (and nothing heavier than ctapipe's ``Tool``).
"""

import os

# TensorFlow and absl print start-up chatter (oneDNN, absl::InitializeLog) to stderr from C++ before any Python
# logging is set up; the level must be in the environment before TensorFlow is first imported by anything.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from . import quiet  # noqa: E402
from .errors import UserError  # noqa: E402

quiet.install()

__all__ = ["UserError"]
