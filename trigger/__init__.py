"""Neural-network triggers for the LST camera: simulation, training, evaluation, hardware.

Importing the package quiets TensorFlow's start-up chatter (:mod:`lstcommon.quiet`)
before any of its modules loads it.
"""

import lstcommon  # noqa: F401
