"""What every command shares: the application object, the consoles, the option types, the
error handling that turns bad input into one line per problem, and loading a manifest."""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import sys
from collections.abc import Callable, Iterable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer

from demarcate import __version__
from demarcate.analysis.findings import count
from demarcate.catalog import load_catalog
from demarcate.model.errors import ManifestError, Position, Problem, did_you_mean
from demarcate.model.loader import System, load
from demarcate.report.jsonio import json_bytes

if TYPE_CHECKING:
    from rich.console import Console

    from demarcate.store import Store


class _Terminal:
    """demarcate.report.terminal, imported when first used: it and rich behind it are not needed
    by commands writing JSON, Markdown or files. (A plain import, so threads are safe.)"""

    def __getattr__(self, name: str) -> Any:
        from demarcate.report import terminal

        return getattr(terminal, name)


terminal: Any = _Terminal()


app = typer.Typer(
    name="demarcate",
    help="Map who secures what in an AI application, find the gaps between parties, and test them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


EXIT_INVALID = 2


EXIT_READER_GONE = 141  # what a shell reports for a command whose reader went away (128 + SIGPIPE)


def reader_gone() -> NoReturn:
    """Whoever read standard output stopped early (`| head`): nothing more can reach it. Every
    format ends the same way, quietly, with the status a shell gives a command stopped by SIGPIPE;
    standard output points at /dev/null so that nothing fails again while the process ends."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # not a real file (called in-process)
        pass
    raise typer.Exit(EXIT_READER_GONE)


class _Console:
    """A rich Console made when first used: importing rich takes ~40 ms that commands writing
    JSON, Markdown, CSV or a report file never need. `real` is the Console itself."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._real: Console | None = None

    @property
    def real(self) -> Console:
        if self._real is None:
            from rich.console import Console

            class _Quiet(Console):
                def on_broken_pipe(self) -> None:  # rich's own ends with status 1
                    reader_gone()

            self._real = _Quiet(**self._options)
        return self._real

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


out: Any = _Console(highlight=False, soft_wrap=False)


err: Any = _Console(stderr=True, highlight=False)


F = TypeVar("F", bound=Callable[..., Any])


class ListFormat(StrEnum):
    table = "table"
    json = "json"


class CheckFormat(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"
    github = "github"  # GitHub Actions annotations
    gitlab = "gitlab"  # GitLab Code Quality report
    sarif = "sarif"
    junit = "junit"  # JUnit XML test report


class DiffFormat(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


class Level(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"
    never = "never"


class ExportFormat(StrEnum):
    oscal = "oscal"  # an OSCAL 1.1.3 system security plan (JSON)


class MatrixFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


Paths = Annotated[list[Path], typer.Argument(
    help="Manifest files or folders (one file per party is fine); - reads one from standard input.")]


HistoryDb = Annotated[str | None, typer.Option(
    help="History database: a SQLite path or a database URL (default $DEMARCATE_DB, else .demarcate/history.sqlite).")]


BaselineRun = Annotated[str | None, typer.Option(
    "--baseline-run", metavar="RUN|last",
    help="A stored analysis (`check --store`) as the baseline, instead of a file: a run id, or `last` for the "
         "newest stored analysis of this system (none yet: every finding is new).")]


Evidence = Annotated[str | None, typer.Option(
    "--evidence", metavar="RUN|last",
    help="A stored campaign (`demarcate test`) as evidence: a control it refuted is taken as not in effect, "
         "whatever is claimed, and its paths open again; `last` is the newest finished campaign of this system.")]


Store_ = Annotated[bool, typer.Option(
    "--store", help="Keep this analysis in the run history (`demarcate runs`): its whole JSON result, how it was "
                    "run and what the gate decided.")]


def reports_errors(fn: F) -> F:
    """Bad input ends in one readable line per problem and exit code 2, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        collecting = gc.isenabled()
        closing = contextlib.ExitStack()
        _CLOSING.append(closing)
        try:
            return fn(*args, **kwargs)
        except ManifestError as exc:
            for problem in exc.problems:
                err.print(terminal.t(str(problem)), soft_wrap=True)
            n = len(exc.problems)
            err.print(terminal.t(f"{count(n, 'problem')} found", "red"))
            raise typer.Exit(EXIT_INVALID) from None
        except BrokenPipeError as exc:
            if exc.filename is not None:  # a file, not standard output
                _os_error(exc)
            reader_gone()
        except OSError as exc:
            _os_error(exc)
        finally:
            _CLOSING.remove(closing)
            closing.close()
            if collecting:  # a batch command switched collection off (see load_manifest); leave it as found
                gc.enable()

    return wrapper  # type: ignore[return-value]


# Every command by name, and each group's subcommands: filled by demarcate.cli once all are
# registered, and read here when a configuration file is checked against them.
ALL_COMMANDS: dict[str, Callable[..., Any]] = {}
SUBCOMMANDS: dict[str, dict[str, Callable[..., Any]]] = {}


# What each running command opened (a history database) and closes when it ends, however it ends.
_CLOSING: list[contextlib.ExitStack] = []


def _os_error(exc: OSError) -> NoReturn:
    err.print(terminal.t(f"error: {exc.strerror or exc}: {exc.filename or ''}"))
    raise typer.Exit(EXIT_INVALID) from None


def emit_json(data: Any) -> None:
    sys.stdout.flush()
    encoded = json_bytes(data)
    if sys.stdout.buffer.write(encoded) < len(encoded):  # the reader went away in the middle
        reader_gone()
    sys.stdout.flush()


def load_manifest(paths: list[Path], *, batch: bool = True) -> System:
    """Load a manifest for a command. Loading runs without collections (all it builds is kept,
    collecting would only re-scan it) and the loaded model is kept out of every later collection;
    a batch command (load, analyse, print, exit) then runs without the cycle collector: what the
    analysis builds is freed by reference counting. Commands that keep running (test, demo) pass
    batch=False. benchmarks/README.md has what this saves."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        system = load(paths)
        gc.freeze()
    finally:
        if collecting and not batch:
            gc.enable()
    return system


def load_system(paths: list[Path]) -> System:
    """Load a manifest that is to be analysed: it must describe components. An empty or stray
    file (one party's claims alone, a library of custom controls) would otherwise pass every gate
    with nothing found."""
    system = load_manifest(paths)
    if not system.components:
        raise ManifestError([Problem(
            "no components: the manifest describes nothing to analyse", Position(system.files[0], 1, 1),
            "list the application's components (`demarcate init` writes a starter), or pass every party's "
            "file, or the folder that holds them")])
    return system


def not_a_manifest(output: Path, system: System) -> None:
    """A report is never written over one of the manifests it is made from."""
    target = output.resolve()
    if any(Path(f).resolve() == target for f in system.files):
        raise ManifestError([Problem("is one of the manifests being read; write the report to another file",
                                     Position(str(output)))])


def write_file(output: Path, text: str, system: System) -> None:
    not_a_manifest(output, system)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")


def is_loopback(host: str) -> bool:
    import ipaddress

    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve anywhere
        return False


def warn_if_exposed(host: str, what: str) -> None:
    """Listeners bind 127.0.0.1 unless told otherwise; when told, say what that exposes."""
    if not is_loopback(host):
        err.print(terminal.t(f"warning: {what} listens on {host}, not only on this machine: anyone who can "
                             "reach it on the network can use it", "yellow"), soft_wrap=True)


@app.callback(invoke_without_command=True)
@reports_errors
def _root(
    ctx: typer.Context,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
    config: Annotated[Path | None, typer.Option(
        "--config", help="Read defaults from this file instead of the nearest demarcate.toml, .demarcate.toml "
                         "or pyproject.toml [tool.demarcate] (docs/config.md).")] = None,
    no_config: Annotated[bool, typer.Option("--no-config", help="Read no configuration file.")] = False,
) -> None:
    if version:
        out.print(f"demarcate {__version__} (catalog {load_catalog().version})")
        raise typer.Exit()
    if no_config:
        return
    from demarcate import config as settings

    found = config or settings.find(Path.cwd())
    if found is not None:
        ctx.default_map = settings.default_map(found, settings.read(found), ALL_COMMANDS, SUBCOMMANDS)


def check_choice(value: str | None, choices: tuple[str, ...], what: str) -> None:
    if value is not None and value not in choices:
        raise ManifestError([Problem(
            f"unknown {what} '{value}'; expected one of: {', '.join(choices)}", None, did_you_mean(value, choices))])


def control_id(system_controls: dict[str, Any], control: str, rules: Iterable[str] = ()) -> str:
    """A control id as typed, in any case; unknown, an error with the nearest control (or, where a
    rule would do too, rule) id."""
    wanted = control.strip().upper()
    if wanted in system_controls:
        return wanted
    what, search = ("control or rule", " and `demarcate rules`") if rules else ("control", "")
    hint = did_you_mean(wanted, system_controls) or did_you_mean(control.strip().lower(), rules)
    raise ManifestError([Problem(f"unknown {what} '{control}'", None,
                                 hint or f"see `demarcate catalog --search TEXT`{search}")])


def open_history(db: str | None) -> Store:
    """The run history, opened before any work so that a database it cannot reach stops the command
    at once; closed when the command ends, however it ends."""
    from demarcate.store import Store

    history = Store(db)
    if _CLOSING:
        _CLOSING[-1].callback(history.close)
    return history


class TestFormat(StrEnum):
    text = "text"
    json = "json"


Verbose = Annotated[bool, typer.Option(
    "--verbose", "-v", help="Text: every case's chain, one row a case, besides the cases grouped by how their "
                            "chain went.")]
