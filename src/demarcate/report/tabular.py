"""Plain tabular formats: CSV for spreadsheets, Markdown tables for pull requests."""

from __future__ import annotations

import csv
import io


def to_csv(rows: list[list[str]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for row in rows:
        # A leading =, +, - or @ would make a spreadsheet evaluate manifest text as a formula.
        writer.writerow(["'" + c if c[:1] in ("=", "+", "-", "@", "\t", "\r") else c for c in row])
    return buf.getvalue()


def md_escape(text: str) -> str:
    """Make untrusted text inert inside a Markdown table cell: no HTML, no links, no images."""
    out = []
    for ch in str(text).replace("\r", " ").replace("\n", " "):
        if ch in "\\`*_{}[]()<>#+!|~&\"'":
            out.append(f"&#{ord(ch)};")
        else:
            out.append(ch)
    return "".join(out)


def to_markdown(rows: list[list[str]]) -> str:
    head, *body = rows
    lines = ["| " + " | ".join(md_escape(c) for c in head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(md_escape(c) for c in row) + " |" for row in body]
    return "\n".join(lines) + "\n"
