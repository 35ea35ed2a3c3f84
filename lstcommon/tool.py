"""ctapipe's ``Tool``, with the project's contract for how a command ends.

- bad input or configuration (:class:`UserError`, ctapipe's
  ``ToolConfigurationError``, a traitlets ``TraitError``): one line on stderr,
  ``PROGRAM: error: FILE: problem``, no traceback, exit code 2;
- Ctrl-C (SIGINT) and SIGTERM: the outputs in progress are removed by their
  ``finally`` blocks (both are raised as exceptions and remembered, see
  :mod:`lstcommon.signals`), one line, exit 130 or 143;
- anything else is a bug: it keeps ctapipe's traceback and exits 1.

Subclasses validate every input in ``setup()``, before any expensive step.
"""

import sys

from ctapipe.core import Provenance, Tool, ToolConfigurationError
from traitlets import TraitError
from traitlets.config import Application
from traitlets.config.loader import ArgumentError, KVArgParseConfigLoader, _KVArgParser

from .errors import UserError, one_line
from .signals import Terminated, interrupt_behind, interrupts_raise, raise_pending

__all__ = ["CommandTool", "Terminated", "USER_ERRORS"]

# ArgumentError: a scalar option given twice (--epochs 1 --epochs 2), raised by traitlets while loading the command line
USER_ERRORS = (UserError, ToolConfigurationError, TraitError, ArgumentError)


class _OneLineParser(_KVArgParser):
    def error(self, message):  # argparse prints its whole usage before the problem
        raise ToolConfigurationError(f"{message} (see --help)")


class _StrictLoader(KVArgParseConfigLoader):
    """A mistyped option is an error, not a warning that the run then ignores (``--n-evnts 5`` ran 100 events)."""

    parser_class = _OneLineParser

    def _handle_unrecognized_alias(self, arg):
        raise ToolConfigurationError(f"unknown option --{arg} (see --help)")


def _message(err) -> str:
    # a trait's validation error carries (value and problem, what was expected, the trait object)
    if isinstance(err, TraitError) and len(err.args) == 3:
        return one_line(f"{err.args[0]} (expected {err.args[1]})")
    return one_line(err)


class CommandTool(Tool):
    """A ctapipe Tool whose failures read as the module docstring says."""

    def parse_command_line(self, argv=None):
        # traitlets' catch_config_error would log a bad option's TraitError and exit 1: let run() report it
        return Application.parse_command_line.__wrapped__(self, argv)

    def _create_loader(self, argv, aliases, flags, classes):
        return _StrictLoader(argv, aliases, flags, classes=classes, log=self.log, subcommands=self.subcommands)

    def refuse_extra_arguments(self, usage=""):
        """Positional arguments the Tool does not take (a forgotten option name, usually)."""
        if self.extra_args:
            raise ToolConfigurationError(f"unexpected arguments {self.extra_args}{f'; {usage}' if usage else ''}")

    def _ending(self, err: BaseException) -> tuple[str, int]:
        """Provenance status and exit code for a command that raised ``err``, reported as the module docstring says."""
        if isinstance(err, USER_ERRORS):
            print(f"{self.name}: error: {_message(err)}", file=sys.stderr)
            return "error", 2
        if isinstance(err, KeyboardInterrupt):
            what, code = ("terminated", 143) if isinstance(err, Terminated) else ("interrupted", 130)
            print(f"{self.name}: {what}; outputs in progress were removed", file=sys.stderr)
            return "interrupted", code
        if isinstance(err, SystemExit):  # --help, --version, or a tool's own exit()
            code = err.code or 0
            return ("error" if code else "completed"), code
        self.log.exception("Caught unexpected exception: %s", err)
        return "error", getattr(err, "exit_code", 1)

    def run(self, argv=None, raises=False):
        status, exit_status, failure = "completed", 0, None
        with self._exit_stack, interrupts_raise():
            try:
                Provenance().start_activity(self.name)
                self.initialize(argv)
                if not self.show_config:
                    self.setup()
                    self.is_setup = True
                Provenance().add_config(self.get_current_config())
                if self.trait_warning_handler.errors:
                    raise ToolConfigurationError("unknown or invalid options (see the warnings above)")
                self.log.removeHandler(self.trait_warning_handler)
                self.start()
                if not self.show_config:
                    self.finish()
                raise_pending()  # a signal some library swallowed still ends the command as interrupted
            except (Exception, KeyboardInterrupt, SystemExit) as err:
                failure = interrupt_behind(err)
                status, exit_status = self._ending(failure)
                if status == "completed":  # --help, --version
                    failure = None
            if raises and failure is not None and not isinstance(failure, SystemExit):
                raise failure
        Provenance().finish_activity(activity_name=self.name, status=status, exit_code=exit_status)
        if exit_status == 0 and not {"-h", "--help", "--help-all"}.intersection(self.argv):
            self.write_provenance()
        self.exit(exit_status)
