"""Offline mono and stereo CNN reconstruction of LST events (particle type, energy, direction).

It reads the project's ctapipe HDF5 files through dl1-data-handler's readers
and never imports :mod:`trigger`: the files are the only interface.

Modules: :mod:`.settings` (DataSpec, NetworkSpec), :mod:`.checks` (what the
commands refuse before any work), :mod:`.data` (readers -> Keras),
:mod:`.models` (networks), :mod:`.train`, :mod:`.predict` (DL2),
:mod:`.evaluate`, :mod:`.baseline` (Hillas + random forest), :mod:`.transfer`,
:mod:`.explain`, :mod:`.tools` (the command-line tools).
"""

import lstcommon  # noqa: F401  (first, before anything imports TensorFlow: keeps its start-up chatter off stderr)
