"""YAML reading that keeps line and column for every node, and reports bad YAML as Problems.

Parsing uses libyaml through PyYAML (tens of times faster than a pure-Python parser on large
portfolios); the tree is then built here so that every mapping and list remembers where its keys
and items were, duplicate keys are errors, and plain scalars follow YAML 1.2's core schema
(`yes`, `no`, `on` and `off` stay text; `0o17` is octal, `017` is the number 17).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from demarcate.model.errors import ManifestError, Position, Problem

try:
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # PyYAML built without libyaml
    _Loader = yaml.SafeLoader

Pos = tuple[int, int]  # 0-based line and column, as the parser reports them


class YMap(dict):  # type: ignore[type-arg]
    """A mapping that remembers where it, its keys and its values start."""

    start: Pos = (0, 0)

    def __init__(self) -> None:
        super().__init__()
        self.key_pos: dict[Any, Pos] = {}
        self.value_pos: dict[Any, Pos] = {}


class YList(list):  # type: ignore[type-arg]
    """A sequence that remembers where it and each item start."""

    start: Pos = (0, 0)

    def __init__(self) -> None:
        super().__init__()
        self.item_pos: list[Pos] = []


def read_yaml(path: Path, label: str | None = None) -> Any:
    """Parse one YAML file into a tree of YMap, YList and plain values."""
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
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or exc.context or "malformed YAML"
        raise ManifestError([Problem(f"invalid YAML: {what}", _pos(name, mark))]) from None
    except yaml.YAMLError as exc:
        raise ManifestError([Problem(f"invalid YAML: {exc}", Position(name))]) from None
    if node is None:
        return None
    return _Builder(name).build(node)


def _pos(name: str, mark: Any) -> Position:
    if mark is None:
        return Position(name)
    return Position(name, mark.line + 1, mark.column + 1)


_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_INT10 = re.compile(r"^[-+]?[0-9]+$")
_INT8 = re.compile(r"^0o[0-7]+$")
_INT16 = re.compile(r"^0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_INF = re.compile(r"^[-+]?\.(?:inf|Inf|INF)$")
_NAN = re.compile(r"^\.(?:nan|NaN|NAN)$")
_MERGE, _STR = "tag:yaml.org,2002:merge", "tag:yaml.org,2002:str"
_IMPLICIT = yaml.resolver.Resolver()


class _Builder:
    def __init__(self, name: str):
        self.name = name
        self.depth = 0

    def fail(self, message: str, node: Any, hint: str | None = None) -> None:
        raise ManifestError([Problem(message, _pos(self.name, node.start_mark), hint)])

    def build(self, node: Any) -> Any:
        self.depth += 1
        if self.depth > 200:
            self.fail("YAML nested too deeply", node)
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node)
            if isinstance(node, yaml.SequenceNode):
                out = YList()
                out.start = (node.start_mark.line, node.start_mark.column)
                for item in node.value:
                    out.item_pos.append((item.start_mark.line, item.start_mark.column))
                    out.append(self.build(item))
                return out
            return self._scalar(node)
        finally:
            self.depth -= 1

    def _mapping(self, node: Any) -> YMap:
        out = YMap()
        out.start = (node.start_mark.line, node.start_mark.column)
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merged = self.build(value_node)
                for source in merged if isinstance(merged, list) else [merged]:
                    if not isinstance(source, YMap):
                        self.fail("'<<' merges only mappings", value_node)
                    for k, v in source.items():
                        if k not in out:
                            out[k] = v
                            out.key_pos[k] = source.key_pos[k]
                            out.value_pos[k] = source.value_pos[k]
                continue
            key = self.build(key_node)
            if isinstance(key, dict | list):
                self.fail("a mapping key must be a plain value", key_node)
            if key in out.key_pos and key in out:
                first = out.key_pos[key][0] + 1
                self.fail(f"duplicate key '{key}'", key_node, f"first defined at line {first}")
            out.key_pos[key] = (key_node.start_mark.line, key_node.start_mark.column)
            out.value_pos[key] = (value_node.start_mark.line, value_node.start_mark.column)
            out[key] = self.build(value_node)
        return out

    def _scalar(self, node: Any) -> Any:
        value: str = node.value
        if not node.tag.startswith("tag:yaml.org,2002:"):
            self.fail(f"unsupported YAML tag '{node.tag}'", node)
        if node.style:
            return value  # quoted and block scalars are text
        if node.tag == _STR and _IMPLICIT.resolve(yaml.ScalarNode, value, (True, False)) != _STR:
            return value  # an explicit !!str on a value that would otherwise not be text
        if _NULL.match(value):
            return None
        if _BOOL.match(value):
            return value.lower() == "true"
        if _INT10.match(value):
            return int(value)
        if _INT8.match(value):
            return int(value[2:], 8)
        if _INT16.match(value):
            return int(value[2:], 16)
        if _FLOAT.match(value):
            return float(value)
        if _INF.match(value):
            return float("-inf") if value.startswith("-") else float("inf")
        if _NAN.match(value):
            return float("nan")
        return value


def locate(root: Any, loc: tuple[Any, ...], name: str, *, key: bool = False) -> Position:
    """The position of the node at `loc` (a pydantic-style path), or of its nearest ancestor.

    Path segments that do not exist in the data (such as a union's tag) are skipped.
    With `key=True` the position of the last mapping key is returned instead of its value.
    """
    node = root
    best = Position(name, 1, 1)
    if isinstance(node, YMap | YList):
        best = Position(name, node.start[0] + 1, node.start[1] + 1)
    for i, seg in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(node, YMap) and seg in node:
            line, col = node.key_pos[seg] if (key and last) else node.value_pos[seg]
            best = Position(name, line + 1, col + 1)
            node = node[seg]
        elif isinstance(node, YList) and isinstance(seg, int) and 0 <= seg < len(node):
            line, col = node.item_pos[seg]
            best = Position(name, line + 1, col + 1)
            node = node[seg]
    return best


def dump_yaml(data: Any) -> str:
    """Write plain data as block-style YAML, keys in the order given."""
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100)
