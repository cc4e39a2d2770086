"""Plain tabular formats: CSV for spreadsheets, Markdown tables for pull requests."""

from __future__ import annotations

import csv
import io
import re

from demarcate.report.untrusted import clean, inert_markdown


def to_csv(rows: list[list[str]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for row in rows:
        # A leading =, +, - or @ would make a spreadsheet evaluate manifest text as a formula.
        cells = [clean(c) for c in row]
        writer.writerow(["'" + c if c[:1] in ("=", "+", "-", "@", "\t", "\r") else c for c in cells])
    return buf.getvalue()


def md_escape(text: str) -> str:
    """Make untrusted text inert inside a Markdown table cell: no HTML, no links, no images, no
    autolinks, mentions or issue references, no control characters."""
    return inert_markdown(text)


def md_code(text: str) -> str:
    """Untrusted text as an inline code span, fit for a table cell: shown as written (a code span
    renders no HTML, links or entities, so nothing is entity-escaped inside it), fenced with more
    backticks than it holds, its pipes escaped for the table."""
    text = clean(text).replace("\r", " ").replace("\n", " ").replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def to_markdown(rows: list[list[str]]) -> str:
    head, *body = rows
    lines = ["| " + " | ".join(md_escape(c) for c in head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(md_escape(c) for c in row) + " |" for row in body]
    return "\n".join(lines) + "\n"
