"""What `runs` prints: stored runs, analyses and their differences."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from demarcate.analysis.findings import count, listing
from demarcate.report.terminal.check import changed_findings
from demarcate.report.terminal.common import t, unjudged


def runs_table(items: list) -> Table:
    table = Table(title="runs")
    # Ids are what users copy (--resume, runs diff): whole, on one line, whatever the width.
    table.add_column("id", no_wrap=True, min_width=max((len(r["id"]) for r in items), default=2))
    for col in ("kind", "status", "target", "result"):
        table.add_column(col)
    for r in items:
        table.add_row(t(r["id"], "bold"), t(r["kind"]), t(r["status"]), t(r["target"]), t(run_outcome(r)))
    return table


def run_outcome(run: dict) -> str:
    """A run's result in a few words: a campaign's attack success, an analysis's open findings and
    paths and what its gate decided."""
    summary = run.get("summary") or {}
    if run["kind"] == "analysis":
        gate = summary.get("gate") or {}
        verdict = "" if gate.get("fail_on", "never") == "never" else (
            f"; failed --fail-on {gate['fail_on']}" if gate.get("failed") else f"; passed --fail-on {gate['fail_on']}")
        return (f"{count(summary['findings']['open'], 'open finding')}, "
                f"{count(summary['paths']['open'], 'open attack path')}{verdict}")
    overall = summary.get("overall") or {}
    return "—" if overall.get("rate") is None else \
        f"attack success {overall['rate']:.0%} (n={overall['n']}{unjudged(summary, overall['n'])})"


def print_stored_analysis(console: Console, run: dict, data: dict, limit: int | None = None) -> None:
    """A stored analysis as `runs show` prints it: how it was run, its counts, its open findings."""
    summary = run.get("summary") or {}
    config = run.get("config") or {}
    console.print(t(f"run {run['id']} — analysis of {data.get('system') or run['target']}", "bold"))
    console.print(t(f"manifests: {', '.join(config.get('manifests') or [])}", "dim"), soft_wrap=True)
    console.print(t(run_outcome(run)))
    by = summary["findings"]["by_severity"]
    console.print(t("open: " + ", ".join(f"{by[s]} {s}" for s in reversed(list(by)) if by[s])
                    + f"; decided {summary['findings']['decided']}", "dim"))
    if summary.get("fix"):
        console.print(t(f"highest-leverage fix: {', '.join(summary['fix'])}", "bold"), soft_wrap=True)
    shown = [f for f in data["findings"] if f.get("status", "open") == "open"]  # most severe first, as stored
    for f in shown[:limit]:
        console.print(t(f"  {f['severity']:<8} {f['id']}") + t(f"  {f['title']}", "dim")
                      + t(f"  ({', '.join(f.get('responsible') or []) or 'nobody'})"), soft_wrap=True)
    if limit is not None and len(shown) > limit:
        console.print(t(f"  … and {count(len(shown) - limit, 'more open finding')} (all of them: without --limit)", "dim"))


def print_analysis_diff(console: Console, diff: dict) -> None:
    """Two stored analyses compared: findings and attack paths that changed, regressions marked."""
    paths = diff["paths"]
    changed = diff["findings"].get("changed", [])
    console.print(t(f"{diff['old']} → {diff['new']}: {len(diff['findings']['new'])} new, "
                    f"{len(diff['findings']['fixed'])} fixed, {len(changed)} changed severity, "
                    f"{diff['findings']['unchanged']} unchanged findings; "
                    f"open attack paths {paths['open']['old']} → {paths['open']['new']}", "bold"), soft_wrap=True)
    changed_findings(console, diff["findings"]["new"], diff["findings"]["fixed"], changed)
    for label, items, style in (("opened", paths["opened"], "bold red"), ("closed", paths["closed"], "green")):
        for p in items:
            console.print(t(f"  {label:<6}", style) + t(f" path {p['id']}"), soft_wrap=True)
    if diff["fix"]["old"] != diff["fix"]["new"]:
        console.print(t(f"  highest-leverage fix: {', '.join(diff['fix']['old']) or 'none'} → "
                        f"{', '.join(diff['fix']['new']) or 'none'}"), soft_wrap=True)
    if diff["regressions"]:
        findings = sum(1 for r in diff["regressions"] if "finding" in r)
        what = listing([count(n, noun) for n, noun in ((findings, "finding"), (len(paths["opened"]), "attack path")) if n],
                       sep=" and ")
        console.print(t(f"REGRESSION: {what} open now that {'was' if len(diff['regressions']) == 1 else 'were'} not "
                        "open in the earlier analysis", "bold red"), soft_wrap=True)


def print_run_diff(console: Console, diff: dict) -> None:
    asr = diff["asr"]
    rate = lambda r: "—" if r is None else f"{r:.0%}"  # noqa: E731
    console.print(t(f"{diff['old']} → {diff['new']}: attack success {rate(asr['old'])} → {rate(asr['new'])}",
                    "bold"))
    moves: dict[tuple[str, str], int] = {}
    for case in diff["cases"]:
        moves[case["before"], case["after"]] = moves.get((case["before"], case["after"]), 0) + 1
    for (before, after), n in sorted(moves.items(), key=lambda m: -m[1]):
        console.print(t(f"  {count(n, 'case')} {before} → {after}", "red" if after == "succeeded" else "dim"))
    for c in diff["controls"]:
        style = "red" if c["after"] == "refuted" else "green" if c["after"] == "verified" else "dim"
        console.print(t(f"  {c['control']}: {c['before']} → {c['after']}", style))
    attacks = sorted(r["case"] for r in diff["regressions"] if "control" not in r)
    for r in diff["regressions"]:
        if "control" in r:
            console.print(t(f"  REGRESSION {r['control']}: {r['why']}", "bold red"), soft_wrap=True)
    if attacks:
        console.print(t(f"  REGRESSION {count(len(attacks), 'attack')} that failed before "
                        f"{'succeeds' if len(attacks) == 1 else 'succeed'} now: {listing(attacks)}", "bold red"),
                      soft_wrap=True)
