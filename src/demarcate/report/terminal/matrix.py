"""The responsibility matrix and `who`'s answer."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console
from rich.table import Table
from rich.text import Text

from demarcate.analysis.matrix import Cell, Row
from demarcate.analysis.who import Answer
from demarcate.model.loader import System
from demarcate.report.terminal.common import (
    CLAIM_STYLE,
    SEVERITY_STYLE,
    STATUS_STYLE,
    bullet_list,
    t,
)

TESTED_STYLE = {"verified": "green", "refuted": "bold red", "untested": "dim"}


MIN_TITLE, ROOMY_TITLE = 20, 40


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
    console.print(bullet_list(t(reason) for reason in answer.reasons))
    if answer.reliances:
        console.print(t("Relied on:", "underline"))
        lines = []
        for rel in answer.reliances:
            state = t("provides it", "green") if rel.held else t("does not provide it", "bold red")
            line = t(f"{rel.party} relies on {rel.on}, which ") + state
            if rel.assumption:
                line += t(f" — assumption: “{rel.assumption}”", "italic")
            lines.append(line)
        console.print(bullet_list(lines))
    if answer.warnings:
        console.print(bullet_list((t(w, "yellow") for w in answer.warnings), mark=t("!", "yellow")))
