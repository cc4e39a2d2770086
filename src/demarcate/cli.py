"""The command line: parses arguments, calls the library, prints. Nothing else lives here."""

from __future__ import annotations

import dataclasses
import functools
import gc
import json
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from demarcate import __version__
from demarcate.analysis.matrix import filter_rows, matrix, matrix_csv_rows, matrix_json
from demarcate.analysis.responsibility import Responsibilities
from demarcate.analysis.who import who as who_answer
from demarcate.builtin import example
from demarcate.catalog import load_catalog
from demarcate.model.errors import ManifestError, Position, Problem, did_you_mean
from demarcate.model.loader import System, load, manifest_file_model
from demarcate.model.scaffold import render, split, starter
from demarcate.report import terminal
from demarcate.report.tabular import to_csv, to_markdown

app = typer.Typer(
    name="demarcate",
    help="Map who secures what in an AI application, find the gaps between parties, and test them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
out = Console(highlight=False, soft_wrap=False)
err = Console(stderr=True, highlight=False)

EXIT_INVALID = 2

F = TypeVar("F", bound=Callable[..., Any])


class ListFormat(StrEnum):
    table = "table"
    json = "json"


class CheckFormat(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


class Level(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"
    never = "never"


class MatrixFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


Paths = Annotated[list[Path], typer.Argument(help="Manifest files or folders (one file per party is fine).")]


def reports_errors(fn: F) -> F:
    """Bad input ends in one readable line per problem and exit code 2, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ManifestError as exc:
            for problem in exc.problems:
                err.print(terminal.t(str(problem)), soft_wrap=True)
            n = len(exc.problems)
            err.print(terminal.t(f"{n} problem{'s' if n != 1 else ''} found", "red"))
            raise typer.Exit(EXIT_INVALID) from None
        except OSError as exc:
            err.print(terminal.t(f"error: {exc.strerror or exc}: {exc.filename or ''}"))
            raise typer.Exit(EXIT_INVALID) from None

    return wrapper  # type: ignore[return-value]


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def _load(paths: list[Path]) -> System:
    system = load(paths)
    gc.freeze()  # the loaded model lives until exit: keep it out of every later collection
    return system


@app.callback(invoke_without_command=True)
def _root(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    if version:
        out.print(f"demarcate {__version__} (catalog {load_catalog().version})")
        raise typer.Exit()


@app.command()
@reports_errors
def validate(
    paths: Paths,
    format: Annotated[ListFormat, typer.Option("--format", "-f")] = ListFormat.table,
) -> None:
    """Check manifests against the schema and every reference between them."""
    system = _load(paths)
    summary = {
        "valid": True,
        "system": system.info.name,
        "files": list(system.files),
        "parties": len(system.parties),
        "components": len(system.components),
        "flows": len(system.flows),
        "claims": len(system.claims),
        "custom_controls": sorted(system.catalog.custom),
    }
    if format is ListFormat.json:
        emit_json(summary)
        return
    out.print(terminal.t(
        f"ok: {system.info.name} — {len(system.files)} file(s), {len(system.parties)} parties, "
        f"{len(system.components)} components, {len(system.flows)} flows, {len(system.claims)} claims",
        "green"))


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
        help="Only rows with this status: implemented, partial, planned, nobody, not-applicable.")] = None,
) -> None:
    """The responsibility matrix: each applicable control against each party."""
    system = _load(paths)
    _check_choice(layer, ("model", "application", "infrastructure", "usage"), "layer")
    _check_choice(status, ("implemented", "partial", "planned", "nobody", "not-applicable"), "status")
    if party is not None:
        _check_choice(party, tuple(system.parties), "party")
    rows = filter_rows(matrix(system), layer=layer, party=party, status=status)
    if format is MatrixFormat.json:
        emit_json(matrix_json(system, rows))
    elif format is MatrixFormat.csv:
        sys.stdout.write(to_csv(matrix_csv_rows(system, rows)))
    elif format is MatrixFormat.markdown:
        sys.stdout.write(to_markdown(matrix_csv_rows(system, rows)))
    else:
        out.print(terminal.matrix_table(system, rows))
        out.print(terminal.matrix_summary(rows))


def _check_choice(value: str | None, choices: tuple[str, ...], what: str) -> None:
    if value is not None and value not in choices:
        raise ManifestError([Problem(
            f"unknown {what} '{value}'; expected one of: {', '.join(choices)}", None, did_you_mean(value, choices))])


def _control_id(system_controls: dict[str, Any], control: str) -> str:
    wanted = control.strip().upper()
    if wanted in system_controls:
        return wanted
    raise ManifestError([Problem(f"unknown control '{control}'", None, did_you_mean(wanted, system_controls)
                                 or "see `demarcate catalog --search TEXT`")])


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
    system = _load([Path(a) for a in args[:-1]])
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
    format: Annotated[CheckFormat, typer.Option("--format", "-f")] = CheckFormat.text,
    fail_on: Annotated[Level, typer.Option("--fail-on", help="Exit 1 if an open finding is at or above this level.")] = Level.never,
    rule: Annotated[list[str] | None, typer.Option("--rule", help="Run only these rules (repeatable).")] = None,
    baseline: Annotated[Path | None, typer.Option(
        help="A saved `check --format json` result: only findings not in it count for --fail-on.")] = None,
) -> None:
    """Run every rule: gaps between parties, failure modes, attack paths and the highest-leverage fix."""
    from demarcate.analysis.check import analyse, finding_json, result_json
    from demarcate.analysis.diff import diff, load_findings
    from demarcate.analysis.rules import RULES

    system = _load(paths)
    for r in rule or []:
        _check_choice(r, tuple(RULES), "rule")
    base = load_findings([baseline]) if baseline else None
    result = analyse(system, rules=rule)
    changes = diff(base, [finding_json(f) for f in result.findings]) if base is not None else None
    if format is CheckFormat.json:
        data = result_json(result)
        if changes is not None:
            data["baseline"] = {k: [f["id"] for f in v] for k, v in
                                (("new", changes.new), ("fixed", changes.fixed), ("unchanged", changes.unchanged))}
        emit_json(data)
    elif format is CheckFormat.markdown:
        from demarcate.report.markdown import check_markdown

        sys.stdout.write(check_markdown(result))
    else:
        terminal.print_check(out, result)
        if changes is not None:
            terminal.print_diff(out, changes, title="Against the baseline")
    for w in result.warnings:
        if format is not CheckFormat.text:
            err.print(terminal.t(f"warning: {w}"))
    if fail_on is not Level.never:
        failed = changes.fails(fail_on.value) if changes is not None else result.fails(fail_on.value)
        if failed:
            raise typer.Exit(1)


@app.command("diff")
@reports_errors
def diff_cmd(
    old: Annotated[Path, typer.Argument(help="Manifest folder or file, or a saved check JSON result.")],
    new: Annotated[Path, typer.Argument(help="Manifest folder or file, or a saved check JSON result.")],
    format: Annotated[CheckFormat, typer.Option("--format", "-f")] = CheckFormat.text,
    fail_on: Annotated[Level, typer.Option("--fail-on", help="Exit 1 if a NEW finding is at or above this level.")] = Level.never,
) -> None:
    """New, fixed and unchanged findings between two versions of a system."""
    from demarcate.analysis.diff import diff, load_findings
    from demarcate.report.markdown import diff_markdown

    changes = diff(load_findings([old]), load_findings([new]))
    if format is CheckFormat.json:
        emit_json(changes.to_json())
    elif format is CheckFormat.markdown:
        sys.stdout.write(diff_markdown(changes))
    else:
        terminal.print_diff(out, changes, title=f"{old} → {new}")
    if fail_on is not Level.never and changes.fails(fail_on.value):
        raise typer.Exit(1)


class ReportFormat(StrEnum):
    html = "html"
    markdown = "markdown"
    json = "json"
    sarif = "sarif"
    csv = "csv"


@app.command()
@reports_errors
def report(
    paths: Paths,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="File to write; HTML defaults to "
                                                "demarcate-report.html, other formats to standard output.")] = None,
    format: Annotated[ReportFormat, typer.Option("--format", "-f")] = ReportFormat.html,
) -> None:
    """Write a report: self-contained HTML, Markdown with Mermaid, JSON, SARIF 2.1.0, or CSV of the matrix."""
    from demarcate.analysis.check import analyse, result_json
    from demarcate.report.html import render_html
    from demarcate.report.markdown import check_markdown
    from demarcate.report.sarif import sarif

    system = _load(paths)
    result = analyse(system)
    if format is ReportFormat.html:
        text = render_html(result)
        output = output or Path("demarcate-report.html")
    elif format is ReportFormat.markdown:
        text = check_markdown(result)
    elif format is ReportFormat.json:
        text = json.dumps(result_json(result), indent=2, ensure_ascii=False) + "\n"
    elif format is ReportFormat.sarif:
        text = json.dumps(sarif(result, base=(output.parent if output else Path.cwd())), indent=2,
                          ensure_ascii=False) + "\n"
    else:
        text = to_csv(matrix_csv_rows(system, matrix(system)))
    if output is None:
        sys.stdout.write(text)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
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
        out.print(terminal.rules_table([r.rule for r in RULES.values()]))


@app.command()
@reports_errors
def catalog(
    layer: Annotated[str | None, typer.Option(help="model, application, infrastructure or usage.")] = None,
    search: Annotated[str | None, typer.Option(help="Text to find in id, title, description or references.")] = None,
    format: Annotated[ListFormat, typer.Option("--format", "-f")] = ListFormat.table,
) -> None:
    """List the built-in control catalog."""
    cat = load_catalog()
    _check_choice(layer, ("model", "application", "infrastructure", "usage"), "layer")
    controls = list(cat.controls.values())
    if layer:
        controls = [c for c in controls if c.layer == layer]
    if search:
        needle = search.lower()
        controls = [c for c in controls if needle in json.dumps(c.model_dump(by_alias=True)).lower()]
    if format is ListFormat.json:
        emit_json({"version": cat.version,
                   "controls": [c.model_dump(by_alias=True, exclude_none=True) for c in controls]})
        return
    out.print(terminal.catalog_table(controls, f"demarcate catalog {cat.version} — {len(controls)} controls"))


@app.command()
@reports_errors
def explain(
    control: Annotated[str, typer.Argument(help="A control id (APP-IN-03) or a rule id (open-attack-path).")],
    manifest: Annotated[list[Path] | None, typer.Option(
        "--manifest", "-m", help="Also look up custom controls declared in these manifests.")] = None,
    format: Annotated[ListFormat, typer.Option("--format", "-f")] = ListFormat.table,
) -> None:
    """Describe one control (its layer, references and how to verify it) or one rule."""
    from demarcate.analysis.rules import RULES

    if control.lower() in RULES:
        rule = RULES[control.lower()].rule
        if format is ListFormat.json:
            emit_json(dataclasses.asdict(rule))
        else:
            terminal.print_rule(out, rule)
        return
    cat = _load(manifest).catalog if manifest else load_catalog()
    found = cat.controls[_control_id(cat.controls, control)]
    if format is ListFormat.json:
        emit_json(found.model_dump(by_alias=True, exclude_none=True))
    else:
        terminal.print_control(out, found, cat)


@app.command()
@reports_errors
def presets(format: Annotated[ListFormat, typer.Option("--format", "-f")] = ListFormat.table) -> None:
    """List deployment presets: which role operates each layer in each deployment model."""
    cat = load_catalog()
    if format is ListFormat.json:
        emit_json([p.model_dump(by_alias=True, exclude_none=True) for p in cat.presets.values()])
        return
    out.print(terminal.presets_table(cat.presets.values()))


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
def demo() -> None:
    """Run the main job on the built-in example: the source document's shop support bot."""
    from demarcate.analysis.check import analyse

    path = example("shopbot")
    system = _load([path])
    out.rule(terminal.t(f"demarcate demo — {system.info.name}"))
    out.print(terminal.t(f"manifest: {path} ({len(system.files)} files, one per party)", "dim"))
    out.print()
    out.rule(terminal.t("1. Who secures what: the application layer, where nobody provides a control"))
    resp = Responsibilities(system)
    rows = matrix(system, resp)
    out.print(terminal.matrix_table(system, filter_rows(rows, status="nobody", layer="application")[:12]))
    out.print(terminal.matrix_summary(rows))
    out.print()
    out.rule(terminal.t("2. The source document's challenge: who is responsible for screening reviews?"))
    terminal.print_answer(out, who_answer(system, "APP-IN-03", resp))
    out.print()
    out.rule(terminal.t("3. Where it breaks: findings, attack paths, and the highest-leverage fix"))
    terminal.print_check(out, analyse(system), limit=8)
    out.print()
    hardened = example("shopbot-hardened")
    after = analyse(_load([hardened]))
    out.rule(terminal.t("4. After the application-layer fixes (examples/shopbot-hardened)"))
    out.print(terminal.t(f"open attack paths: {len(after.paths.open_paths)} of {len(after.paths.paths)}; "
                         f"high or critical findings: "
                         f"{sum(1 for f in after.open_findings() if f.severity in ('high', 'critical'))}", "green"))
    out.print(terminal.t("Next: demarcate check examples/shopbot --format markdown, "
                         "demarcate who examples/shopbot APP-TOOL-02", "dim"))


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
) -> None:
    """Run the reference application: the source document's shop support bot, every control switchable."""
    from demarcate.lab import Lab, load_config, switches
    from demarcate.lab.manifest import manifest_yaml
    from demarcate.lab.models import SIMULATION_NOTICE

    cfg = load_config(config, controls, port)
    if host:
        cfg.host = host
    if list_switches:
        table = terminal.switches_table(switches(), cfg.state())
        out.print(table)
        return
    if print_manifest:
        sys.stdout.write(manifest_yaml(cfg))
        return
    running = Lab(cfg).start()
    out.print(terminal.t(f"demarcate lab: ShopBot on {running.url}", "bold green"))
    if cfg.model.kind == "simulated":
        out.print(terminal.t(SIMULATION_NOTICE, "yellow"))
    else:
        out.print(terminal.t(f"model: {cfg.model.name} at {cfg.model.base_url} (key from ${cfg.model.api_key_env})"))
    on = [n for n, v in cfg.state().items() if v]
    out.print(terminal.t(f"controls on: {', '.join(on) or 'none'}"))
    out.print(terminal.t(f"try: curl -s -X POST {running.url}/api/login -d "
                         "'{\"email\":\"ada.park@example.com\",\"password\":\"ada-pass\"}'   (then docs/lab.md)", "dim"))
    out.print(terminal.t("Ctrl-C stops it.", "dim"))
    try:
        while running.server and running.server.thread.is_alive():
            running.server.thread.join(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()


def tune_gc() -> None:
    """A run builds one large, long-lived object graph. Python's default collector re-scans it
    every few hundred allocations, which makes big portfolios quadratic; collect far less often."""
    gc.set_threshold(200_000, 50, 1_000)


def main() -> None:
    tune_gc()
    app()


if __name__ == "__main__":
    main()
