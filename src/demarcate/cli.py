"""The command line: parses arguments, calls the library, prints. Nothing else lives here."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
import json
import os
import shlex
import sys
from collections.abc import Callable, Iterable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer

from demarcate import __version__
from demarcate.analysis.findings import count, listing
from demarcate.analysis.matrix import filter_rows, matrix, matrix_csv_rows, matrix_json
from demarcate.analysis.responsibility import Responsibilities
from demarcate.analysis.who import who as who_answer
from demarcate.builtin import example
from demarcate.catalog import load_catalog
from demarcate.catalog import search as search_catalog
from demarcate.model.errors import ManifestError, Position, Problem, did_you_mean
from demarcate.model.loader import System, load, manifest_file_model, manifest_paths
from demarcate.model.scaffold import render, split, starter
from demarcate.model.schema import DECISIONS
from demarcate.report.jsonio import json_bytes, json_text
from demarcate.report.render import ReportFormat, render_report, report_format
from demarcate.report.tabular import to_csv, to_markdown

if TYPE_CHECKING:
    from rich.console import Console

    from demarcate.analysis.check import Result
    from demarcate.analysis.findings import Finding
    from demarcate.analysis.gate import Gate
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
            if collecting:  # a batch command switched collection off (see _load); leave it as found
                gc.enable()

    return wrapper  # type: ignore[return-value]


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


# What a batch command built, kept until the process ends (see _load and main). Only a real
# process collects it: called in-process (tests, a library user), nothing is held back.
_KEPT: list[Any] | None = None


def _load(paths: list[Path], *, batch: bool = True) -> System:
    """Load a manifest for a command. The loaded model lives until exit, so it is kept out of
    every later collection; a batch command (load, analyse, print, exit) then switches the cycle
    collector off altogether: what the analysis builds is freed by reference counting, and on a
    10,000-component portfolio collections took a fifth of the run. A batch command also keeps
    what it built to the end (_keep) and main() ends the process without taking it apart object by
    object, which on such a portfolio took a tenth of a second. Commands that keep running (test,
    demo) pass batch=False. Loading itself runs without collections: all it builds is kept, and
    collecting would only re-scan it (a sixth of the load of a 10,000-component portfolio)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        system = load(paths)
        gc.freeze()
    finally:
        if collecting and not batch:
            gc.enable()
    if batch:
        _keep(system)
    return system


def _load_system(paths: list[Path]) -> System:
    """Load a manifest that is to be analysed: it must describe components. An empty or stray
    file (one party's claims alone, a library of custom controls) would otherwise pass every gate
    with nothing found."""
    system = _load(paths)
    if not system.components:
        raise ManifestError([Problem(
            "no components: the manifest describes nothing to analyse", Position(system.files[0], 1, 1),
            "list the application's components (`demarcate init` writes a starter), or pass every party's "
            "file, or the folder that holds them")])
    return system


def _not_a_manifest(output: Path, system: System) -> None:
    """A report is never written over one of the manifests it is made from."""
    target = output.resolve()
    if any(Path(f).resolve() == target for f in system.files):
        raise ManifestError([Problem("is one of the manifests being read; write the report to another file",
                                     Position(str(output)))])


def _write(output: Path, text: str, system: System) -> None:
    _not_a_manifest(output, system)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")


def _is_loopback(host: str) -> bool:
    import ipaddress

    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve anywhere
        return False


def _warn_if_exposed(host: str, what: str) -> None:
    """Listeners bind 127.0.0.1 unless told otherwise; when told, say what that exposes."""
    if not _is_loopback(host):
        err.print(terminal.t(f"warning: {what} listens on {host}, not only on this machine: anyone who can "
                             "reach it on the network can use it", "yellow"), soft_wrap=True)


def _keep(*objects: Any) -> None:
    if _KEPT is not None:
        _KEPT.extend(objects)


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


@app.command()
@reports_errors
def validate(
    paths: Paths,
    format: Annotated[ListFormat, typer.Option("--format", "-f")] = ListFormat.table,
) -> None:
    """Check manifests against the schema and every reference between them."""
    from demarcate.analysis.paths import unconnected

    system = _load(paths)
    warnings = unconnected(system)
    summary = {
        "valid": True,
        "system": system.info.name,
        "files": list(system.files),
        "parties": len(system.parties),
        "components": len(system.components),
        "flows": len(system.flows),
        "claims": len(system.claims),
        "custom_controls": sorted(system.catalog.custom),
        "warnings": [str(w) for w in warnings],
    }
    if format is ListFormat.json:
        emit_json(summary)
        return
    out.print(terminal.t(
        f"ok: {system.info.name} — {count(len(system.files), 'file')}, {count(len(system.parties), 'party', 'parties')}, "
        f"{count(len(system.components), 'component')}, {count(len(system.flows), 'flow')}, "
        f"{count(len(system.claims), 'claim')}", "green"))
    for w in warnings:
        err.print(terminal.t(str(w), "yellow"), soft_wrap=True)


@app.command()
@reports_errors
def schema() -> None:
    """Print the manifest's JSON Schema (for editor completion)."""
    model = manifest_file_model(load_catalog().kinds)
    data = model.model_json_schema(by_alias=True)
    data["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    data["title"] = "demarcate manifest"
    emit_json(data)


@app.command("matrix")
@reports_errors
def matrix_cmd(
    paths: Paths,
    format: Annotated[MatrixFormat, typer.Option("--format", "-f")] = MatrixFormat.table,
    layer: Annotated[str | None, typer.Option(help="Only controls of this layer.")] = None,
    party: Annotated[str | None, typer.Option(help="Only controls this party claims or is expected to own.")] = None,
    status: Annotated[str | None, typer.Option(
        help="Only rows with this status: implemented, partial, planned, nobody, not-applicable; or relies-on "
             "(rows where a party relies on another).")] = None,
    run: Annotated[str | None, typer.Option(help="Show what this campaign run proved: verified, refuted, untested.")] = None,
    db: Annotated[str | None, typer.Option(help="History database for --run (path or URL).")] = None,
    required: Annotated[bool, typer.Option(
        "--required", help="Only the controls the manifest's requirements name.")] = False,
) -> None:
    """The responsibility matrix: each applicable control against each party."""
    system = _load_system(paths)
    tested: dict[str, str] | None = None
    if run:
        tested = (_history(db).need(run, "campaign")["summary"] or {}).get("controls", {})
    _check_choice(layer, ("model", "application", "infrastructure", "usage"), "layer")
    _check_choice(status, ("implemented", "partial", "planned", "nobody", "not-applicable", "relies-on"), "status")
    if party is not None:
        _check_choice(party, tuple(system.parties), "party")
    rows = filter_rows(matrix(system), layer=layer, party=party, status=status, required=required)
    if format is MatrixFormat.json:
        emit_json(matrix_json(system, rows, tested))
    elif format is MatrixFormat.csv:
        sys.stdout.write(to_csv(matrix_csv_rows(system, rows, tested)))
    elif format is MatrixFormat.markdown:
        sys.stdout.write(to_markdown(matrix_csv_rows(system, rows, tested)))
    else:
        out.print(terminal.matrix_table(system, rows, tested, width=out.width))
        out.print(terminal.matrix_summary(rows))


def _check_choice(value: str | None, choices: tuple[str, ...], what: str) -> None:
    if value is not None and value not in choices:
        raise ManifestError([Problem(
            f"unknown {what} '{value}'; expected one of: {', '.join(choices)}", None, did_you_mean(value, choices))])


def _control_id(system_controls: dict[str, Any], control: str, rules: Iterable[str] = ()) -> str:
    """A control id as typed, in any case; unknown, an error with the nearest control (or, where a
    rule would do too, rule) id."""
    wanted = control.strip().upper()
    if wanted in system_controls:
        return wanted
    what, search = ("control or rule", " and `demarcate rules`") if rules else ("control", "")
    hint = did_you_mean(wanted, system_controls) or did_you_mean(control.strip().lower(), rules)
    raise ManifestError([Problem(f"unknown {what} '{control}'", None,
                                 hint or f"see `demarcate catalog --search TEXT`{search}")])


@app.command()
@reports_errors
def who(
    args: Annotated[list[str], typer.Argument(metavar="PATH... CONTROL",
                                              help="Manifest files or folders, then a control id.")],
    format: Annotated[ListFormat, typer.Option("--format", "-f")] = ListFormat.table,
) -> None:
    """Which party is responsible for a control in this system, why, and who relies on it."""
    if len(args) < 2:
        raise ManifestError([Problem("give one or more manifest paths, then a control id (e.g. APP-IN-03)")])
    system = _load_system([Path(a) for a in args[:-1]])
    control = _control_id(system.catalog.controls, args[-1])
    answer = who_answer(system, control, Responsibilities(system))
    if format is ListFormat.json:
        emit_json(answer.to_json())
    else:
        terminal.print_answer(out, answer)


@app.command()
@reports_errors
def check(
    paths: Paths,
    format: Annotated[CheckFormat, typer.Option(
        "--format", "-f", help="json: the versioned contract (docs/check-json.md); markdown: a pull-request "
                               "comment; github: Actions annotations; gitlab: a Code Quality report; sarif: SARIF "
                               "2.1.0 for code scanning; junit: a JUnit XML test report.")] = CheckFormat.text,
    fail_on: Annotated[Level, typer.Option("--fail-on", help="Exit 1 if an open finding is at or above this level.")] = Level.never,
    rule: Annotated[list[str] | None, typer.Option("--rule", help="Run only these rules (repeatable).")] = None,
    skip_rule: Annotated[list[str] | None, typer.Option(
        "--skip-rule", help="Run every rule but these (repeatable).")] = None,
    baseline: Annotated[Path | None, typer.Option(
        help="A saved `check --format json` result: only findings not in it count for --fail-on.")] = None,
    party: Annotated[list[str] | None, typer.Option(
        "--party", help="Only what this party must act on (repeatable): the findings that name it, the paths "
                        "that cross its components or controls; --fail-on judges those findings alone.")] = None,
    limit: Annotated[int | None, typer.Option(
        min=1, help="Text: list only the first N findings (most severe first) and N paths (open first); the "
                    "counts, the fix and --fail-on still cover everything.")] = None,
    report: Annotated[list[Path] | None, typer.Option(
        "--report", help="Also write this report of the same analysis (repeatable), in the format its name "
                         "says: .html, .md, .json, .sarif, .csv or .xml (JUnit).")] = None,
    assume_: Annotated[list[str] | None, typer.Option(
        "--assume", metavar="CONTROL[@PARTY]",
        help="What if: analyse as if this control were in effect, configuration included, provided by PARTY "
             "(default: whoever answers for it) (repeatable). The output and --fail-on are about that system; "
             "the counts before are shown beside.")] = None,
    baseline_run: BaselineRun = None,
    evidence: Evidence = None,
    store: Store_ = False,
    db: HistoryDb = None,
) -> None:
    """Run every rule: gaps between parties, failure modes, attack paths and the highest-leverage fix."""
    from demarcate.analysis.rules import RULES

    history = _history(db) if store or baseline_run or evidence else None
    try:
        system = _load_system(paths)
        for r in [*(rule or []), *(skip_rule or [])]:
            _check_choice(r, tuple(RULES), "rule")
        if skip_rule:
            rule = [r for r in (rule or RULES) if r not in skip_rule]
        reports = [(path, report_format(path)) for path in report or []]
        for path, _format in reports:
            _not_a_manifest(path, system)
        gate = _judge(system, party=party, baseline=baseline, assume_=assume_, rules=rule,
                      baseline_run=baseline_run, history=history, evidence=evidence)
    except ManifestError as exc:
        if format is CheckFormat.github:  # a broken manifest is annotated at its lines too
            from demarcate.report.ci import problem_annotations

            sys.stdout.write(problem_annotations(exc.problems, base=Path.cwd()))
        elif format is CheckFormat.junit:  # and reported as errored tests, not as an empty report
            from demarcate.report.ci import problem_junit

            sys.stdout.write(problem_junit(exc.problems, base=Path.cwd()))
        raise
    result = gate.result
    data: dict[str, Any] | None = None  # the JSON result, once built
    if format is CheckFormat.text:
        if gate.what_if:
            out.print(terminal.t(gate.what_if, "bold cyan"), soft_wrap=True)
            out.print()
        terminal.print_check(out, result, limit=limit, path_limit=limit)
        if gate.changes is not None:
            terminal.print_diff(out, gate.changes, title="Against the baseline")
    elif format is CheckFormat.json:
        emit_json(data := gate.json())
    elif format is CheckFormat.github:
        from demarcate.report.ci import github_annotations

        sys.stdout.write(github_annotations(result, base=Path.cwd(), only=gate.new))
    else:  # the report of that name
        sys.stdout.write(render_report(ReportFormat(format.value), gate, party))
    if format not in (CheckFormat.text, CheckFormat.json, CheckFormat.markdown):
        # The findings go to a CI system or a file; the log gets the counts.
        if gate.what_if:
            err.print(terminal.t(gate.what_if), soft_wrap=True)
        terminal.print_counts(err, result, fix=True)
    for w in result.warnings:
        if format not in (CheckFormat.text, CheckFormat.github):  # both show them in their own form
            err.print(terminal.t(str(w), "yellow"), soft_wrap=True)
    for path, kind in reports:
        _write_report(path, kind, gate, party)
    failed = fail_on is not Level.never and gate.fails(fail_on.value)
    if history is not None and store:
        run_id = _store_analysis(history, gate, data, paths, fail_on=fail_on.value, failed=failed, party=party,
                                 rule=rule, assume=assume_, baseline=baseline and str(baseline),
                                 baseline_run=baseline_run)
        err.print(terminal.t(f"stored as run {run_id} in {history.safe_url}: `demarcate runs show {run_id}`", "dim"),
                  soft_wrap=True)
    if failed:
        raise typer.Exit(1)


def _judge(system: System, *, party: list[str] | None, baseline: Path | None, assume_: list[str] | None,
           rules: list[str] | None = None, baseline_run: str | None = None, history: Store | None = None,
           evidence: str | None = None) -> Gate:
    """The options `check` and `report` share, checked, and the analysis they ask for."""
    import dataclasses

    from demarcate.analysis.assume import parse
    from demarcate.analysis.diff import load_findings
    from demarcate.analysis.gate import judge

    if evidence and history is not None:
        from demarcate.store.campaign_history import live_evidence

        live = live_evidence(history, evidence, system)
        if not live["same_system"]:
            err.print(terminal.t(f"warning: campaign {live['run']} was run with another manifest than this one; "
                                 "its evidence is used all the same", "yellow"), soft_wrap=True)
        system = dataclasses.replace(system, live=live)

    for p in party or []:
        _check_choice(p, tuple(system.parties), "party")
    if baseline and baseline_run:
        raise ManifestError([Problem("--baseline and --baseline-run each name a baseline; give one of them")])
    saved = load_findings([baseline]) if baseline else None
    if baseline_run and history is not None:
        from demarcate.store.analysis_history import baseline as stored_baseline

        saved, warning = stored_baseline(history, baseline_run, system.info.name, party, rules)
        if warning:
            err.print(terminal.t(f"warning: {warning}", "yellow"), soft_wrap=True)
    gate = judge(system, rules=rules, parties=party, baseline=saved, assume=[parse(a) for a in assume_ or []])
    _keep(gate.result)
    for warning in gate.warnings:
        err.print(terminal.t(f"warning: {warning}", "yellow"), soft_wrap=True)
    return gate


def _params(pairs: list[str] | None) -> dict[str, Any]:
    """`--param KEY=VALUE` pairs as request fields: JSON values where they parse (64, 0.2, true), text else."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ManifestError([Problem(f"--param: expected KEY=VALUE, got '{pair}'", hint="for example max_tokens=64")])
        if key.strip() in ("model", "messages"):
            raise ManifestError([Problem(f"--param: '{key.strip()}' is set by the campaign itself",
                                         hint="give the model with --model")])
        try:
            out[key.strip()] = json.loads(value)
        except ValueError:
            out[key.strip()] = value
    return out


def _history(db: str | None) -> Store:
    """The run history, opened before any work so that a database it cannot reach stops the command
    at once; closed when the command ends, however it ends."""
    from demarcate.store import Store

    history = Store(db)
    if _CLOSING:
        _CLOSING[-1].callback(history.close)
    return history


def _store_analysis(history: Store, gate: Gate, data: dict[str, Any] | None, paths: list[Path], *,
                    fail_on: str = "never", failed: bool = False, **options: Any) -> str:
    """Keep the analysis (`--store`): the run, with the JSON result every output was made from."""
    from demarcate.store import analysis_history as analyses

    data = data or gate.json()
    return history.add_analysis(gate.result.system.info.name, analyses.config(paths, fail_on=fail_on, **options),
                                analyses.summary(data, fail_on=fail_on, failed=failed), json_bytes(data, indent=False))


@app.command("diff")
@reports_errors
def diff_cmd(
    old: Annotated[Path, typer.Argument(help="Manifest folder or file, or a saved check JSON result.")],
    new: Annotated[Path, typer.Argument(help="Manifest folder or file, or a saved check JSON result.")],
    format: Annotated[DiffFormat, typer.Option("--format", "-f")] = DiffFormat.text,
    fail_on: Annotated[Level, typer.Option("--fail-on", help="Exit 1 if a NEW finding is at or above this level.")] = Level.never,
    party: Annotated[list[str] | None, typer.Option(
        "--party", help="Only the findings this party must act on (repeatable), on both sides.")] = None,
) -> None:
    """New, fixed and unchanged findings between two versions of a system."""
    from demarcate.analysis.diff import diff, load_findings, naming, other_system, unnamed
    from demarcate.report.markdown import diff_markdown

    old_side, new_side = load_findings([old]), load_findings([new])
    if warning := other_system(old_side, new_side):
        err.print(terminal.t(f"warning: {warning}", "yellow"), soft_wrap=True)
    before, after = old_side.items, new_side.items
    if party:
        for p, hint in unnamed(party, old_side, new_side):
            err.print(terminal.t(f"warning: no finding on either side names party '{p}'"
                                 + (f" ({hint})" if hint else ""), "yellow"), soft_wrap=True)
        before, after = naming(before, party), naming(after, party)
    changes = diff(before, after)
    if format is DiffFormat.json:
        emit_json(changes.to_json())
    elif format is DiffFormat.markdown:
        sys.stdout.write(diff_markdown(changes))
    else:
        terminal.print_diff(out, changes, title=f"{old} → {new}", unchanged=True)
    if fail_on is not Level.never and changes.fails(fail_on.value):
        raise typer.Exit(1)


@app.command()
@reports_errors
def report(
    paths: Paths,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="File to write; HTML defaults to "
                                                "demarcate-report.html, other formats to standard output.")] = None,
    format: Annotated[ReportFormat, typer.Option("--format", "-f")] = ReportFormat.html,
    party: Annotated[list[str] | None, typer.Option(
        "--party", help="Only what this party must act on (repeatable), as for check; for csv, the matrix "
                        "rows it has a part in.")] = None,
    baseline: Annotated[Path | None, typer.Option(
        help="A saved `check --format json` result: mark the findings new against it, and list those fixed.")] = None,
    assume_: Annotated[list[str] | None, typer.Option(
        "--assume", metavar="CONTROL[@PARTY]",
        help="What if: report on the system as if this control were in effect, as `check --assume` "
             "(repeatable).")] = None,
    baseline_run: BaselineRun = None,
    evidence: Evidence = None,
    trend: Annotated[int | None, typer.Option(
        min=1, help="HTML: also show the last N analyses of this system stored with `check --store`, newest first: "
                    "open findings by severity, open paths, the fix and the gate's verdict of each.")] = None,
    run: Annotated[list[str] | None, typer.Option(
        "--run", metavar="RUN|last",
        help="HTML: include a stored campaign (`demarcate test`), its attack success in the verdict and its "
             "results below; `last` is the newest finished campaign of this system. Repeatable: the first is "
             "the one testing the manifest as written (before a fix, say), the next ones are shown beside it.")] = None,
    db: HistoryDb = None,
) -> None:
    """Write a report: self-contained HTML, Markdown with Mermaid, JSON, SARIF 2.1.0, GitLab Code Quality, or
    CSV of the matrix."""
    if trend is not None and format is not ReportFormat.html:
        raise ManifestError([Problem("--trend is shown in the HTML report only", None, "leave out --format")])
    if run and format is not ReportFormat.html:
        raise ManifestError([Problem("--run is shown in the HTML report only", None, "leave out --format")])
    history = _history(db) if baseline_run or trend or evidence or run else None
    system = _load_system(paths)
    campaigns = []
    if run and history is not None:
        from demarcate.store.campaign_history import stored_campaign

        for rid in run:
            found = stored_campaign(history, rid, system)
            campaigns.append((f"Run {found['run']}", found))
    gate = _judge(system, party=party, baseline=baseline, assume_=assume_, baseline_run=baseline_run, history=history,
                  evidence=evidence)
    stored = None
    if history is not None and trend:
        from demarcate.store.analysis_history import like

        stored = like(history, system.info.name, party, None, trend)
    if output is None and format is ReportFormat.html:
        output = Path("demarcate-report.html")
    if output is None:
        sys.stdout.write(render_report(format, gate, party))
        return
    _write_report(output, format, gate, party, trend=stored, campaigns=campaigns)


@app.command()
@reports_errors
def export(
    paths: Paths,
    format: Annotated[ExportFormat, typer.Option("--format", "-f", help="oscal: the responsibility matrix as an "
                                                 "OSCAL 1.1.3 system security plan in JSON (docs/oscal.md).")] = ExportFormat.oscal,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="File to write (default: standard output).")] = None,
    evidence: Annotated[str | None, typer.Option(
        "--evidence", metavar="RUN|last",
        help="A stored campaign (`demarcate test`): each provider's entry says whether the live test verified or "
             "refuted it; `last` is the newest finished campaign of this system.")] = None,
    db: HistoryDb = None,
) -> None:
    """Export the responsibility matrix for GRC tools: who provides, relies on and answers for each control."""
    from demarcate.report.oscal import oscal_ssp

    history = _history(db) if evidence else None
    system = _load_system(paths)
    if evidence and history is not None:
        from demarcate.store.campaign_history import live_evidence

        system = dataclasses.replace(system, live=live_evidence(history, evidence, system))
    document = oscal_ssp(system)
    if output is None:
        emit_json(document)
        return
    _write(output, json_text(document), system)
    plan = document["system-security-plan"]
    err.print(terminal.t(f"wrote {output} (OSCAL {plan['metadata']['oscal-version']} system security plan, "
                         f"{len(plan['control-implementation']['implemented-requirements'])} controls, "
                         f"{len(system.parties)} parties)"))


def _write_report(output: Path, format: ReportFormat, gate: Gate, party: list[str] | None,
                  trend: list[dict[str, Any]] | None = None,
                  campaigns: list[tuple[str, dict[str, Any]]] | None = None) -> None:
    result = gate.result
    _write(output, render_report(format, gate, party, trend, campaigns), result.system)
    err.print(terminal.t(f"wrote {output} ({format.value}, {len(result.open_findings())} open findings, "
                         f"{len(result.paths.open_paths)} open paths)"))


@app.command()
@reports_errors
def rules(format: Annotated[MatrixFormat, typer.Option("--format", "-f",
                                                       help="table, json, or markdown (the rule reference).")] = MatrixFormat.table) -> None:
    """List the analysis rules."""
    from demarcate.analysis.rules import RULES
    from demarcate.report.markdown import rules_markdown

    if format is MatrixFormat.json:
        emit_json([dataclasses.asdict(r.rule) for r in RULES.values()])
    elif format is MatrixFormat.markdown:
        sys.stdout.write(rules_markdown([r.rule for r in RULES.values()]))
    elif format is MatrixFormat.csv:
        raise ManifestError([Problem("rules has no CSV form; use table, json or markdown")])
    else:
        out.print(terminal.rules_table([r.rule for r in RULES.values()], width=out.width))


@app.command()
@reports_errors
def catalog(
    layer: Annotated[str | None, typer.Option(help="model, application, infrastructure or usage.")] = None,
    search: Annotated[str | None, typer.Option(help="Words to find in id, title, references, kinds, threats or "
                                                    "description; best matches first.")] = None,
    format: Annotated[ListFormat, typer.Option("--format", "-f")] = ListFormat.table,
) -> None:
    """List the built-in control catalog."""
    cat = load_catalog()
    _check_choice(layer, ("model", "application", "infrastructure", "usage"), "layer")
    controls = list(cat.controls.values())
    if layer:
        controls = [c for c in controls if c.layer == layer]
    if search:
        controls = search_catalog(controls, search)
    if format is ListFormat.json:
        emit_json({"version": cat.version,
                   "controls": [c.model_dump(by_alias=True, exclude_none=True) for c in controls]})
        return
    out.print(terminal.catalog_table(controls, f"demarcate catalog {cat.version} — {len(controls)} controls",
                                     width=out.width))


@app.command()
@reports_errors
def explain(
    control: Annotated[str, typer.Argument(help="A control id (APP-IN-03), a rule id (open-attack-path), or a "
                                                "finding id as `check` prints it.")],
    manifest: Annotated[list[Path] | None, typer.Option(
        "--manifest", "-m", help="Also look up custom controls declared in these manifests; for a finding id, "
                                 "the manifest whose finding to show in full.")] = None,
    format: Annotated[ListFormat, typer.Option("--format", "-f")] = ListFormat.table,
) -> None:
    """Describe one control (its layer, references and how to verify it), one rule, or one finding."""
    from demarcate.analysis.rules import RULES

    if ":" in control and control.split(":", 1)[0].lower() in RULES:
        _explain_finding(control, manifest, format)
        return
    if control.lower() in RULES:
        rule = RULES[control.lower()].rule
        if format is ListFormat.json:
            emit_json(dataclasses.asdict(rule))
        else:
            terminal.print_rule(out, rule)
        return
    cat = _load(manifest).catalog if manifest else load_catalog()
    found = cat.controls[_control_id(cat.controls, control, rules=RULES)]
    if format is ListFormat.json:
        emit_json(found.model_dump(by_alias=True, exclude_none=True))
    else:
        terminal.print_control(out, found, cat)


def _finding_id(text: str) -> str:
    """A finding id as the analysis spells it: the rule part in lower case."""
    rule_id, sep, rest = text.strip().partition(":")
    return f"{rule_id.lower()}{sep}{rest}"


def _finding(result: Result, finding_id: str) -> Finding:
    """The finding of this id, or an error naming the nearest id (of its rule, if it has any)."""
    found = {f.id: f for f in result.findings}
    finding = found.get(finding_id)
    if finding is None:
        rule_id = finding_id.split(":", 1)[0]
        same_rule = [f for f in found if f.startswith(rule_id + ":")]
        raise ManifestError([Problem(
            f"no finding '{finding_id}' in this manifest", None,
            did_you_mean(finding_id, same_rule or list(found))
            or "it may be fixed; `demarcate check` lists the findings there are")])
    return finding


# The decisions a tracking entry can record, as the manifest schema names them.
DecisionKind = StrEnum("DecisionKind", [(d.replace("-", "_"), d) for d in DECISIONS])  # type: ignore[misc]


@app.command()
@reports_errors
def decide(
    finding_id: Annotated[str, typer.Argument(metavar="FINDING-ID", help="The finding's id, as `check` prints it.")],
    manifest: Annotated[list[Path], typer.Option(
        "--manifest", "-m", help="The manifest the finding is in: its folder, or its files.")],
    decision: Annotated[DecisionKind | None, typer.Argument(
        metavar="DECISION", help=", ".join(DECISIONS) + " (required, except with --revoke).", show_default=False)] = None,
    justification: Annotated[str, typer.Option(
        "--justification", "-j", help="Why: shown with the finding wherever it is reported (required, except "
                                      "with --revoke).", show_default=False)] = "",
    to: Annotated[Path | None, typer.Option(
        "--to", help="The file of tracking entries to append to, created if missing (default: tracking.yaml in "
                     "the manifest's folder). A file holding anything but tracking entries is refused.")] = None,
    ticket: Annotated[str, typer.Option(help="The ticket that follows the decision up.")] = "",
    reviewer: Annotated[str, typer.Option(help="Who took the decision.")] = "",
    expires: Annotated[str | None, typer.Option(
        metavar="YYYY-MM-DD", help="The first day the decision no longer holds: from then on the finding is "
                                   "open again.")] = None,
    replace: Annotated[bool, typer.Option(
        "--replace", help="The finding has a decision already (one that lapsed, say): record this one in its "
                          "place, in the file that holds it.")] = False,
    revoke: Annotated[bool, typer.Option(
        "--revoke", help="Take the finding's decision out of the file that holds it: the finding is open again "
                         "(or, if it matches no finding any more, the entry is gone).")] = False,
) -> None:
    """Record a decision on a finding in the manifest's tracking section: from then on it is reported
    as accepted, mitigated or a false positive, not open. --replace renews one, --revoke takes one out."""
    import datetime as dt

    from pydantic import ValidationError

    from demarcate.analysis.check import analyse
    from demarcate.model.record import entry, record
    from demarcate.model.schema import Decision

    finding_id = _finding_id(finding_id)
    system = _load_system(manifest)
    earlier = next((d for d in system.tracking if d.finding == finding_id), None)
    at = system.position("decision", finding_id)
    if revoke:
        given = [name for name, value in (("DECISION", decision), ("--justification", justification), ("--to", to),
                                          ("--ticket", ticket), ("--reviewer", reviewer), ("--expires", expires),
                                          ("--replace", replace)) if value]
        if given:
            raise ManifestError([Problem(f"--revoke takes out the decision where it is: leave out {listing(given)}")])
        _revoke(system, manifest, finding_id, earlier, at)
        return
    if decision is None:
        raise ManifestError([Problem("say what was decided: " + ", ".join(DECISIONS), None,
                                     f"demarcate decide '{finding_id}' accepted -j WHY -m MANIFEST")])
    if earlier is not None and not replace:
        raise ManifestError([Problem(f"'{finding_id}' already has a decision", at,
                                     "--replace records this one in its place")])
    if replace and (earlier is None or at is None or not at.file):
        raise ManifestError([Problem(f"'{finding_id}' has no decision to replace", None, "leave out --replace")])
    if replace and to is not None:
        raise ManifestError([Problem("--replace changes the entry where it is: leave out --to", at)])
    if replace:
        to = Path(at.file)  # type: ignore[union-attr]
    if to is None:
        if len(manifest) != 1 or not manifest[0].is_dir():
            raise ManifestError([Problem("name the file to record the decision in with --to", None,
                                         "with a manifest folder, tracking.yaml in it is the default")])
        to = manifest[0] / "tracking.yaml"
    if to.suffix not in (".yaml", ".yml"):
        raise ManifestError([Problem("a tracking file is a manifest file: name it .yaml or .yml", Position(str(to)))])
    try:
        until = dt.date.fromisoformat(expires) if expires else None
    except ValueError:
        raise ManifestError([Problem(f"--expires: '{expires}' is not a date; expected YYYY-MM-DD", None)]) from None
    if not justification.strip():
        raise ManifestError([Problem("--justification is empty", None, "say why, for whoever reviews the decision")])
    item = entry(finding_id, decision.value, justification.strip(), ticket=ticket.strip(), reviewer=reviewer.strip(),
                 date=dt.date.today(), expires=until)
    try:
        wanted = Decision.model_validate(item)
    except ValidationError as exc:  # said in the options' words: a model error would name its fields
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "expires"  # the one check across fields
        raise ManifestError([Problem(f"--{where}: {first['msg'].removeprefix('Value error, ')}", None)]) from None
    finding = _finding(analyse(system), finding_id)
    paths = [*manifest, to]

    def recorded() -> None:  # the manifest, read again with the file, holds the decision as recorded
        again = load(paths).tracking
        if wanted not in again or len(again) != len(system.tracking) + (earlier is None):
            raise ManifestError([Problem("the decision was not read back from the file as recorded; the file "
                                         "was left as it was", Position(str(to)))])

    line = record(to, item, recorded, replacing=at.line if replace and at else None)
    out.print(f"{'replaced' if replace else 'recorded'}: {finding_id} {decision.value}"
              + (f" until {until}" if until else "") + f" — {finding.title}", soft_wrap=True, markup=False,
              highlight=False)
    out.print(f"  in {to}:{line}" + (f" (was: {finding.decision_note})" if earlier is not None else ""),
              soft_wrap=True, markup=False, highlight=False)
    if to.resolve() not in {p.resolve() for p in manifest_paths(manifest)}:  # not read with the manifest as given
        out.print(terminal.t(f"  read it with the manifest: demarcate check {' '.join(shlex.quote(str(m)) for m in paths)}",
                             "dim"), soft_wrap=True)


def _revoke(system: System, manifest: list[Path], finding_id: str, earlier: Any, at: Position | None) -> None:
    """`decide --revoke`: the entry taken out of its file, kept out only if the manifest then reads
    every other decision as before and none for this finding."""
    from demarcate.analysis.check import analyse
    from demarcate.model.record import revoke

    if earlier is None or at is None or not at.file or at.line is None:
        raise ManifestError([Problem(f"'{finding_id}' has no decision to revoke", None,
                                     did_you_mean(finding_id, [d.finding for d in system.tracking]))])
    path = Path(at.file)
    others = [d for d in system.tracking if d.finding != finding_id]

    def revoked() -> None:  # read again, the manifest holds every other decision and not this one
        if list(load([*manifest, path]).tracking) != others:
            raise ManifestError([Problem("the manifest did not read back as expected without the entry; the file "
                                         "was left as it was", Position(str(path)))])

    note = next((f.decision_note for f in analyse(system).findings if f.id == finding_id), None)
    revoke(path, at.line, revoked)
    out.print(f"revoked: {finding_id} — {note or earlier.decision + ' (it matched no finding)'}", soft_wrap=True,
              markup=False, highlight=False)
    out.print(f"  from {path}:{at.line}" + (": the finding is open again" if note else ""), soft_wrap=True,
              markup=False, highlight=False)


def _explain_finding(finding_id: str, manifest: list[Path] | None, format: ListFormat) -> None:
    """A finding id from a CI log or annotation: with the manifest, the finding in full; either way,
    the rule that produced it."""
    from demarcate.analysis.check import analyse, finding_json
    from demarcate.analysis.rules import RULES

    finding_id = _finding_id(finding_id)
    rule = RULES[finding_id.split(":", 1)[0]].rule
    finding = _finding(analyse(_load_system(manifest)), finding_id) if manifest else None
    if format is ListFormat.json:
        emit_json({"finding": finding_json(finding) if finding else None, "rule": dataclasses.asdict(rule)})
        return
    if finding is not None:
        terminal.print_finding(out, finding)
        if not finding.decision:
            where = " ".join(f"-m {shlex.quote(str(m))}" for m in manifest or [])
            out.print(terminal.t(f"To record a decision on it: demarcate decide {shlex.quote(finding.id)} "
                                 f"accepted|mitigated|false-positive -j WHY {where}", "dim"), soft_wrap=True)
        out.print()
    else:
        out.print(terminal.t(f"{finding_id} is a finding of the rule below; `demarcate explain "
                             f"{shlex.quote(finding_id)} --manifest PATH` shows the finding itself.", "dim"))
    terminal.print_rule(out, rule)


@app.command()
@reports_errors
def presets(format: Annotated[ListFormat, typer.Option("--format", "-f")] = ListFormat.table) -> None:
    """List deployment presets: which role operates each layer in each deployment model."""
    cat = load_catalog()
    if format is ListFormat.json:
        emit_json([p.model_dump(by_alias=True, exclude_none=True) for p in cat.presets.values()])
        return
    terminal.print_presets(out, cat.presets.values())


@app.command()
@reports_errors
def init(
    preset: Annotated[str, typer.Option(help="Deployment preset; see `demarcate presets`.")] = "managed-model-api",
    output: Annotated[Path | None, typer.Option("-o", "--output",
                                                help="File to write (with --split: a folder).")] = None,
    split_files: Annotated[bool, typer.Option("--split", help="Write one file per party into the folder -o.")] = False,
    name: Annotated[str, typer.Option(help="The system's name.")] = "My AI application",
    force: Annotated[bool, typer.Option(help="Overwrite existing files.")] = False,
) -> None:
    """Write a starter manifest for a deployment preset."""
    cat = load_catalog()
    if preset not in cat.presets:
        raise ManifestError([Problem(f"unknown preset '{preset}'", None,
                                     did_you_mean(preset, cat.presets) or "see `demarcate presets`")])
    chosen = cat.presets[preset]
    data = starter(chosen, name)
    if split_files:
        if output is None:
            raise ManifestError([Problem("--split needs -o FOLDER")])
        files = split(chosen, data)
        output.mkdir(parents=True, exist_ok=True)
        targets = {output / n: text for n, text in files.items()}
    else:
        text = render(chosen, data)
        if output is None:
            sys.stdout.write(text)
            return
        targets = {output: text}
    existing = [p for p in targets if p.exists()]
    if existing and not force:
        raise ManifestError([Problem("file exists; use --force to overwrite", Position(str(p))) for p in existing])
    for path, text in targets.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        err.print(terminal.t(f"wrote {path}"))


@app.command()
@reports_errors
def demo(
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the HTML report.")] = Path("demarcate-demo.html"),
    db: HistoryDb = None,
) -> None:
    """The main job on the built-in example: analyse the shop bot, attack the live lab, report, then
    switch on the computed fix and attack again."""
    from demarcate.analysis.assume import assume
    from demarcate.analysis.check import analyse
    from demarcate.analysis.gate import Gate
    from demarcate.lab import switches
    from demarcate.report.html import render_html
    from demarcate.testing.run import run_campaign

    history = _history(db)
    path, hardened_path = example("shopbot"), example("shopbot-hardened")
    system = _load([path], batch=False)
    out.rule(terminal.t(f"demarcate demo — {system.info.name}"))
    out.print(terminal.t(f"manifest: {path} ({len(system.files)} files, one per party)", "dim"))
    resp = Responsibilities(system)
    out.rule(terminal.t("1. The source document's challenge: who must screen the reviews?"))
    terminal.print_answer(out, who_answer(system, "APP-IN-03", resp))
    out.rule(terminal.t("2. Where it breaks: findings, attack paths, and the highest-leverage fix"))
    result = analyse(system)
    terminal.print_check(out, result, limit=6)  # the story, not the whole list
    out.rule(terminal.t("3. Proof on the live lab (simulated model): the default bot, attacked"))
    before = run_campaign(system, target="lab", db=db, concurrency=4)
    terminal.print_campaign_short(out, before, focus="doc-email-records+plain")
    by_control = {sw.control: name for name, sw in switches().items()}
    fix = {by_control[c]: True for c in result.leverage.fix if c in by_control}
    out.rule(terminal.t(f"4. The computed fix switched on in the lab: {', '.join(result.leverage.fix)}"))
    after = run_campaign(system, target="lab", db=db, concurrency=4, lab_controls=fix)
    terminal.print_campaign_short(out, after, focus="doc-email-records+plain")
    hardened = analyse(_load([hardened_path], batch=False))
    fixed = analyse(assume(system, [(c, None) for c in result.leverage.fix])[0])
    b, a = before["summary"]["overall"], after["summary"]["overall"]
    out.print(terminal.t(f"attack success rate: {b['rate']:.0%} → {a['rate']:.0%}; open attack paths: "
                         f"{len(result.paths.open_paths)} → {len(fixed.paths.open_paths)} with "
                         f"{', '.join(result.leverage.fix)} in effect", "bold green"))
    for line in _what_still_succeeds(after, fixed):
        out.print(terminal.t(line), soft_wrap=True)
    out.print(terminal.t(f"examples/shopbot-hardened, every application-layer fix claimed: "
                         f"{len(hardened.paths.open_paths)} open attack paths", "dim"))
    output.write_text(render_html(result, campaigns=[
        ("As described (the lab's defaults)", before),
        (f"With the fix switched on ({', '.join(result.leverage.fix)})", after)]), encoding="utf-8")
    out.print(terminal.t(f"HTML report: {output.resolve()}", "bold"))
    out.print(terminal.t(f"runs stored: {before['run']}, {after['run']} — compare with "
                         f"`demarcate runs diff {before['run']} {after['run']}`", "dim"))
    seed_run, hardened_run = (_store_analysis(history, Gate(r), None, [p]) for r, p in ((result, path), (hardened, hardened_path)))
    out.print(terminal.t(f"analyses stored: {seed_run} (as written), {hardened_run} (hardened) — compare with "
                         f"`demarcate runs diff {seed_run} {hardened_run}`", "dim"))


# What each probe goal amounts to in the analysis's terms, for the demo's closing words.
_GOAL_MEANING = {
    "email-out": "exfiltration (an attack path)", "fetch-out": "exfiltration (an attack path)",
    "render-out": "exfiltration (an attack path)", "markup-out": "markup in the page (an attack path)",
    "wide-lookup": "other customers' data shown to the attacker (over-privileged-credential, not an attack path)",
    "reveal-prompt": "the system prompt shown to the attacker (prompt leakage, not an attack path)",
    "say-canary": "the model obeyed, and nothing left the system",
}


def _what_still_succeeds(campaign: dict[str, Any], fixed: Any) -> list[str]:
    """The live results after the fix, told in the analysis's terms: which goals still succeed, and
    the finding that answers for each, so that the static and live numbers can be read together."""
    still: dict[str, int] = {}
    for r in campaign["results"]:
        if r.get("outcome") == "succeeded":
            still[r["goal"]] = still.get(r["goal"], 0) + 1
    if not still:
        return ["  no probe succeeds any more"]
    paths = {"email-out", "fetch-out", "render-out", "markup-out"}
    lines = ["  still succeeding after the fix:"]
    for goal, n in sorted(still.items(), key=lambda kv: -kv[1]):
        lines.append(f"    {n} {goal}: {_GOAL_MEANING.get(goal, goal)}")
    if not paths & still.keys():
        lines.append("  no exfiltration succeeds: what the analysis calls open attack paths is closed live too")
    also = [a.finding for a in fixed.leverage.also if a.finding.startswith("over-privileged-credential")]
    if "wide-lookup" in still and also:
        lines.append(f"  the analysis lists it beside the fix: {', '.join(also)} (APP-TOOL-03)")
    return lines


@app.command()
@reports_errors
def lab(
    config: Annotated[Path | None, typer.Option("--config", help="Lab configuration YAML (see docs/lab.md).")] = None,
    controls: Annotated[str | None, typer.Option(
        help="Switch controls: 'a,b,-c', 'all', 'none' or 'default'. See --list.")] = None,
    port: Annotated[int | None, typer.Option(help="Port on 127.0.0.1 (default 8765; 0 picks a free one).")] = None,
    host: Annotated[str | None, typer.Option(help="Interface to bind; 127.0.0.1 unless you mean otherwise.")] = None,
    list_switches: Annotated[bool, typer.Option("--list", help="List the control switches and exit.")] = False,
    print_manifest: Annotated[bool, typer.Option(
        "--print-manifest", help="Print the manifest of this configuration and exit.")] = False,
    expose: Annotated[bool, typer.Option(
        "--expose", help="Allow a --host other than loopback: the lab is vulnerable on purpose, and its data "
                         "(the customers' records) becomes reachable from the network.")] = False,
    format: Annotated[ListFormat, typer.Option("--format", "-f", help="For --list: table or json.")] = ListFormat.table,
) -> None:
    """Run the reference application: the source document's shop support bot, every control switchable."""
    from demarcate.lab import Lab, load_config, switches
    from demarcate.lab.manifest import manifest_yaml
    from demarcate.lab.models import SIMULATION_NOTICE

    cfg = load_config(config, controls, port)
    if host:
        cfg.host = host
    if list_switches:
        if format is ListFormat.json:
            state = cfg.state()
            emit_json({"switches": {name: {"on": state[name], "default": sw.default, "control": sw.control,
                                           "party": sw.party, "does": sw.does} for name, sw in switches().items()}})
        else:
            terminal.print_switches(out, switches(), cfg.state())
        return
    if print_manifest:
        sys.stdout.write(manifest_yaml(cfg))
        return
    if not _is_loopback(cfg.host) and not expose:
        raise ManifestError([Problem(f"refusing to serve the lab on {cfg.host}: it is vulnerable on purpose, and "
                                     "its outbox holds every customer's personal data",
                                     hint="give --expose to mean it (and `allowed_host_names` in the config for the "
                                          "names clients will use)")])
    _warn_if_exposed(cfg.host, "the lab, a deliberately vulnerable application,")
    running = Lab(cfg).start()
    try:  # from here Ctrl-C, even during the banner, stops the server the same way
        out.print(terminal.t(f"demarcate lab: ShopBot on {running.url}", "bold green"))
        if cfg.model.kind == "simulated":
            out.print(terminal.t(SIMULATION_NOTICE, "yellow"))
        else:
            out.print(terminal.t(f"model: {cfg.model.name} at {cfg.model.base_url} (key from ${cfg.model.api_key_env})"))
        on = [n for n, v in cfg.state().items() if v]
        out.print(terminal.t(f"controls on: {', '.join(on) or 'none'}"))
        out.print(terminal.t(f"try: curl -s -X POST {running.url}/api/login -d "
                             "'{\"email\":\"ada.park@example.com\",\"password\":\"ada-pass\"}'   (then docs/lab.md)",
                             "dim"))
        out.print(terminal.t("Ctrl-C stops it.", "dim"))
        while running.server and running.server.thread.is_alive():
            running.server.thread.join(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()


@app.command()
@reports_errors
def probes(
    select: Annotated[str | None, typer.Argument(
        help="Probe ids, categories, entries or goals (globs, comma-separated), as for `test --probes`.")] = None,
    probe_file: Annotated[list[Path] | None, typer.Option(
        help="Also list probes of your own, as for `test --probe-file` (repeatable).")] = None,
    format: Annotated[ListFormat, typer.Option("--format", "-f")] = ListFormat.table,
) -> None:
    """List the probe library: each probe's entry point, goal and the controls its chain judges
    (one probe: its payload too)."""
    from demarcate.testing.attribution import exercises
    from demarcate.testing.probes import expand, library, load_probes
    from demarcate.testing.probes import select as select_cases

    lib = library()
    chosen = list({c.probe.id: c.probe for c in select_cases(select, extra=load_probes(probe_file or []))}.values())
    if format is ListFormat.json:
        emit_json({"version": lib.version,
                   "probes": [{**p.model_dump(), "controls": list(exercises(p))} for p in chosen],
                   "transforms": {name: tr.model_dump() for name, tr in lib.transforms.items()}})
    elif len(chosen) == 1:
        terminal.print_probe(out, chosen[0], exercises(chosen[0]),
                             [name for name in lib.transforms if expand(chosen[0], name)])
    else:
        terminal.print_probes(out, chosen, exercises, lib.transforms)


class TestFormat(StrEnum):
    text = "text"
    json = "json"


Verbose = Annotated[bool, typer.Option(
    "--verbose", "-v", help="Text: every case's chain, one row a case, besides the cases grouped by how their "
                            "chain went.")]


@app.command("test")
@reports_errors
def test_cmd(
    paths: Paths,
    target: Annotated[str, typer.Option("--target", "-t", help="lab, openai:BASE_URL, http:SPEC.yaml or python:module:function")] = "lab",
    probes: Annotated[str | None, typer.Option(help="Probe ids, categories, entries or goals (globs, comma-separated).")] = None,
    probe_file: Annotated[list[Path] | None, typer.Option(
        help="Probes of your own, beside the library (repeatable; see docs/testing.md).")] = None,
    transforms: Annotated[str | None, typer.Option(help="Transforms: plain (default), a list, or all.")] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=256, help="Cases in flight at once.")] = 4,
    repeat: Annotated[int, typer.Option(min=1, max=1000, help="Run each case this many times (models are not deterministic).")] = 1,
    timeout: Annotated[float, typer.Option(min=1, max=86_400, help="Seconds one case may take; past it, that case is "
                                                                   "recorded as an error and --resume runs it again.")] = 120.0,
    resume: Annotated[str | None, typer.Option(help="Resume an interrupted run by its id, with every option it was started with.")] = None,
    db: Annotated[str | None, typer.Option(help="History: a SQLite path or database URL (default .demarcate/history.sqlite, or $DEMARCATE_DB).")] = None,
    lab_controls: Annotated[str | None, typer.Option(help="For --target lab: switches, as for `demarcate lab --controls`.")] = None,
    lab_config: Annotated[Path | None, typer.Option(
        help="For --target lab: a lab configuration (docs/lab.md) — a real model through `model: {kind: openai}`, "
             "allowlists, switches.")] = None,
    python: Annotated[str | None, typer.Option(
        help="For python: targets: the interpreter (a virtualenv's bin/python) to run the app in, with its own "
             "packages.")] = None,
    prompt_marker: Annotated[str | None, typer.Option(
        help="A string only the target's system prompt contains: prompt extraction becomes observable.")] = None,
    model: Annotated[str | None, typer.Option(help="For openai targets: the model name.")] = None,
    verbose: Verbose = False,
    param: Annotated[list[str] | None, typer.Option(
        "--param", metavar="KEY=VALUE",
        help="For openai targets: a field of every request, e.g. max_tokens=64 or temperature=0 (repeatable; "
             "the value is read as JSON where it is JSON, else as text).")] = None,
    key_env: Annotated[str, typer.Option(help="For openai targets: the environment variable holding the key.")] = "OPENAI_API_KEY",
    callback_url: Annotated[str | None, typer.Option(help="A public URL that reaches the callback listener.")] = None,
    listen: Annotated[str, typer.Option(help="Interface for the callback listener and the trace receiver.")] = "127.0.0.1",
    otlp_port: Annotated[int, typer.Option(
        min=0, max=65535, help="Port for the OTLP/HTTP trace receiver (0: any free port). Point the application's "
                               "exporter at http://LISTEN:PORT/v1/traces to have its tool calls judged.")] = 0,
    report: Annotated[Path | None, typer.Option(help="Also write the HTML report with the results.")] = None,
    format: Annotated[TestFormat, typer.Option("--format", "-f")] = TestFormat.text,
    fail_on_success: Annotated[bool, typer.Option(help="Exit 1 if any probe succeeded.")] = False,
    max_errors: Annotated[float, typer.Option(
        min=0, max=1, help="The share of cases that may fail to run before the campaign counts as untested "
                           "(exit 2), whatever else it found.")] = 0.1,
    force: Annotated[bool, typer.Option(
        "--force", help="Test even with a manifest that does not describe the target (its parties would be "
                        "blamed for what the target does).")] = False,
) -> None:
    """Test a running application: plant, trigger and observe probes; attribute each result to a party."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from demarcate.lab.config import parse_controls
    from demarcate.testing.run import run_campaign

    system = _load(paths, batch=False)
    if report:
        _not_a_manifest(report, system)  # before the campaign, not after it
    _warn_if_exposed(listen, "the callback listener")
    controls = parse_controls(lab_controls) if lab_controls else {}
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=err.real, transient=format is TestFormat.json, disable=not err.is_terminal)
    task: dict[str, Any] = {"id": None, "run": None, "total": 0, "done": 0}

    def started(run_id: str, total: int, done: int) -> None:
        if otlp_port:
            err.print(terminal.t(f"receiving traces (OTLP/HTTP) at http://{listen}:{otlp_port}/v1/traces"), soft_wrap=True)
        task.update(id=progress.add_task(f"run {run_id}", total=total, completed=done), run=run_id, total=total,
                    done=done)

    def one(result: dict[str, Any]) -> None:
        task["done"] += 1
        progress.advance(task["id"])

    try:
        with progress:
            data = run_campaign(system, target=target, probes=probes, transforms=transforms, concurrency=concurrency,
                                resume=resume, db=db, lab_controls=controls, model=model, key_env=key_env,
                                callback_url=callback_url, listen_host=listen, on_start=started, on_result=one,
                                otlp_port=otlp_port, probe_files=[str(f) for f in probe_file or []],
                                repeat=repeat, timeout=timeout, force=force, params=_params(param),
                                lab_config=str(lab_config) if lab_config else None, python=python,
                                prompt_marker=prompt_marker)
    except KeyboardInterrupt:
        if task["run"] is None:
            err.print(terminal.t("interrupted before the run started: nothing to resume", "yellow"))
        else:
            # Not the --db value itself: a database URL may hold a password.
            again = " and the same --db" if db else ""
            err.print(terminal.t(f"interrupted: {task['done']} of {task['total']} cases of run {task['run']} are saved; "
                                 f"resume with: demarcate test {shlex.join(map(str, paths))} --resume {task['run']}"
                                 f"{again}", "yellow"), soft_wrap=True)
        raise typer.Exit(130) from None
    if report:
        from demarcate.analysis.check import analyse
        from demarcate.report.html import render_html

        _write(report, render_html(analyse(system), campaign=data), system)
        err.print(terminal.t(f"wrote {report}"))
    if format is TestFormat.json:
        emit_json(data)
    else:
        terminal.print_campaign(out, data, verbose=verbose)
    errors = sum(r["outcome"] == "error" for r in data["results"])
    if data["results"] and errors > max_errors * len(data["results"]):
        # Too little reached the target: a gate must not pass on a campaign that tested (almost) nothing.
        if format is TestFormat.json:
            for line in terminal.campaign_errors(data):
                err.print(terminal.t(line, "yellow"), soft_wrap=True)
        what = "no case reached the target: nothing was tested" if errors == len(data["results"]) else \
            (f"untested: {errors} of {len(data['results'])} cases could not run (more than --max-errors "
             f"{max_errors:.0%}); `--resume {data['run']}` runs them again")
        err.print(terminal.t(what, "red"), soft_wrap=True)
        raise typer.Exit(EXIT_INVALID)
    if fail_on_success and any(r["outcome"] == "succeeded" for r in data["results"]):
        raise typer.Exit(1)


runs_app = typer.Typer(help="The history: campaigns, and analyses stored with `check --store`.",
                       invoke_without_command=True, no_args_is_help=False)
app.add_typer(runs_app, name="runs")


class RunKind(StrEnum):
    campaign = "campaign"
    analysis = "analysis"


@runs_app.callback()
@reports_errors
def runs_list(
    ctx: typer.Context,
    db: HistoryDb = None,
    format: Annotated[TestFormat, typer.Option("--format", "-f")] = TestFormat.text,
    kind: Annotated[RunKind | None, typer.Option(help="Only runs of this kind.")] = None,
    target: Annotated[str | None, typer.Option(
        help="Only runs of this target (a campaign's) or system (an analysis's), by name.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many runs.")] = 50,
) -> None:
    """List stored runs (newest first)."""
    if ctx.invoked_subcommand:
        return
    items = _history(db).runs(limit, kind=kind and kind.value, target=target)
    if format is TestFormat.json:
        emit_json([{k: r[k] for k in ("id", "created", "kind", "status", "target")} | _listed(r) for r in items])
        return
    out.print(terminal.runs_table(items))


def _listed(run: dict[str, Any]) -> dict[str, Any]:
    """What `runs --format json` gives of a run's summary: a campaign's overall attack success, an
    analysis's open findings and paths, its fix and its gate."""
    summary = run["summary"] or {}
    if run["kind"] == "analysis":
        return {k: summary.get(k) for k in ("findings", "paths", "fix", "gate")}
    return {"overall": summary.get("overall")}


@runs_app.command("show")
@reports_errors
def runs_show(
    run_id: Annotated[str, typer.Argument(help="A run id from `demarcate runs`, or `last`.")],
    db: HistoryDb = None,
    format: Annotated[TestFormat, typer.Option("--format", "-f")] = TestFormat.text,
    limit: Annotated[int | None, typer.Option(
        min=1, help="Text, for an analysis: list only its first N open findings (most severe first).")] = None,
    case: Annotated[str | None, typer.Option(
        "--case", help="For a campaign: one case in full, its chain and all the evidence kept for it.")] = None,
    verbose: Verbose = False,
) -> None:
    """One run: a campaign's results and summary; an analysis's JSON result as `check` wrote it."""
    from demarcate.store.analysis_history import result as stored_result

    store = _history(db)
    if run_id == "last":  # the newest run (the newest campaign, for --case)
        newest = store.runs(1, kind="campaign" if case else None)
        if not newest:
            raise ManifestError([Problem(f"no runs in {store.safe_url}", hint="see `demarcate runs`")])
        run_id = newest[0]["id"]
    run = store.need(run_id, "campaign" if case else None)
    if case:
        found = next((r for r in store.results(run_id) if r["case"] == case), None)
        if found is None:
            from demarcate.model.errors import did_you_mean

            raise ManifestError([Problem(f"run {run_id} has no case '{case}'", None,
                                         did_you_mean(case, [r["case"] for r in store.results(run_id)]))])
        if format is TestFormat.json:
            emit_json(found)
        else:
            terminal.print_case(out, found)
        return
    if run["kind"] == "analysis":
        result = stored_result(store, run)
        if format is TestFormat.json:  # the check result, which `--baseline` and `diff` read back
            emit_json({**result, "run": run_id, "stored": run["created"]})
        else:
            terminal.print_stored_analysis(out, run, result, limit=limit)
        return
    data = {"version": 1, "run": run_id, "target": run["target"], "status": run["status"],
            "results": store.results(run_id), "summary": run["summary"] or {}}
    if format is TestFormat.json:
        emit_json(data)
    else:
        terminal.print_campaign(out, data, verbose=verbose)


@runs_app.command("diff")
@reports_errors
def runs_diff(
    old: Annotated[str, typer.Argument(help="The earlier run id.")],
    new: Annotated[str, typer.Argument(help="The later run id.")],
    db: HistoryDb = None,
    format: Annotated[TestFormat, typer.Option("--format", "-f")] = TestFormat.text,
) -> None:
    """Compare two runs of one kind, exit 1 on a regression: for campaigns, a control that held and now
    fails, or an attack that now succeeds; for analyses, a finding or an attack path open now that was
    not open before."""
    from demarcate.store import KINDS
    from demarcate.store import analysis_history as analyses
    from demarcate.store.campaign_history import compare

    store = _history(db)
    a, b = store.need(old), store.need(new)
    if a["kind"] != b["kind"]:
        raise ManifestError([Problem(f"run '{old}' is {KINDS[a['kind']]} and run '{new}' is {KINDS[b['kind']]}: only "
                                     "runs of one kind compare", hint="see `demarcate runs --kind KIND`")])
    if a["kind"] == "analysis":
        diff = analyses.compare(a, analyses.result(store, a), b, analyses.result(store, b))
        for warning in diff["warnings"]:
            err.print(terminal.t(f"warning: {warning}", "yellow"), soft_wrap=True)
    else:
        diff = compare(a, store.results(old), b, store.results(new))
    if format is TestFormat.json:
        emit_json(diff)
    elif a["kind"] == "analysis":
        terminal.print_analysis_diff(out, diff)
    else:
        terminal.print_run_diff(out, diff)
    if diff["regressions"]:
        raise typer.Exit(1)


@runs_app.command("prune")
@reports_errors
def runs_prune(
    keep: Annotated[int | None, typer.Option(
        min=0, help="Keep the newest N runs of each target (a campaign's target, an analysis's system).")] = None,
    before: Annotated[str | None, typer.Option(
        metavar="YYYY-MM-DD", help="Remove only runs created before this day (local time, as run ids are).")] = None,
    kind: Annotated[RunKind | None, typer.Option(help="Only runs of this kind.")] = None,
    target: Annotated[str | None, typer.Option(help="Only runs of this target or system, by name.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be removed; remove nothing.")] = False,
    db: HistoryDb = None,
    format: Annotated[TestFormat, typer.Option("--format", "-f")] = TestFormat.text,
) -> None:
    """Remove old runs: beyond the newest N of each target, or before a day, or both. A campaign that
    can still be resumed is never removed."""
    import datetime as dt

    from demarcate.store import UNFINISHED, to_prune

    if keep is None and before is None:
        raise ManifestError([Problem("say which runs to remove: --keep N, --before YYYY-MM-DD, or both")])
    cutoff = None
    if before is not None:
        try:
            cutoff = dt.datetime.combine(dt.date.fromisoformat(before), dt.time.min).timestamp()
        except ValueError:
            raise ManifestError([Problem(f"--before: '{before}' is not a day; expected YYYY-MM-DD")]) from None
    store = _history(db)
    items = store.runs(None, kind=kind and kind.value, target=target)
    chosen = to_prune(items, keep=keep, before=cutoff)
    unfinished = [r["id"] for r in items if r["status"] in UNFINISHED]
    if not dry_run:
        store.delete([r["id"] for r in chosen])
    if format is TestFormat.json:
        emit_json({"removed" if not dry_run else "would_remove": [r["id"] for r in chosen],
                   "kept": len(items) - len(chosen), "unfinished": unfinished})
        return
    for r in chosen if dry_run else ():
        out.print(terminal.t(f"{r['id']}  {r['kind']:<8}  {r['target']}"), soft_wrap=True)
    def runs_of(n: int, kind: RunKind | None) -> str:
        return count(n, kind.value if kind else "run", "analyses" if kind is RunKind.analysis else None)

    what = listing([runs_of(n, k) for k in RunKind if (n := sum(1 for r in chosen if r["kind"] == k))]) or "no run"
    out.print(terminal.t(f"{'would remove' if dry_run else 'removed'} {what} from {store.safe_url}; "
                         f"{runs_of(len(items) - len(chosen), kind)} kept"
                         + (f", {count(len(unfinished), 'unfinished campaign')} among them that can still be resumed"
                            if unfinished else "")), soft_wrap=True)


def tune_gc() -> None:
    """A run builds one large, long-lived object graph. Python's default collector re-scans it
    every few hundred allocations, which makes big portfolios quadratic; collect far less often."""
    gc.set_threshold(200_000, 50, 1_000)


def main() -> None:
    global _KEPT
    tune_gc()
    _KEPT = []
    _only_the_command_asked_for(sys.argv[1:2])
    try:
        app()
    except SystemExit as exc:
        if _KEPT:  # a batch command is done: flush what it wrote and end without tearing it down
            _exit_now(exc.code)
        raise


def _command_name(command: Any) -> str:
    return command.name or command.callback.__name__.lower().replace("_", "-")


# Every command, even when a run registers only the one it invokes: a configuration file is checked
# against them all.
ALL_COMMANDS: dict[str, Callable[..., Any]] = {_command_name(c): c.callback for c in app.registered_commands}  # type: ignore[misc]
ALL_COMMANDS["runs"] = runs_list
SUBCOMMANDS: dict[str, dict[str, Callable[..., Any]]] = {
    "runs": {_command_name(c): c.callback for c in runs_app.registered_commands}}  # type: ignore[misc]


def _only_the_command_asked_for(first: list[str]) -> None:
    """Typer turns every registered command into a Click command on each run, which took ~40 ms
    for all of them; when the first argument names a command, only that one is registered for this
    run. Anything else (--help, --version, a misspelt command) gets all of them, as before."""
    wanted = [c for c in app.registered_commands if first and _command_name(c) == first[0]]
    if wanted:
        app.registered_commands = wanted


def _exit_now(code: int | str | None) -> None:
    if isinstance(code, str):
        err.print(code, markup=False, highlight=False)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:  # the reader went away (`| head`): nothing more can reach it
        code = EXIT_READER_GONE
    os._exit(code if isinstance(code, int) else 0 if code is None else 1)


if __name__ == "__main__":
    main()
