"""What every printout shares: text made safe for the terminal, styles, and layout helpers. Every
string from a manifest or a target is untrusted: it reaches the terminal only as plain rich Text with
control characters removed (`t`, `write_pieces`), never as markup."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from demarcate.report.untrusted import clean

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


def write_pieces(console: Console, pieces: list[tuple[str, str]]) -> None:
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


def field_grid(rows: Iterable[tuple[str, str]], justify: str = "left") -> Table:
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


def hanging_line(console: Console, label: Text, value: Text, indent: int) -> None:
    """`label` then `value`, the value's continuation lines starting under its first word."""
    console.print(Text("\n").join(_wrapped(console, label, value, indent)), soft_wrap=True)


def bullet_list(items: Iterable[Text], mark: Text | None = None) -> Table:
    """A list whose long items wrap under their own text, not under the bullet."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column()
    for item in items:
        grid.add_row(Text.assemble(" ", mark or t("•")), item)
    return grid


def fits_width(console: Console, renderable: Table) -> bool:
    """Whether a table fits the terminal, with its wrapping columns as narrow as they go."""
    return Measurement.get(console, console.options.update_width(10_000), renderable).minimum <= console.width


SEVERITY_STYLE = {"critical": "bold white on red", "high": "bold red", "medium": "yellow", "low": "cyan"}


def unjudged(summary: dict, n: int) -> str:
    """How many cases an attack success rate over `n` leaves out, when it leaves any: those that
    could not be judged (inconclusive, unobservable, error)."""
    total = sum((summary.get("outcomes") or {}).values())
    return f" of {total} cases; {total - n} not judged" if total > n else ""
