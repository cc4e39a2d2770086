"""Commands that analyse a manifest: validate, schema, matrix, who, check, diff, report, export, rules."""

from __future__ import annotations

import dataclasses
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from demarcate.analysis.findings import count
from demarcate.analysis.matrix import filter_rows, matrix, matrix_csv_rows, matrix_json
from demarcate.analysis.responsibility import Responsibilities
from demarcate.analysis.who import who as who_answer
from demarcate.catalog import load_catalog
from demarcate.cli.core import (
    BaselineRun,
    CheckFormat,
    DiffFormat,
    Evidence,
    ExportFormat,
    HistoryDb,
    Level,
    ListFormat,
    MatrixFormat,
    Paths,
    Store_,
    app,
    check_choice,
    control_id,
    emit_json,
    err,
    load_manifest,
    load_system,
    not_a_manifest,
    open_history,
    out,
    reports_errors,
    terminal,
    write_file,
)
from demarcate.model.errors import ManifestError, Problem, did_you_mean
from demarcate.model.loader import System, manifest_file_model
from demarcate.report.jsonio import json_bytes, json_text
from demarcate.report.render import ReportFormat, render_report, report_format
from demarcate.report.tabular import to_csv, to_markdown

if TYPE_CHECKING:
    from demarcate.analysis.check import Result
    from demarcate.analysis.findings import Finding
    from demarcate.analysis.gate import Gate
    from demarcate.store import Store


@app.command()
@reports_errors
def validate(
    paths: Paths,
    format: Annotated[ListFormat, typer.Option("--format", "-f")] = ListFormat.table,
) -> None:
    """Check manifests against the schema and every reference between them."""
    from demarcate.analysis.paths import flow_warnings

    system = load_manifest(paths)
    warnings = flow_warnings(system)
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
    system = load_system(paths)
    tested: dict[str, str] | None = None
    if run:
        tested = (open_history(db).need(run, "campaign")["summary"] or {}).get("controls", {})
    check_choice(layer, ("model", "application", "infrastructure", "usage"), "layer")
    check_choice(status, ("implemented", "partial", "planned", "nobody", "not-applicable", "relies-on"), "status")
    if party is not None:
        check_choice(party, tuple(system.parties), "party")
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
    system = load_system([Path(a) for a in args[:-1]])
    control = control_id(system.catalog.controls, args[-1])
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

    history = open_history(db) if store or baseline_run or evidence else None
    try:
        system = load_system(paths)
        for r in [*(rule or []), *(skip_rule or [])]:
            check_choice(r, tuple(RULES), "rule")
        if skip_rule:
            rule = [r for r in (rule or RULES) if r not in skip_rule]
        reports = [(path, report_format(path)) for path in report or []]
        for path, _format in reports:
            not_a_manifest(path, system)
        gate = judge_options(system, party=party, baseline=baseline, assume_=assume_, rules=rule,
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
        write_report(path, kind, gate, party)
    failed = fail_on is not Level.never and gate.fails(fail_on.value)
    if history is not None and store:
        run_id = store_analysis(history, gate, data, paths, fail_on=fail_on.value, failed=failed, party=party,
                                 rule=rule, assume=assume_, baseline=baseline and str(baseline),
                                 baseline_run=baseline_run)
        err.print(terminal.t(f"stored as run {run_id} in {history.safe_url}: `demarcate runs show {run_id}`", "dim"),
                  soft_wrap=True)
    if failed:
        raise typer.Exit(1)


def judge_options(system: System, *, party: list[str] | None, baseline: Path | None, assume_: list[str] | None,
           rules: list[str] | None = None, baseline_run: str | None = None, history: Store | None = None,
           evidence: str | None = None) -> Gate:
    """The options `check` and `report` share, checked, and the analysis they ask for."""
    from demarcate.analysis.assume import parse
    from demarcate.analysis.diff import load_findings
    from demarcate.analysis.gate import judge

    if evidence and history is not None:
        from demarcate.store.campaign_history import live_evidence

        live = live_evidence(history, evidence, system)
        if not live["same_system"]:
            err.print(terminal.t(f"warning: campaign {live['run']} was run with another manifest than this one; "
                                 "its evidence is used all the same", "yellow"), soft_wrap=True)
        system = system.with_evidence(live)

    for p in party or []:
        check_choice(p, tuple(system.parties), "party")
    if baseline and baseline_run:
        raise ManifestError([Problem("--baseline and --baseline-run each name a baseline; give one of them")])
    saved = load_findings([baseline]) if baseline else None
    if baseline_run and history is not None:
        from demarcate.store.analysis_history import baseline as stored_baseline

        saved, warning = stored_baseline(history, baseline_run, system.info.name, party, rules)
        if warning:
            err.print(terminal.t(f"warning: {warning}", "yellow"), soft_wrap=True)
    gate = judge(system, rules=rules, parties=party, baseline=saved, assume=[parse(a) for a in assume_ or []])
    for warning in gate.warnings:
        err.print(terminal.t(f"warning: {warning}", "yellow"), soft_wrap=True)
    return gate


def store_analysis(history: Store, gate: Gate, data: dict[str, Any] | None, paths: list[Path], *,
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
    history = open_history(db) if baseline_run or trend or evidence or run else None
    system = load_system(paths)
    campaigns = []
    if run and history is not None:
        from demarcate.store.campaign_history import stored_campaign

        for rid in run:
            found = stored_campaign(history, rid, system)
            campaigns.append((f"Run {found['run']}", found))
    gate = judge_options(system, party=party, baseline=baseline, assume_=assume_, baseline_run=baseline_run, history=history,
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
    write_report(output, format, gate, party, trend=stored, campaigns=campaigns)


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

    history = open_history(db) if evidence else None
    system = load_system(paths)
    if evidence and history is not None:
        from demarcate.store.campaign_history import live_evidence

        system = system.with_evidence(live_evidence(history, evidence, system))
    document = oscal_ssp(system)
    if output is None:
        emit_json(document)
        return
    write_file(output, json_text(document), system)
    plan = document["system-security-plan"]
    err.print(terminal.t(f"wrote {output} (OSCAL {plan['metadata']['oscal-version']} system security plan, "
                         f"{len(plan['control-implementation']['implemented-requirements'])} controls, "
                         f"{len(system.parties)} parties)"))


def write_report(output: Path, format: ReportFormat, gate: Gate, party: list[str] | None,
                  trend: list[dict[str, Any]] | None = None,
                  campaigns: list[tuple[str, dict[str, Any]]] | None = None) -> None:
    result = gate.result
    write_file(output, render_report(format, gate, party, trend, campaigns), result.system)
    err.print(terminal.t(f"wrote {output} ({format.value}, {count(len(result.open_findings()), 'open finding')}, "
                         f"{count(len(result.paths.open_paths), 'open path')})"))


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


def normal_finding_id(text: str) -> str:
    """A finding id as the analysis spells it: the rule part in lower case."""
    rule_id, sep, rest = text.strip().partition(":")
    return f"{rule_id.lower()}{sep}{rest}"


def find_finding(result: Result, finding_id: str) -> Finding:
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


def explain_finding(finding_id: str, manifest: list[Path] | None, format: ListFormat) -> None:
    """A finding id from a CI log or annotation: with the manifest, the finding in full; either way,
    the rule that produced it."""
    from demarcate.analysis.check import analyse, finding_json
    from demarcate.analysis.rules import RULES

    finding_id = normal_finding_id(finding_id)
    rule = RULES[finding_id.split(":", 1)[0]].rule
    finding = find_finding(analyse(load_system(manifest)), finding_id) if manifest else None
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
