"""Errors are values with positions until the CLI turns them into readable lines."""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@functools.total_ordering
class Position:
    """A place in a file; line and column count from 1, as editors show them (0: unknown).

    A subclass may defer finding them until first read: large manifests are parsed without
    recording positions (see yamlio), and most positions are never shown; the few that are (an
    error, a warning, a SARIF location) are then looked up once per file.
    """

    __slots__ = ("_column", "_line", "file")

    def __init__(self, file: str, line: int = 0, column: int = 0):
        self.file = file
        self._line = line
        self._column = column

    def _resolve(self) -> None:
        """Find line and column if not known yet (see yamlio's deferred positions)."""

    @property
    def line(self) -> int:
        self._resolve()
        return self._line

    @property
    def column(self) -> int:
        self._resolve()
        return self._column

    def _key(self) -> tuple[str, int, int]:
        return (self.file, self.line, self.column)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Position) and self._key() == other._key()

    def __lt__(self, other: Position) -> bool:
        return self._key() < other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"Position({self.file!r}, {self.line}, {self.column})"

    def __str__(self) -> str:
        if not self.line:
            return self.file
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Problem:
    message: str
    position: Position | None = None
    hint: str | None = None
    level: str = "error"  # or "warning": reported, and the command goes on

    @property
    def text(self) -> str:
        """The message and its hint, for tools that show the place apart."""
        return self.message + (f" ({self.hint})" if self.hint else "")

    def __str__(self) -> str:
        where = f"{self.position}: " if self.position else ""
        return f"{where}{self.level}: {self.text}"


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


def read_text(path: Path, name: str | None = None, missing: str = "file not found") -> str:
    """A text file's content, or the reason it cannot be read as a problem at the file."""
    at = Position(name or str(path))
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError([Problem(missing, at)]) from None
    except UnicodeDecodeError as exc:
        raise ManifestError([Problem(f"not UTF-8 text ({exc.reason})", byte_position(at.file, exc.object, exc.start),
                                     "save it as UTF-8")]) from None
    except OSError as exc:
        raise ManifestError([Problem(f"cannot read file: {exc.strerror or exc}", at)]) from None


def byte_position(file: str, data: bytes, offset: int) -> Position:
    """The line and column of a byte offset in undecodable data (columns count what decodes before it)."""
    before = data[:offset]
    line = before.count(b"\n") + 1
    column = len(before[before.rfind(b"\n") + 1:].decode("utf-8", "replace")) + 1
    return Position(file, line, column)
