"""The ``trigger-synth`` subcommands, one ctapipe Tool per module.

Each Tool validates every input in ``setup()``, calls the library in
``start()`` and writes in ``finish()``; the work itself is in the library
(:mod:`trigger.io`, :mod:`trigger.nn.train`, :mod:`trigger.performance`,
:mod:`trigger.hardware`). Modules are imported only by the subcommand that
needs them, so ``trigger-synth --help`` never loads TensorFlow.
"""
