"""Record a decision on a finding in a manifest's `tracking` section (`demarcate decide`), replace
one, or revoke one.

Decisions go to a file that holds tracking entries and nothing else — one the user keeps for them,
or a new one — so that recording one never rewrites what people wrote elsewhere. The new entry is
appended as text in the file's own indentation, comments and all left as they were, and the file is
only replaced once the whole manifest, read again with it, holds the decision.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from demarcate.model.errors import ManifestError, Position, Problem, read_text
from demarcate.model.yamlio import dump_yaml, parse_yaml

HEADER = ("# Decisions on demarcate findings, by their stable ids (docs/manifest.md, `tracking`).\n"
          "# `demarcate decide` appends to this file; edit the entries freely.\n")
_KEYS = ("finding", "decision", "justification", "ticket", "reviewer", "date", "expires")
_TRACKING = re.compile(r"^tracking:[ \t]*(?P<rest>[^#\n]*)(?:#.*)?$", re.MULTILINE)
_ITEM = re.compile(r"^(?P<indent>[ \t]*)- ", re.MULTILINE)


def entry(finding: str, decision: str, justification: str, *, ticket: str = "", reviewer: str = "",
          date: dt.date | None = None, expires: dt.date | None = None) -> dict[str, Any]:
    """A tracking entry, in the manifest's key order, without the fields left empty."""
    values = {"finding": finding, "decision": decision, "justification": justification, "ticket": ticket,
              "reviewer": reviewer, "date": date, "expires": expires}
    return {k: values[k] for k in _KEYS if values[k]}


def with_entry(text: str | None, item: dict[str, Any], name: str) -> tuple[str, int]:
    """The text of a tracking file with the entry appended (a new file's text if `text` is None),
    and the line the entry starts on."""
    before, added = _appended(text, dump_yaml([item]), name)  # "- finding: ...\n  decision: ...\n"
    return before + added, before.count("\n") + 1


def _appended(text: str | None, rendered: str, name: str) -> tuple[str, str]:
    """The file's text to keep, possibly mended at its end, and the text to add after it."""
    if text is None:
        return HEADER + "tracking:\n", _indented(rendered, "  ")
    data = parse_yaml(text, name) or {}  # an empty file (or only comments) holds nothing yet
    other = [str(k) for k in data if k not in ("version", "tracking")] if isinstance(data, dict) else []
    if other or not isinstance(data, dict):
        raise ManifestError([Problem(
            "holds more than tracking entries" + (f" ({', '.join(other)})" if other else ""),
            Position(name), "record decisions in a file of their own: name a new one with --to")])
    header = _TRACKING.search(text)
    body = text if text.endswith("\n") or not text else text + "\n"
    if header is None:  # a file with no tracking section yet
        return body + "tracking:\n", _indented(rendered, "  ")
    if header.group("rest").strip() not in ("", "[]"):
        raise ManifestError([Problem(
            "its tracking entries are written on one line (flow style); a new one cannot be appended",
            Position(name, text.count("\n", 0, header.start()) + 1, 1),
            "write them one per block ('- finding: ...'), or name another file with --to")])
    if list(data).index("tracking") != len(data) - 1:
        raise ManifestError([Problem("the tracking section is not the last in the file", Position(name),
                                     "move it to the end, or name another file with --to")])
    if header.group("rest").strip() == "[]":  # an empty list written inline: begin the block list
        body = body[:header.start()] + "tracking:" + body[header.end():]
    first = _ITEM.search(text, header.end())  # the first entry sets the indentation
    return body, _indented(rendered, first.group("indent") if first else "  ")


def in_place_of(text: str, line: int, item: dict[str, Any], name: str) -> str:
    """The text with the entry that begins on `line` (its "- " line) replaced by this one, in the same
    indentation; every other line as it was."""
    lines = text.splitlines(keepends=True)
    indent, end = _entry_lines(lines, line, name)
    return "".join(lines[:line - 1]) + _indented(dump_yaml([item]), indent) + "".join(lines[end:])


def without(text: str, line: int, name: str) -> str:
    """The text with the entry that begins on `line` taken out, every other line as it was; a list
    left with no entry becomes `tracking: []`, which a manifest reads as none."""
    lines = text.splitlines(keepends=True)
    _indent, end = _entry_lines(lines, line, name)
    after = "".join(lines[:line - 1] + lines[end:])
    data = parse_yaml(after, name)
    header = _TRACKING.search(after)
    if isinstance(data, dict) and data.get("tracking", []) is None and header is not None:
        at = header.start() + len("tracking:")
        after = after[:at] + " []" + after[at:]
    return after


def _entry_lines(lines: list[str], line: int, name: str) -> tuple[str, int]:
    """The indentation of the entry that begins on `line`, and the line its text ends on. The entry
    ends before the next line, not blank, that is indented no deeper than its "- " (the next entry,
    a comment or a section beside it)."""
    start = lines[line - 1] if 0 < line <= len(lines) else ""
    item_start = _ITEM.match(start)
    if item_start is None:
        raise ManifestError([Problem("cannot tell where this tracking entry begins", Position(name, line, 1),
                                     "change it by hand")])
    indent = item_start.group("indent")
    end = line
    for i in range(line, len(lines)):
        stripped = lines[i].strip()
        if not stripped:
            continue
        if len(lines[i]) - len(lines[i].lstrip()) <= len(indent):
            break
        end = i + 1
    return indent, end


def _indented(text: str, indent: str) -> str:
    return "".join(indent + line if line.strip() else line for line in text.splitlines(keepends=True))


def record(path: Path, item: dict[str, Any], check: Callable[[], None], replacing: int | None = None) -> int:
    """Append the entry to the file (created if missing) — or with `replacing`, put it in place of the
    entry that begins on that line — then run `check`, which reads the manifest again and raises if
    the decision is not there as recorded; on any failure the file is left as it was. Returns the
    line the entry starts on."""
    name = str(path)
    before = _writable(path)
    if replacing is not None and before is not None:
        after, line = in_place_of(before, replacing, item, name), replacing
    else:
        after, line = with_entry(before, item, name)
    _commit(path, before, after, check)
    return line


def revoke(path: Path, line: int, check: Callable[[], None]) -> None:
    """Take out the entry that begins on that line, then run `check`, which reads the manifest again
    and raises if anything but that decision changed; on any failure the file is left as it was."""
    before = _writable(path)
    if before is None:
        raise ManifestError([Problem("file not found", Position(str(path)))])
    _commit(path, before, without(before, line, str(path)), check)


def _writable(path: Path) -> str | None:
    """The file's text (None if there is no file yet), if it may be changed."""
    before = read_text(path) if path.exists() else None
    if before is not None and not os.access(path, os.W_OK):
        raise ManifestError([Problem("the file is read-only", Position(str(path)),
                                     "make it writable, or name another with --to")])
    return before


def _commit(path: Path, before: str | None, after: str, check: Callable[[], None]) -> None:
    """Write the new text, and put the old back (or remove a new file) if `check` fails."""
    _replace(path, after)
    try:
        check()
    except BaseException:
        if before is None:
            path.unlink(missing_ok=True)
        else:
            _replace(path, before)
        raise


def _replace(path: Path, text: str) -> None:
    """Write the whole file at once: a reader (or a crash) sees the old text or the new, never half."""
    try:
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        if path.exists():
            os.chmod(temp, path.stat().st_mode & 0o7777)
        os.replace(temp, path)
    except OSError as exc:
        raise ManifestError([Problem(f"cannot write file: {exc.strerror or exc}", Position(str(path)))]) from None
