"""Errors are values with positions until the CLI turns them into readable lines."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Position:
    """A place in a file; line and column count from 1, as editors show them."""

    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if not self.line:
            return self.file
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Problem:
    message: str
    position: Position | None = None
    hint: str | None = None

    def __str__(self) -> str:
        where = f"{self.position}: " if self.position else ""
        hint = f" ({self.hint})" if self.hint else ""
        return f"{where}error: {self.message}{hint}"


class ManifestError(Exception):
    """One or more problems that stop a manifest, catalog or preset from loading."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = sorted(
            problems, key=lambda p: (p.position or Position(""), p.message)
        )
        super().__init__("\n".join(str(p) for p in self.problems))


def did_you_mean(word: object, known: Iterable[str]) -> str | None:
    """A hint naming the closest known spelling, if one is close enough."""
    if not isinstance(word, str) or not word:
        return None
    known = list(known)
    lowered = word.lower()
    starts = [k for k in known if k.lower().startswith(lowered)]
    if len(starts) == 1:
        return f"did you mean '{starts[0]}'?"
    close = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None
