"""Terminal rendering. Every string from a manifest is untrusted: it reaches the terminal only as
plain rich Text with control characters removed, never as markup."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.measure import Measurement
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from demarcate.analysis.findings import Finding, count, listing
from demarcate.analysis.matrix import Cell, Row
from demarcate.analysis.responsibility import OPERATED_BY
from demarcate.analysis.who import Answer
from demarcate.catalog import Catalog
from demarcate.model.loader import System
from demarcate.model.schema import OPERATED_LAYERS, Control, Preset
from demarcate.report.untrusted import clean

if TYPE_CHECKING:
    from demarcate.analysis.check import Result
    from demarcate.testing.probes import Probe, Transform


STATUS_STYLE = {
    "implemented": "green",
    "partial": "yellow",
    "planned": "cyan",
    "nobody": "bold red",
    "not-applicable": "dim",
}
CLAIM_STYLE = {"provides": "green", "relies-on": "magenta", "default": "red", "not-applicable": "dim", "none": ""}


def t(value: object, style: str = "") -> Text:
    return Text(clean(value), style=style)


def _write(console: Console, pieces: list[tuple[str, str]]) -> None:
    """Styled pieces of text, ending in a newline: through rich on a terminal, as plain text
    straight to the stream otherwise. Either way untrusted text is cleaned first."""
    if console.is_terminal:
        lines = [Text()]
        for value, style in pieces:
            for i, chunk in enumerate(clean(value).split("\n")):
                if i:
                    lines.append(Text())
                if chunk:
                    lines[-1].append(chunk, style=style or None)
        shown: list[Text] = []  # an indented line wraps under its own indent; printed at once, as is
        for line in lines:
            indent = len(line.plain) - len(line.plain.lstrip(" "))
            if line.cell_len <= console.width or console.width <= indent + 20:
                shown.append(line)
                continue
            shown += _wrapped(console, Text(), line[indent:], indent)
        console.print(Text("\n").join(shown), soft_wrap=True)
    else:
        console.file.write(clean("".join(value for value, _ in pieces)) + "\n")


TESTED_STYLE = {"verified": "green", "refuted": "bold red", "untested": "dim"}


def _cell_text(c: Cell) -> str:
    """A party's cell, short enough for a terminal column (the legend under the table says how
    to read it; CSV, Markdown and JSON keep the long form)."""
    if c.claim == "provides":
        return c.status
    if c.claim == "relies-on":
        return f"→ {c.on}"
    if c.claim == "default":
        return "expected"
    return c.text


def _header(label: str, width: int) -> str:
    """A column header broken at its hyphens where it is wider than the column's cells."""
    if len(label) <= width:
        return label
    lines, line = [], ""
    for part in label.split("-"):
        piece = part if not line else f"-{part}"
        if line and len(line) + len(piece) > width:
            lines.append(line + "-")
            line = part
        else:
            line += piece
    return "\n".join([*lines, line])


MIN_TITLE, ROOMY_TITLE = 20, 40


def matrix_table(system: System, rows: list[Row], tested: dict[str, str] | None = None,
                 width: int | None = None) -> Table:
    """Controls × parties. Every column but the title is as wide as its widest cell, and the title
    takes what is left of `width`. Where that leaves the titles cramped, the layer column goes (a
    heading row opens each layer instead), then the titles, then the status column; past that the
    party columns wrap."""
    parties = list(system.parties)
    columns: dict[str, list[str]] = {
        "control": [r.control for r in rows],
        "layer": [r.responsibility.control.layer for r in rows],
        "status": [r.responsibility.status for r in rows],
        **({"required": [r.required for r in rows]} if system.requirements else {}),
        **{pid: [_cell_text(r.cells[pid]) for r in rows] for pid in parties},
    }
    if tested is not None:
        columns["tested"] = [tested.get(r.control, "untested") for r in rows]
    widths = {name: max([_narrowest(name), *map(len, texts)]) for name, texts in columns.items()}

    def room(names: Iterable[str]) -> int:
        names = list(names)
        return (width or 10_000) - sum(widths[n] for n in names) - 3 * len(names) - 1

    if room(columns) < ROOMY_TITLE + 3:
        layers = columns.pop("layer")
        widths["control"] = max([widths["control"], *map(len, layers)])  # for the heading rows
    with_title = room(columns) >= MIN_TITLE + 3
    if room(columns) < 0:
        del columns["status"]  # the party cells still say who provides what
    fits = room(columns) >= 0
    claims = {c.claim for r in rows for c in r.cells.values()}
    notes = [note for claim, note in (("relies-on", "→ P: relies on party P"), ("default", (
        "expected: the preset gives it to this party, and no claim covers it"))) if claim in claims]
    if not with_title:
        notes.append("titles: `demarcate explain ID`, or a wider terminal")
    table = Table(title=t(f"Responsibility matrix — {system.info.name}"), expand=False,
                  caption=t(" · ".join(notes), "dim") if notes else None, caption_justify="left")
    for name in columns:
        wraps = name in parties and not fits
        table.add_column(t(_header(name, widths[name])), no_wrap=not wraps, overflow="fold",
                         width=None if wraps else widths[name])
        if name == "control" and with_title:
            table.add_column("title", min_width=MIN_TITLE)
    headings = "layer" not in columns
    for i, row in enumerate(rows):
        resp = row.responsibility
        if headings and (i == 0 or rows[i - 1].responsibility.control.layer != resp.control.layer):
            table.add_row(t(resp.control.layer, "bold italic"), end_section=True)
        styled = []
        for name, texts in columns.items():
            if name == "control":
                styled.append(t(texts[i], "bold"))
                if with_title:
                    styled.append(t(resp.control.title, "dim"))
            elif name == "status":
                styled.append(t(texts[i], STATUS_STYLE.get(texts[i], "")))
            elif name == "tested":
                styled.append(t(texts[i], TESTED_STYLE[texts[i]]))
            elif name == "required":
                styled.append(t(texts[i], SEVERITY_STYLE.get(texts[i], "")))
            elif name in parties:
                styled.append(t(texts[i], CLAIM_STYLE.get(row.cells[name].claim, "")))
            else:
                styled.append(t(texts[i]))
        table.add_row(*styled, end_section=headings and i + 1 < len(rows) and (
            rows[i + 1].responsibility.control.layer != resp.control.layer))
    return table


def _narrowest(header: str) -> int:
    """How narrow a header can go when broken at its hyphens."""
    return max(len(part) + 1 for part in header.split("-")) - (0 if "-" in header else 1)


def matrix_summary(rows: list[Row]) -> Text:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.responsibility.status] = counts.get(row.responsibility.status, 0) + 1
    parts = [t(f"{len(rows)} applicable controls: ")]
    for status in ("implemented", "partial", "planned", "nobody", "not-applicable"):
        if counts.get(status):
            parts.append(t(f"{counts[status]} {status}  ", STATUS_STYLE[status]))
    return Text.assemble(*parts)


def print_answer(console: Console, answer: Answer) -> None:
    console.print(t(f"{answer.control} — {answer.title}", "bold"))
    console.print(t(f"layer: {answer.layer}   status: ") + t(answer.status, STATUS_STYLE.get(answer.status, "")))
    console.print()
    console.print(t(answer.verdict, "bold"))
    console.print()
    console.print(t("Why:", "underline"))
    console.print(_bullets(t(reason) for reason in answer.reasons))
    if answer.reliances:
        console.print(t("Relied on:", "underline"))
        lines = []
        for rel in answer.reliances:
            state = t("provides it", "green") if rel.held else t("does not provide it", "bold red")
            line = t(f"{rel.party} relies on {rel.on}, which ") + state
            if rel.assumption:
                line += t(f" — assumption: “{rel.assumption}”", "italic")
            lines.append(line)
        console.print(_bullets(lines))
    if answer.warnings:
        console.print(_bullets((t(w, "yellow") for w in answer.warnings), mark=t("!", "yellow")))


def _fields(rows: Iterable[tuple[str, str]], justify: str = "left") -> Table:
    """Labelled values, each wrapping under itself; empty values are left out."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True, justify=justify)  # type: ignore[arg-type]
    grid.add_column()
    for label, value in rows:
        if value:
            grid.add_row(t(f"{label}:", "dim"), t(value))
    return grid


def _wrapped(console: Console, head: Text, body: Text, indent: int) -> list[Text]:
    """`head` padded to `indent`, then `body` wrapped to the console's width, its continuation lines
    starting under its first word; no trailing spaces."""
    lines = []
    for i, part in enumerate(body.wrap(console, max(20, console.width - indent))):
        start = head.copy() if i == 0 else Text()
        start.pad_right(indent - len(start))
        part.rstrip()
        lines.append(Text.assemble(start, part))
    return lines


def _hanging(console: Console, label: Text, value: Text, indent: int) -> None:
    """`label` then `value`, the value's continuation lines starting under its first word."""
    console.print(Text("\n").join(_wrapped(console, label, value, indent)), soft_wrap=True)


def _bullets(items: Iterable[Text], mark: Text | None = None) -> Table:
    """A list whose long items wrap under their own text, not under the bullet."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column()
    for item in items:
        grid.add_row(Text.assemble(" ", mark or t("•")), item)
    return grid


WIDE_CATALOG = 110  # narrower than this, the catalog leaves its references to `explain`


def catalog_table(controls: Iterable[Control], title: str, width: int | None = None) -> Table:
    refs = width is None or width >= WIDE_CATALOG
    table = Table(title=t(title), caption=None if refs else t("references: `demarcate explain ID`", "dim"),
                  caption_justify="left")
    table.add_column("id", no_wrap=True)
    table.add_column("layer", no_wrap=True)
    table.add_column("function", no_wrap=True)
    table.add_column("assurance", no_wrap=True)
    table.add_column("title", min_width=30)
    if refs:
        table.add_column("references", max_width=30)
    for c in controls:
        row = [t(c.id, "bold"), t(c.layer), t(c.function), t(c.assurance or ""), t(c.title)]
        if refs:
            row.append(t(" ".join([*c.references.owasp_llm, *c.references.owasp_agentic, *c.references.atlas,
                                   *c.references.aicm]), "dim"))
        table.add_row(*row)
    return table


def print_control(console: Console, control: Control, catalog: Catalog) -> None:
    console.print(t(f"{control.id} — {control.title}", "bold"))
    if control.id in catalog.custom:
        console.print(t("(custom control from the manifest)", "dim"))
    layer = control.layer + (f" / {control.plane}" if control.plane else "")
    console.print(t(f"layer: {layer}   function: {control.function}   assurance: {control.assurance}"))
    console.print()
    console.print(t(control.description))
    console.print()
    rows = [
        ("applies to", ", ".join(control.applies_to) or "the system as a whole"),
        ("mitigates", ", ".join(control.mitigates)),
        ("OWASP LLM 2025", ", ".join(control.references.owasp_llm)),
        ("OWASP Agentic", ", ".join(control.references.owasp_agentic)),
        ("MITRE ATLAS", ", ".join(control.references.atlas)),
        ("CSA AICM", ", ".join(control.references.aicm)),
        ("NIST AI 600-1", ", ".join(control.references.nist_ai_600_1)),
        ("evidence", ", ".join(control.verify.evidence)),
        ("probes", ", ".join(control.verify.probes)),
        ("shown by", "; ".join(
            f"{c.kind}.{c.attribute} " + (f"in [{', '.join(str(v).lower() for v in c.in_)}]" if c.in_ is not None
                                          else f"hosts {c.hosts}")
            for c in control.configured_by)),
    ]
    console.print(_fields(rows, justify="right"))
    if not control.closes_paths:
        console.print()
        console.print(t(ASSURANCE_NOTE.get(control.assurance or "", ASSURANCE_NOTE["procedural"]), "italic"))


def print_presets(console: Console, presets: Iterable[Preset]) -> None:
    """Which role operates each layer in each deployment model, and who that is: a table where it
    fits the terminal, else one block per preset."""
    presets = list(presets)
    table = Table(title="Deployment presets", caption=t("each layer: the role that operates it, and who that is",
                                                         "dim"), caption_justify="left")
    table.add_column("preset", no_wrap=True)
    for layer in OPERATED_LAYERS:
        table.add_column(layer, no_wrap=True)
    for p in presets:
        table.add_row(t(p.id, "bold") + t(f"\n{p.title}", "dim"),
                      *(t(p.operators[layer].role) + t(f"\n{OPERATED_BY[p.operators[layer].by]}", "dim")
                        for layer in OPERATED_LAYERS))
    if _fits(console, table):
        console.print(table)
        return
    console.print(t("Deployment presets", "bold"), t("(each layer: the role that operates it, and who that is)", "dim"))
    for p in presets:
        console.print()
        console.print(t(p.id, "bold"), t(f"— {p.title}", "dim"))
        grid = Table.grid(padding=(0, 2))
        grid.add_column(no_wrap=True)
        grid.add_column()
        for layer in OPERATED_LAYERS:
            op = p.operators[layer]
            grid.add_row(t(f"  {layer}"), t(op.role) + t(f" ({OPERATED_BY[op.by]})", "dim"))
        console.print(grid)


SEVERITY_STYLE = {"critical": "bold white on red", "high": "bold red", "medium": "yellow", "low": "cyan"}
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
                path_limit: int | None = None) -> None:
    """Findings ranked by severity with the responsible party on each, then paths and the fix.

    The long sections are collected as (text, style) pieces and written once: a portfolio has
    thousands of findings, rich's cost is per print, and piped output needs no styling or
    wrapping at all (so each finding's lines also stay whole for grep)."""
    system = result.system
    findings = result.findings
    print_counts(console, result)
    console.print()
    shown = findings if limit is None else findings[:limit]
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
    if limit is not None and len(findings) > limit:
        out.append((f"… and {count(len(findings) - limit, 'more finding')} (all of them: without --limit)\n\n",
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
    _write(console, out)
    console.print()
    lev = result.leverage
    console.print(t("Highest-leverage fix", "bold") + t(" (exact)" if lev.exact else " (greedy approximation)", "dim")
                  + t(" — for the whole system, every party's open paths" if result.parties else "", "dim"))
    if lev.fix:
        indent = 3 + max(len(cid) for cid in lev.fix)
        for cid in lev.fix:
            control = system.catalog.controls[cid]
            _hanging(console, t(f"  {cid}", "bold green"), t(
                f"{control.title} — {control.layer} layer, {listing(lev.responsible.get(cid, [])) or 'nobody'}; "
                f"closes {count(lev.paths_closed.get(cid, 0), 'path')}"), indent)
        console.print(t(f"  closes {lev.closes:,} of {lev.open_paths:,} open paths"))
    elif lev.open_paths:
        console.print(t("  no enforced catalog control closes the open paths; they need controls of your own, "
                        "or a change of design", "yellow"))
    elif not lev.also:
        console.print(t("  nothing to fix: no open paths, and no high or critical finding", "green"))
    else:
        console.print(t("  no open paths", "green"))
    if lev.unclosable:
        console.print(t(f"  {count(len(lev.unclosable), 'open path')} no enforced control can close"
                        + (": only lowering the odds is on offer, " + listing(lev.reduce_only) if lev.reduce_only
                           else ""), "yellow"), soft_wrap=True)
    if lev.also:
        console.print(t(f"  also needed — {count(len(lev.also), 'high or critical finding')} no attack path shows:",
                        "bold"))
        for a in lev.also[:ALSO_SHOWN]:
            what = listing(a.controls) if a.controls else "a decision (see the finding)"
            _hanging(console, t(f"  {a.severity} ", SEVERITY_STYLE[a.severity]),
                     t(f"{a.finding} — {what} ({listing(a.responsible) or 'nobody'})"), 4 + len(a.severity))
        if len(lev.also) > ALSO_SHOWN:
            console.print(t(f"  … and {len(lev.also) - ALSO_SHOWN:,} more (see the findings above)", "dim"))
    if lev.open_paths:
        by = ", ".join(f"{layer} {n:,}/{lev.open_paths:,}" for layer, n in lev.by_layer.items())
        label = "  each layer alone could close: "
        _hanging(console, t(label), t(by), len(label))
    for w in result.warnings:
        console.print(t(str(w), "yellow"), soft_wrap=True)


def print_case(console: Console, result: dict[str, Any]) -> None:
    """One case of a campaign in full: what it was, its verdict, its chain, and all its evidence."""
    console.print(t(f"{result['case']}: {result['outcome']}", OUTCOME_STYLE.get(result["outcome"], "bold")))
    console.print(t(f"probe {result['probe']} · {result['category']} · entry {result['entry']} · goal "
                    f"{result['goal']} · canary {result['canary']}", "dim"), soft_wrap=True)
    if result.get("error"):
        console.print(t(f"error: {result['error']}", "yellow"), soft_wrap=True)
    for link in result.get("chain", []):
        held = {True: "held", False: "broke", None: "untested"}[link["held"]]
        console.print(t(f"  {link['layer']:<14} {link['control']:<11} {link['party'] or 'nobody':<14} {held:<8} "
                        f"{link['evidence']}"), soft_wrap=True)
    ev = result.get("evidence") or {}
    console.print(t("reply" + (" (cut at the stored size)" if ev.get("reply_cut") else "") + ":", "bold"))
    console.print(t(ev.get("reply", ev.get("reply_excerpt", "")) or "(none)"), soft_wrap=True)
    delivery = {True: "delivered", False: "not delivered", None: "delivery not shown"}[ev.get("delivered")]
    console.print(t(f"payload: {delivery}" + (f" ({ev['undelivered']})" if ev.get("undelivered") else ""), "bold"),
                  soft_wrap=True)
    if ev.get("capable") is not None:
        console.print(t("capability baseline: " + ("the target did the benign version of this act" if ev["capable"]
                                                   else "the target could not do what this goal needs"),
                        "green" if ev["capable"] else "yellow"), soft_wrap=True)
    for key, label in (("contamination", "contamination: other cases' tokens"),
                       ("cleanup", "cleanup failed")):
        if ev.get(key) not in (None, [], ""):
            console.print(t(f"{label}: {ev[key]}", "yellow"), soft_wrap=True)
    for key in ("tool_calls", "controls_fired", "callback_hits", "spans", "rendered", "context"):
        items = ev.get(key) or []
        console.print(t(f"{key.replace('_', ' ')}: {len(items)}", "bold"))
        for item in items:
            console.print(t(f"  {item}"), soft_wrap=True)


ASSURANCE_NOTE = {
    "enforced": "This control lowers the impact or the likelihood; it does not close an attack path on its own.",
    "probabilistic": "A classifier, guard model, delimiter or alignment: it lowers the odds and never closes an "
                     "attack path; a path it is on stays open, reduced.",
    "detective": "It records, flags or alerts: it never changes an attack path.",
    "procedural": "Policy and process: it never changes an attack path.",
}

ALSO_SHOWN = 10  # findings listed beside the fix; the rest are in the findings above

WIDE_RULES = 120  # narrower than this, the rules leave who acts to `explain RULE`


def rules_table(rules: Iterable[object], width: int | None = None) -> Table:
    wide = width is None or width >= WIDE_RULES
    table = Table(title="demarcate rules", caption=None if wide else t("who acts: `demarcate explain RULE`", "dim"),
                  caption_justify="left")
    table.add_column("id", no_wrap=True)
    table.add_column("title")
    if wide:
        table.add_column("who acts")
    for r in rules:
        cells = [t(r.id, "bold"), t(r.title)] + ([t(r.who_acts)] if wide else [])  # type: ignore[attr-defined]
        table.add_row(*cells)
    return table


def print_probes(console: Console, probes: list[Probe], exercises: Callable[[Probe], tuple[str, ...]],
                 transforms: dict[str, Transform]) -> None:
    """The probes, with the controls each one's chain judges where the terminal is wide enough;
    narrower, grouped under a heading row per category."""
    for wide in (True, False):
        notes = [f"transforms (--transforms): {', '.join(transforms)}", "one probe's payload: `demarcate probes ID`"]
        if not wide:
            notes.append("the controls each judges: a wider terminal, or --format json")
        table = Table(title=f"demarcate probes — {len(probes)}",
                      caption=t(" · ".join(notes), "dim"), caption_justify="left")
        names = ("id", "category", "entry", "goal") if wide else ("id", "entry", "goal")
        for name in names:
            table.add_column(name, no_wrap=True)
        if wide:
            table.add_column("controls judged", min_width=35)
            for p in probes:
                table.add_row(t(p.id, "bold"), t(p.category), t(p.entry), t(p.goal), t(" ".join(exercises(p)), "dim"))
            if not _fits(console, table):
                continue
        else:
            by_category: dict[str, list[Probe]] = {}
            for p in probes:
                by_category.setdefault(p.category, []).append(p)
            for i, (category, members) in enumerate(sorted(by_category.items())):
                table.add_row(t(category, "bold italic"), end_section=True)
                for j, p in enumerate(members):
                    table.add_row(t(p.id, "bold"), t(p.entry), t(p.goal),
                                  end_section=j == len(members) - 1 and i < len(by_category) - 1)
        console.print(table)
        return


def _fits(console: Console, renderable: Table) -> bool:
    """Whether a table fits the terminal, with its wrapping columns as narrow as they go."""
    return Measurement.get(console, console.options.update_width(10_000), renderable).minimum <= console.width


def print_probe(console: Console, probe: Probe, controls: tuple[str, ...], transforms: list[str]) -> None:
    console.print(t(probe.id, "bold"), t(f"— {probe.category}", "dim"))
    console.print(t(f"entry: {probe.entry}   goal: {probe.goal}"))
    console.print(t("controls judged: ") + t(" ".join(controls)))
    console.print()
    console.print(t("payload (placeholders filled per run and case):", "underline"))
    console.print(t(probe.payload), soft_wrap=True)
    console.print()
    console.print(t(f"transforms that apply: {', '.join(transforms)}", "dim"))


def print_finding(console: Console, f: Finding) -> None:
    """One finding in full, each field wrapping under itself."""
    console.print(t(f" {f.severity.upper()} ", SEVERITY_STYLE[f.severity]) + t(f" {f.title}", "bold")
                  + t("" if f.is_open else f"  [{f.status}]", "dim"))
    console.print(_fields((
        ("id", f.id), ("who must act", ", ".join(f.responsible)), ("components", ", ".join(f.components)),
        ("controls", ", ".join(f.controls)), ("route", " → ".join(f.hops)), ("explanation", f.explanation),
        ("claims", "; ".join(f.claims)), ("fix", f.recommendation), ("decision", f.decision_note))))


def print_rule(console: Console, rule: object) -> None:
    r = rule
    console.print(t(f"{r.id} — {r.title}", "bold"))  # type: ignore[attr-defined]
    console.print(_fields((("detects", r.detects), ("why it matters", r.why), ("severity", r.severity),  # type: ignore[attr-defined]
                           ("who acts", r.who_acts), ("false positives", r.false_positives),  # type: ignore[attr-defined]
                           ("fix", r.fix), ("references", ", ".join(r.references)))))  # type: ignore[attr-defined]


def print_diff(console: Console, changes: object, title: str, unchanged: bool = False) -> None:
    """New, fixed and changed findings; with `unchanged`, the ones open on both sides the same too."""
    c = changes
    changed = getattr(c, "changed", [])
    console.print(t(f"{title}: {len(c.new)} new, {len(c.fixed)} fixed, {len(changed)} changed severity, "  # type: ignore[attr-defined]
                    f"{len(c.unchanged)} unchanged", "bold"))  # type: ignore[attr-defined]
    _changed_findings(console, c.new, c.fixed, changed, c.unchanged if unchanged else None)  # type: ignore[attr-defined]


def _changed_findings(console: Console, new: list[dict], fixed: list[dict], changed: list[dict] | None = None,
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


def print_switches(console: Console, switches: dict, state: dict[str, bool]) -> None:
    """The lab's switches: a table where it fits, else one block per switch."""
    def now(name: str) -> Text:
        return t("on" if state[name] else "off", "green" if state[name] else "red")

    table = Table(title="demarcate lab: control switches")
    table.add_column("switch", no_wrap=True)
    table.add_column("now", no_wrap=True)
    table.add_column("control", no_wrap=True)
    table.add_column("party", no_wrap=True)
    table.add_column("what it does", min_width=30)
    for name, sw in switches.items():
        table.add_row(t(name, "bold"), now(name), t(sw.control), t(sw.party), t(sw.does))
    if _fits(console, table):
        console.print(table)
        return
    console.print(t("demarcate lab: control switches", "bold"))
    for name, sw in switches.items():
        console.print()
        console.print(t(name, "bold"), now(name), t(f"{sw.control} · {sw.party}", "dim"))
        console.print(Padding(t(sw.does), (0, 0, 0, 2)))


# How a chain link reads: whether the control held, and in what colour.
HELD = {True: ("held", "green"), False: ("broke", "red"), None: ("unknown", "dim")}
OUTCOME_STYLE = {"succeeded": "bold red", "resisted": "green", "error": "yellow", "unobservable": "dim",
                 "inconclusive": "dim"}


def print_campaign(console: Console, data: dict, verbose: bool = False) -> None:
    """A campaign as a lead reads it: the rate, each party's tally of the controls it answers for,
    then the cases grouped by how their chain went, the commonest first. `verbose`: also every
    case's chain, one row a case."""
    summary = data.get("summary") or {}
    console.print(t(f"run {data['run']} — {data['target']}", "bold"))
    overall = summary.get("overall") or {}
    if overall.get("rate") is not None:
        console.print(t(f"attack success rate {overall['rate']:.0%} (95% CI {overall['low']:.0%}–{overall['high']:.0%}, "
                        f"n={overall['n']})", "bold"))
    parties = summary.get("parties") or {}
    if parties:
        console.print(t("per party, the controls it answers for here (claimed, or given by the preset):", "bold"))
    for party, states in sorted(parties.items(), key=lambda kv: (-len(kv[1].get("refuted", [])), kv[0])):
        tally = ", ".join(f"{len(states[s])} {s}" for s in ("refuted", "verified", "untested") if states.get(s))
        line = t(f"  {party}: ", "bold") + t(f"{tally}  ")
        for state, style in (("refuted", "red"), ("verified", "green"), ("untested", "dim")):
            if states.get(state) and state != "untested":
                line += t(f"{state} {', '.join(states[state])}  ", style)
        console.print(line, soft_wrap=True)
    results = data.get("results", [])
    if verbose:
        table = Table(title="per probe: the chain through the layers", show_lines=True)
        table.add_column("probe, outcome", no_wrap=True)
        table.add_column("chain: control (party) held?")
        for r in results:
            style = "green" if r["outcome"].startswith("blocked") else OUTCOME_STYLE.get(r["outcome"], "")
            table.add_row(t(r["case"]) + t("\n") + t(r["outcome"], style), _chain(r["chain"], "\n"))
        console.print(table)
    elif results:
        console.print(t("cases by how their chain went, the commonest first (every case's chain: -v):", "bold"))
        for outcome, chain, cases in chain_groups(results):
            style = "green" if outcome.startswith("blocked") else OUTCOME_STYLE.get(outcome, "")
            console.print(t(f"  {len(cases):>3} ", "bold") + t(outcome, style) + t(": ") + _chain(chain, " → "),
                          soft_wrap=True)
            console.print(t(f"      {listing(cases, 4)}", "dim"), soft_wrap=True)
    for problem in campaign_errors(data):
        console.print(t(problem, "yellow"))
    asr = summary.get("asr") or {}
    if asr:
        cat = Table(title="attack success rate by category")
        for col in ("category", "rate", "95% CI", "n"):
            cat.add_column(col)
        for name, a in asr.items():
            rate = "—" if a["rate"] is None else f"{a['rate']:.0%}"
            interval = "—" if not a["n"] else f"{a['low']:.0%}–{a['high']:.0%}"
            cat.add_row(t(name), t(rate), t(interval), t(str(a["n"])))
        console.print(cat)
    console.print(t("controls judged by the probes:", "bold"))
    _judged(console, summary)
    baselines = summary.get("baselines") or {}
    if baselines:
        console.print(t("capability baselines (benign cases run first):", "bold"))
    for name, b in baselines.items():
        verdict = {True: "can", False: "cannot", None: "could not tell"}[b["capable"]]
        console.print(t(f"  {name}: {verdict} — {b['evidence']}", {True: "green", False: "yellow"}.get(b["capable"], "dim")),
                      soft_wrap=True)
    if summary.get("unknown_tools"):
        console.print(t("tools called that the manifest does not name (add them, or their `calls:`): "
                        + ", ".join(summary["unknown_tools"]), "yellow"), soft_wrap=True)
    if summary.get("infrastructure"):
        console.print(t("checks beside the probes:", "bold"))
    for check in summary.get("infrastructure") or []:
        console.print(t(f"  {check['check']}: {check['control']} {'held' if check['held'] else 'did not hold'} — "
                        f"{check['evidence']}", "green" if check["held"] else "red"))


def _chain(chain: list[dict], sep: str) -> Text:
    return Text(sep).join(t(link["control"], "bold") + t(f" ({link['party'] or '—'}) ")
                          + t(HELD[link["held"]][0], HELD[link["held"]][1]) for link in chain)


def chain_groups(results: list[dict]) -> list[tuple[str, list[dict], list[str]]]:
    """The cases with the same outcome and the same chain (each control, its party, whether it
    held), as (outcome, chain, cases), the largest group first."""
    groups: dict[tuple, tuple[str, list[dict], list[str]]] = {}
    for r in results:
        key = (r["outcome"], tuple((link["control"], link["party"], link["held"]) for link in r["chain"]))
        groups.setdefault(key, (r["outcome"], r["chain"], []))[2].append(r["case"])
    return sorted(groups.values(), key=lambda g: (-len(g[2]), g[0], g[2][0]))


def campaign_errors(data: dict, most: int = 3) -> list[str]:
    """What kept cases from running, most frequent first: a line saying how many, then one per
    distinct error (the first `most`)."""
    results = data.get("results") or []
    errors: dict[str, int] = {}
    for r in results:
        if r["outcome"] == "error":
            why = r.get("error") or "no detail"
            errors[why] = errors.get(why, 0) + 1
    if not errors:
        return []
    ranked = sorted(errors.items(), key=lambda e: -e[1])
    lines = [f"{sum(errors.values())} of {count(len(results), 'case')} could not run:"]
    lines += [f"  {n} × {why}" for why, n in ranked[:most]]
    if len(ranked) > most:
        lines.append(f"  and {count(len(ranked) - most, 'other error')}; the JSON output (--format json) has each")
    return lines


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
    return "—" if overall.get("rate") is None else f"attack success {overall['rate']:.0%} (n={overall['n']})"


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
    _changed_findings(console, diff["findings"]["new"], diff["findings"]["fixed"], changed)
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


def print_campaign_short(console: Console, data: dict, focus: str | None = None) -> None:
    """A campaign in a few lines: success rate, outcomes, and one probe's chain in full."""
    summary = data["summary"]
    o = summary["overall"]
    outcomes = sorted(summary["outcomes"].items(), key=lambda o: (-o[1], o[0]))
    console.print(t(f"run {data['run']}: attack success rate {o['rate']:.0%} "
                    f"(95% CI {o['low']:.0%}–{o['high']:.0%}, n={o['n']}); "
                    + ", ".join(f"{n} {outcome}" for outcome, n in outcomes), "bold"))
    chosen = next((r for r in data["results"] if r["case"] == focus), None)
    if chosen:
        console.print(t(f"  {chosen['case']}: {chosen['outcome']}"))
        grid = Table.grid(padding=(0, 1))
        for _ in range(4):
            grid.add_column(no_wrap=True)
        grid.add_column()  # the evidence wraps under itself
        for link in chosen["chain"]:
            mark, style = HELD[link["held"]]
            grid.add_row(t(f"   {link['layer']}"), t(link["control"]), t(link["party"] or "—"), t(mark, style),
                         t(link["evidence"][:100], "dim"))
        console.print(grid)
    _judged(console, summary)


def _judged(console: Console, summary: dict) -> None:
    """Every control the campaign judged, claimed or not, by how it fared."""
    for state, style in (("verified", "green"), ("refuted", "red")):
        found = [c for c, s in (summary.get("controls") or {}).items() if s == state]
        console.print(t(f"  {state + ':':<9} {', '.join(found) or 'none'}", style), soft_wrap=True)
