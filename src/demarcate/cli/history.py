"""runs: the history of campaigns and stored analyses."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer

from demarcate.analysis.findings import count, listing
from demarcate.cli.core import (
    HistoryDb,
    TestFormat,
    Verbose,
    app,
    emit_json,
    err,
    open_history,
    out,
    reports_errors,
    terminal,
)
from demarcate.model.errors import ManifestError, Problem

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
    items = open_history(db).runs(limit, kind=kind and kind.value, target=target)
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

    store = open_history(db)
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

    store = open_history(db)
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
    store = open_history(db)
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
