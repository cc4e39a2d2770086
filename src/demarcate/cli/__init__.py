"""The command line: each command parses its arguments, calls the library and prints. The commands
live by concern — analysis, catalog, tracking, testing, lab, history — and share what core.py holds;
this module registers them all and runs the one asked for."""

from __future__ import annotations

import sys
from typing import Any

from demarcate.cli import analysis, catalog, history, lab, testing, tracking
from demarcate.cli.core import ALL_COMMANDS, EXIT_READER_GONE, SUBCOMMANDS, app, err, out, terminal

__all__ = ["ALL_COMMANDS", "EXIT_READER_GONE", "SUBCOMMANDS", "analysis", "app", "catalog", "err", "history", "lab",
           "main", "out", "terminal", "testing", "tracking"]


def main() -> None:
    _only_the_command_asked_for(sys.argv[1:2])
    app()


def _command_name(command: Any) -> str:
    return command.name or command.callback.__name__.lower().replace("_", "-")


# `demarcate --help` lists the commands by concern, in this order; in each, as its module defines them.
_CONCERNS = [analysis.__name__, catalog.__name__, tracking.__name__, testing.__name__, lab.__name__]
app.registered_commands.sort(key=lambda c: _CONCERNS.index(c.callback.__module__))

# Every command, even when a run registers only the one it invokes: a configuration file is checked
# against them all.
ALL_COMMANDS.update({_command_name(c): c.callback for c in app.registered_commands})  # type: ignore[misc]
ALL_COMMANDS["runs"] = history.runs_list
SUBCOMMANDS["runs"] = {_command_name(c): c.callback for c in history.runs_app.registered_commands}  # type: ignore[misc]


def _only_the_command_asked_for(first: list[str]) -> None:
    """Typer turns every registered command into a Click command on each run, 12 % more for a shop
    bot check with all of them (benchmarks/README.md); when the first argument names a command, only
    that one is registered for this run. Anything else (--help, --version, a misspelt command) gets
    all of them."""
    wanted = [c for c in app.registered_commands if first and _command_name(c) == first[0]]
    if wanted:
        app.registered_commands = wanted


if __name__ == "__main__":
    main()
