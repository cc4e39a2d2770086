"""What `check` and `diff` print: counts, findings, attack paths, the fix, changes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.text import Text

from demarcate.analysis.findings import Finding, count, listing
from demarcate.report.terminal.common import (
    SEVERITY_STYLE,
    field_grid,
    hanging_line,
    t,
    write_pieces,
)

if TYPE_CHECKING:
    from demarcate.analysis.check import Result



PATH_STATE = {"open": ("\n  open    ", "bold red"), "reduced": ("\n  reduced ", "red"), "closed": ("\n  closed  ", "green")}


def print_counts(console: Console, result: Result, *, fix: bool = False) -> None:
    """What `check` found, counted: open findings by severity, attack paths, and who must act;
    with `fix`, also the highest-leverage fix (for CI logs, where the findings go elsewhere)."""
    system = result.system
    scope = f" for {', '.join(result.parties)}" if result.parties else ""
    open_findings = result.open_findings()
    console.print(t(f"{system.info.name}: {count(len(open_findings), 'open finding')}{scope} over "
                    f"{count(len(system.components), 'component')}", "bold"))
    by_severity = result.open_counts()
    by_party: dict[str, int] = {}
    for f in open_findings:
        for party in f.responsible:
            by_party[party] = by_party.get(party, 0) + 1
    line = Text("  ")
    for severity, style in SEVERITY_STYLE.items():  # most severe first
        n = by_severity[severity]
        line += t(f"{n:,} {severity}", style if n else "dim") + t(" · ")
    line += t(f"{len(result.paths.open_paths):,} of {count(len(result.paths.paths), 'attack path')} open")
    console.print(line, soft_wrap=True)
    if by_party:
        ranked = sorted(by_party.items(), key=lambda p: (-p[1], p[0]))
        console.print(t("  who must act: " + listing(f"{p} {n:,}" for p, n in ranked), "dim"), soft_wrap=True)
    lev = result.leverage
    if fix and lev.fix:
        console.print(t(f"  highest-leverage fix: {listing(lev.fix)} closes {lev.closes:,} of {lev.open_paths:,} "
                        "open paths", "dim"), soft_wrap=True)


def print_check(console: Console, result: Result, *, limit: int | None = None,
                path_limit: int | None = None, each_rule: bool = False) -> None:
    """Findings ranked by severity with the responsible party on each, then paths and the fix.

    The long sections are collected as (text, style) pieces and written once: a portfolio has
    thousands of findings, rich's cost is per print, and piped output needs no styling or
    wrapping at all (so each finding's lines also stay whole for grep)."""
    system = result.system
    findings = result.findings
    print_counts(console, result)
    console.print()
    # each_rule: the most severe finding of each rule, in rank order (a story rather than a list).
    shown = findings
    if each_rule:
        first: dict[str, Finding] = {}
        for f in findings:
            first.setdefault(f.rule, f)
        shown = list(first.values())
    shown = shown[:limit]
    out: list[tuple[str, str]] = []
    for f in shown:
        out += [(f" {f.severity.upper()} ", SEVERITY_STYLE[f.severity]), (" ", ""), (f.title, "bold"),
                ("" if f.is_open else f"  [{f.status}]", "dim"), (f"\n  id: {f.id}\n", "dim")]
        if f.responsible:
            out += [("  who must act: ", ""), (", ".join(f.responsible), "bold"), ("\n", "")]
        out += [(f"  {f.explanation}\n", ""), (f"  fix: {f.recommendation}\n", "green")]
        if f.decision:
            out.append((f"  decision: {f.decision_note}\n", "dim"))
        out.append(("\n", ""))
    if len(findings) > len(shown):
        out.append((f"… and {count(len(findings) - len(shown), 'more finding')} (all of them: without --limit)\n\n",
                    "dim"))
    paths = result.paths
    out.append((f"Attack paths{' concerning ' + ', '.join(result.parties) if result.parties else ''}: "
                f"{len(paths.open_paths)} open of {len(paths.paths)}", "bold"))
    listed = paths.paths if path_limit is None else (
        paths.open_paths + [p for p in paths.paths if not p.open])[:path_limit]  # open ones first
    for p in listed:
        out += [PATH_STATE[p.state], (" → ".join(p.steps), "")]
        if not p.open:
            out.append((f"  (closed by {', '.join(p.closed_by)})", "dim"))
        elif p.state == "reduced":
            out.append((f"  (odds lowered by {', '.join(p.reduced_by)}; not closed)", "dim"))
    if len(listed) < len(paths.paths):
        out.append((f"\n  … and {count(len(paths.paths) - len(listed), 'more path')}", "dim"))
    for note in paths.notes:
        out.append((f"\n  note: {note}", "yellow"))
    write_pieces(console, out)
    console.print()
    lev = result.leverage
    console.print(t("Highest-leverage fix", "bold") + t(" (exact)" if lev.exact else " (greedy approximation)", "dim")
                  + t(" — for the whole system, every party's open paths" if result.parties else "", "dim"))
    if lev.fix:
        indent = 3 + max(len(cid) for cid in lev.fix)
        for cid in lev.fix:
            control = system.catalog.controls[cid]
            hanging_line(console, t(f"  {cid}", "bold green"), t(
                f"{control.title} — {control.layer} layer, {listing(lev.responsible.get(cid, [])) or 'nobody'}; "
                f"{lev.closing(cid)}"), indent)
        console.print(t(f"  closes {lev.closes:,} of {lev.open_paths:,} open paths"))
    elif lev.open_paths:
        console.print(t("  no enforced catalog control closes the open paths; they need controls of your own, "
                        "or a change of design", "yellow"))
    elif not lev.also:
        console.print(t("  nothing to fix: no open paths, and no high or critical finding", "green"))
    else:
        console.print(t("  no open paths", "green"))
    if result.own is not None and lev.open_paths:
        own = result.own
        who = listing(own.parties)
        if own.fix:
            label = f"  what {who} can do alone: "
            hanging_line(console, t(label, "bold"), t(
                f"{'; '.join(_acting_on(cid, own.on.get(cid, [])) for cid in own.fix)} closes {own.closes:,} of "
                f"{own.open_paths:,} open paths"
                + ("" if own.exact else " (greedy approximation)")), len(label))
        else:
            console.print(t(f"  nothing {who} can do alone closes an open path: the fix is other parties'", "yellow"))
    if lev.unclosable:
        console.print(t(f"  {count(len(lev.unclosable), 'open path')} no enforced control can close"
                        + (": only lowering the odds is on offer, " + listing(lev.reduce_only) if lev.reduce_only
                           else ""), "yellow"), soft_wrap=True)
    if lev.also:
        console.print(t(f"  also needed — {count(len(lev.also), 'high or critical finding')} the fix above leaves open:",
                        "bold"))
        for a in lev.also[:ALSO_SHOWN]:
            what = listing(a.controls) if a.controls else a.recommendation.rstrip(".")  # a decision, a design change, logging
            hanging_line(console, t(f"  {a.severity} ", SEVERITY_STYLE[a.severity]),
                     t(f"{a.finding} — {what} ({listing(a.responsible) or 'nobody'})"), 4 + len(a.severity))
        if len(lev.also) > ALSO_SHOWN:
            console.print(t(f"  … and {len(lev.also) - ALSO_SHOWN:,} more (see the findings above)", "dim"))
    if lev.open_paths:
        by = ", ".join(f"{layer} {n:,}/{lev.open_paths:,}" for layer, n in lev.by_layer.items())
        label = "  each layer alone could close: "
        hanging_line(console, t(label), t(by), len(label))
        if lev.by_party:
            alone = list(lev.by_party.items())[:PARTIES_SHOWN]
            by = ", ".join(f"{party} {n:,}/{lev.open_paths:,}" for party, n in alone) + (
                f", and {len(lev.by_party) - PARTIES_SHOWN:,} more" if len(lev.by_party) > PARTIES_SHOWN else "")
            label = "  each party alone could close: "
            hanging_line(console, t(label), t(by), len(label))
    for w in result.warnings:
        console.print(t(str(w), "yellow"), soft_wrap=True)


ASSURANCE_NOTE = {
    "enforced": "This control lowers the impact or the likelihood; it does not close an attack path on its own.",
    "probabilistic": "A classifier, guard model, delimiter or alignment: it lowers the odds and never closes an "
                     "attack path; a path it is on stays open, reduced.",
    "detective": "It records, flags or alerts: it never changes an attack path.",
    "procedural": "Policy and process: it never changes an attack path.",
}


ALSO_SHOWN = 10  # findings listed beside the fix; the rest are in the findings above
PARTIES_SHOWN = 6  # parties named in "each party alone could close"; a portfolio has many teams


def print_finding(console: Console, f: Finding) -> None:
    """One finding in full, each field wrapping under itself."""
    console.print(t(f" {f.severity.upper()} ", SEVERITY_STYLE[f.severity]) + t(f" {f.title}", "bold")
                  + t("" if f.is_open else f"  [{f.status}]", "dim"))
    console.print(field_grid((
        ("id", f.id), ("who must act", ", ".join(f.responsible)), ("components", ", ".join(f.components)),
        ("controls", ", ".join(f.controls)), ("route", " → ".join(f.hops)), ("explanation", f.explanation),
        ("claims", "; ".join(f.claims)), ("fix", f.recommendation), ("decision", f.decision_note))))


def print_diff(console: Console, changes: object, title: str, unchanged: bool = False) -> None:
    """New, fixed and changed findings; with `unchanged`, the ones open on both sides the same too."""
    c = changes
    changed = getattr(c, "changed", [])
    console.print(t(f"{title}: {len(c.new)} new, {len(c.fixed)} fixed, {len(changed)} changed severity, "  # type: ignore[attr-defined]
                    f"{len(c.unchanged)} unchanged", "bold"))  # type: ignore[attr-defined]
    changed_findings(console, c.new, c.fixed, changed, c.unchanged if unchanged else None)  # type: ignore[attr-defined]


def changed_findings(console: Console, new: list[dict], fixed: list[dict], changed: list[dict] | None = None,
                      unchanged: list[dict] | None = None) -> None:
    for label, items, style in (("new", new, "bold red"), ("fixed", fixed, "green")):
        for f in items:
            console.print(t(f"  {label:<6}", style) + t(f" {f['severity']:<8} {f['id']}") + t(f"  {f['title']}", "dim"))
    for f in changed or []:
        worse = _RANK.index(f["severity"]) > _RANK.index(f["was"])
        console.print(t(f"  {'worse' if worse else 'better':<6}", "bold red" if worse else "green")
                      + t(f" {f['was']} → {f['severity']} {f['id']}") + t(f"  {f['title']}", "dim"))
    for f in unchanged or []:
        console.print(t(f"  same   {f['severity']:<8} {f['id']}", "dim"))


_RANK = ("low", "medium", "high", "critical")


def _acting_on(control: str, components: list[str], shown: int = 4) -> str:
    """A control and the components it would act on, the first few by name."""
    if not components:
        return control
    more = len(components) - shown
    names = ", ".join(components[:shown]) + (f" and {more:,} more" if more > 0 else "")
    return f"{control} on {names}"
