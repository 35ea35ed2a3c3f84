"""TensorFlow's start-up chatter, kept off the terminal.

TensorFlow 2.21 prints absl's "All log messages before absl::InitializeLog()"
and a oneDNN notice from C++ while its libraries load, before any Python
logging exists and whatever ``TF_CPP_MIN_LOG_LEVEL`` says. The only way to
keep a command's output to its own lines is to point file descriptor 2 at
/dev/null while TensorFlow's package is first executed. This finder does that
for the first ``import tensorflow`` of the process, wherever it comes from
(Keras, HGQ2, hls4ml); errors still propagate as exceptions.
"""

import contextlib
import importlib.abc
import importlib.util
import os
import sys

__all__ = ["install", "stderr_to_devnull"]


@contextlib.contextmanager
def stderr_to_devnull():
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class _QuietLoader(importlib.abc.Loader):
    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        with stderr_to_devnull():
            self.loader.exec_module(module)


class _QuietTensorFlow(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


def install():
    """Silence the first import of TensorFlow in this process (no effect once it is imported)."""
    if "tensorflow" in sys.modules or any(isinstance(f, _QuietTensorFlow) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _QuietTensorFlow())
