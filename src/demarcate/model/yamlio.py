"""YAML reading that keeps line and column for every node, and reports bad YAML as Problems."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from demarcate.model.errors import ManifestError, Position, Problem


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    return yaml


def read_yaml(path: Path, label: str | None = None) -> Any:
    """Parse one YAML file into round-trip nodes (which remember their positions)."""
    name = label or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError([Problem("file not found", Position(name))]) from None
    except UnicodeDecodeError as exc:
        raise ManifestError([Problem(f"not UTF-8 text ({exc.reason})", Position(name))]) from None
    except OSError as exc:
        raise ManifestError([Problem(f"cannot read file: {exc.strerror}", Position(name))]) from None
    return parse_yaml(text, name)


def parse_yaml(text: str, name: str) -> Any:
    try:
        return _yaml().load(text)
    except DuplicateKeyError as exc:
        mark = exc.problem_mark
        key = (exc.problem or "").split('"')[1] if '"' in (exc.problem or "") else None
        first = exc.context_mark
        msg = f"duplicate key '{key}'" if key else "duplicate key"
        hint = f"first defined at line {first.line + 1}" if first is not None else None
        raise ManifestError([Problem(msg, _pos(name, mark), hint)]) from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or exc.context or "malformed YAML"
        raise ManifestError([Problem(f"invalid YAML: {what}", _pos(name, mark))]) from None
    except YAMLError as exc:
        raise ManifestError([Problem(f"invalid YAML: {exc}", Position(name))]) from None


def _pos(name: str, mark: Any) -> Position:
    if mark is None:
        return Position(name)
    return Position(name, mark.line + 1, mark.column + 1)


def locate(root: Any, loc: tuple[Any, ...], name: str, *, key: bool = False) -> Position:
    """The position of the node at `loc` (a pydantic-style path), or of its nearest ancestor.

    Path segments that do not exist in the data (such as a union's tag) are skipped.
    With `key=True` the position of the last mapping key is returned instead of its value.
    """
    node = root
    best = Position(name, 1, 1)
    for i, seg in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(node, CommentedMap) and seg in node:
            line, col = node.lc.key(seg) if (key and last) else node.lc.value(seg)
            best = Position(name, line + 1, col + 1)
            node = node[seg]
        elif isinstance(node, CommentedSeq) and isinstance(seg, int) and 0 <= seg < len(node):
            line, col = node.lc.item(seg)
            best = Position(name, line + 1, col + 1)
            node = node[seg]
    return best


def node_position(node: Any, name: str) -> Position:
    """Where a mapping or sequence node starts."""
    if isinstance(node, CommentedMap | CommentedSeq) and node.lc.line is not None:
        return Position(name, node.lc.line + 1, node.lc.col + 1)
    return Position(name, 1, 1)
