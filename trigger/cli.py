"""``trigger-synth``: the trigger toolkit's command line.

Each subcommand is a ctapipe Tool (traitlets configuration, ``--help``,
``--help-all``, provenance) in its own module, imported only when it runs:
``trigger-synth --help`` loads neither ctapipe nor TensorFlow.
``trigger-synth SUBCOMMAND --help`` explains each.
"""

import importlib
import sys

__all__ = ["main", "SUBCOMMANDS"]

# name: (module, Tool class, one line of help)
SUBCOMMANDS = {
    "simulate": ("trigger.tools.simulate", "SimulateTool", "simulate LST events (gamma, proton, NSB-only) into ctapipe HDF5 files"),
    "train": ("trigger.tools.train", "TrainTool", "train the NN trigger and set both triggers' thresholds at equal NSB rate"),
    "evaluate": ("trigger.tools.evaluate", "EvaluateTool",
                 "compare the NN trigger with the analog-sum baseline (efficiency, energy threshold, rates)"),
    "build": ("trigger.hardware.tool", "BuildTool",
              "hls4ml project, da4ml Verilog, bit-exact checks, estimates and report.json of a trained trigger model"),
}

USAGE = "\n".join([
    "usage: trigger-synth SUBCOMMAND [options]",
    "",
    "Neural-network triggers for the LST camera.",
    "",
    "subcommands:",
    *[f"  {name:10} {help_}" for name, (_, _, help_) in SUBCOMMANDS.items()],
    "",
    "Run 'trigger-synth SUBCOMMAND --help' for the options of a subcommand.",
])


def tool_class(name):
    module, cls, _ = SUBCOMMANDS[name]
    return getattr(importlib.import_module(module), cls)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    name, rest = argv[0], argv[1:]
    if name not in SUBCOMMANDS:
        print(f"trigger-synth: error: unknown subcommand {name!r}\n\n{USAGE}", file=sys.stderr)
        return 2
    import lstcommon  # noqa: F401  (quiets TensorFlow before anything imports it)

    try:
        tool_class(name)().run(rest)
    except SystemExit as exit_:
        return exit_.code or 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
