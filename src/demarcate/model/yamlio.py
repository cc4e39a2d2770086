"""YAML reading that knows line and column for every node, and reports bad YAML as Problems.

Two parsers, one meaning. The reference parse uses libyaml through PyYAML and builds the tree here,
so that every mapping and list remembers where its keys and items were, duplicate keys are errors,
and plain scalars follow YAML 1.2's core schema (`yes`, `no`, `on` and `off` stay text; `0o17` is
octal, `017` is the number 17). It costs about 1.5 s per MB. Most files, and every large one we
have seen, use only plain block YAML; with the optional `fast-yaml` part installed those are read
by yaml-rs (Rust, ~0.1 s per MB) into plain data, and their positions are *deferred*: the reference
parse runs for a file only if one of its positions is ever read (an error, a warning, a SARIF
location). Without it, the reference parse reads everything: the same data, the same errors.

`_plain_only` is the gate: a file goes the fast way only if nothing in it could be read
differently by the two parsers (tags, anchors, merge keys, complex keys, tabs, several
documents, YAML 1.1 number forms, flow-style corner cases, characters outside YAML's printable
set, a byte-order mark). It may send a plain file the slow way
(a backtick in a comment, say), never the reverse: tests/model/test_yaml_parsers.py fuzzes both
parsers against each other through it. Anything the fast parser rejects goes the slow way too,
so every YAML error message comes from one parser.
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from demarcate.model.errors import ManifestError, Position, Problem, byte_position, read_text


@functools.cache
def _pyyaml() -> tuple[Any, Any, Any]:
    """PyYAML, its fastest safe loader and its tag resolver. Imported on first use: a plain file
    never needs it, and importing it took a twentieth of a small check."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # PyYAML may be built without libyaml
    return yaml, loader, yaml.resolver.Resolver()

try:
    import yaml_rs
except ImportError:  # the fast-yaml extra is not installed: every file takes the reference parse
    yaml_rs = None  # type: ignore[assignment]

Pos = tuple[int, int]  # 0-based line and column, as the parser reports them


class YMap(dict):
    """A mapping that remembers where it, its keys and its values start."""

    start: Pos = (0, 0)

    def __init__(self) -> None:
        super().__init__()
        self.key_pos: dict[Any, Pos] = {}
        self.value_pos: dict[Any, Pos] = {}


class YList(list):
    """A sequence that remembers where it and each item start."""

    start: Pos = (0, 0)

    def __init__(self) -> None:
        super().__init__()
        self.item_pos: list[Pos] = []


# A manifest path of "-" is standard input, named so in messages.
STDIN = "-"
STDIN_NAME = "<stdin>"


def read_yaml(path: Path, label: str | None = None) -> Any:
    """Parse one YAML file (or standard input, for "-") into a tree of YMap, YList and plain values."""
    name = label or str(path)
    if str(path) != STDIN:
        return parse_yaml(read_text(path, name), name)
    try:
        text = sys.stdin.buffer.read().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ManifestError([Problem(f"not UTF-8 text ({exc.reason})", byte_position(name, exc.object, exc.start),
                                     "save it as UTF-8")]) from None
    except OSError as exc:
        raise ManifestError([Problem(f"cannot read file: {exc.strerror}", Position(name))]) from None
    return parse_yaml(text, name)


def parse_yaml(text: str, name: str) -> Any:
    """The data in one YAML document: YMap/YList with positions, or, for plain files, a YDoc
    whose positions are found when first asked for."""
    plain = text.removeprefix("\ufeff")  # a byte-order mark some editors write; libyaml drops it too
    if yaml_rs is not None and _plain_only(plain):
        try:
            data = yaml_rs.loads(plain, parse_datetime=False, duplicate_key_policy=yaml_rs.DuplicateKeyPolicy.Error)
        except (yaml_rs.YAMLDecodeError, ValueError, RecursionError):
            pass  # the reference parse says what is wrong, and where
        else:
            if isinstance(data, dict):
                return YDoc(data, _Source(text, name))
    return _reference(text, name)


def _reference(text: str, name: str) -> Any:
    yaml, loader, _ = _pyyaml()
    try:
        node = yaml.compose(text, Loader=loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or exc.context or "malformed YAML"
        tab = mark is not None and text[mark.index:mark.index + 1] == "\t" and "tab" not in what
        raise ManifestError([Problem(f"invalid YAML: {what}", _pos(name, mark, text),
                                     "a tab: YAML indents with spaces" if tab else None)]) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow: it knows where
        where = _offset(name, text, exc.position)
        raise ManifestError([Problem(f"invalid YAML: {exc.reason} {_char(exc.character)}", where,
                                     "control characters cannot appear in YAML, even quoted; write them as "
                                     "escapes in a double-quoted string (\\x01)")]) from None
    except yaml.YAMLError as exc:
        raise ManifestError([Problem(f"invalid YAML: {exc}", Position(name))]) from None
    if node is None:
        return None
    return _Builder(name, values=2 * len(text) + 10_000).build(node)


# Anything in a file that the two parsers might read differently sends it the reference way.
# Each pattern starts with the rare character it is about, so the regex engine skips ahead to it,
# and looks back for what must precede it; the text gets a leading newline so that a line start is
# always preceded by one. A pattern runs only if one of its characters occurs in the text at all.
_DIVERGENT = [(chars, re.compile(pattern)) for chars, pattern in [
    ("\t", r"\t"),                                                    # tabs
    ("!&*?%@`", r"[!&*?%@`](?<=[\s\[\{,].)"),                          # tags, anchors, aliases, '?' keys, directives
    (":", r":(?<=[\s\[\{,]:)"),                                         # empty keys
    (":", r":[\]\},?!&*%@`|>]"),                                        # flow-style corner cases
    ("]", r"\] *:"), ("}", r"\} *:"), ("{", r"\{(?:\s*|[^\[\]\{\}]*,\s*)[\[\{]"),  # collections as keys
    ("|>", r"[|>](?:(?<=[\[\{,].)|(?<=[\[\{,]\s.))"),                      # block-scalar indicators in flow style
    ("|>", r"[|>](?<=\s.)[-+0-9]*(?:[^\s\-+0-9]| +[^\s#])"),              # '|' or '>' starting a plain scalar
    ("<", r"<<"),                                                      # merge keys
    ("-.", r"\n(?:---|\.\.\.)"),                                          # document markers
    ("bBXOxo", r"0(?:[bBXO](?:(?<=[\s\[\{,:]0.)|(?<=[\s\[\{,:][-+]0.))|[xo](?<=[\s\[\{,:][-+]0.))"),  # 1.1 numbers
    ("_", r"_(?:(?<=[\s\[\{,:]_)|(?<=[\s\[\{,:][-+]_))"),                 # ... and '_9', '-_9'
    (" ", "\n" + " " * 100),                                            # nesting deeper than the reference allows
]]
# Characters the reference parse refuses (outside YAML's printable set) or reads as line breaks
# (NEL, LS, PS), and the byte-order mark, which it strips: yaml-rs takes them all as text.
# Written as the few ranges outside the printable set: its complement as a negated class took
# ~10 ms to compile on every run.
_UNUSUAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff]")
_UNDERSCORED = re.compile(r"[0-9.][0-9a-zA-Z.]*_")  # 1_000, 0x_9: numbers to yaml-rs, text to YAML 1.2
_BLOCK_HEADER = re.compile(r"[|>][-+0-9]* *(?:#[^\n]*)?\n")


def _plain_only(text: str) -> bool:
    """Whether nothing in the text could be read differently by the fast and the reference parser."""
    if _UNUSUAL.search(text):
        return False
    text = "\n" + text
    for chars, pattern in _DIVERGENT:
        if any(c in text for c in chars) and pattern.search(text):
            return False
    if "_" in text and any(text[m.start() - 1] in " \r\n[{,:+-" for m in _UNDERSCORED.finditer(text)):
        return False
    if ("[" in text or "{" in text) and _multiline_flow(text):
        return False
    if "|" in text or ">" in text:
        # A block scalar ending the file without a line break: the parsers chomp it differently.
        return text.endswith("\n") and not any(_block_scalars_in_doubt(text))
    return True


_BRACKET = re.compile(r"[\[\]\{\}]")


def _multiline_flow(text: str) -> bool:
    """Whether a flow collection ([...] or {...}) breaks a line anywhere but after a ',', '[' or
    '{': a scalar running on over the break may be a key, and the parsers differ on those.
    Brackets inside quoted text can only make this say yes, which is the safe side."""
    depth, last = 0, 0
    for m in _BRACKET.finditer(text):
        i = m.start()
        if depth:
            newline = text.find("\n", last, i)
            while newline != -1:
                if text[last:newline].rstrip(" ")[-1:] not in (",", "[", "{"):
                    return True
                last = newline + 1
                newline = text.find("\n", last, i)
        depth += 1 if text[i] in "[{" else -1
        last = i
    return depth != 0


def _block_scalars_in_doubt(text: str) -> Iterator[bool]:
    """For each '|' or '>' header: whether the parsers could disagree on it. They do when it has no
    body, and when it comes after more (or fewer) opening brackets than closing ones: inside a flow
    collection it is no block scalar."""
    depth, last = 0, 0
    for header in _BLOCK_HEADER.finditer(text):
        i = header.start()
        depth += text.count("[", last, i) + text.count("{", last, i) - text.count("]", last, i) - text.count("}", last, i)
        last = i
        yield depth != 0 or _empty_block(text, header)


def _empty_block(text: str, header: re.Match[str]) -> bool:
    """Whether a block scalar has no body: its next line is blank or not indented past the header's."""
    line = text[text.rfind("\n", 0, header.start()) + 1:header.start()]
    end = text.find("\n", header.end())
    body = text[header.end():end if end != -1 else len(text)]
    return not body.strip() or len(body) - len(body.lstrip(" ")) <= len(line) - len(line.lstrip(" "))


class _Source:
    """A file's text, parsed the reference way only when a position in it is first needed."""

    def __init__(self, text: str, name: str):
        self.text = text
        self.name = name
        self._tree: Any = None

    def find(self, loc: tuple[Any, ...], key: bool) -> tuple[int, int]:
        if self._tree is None:
            try:
                self._tree = _located(self.text)
            except ValueError:  # not what the fast way lets through: the reference parse decides
                try:
                    self._tree = _reference(self.text, self.name)
                except ManifestError:
                    self._tree = {}
        pos = locate(self._tree, loc, self.name, key=key)
        return pos.line, pos.column


class _Deferred(Position):
    """A position in a file read the fast way, looked up when first read."""

    __slots__ = ("_loc", "_of_key", "_source")

    def __init__(self, name: str, source: _Source, loc: tuple[Any, ...], key: bool):
        super().__init__(name)
        self._source: _Source | None = source
        self._loc, self._of_key = loc, key

    def _resolve(self) -> None:
        if self._source is not None:
            source, self._source = self._source, None
            self._line, self._column = source.find(self._loc, self._of_key)


class YDoc(dict):
    """The top-level mapping of a file read the fast way: plain data below, positions deferred."""

    def __init__(self, data: dict[Any, Any], source: _Source):
        super().__init__(data)
        self.source = source


def positions_of(root: Any) -> Any:
    """What to keep of a parsed file to find positions in it later with `locate`: for a file read
    the fast way, its text (not the data, which the validated model has replaced); otherwise the
    tree, which holds them."""
    return root.source if isinstance(root, YDoc) else root


def _pos(name: str, mark: Any, text: str | None = None) -> Position:
    if mark is None:
        return Position(name)
    if text and not text.endswith("\n") and mark.line > text.count("\n"):
        # The end of a file without a final newline: the parser counts a line past the last one.
        lines = text.splitlines() or [""]
        return Position(name, len(lines), len(lines[-1]) + 1)
    return Position(name, mark.line + 1, mark.column + 1)


def _offset(name: str, text: str, index: int) -> Position:
    before = text[:index]
    return Position(name, before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1)


def _char(character: Any) -> str:
    code = ord(character) if isinstance(character, str) else character
    return f"(U+{code:04X})" if isinstance(code, int) else f"({code!r})"


_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_INT10 = re.compile(r"^[-+]?[0-9]+$")
_INT8 = re.compile(r"^0o[0-7]+$")
_INT16 = re.compile(r"^0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_INF = re.compile(r"^[-+]?\.(?:inf|Inf|INF)$")
_NAN = re.compile(r"^\.(?:nan|NaN|NAN)$")
_MERGE, _STR = "tag:yaml.org,2002:merge", "tag:yaml.org,2002:str"


class _Builder:
    """Builds a composed document into data. An alias is built anew wherever it appears, so nested
    aliases multiply: `values` bounds how many values the whole file may come to. A file without
    aliases holds fewer values than characters; ordinary reuse stays well inside twice that, while
    a handful of nested aliases (the 'billion laughs') would expand to millions."""

    def __init__(self, name: str, values: int):
        self.name = name
        self.depth = 0
        self.values = values
        self.yaml, _, self.implicit = _pyyaml()

    def fail(self, message: str, node: Any, hint: str | None = None) -> None:
        raise ManifestError([Problem(message, _pos(self.name, node.start_mark), hint)])

    def build(self, node: Any) -> Any:
        self.depth += 1
        if self.depth > 200:
            self.fail("YAML nested too deeply", node)
        self.values -= 1
        if self.values < 0:
            self.fail("YAML aliases expand to far more values than the file holds", node,
                      "write the repeated part out, or nest fewer aliases inside one another")
        try:
            if isinstance(node, self.yaml.MappingNode):
                return self._mapping(node)
            if isinstance(node, self.yaml.SequenceNode):
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
        if node.tag == _STR and self.implicit.resolve(self.yaml.ScalarNode, value, (True, False)) != _STR:
            return value  # an explicit !!str on a value that would otherwise not be text
        return _plain(value)


MAX_DIGITS = 4_000


def _plain(value: str) -> Any:
    """A plain (unquoted, untagged) scalar under YAML 1.2's core schema."""
    if _NULL.match(value):
        return None
    if _BOOL.match(value):
        return value.lower() == "true"
    if _INT10.match(value):
        # Past Python's limit on reading decimal digits (4,300), no field can want it as a number:
        # kept as the text it is, validation then says what was expected.
        return int(value) if len(value) <= MAX_DIGITS else value
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


def _located(text: str) -> Any:
    """The tree `locate` walks, for a file read the fast way, made from the reference parser's
    events rather than its composed nodes: where every mapping, key, value and list item starts,
    exactly as the reference parse records it, with keys read as it reads them and other values
    left as written. A fifth of the reference parse's cost — which is what the first position
    asked of a large file (a SARIF location for each finding) used to pay. Such a file has no
    anchors, tags, merge keys or complex keys: anything else raises ValueError, and the caller
    falls back to the reference parse."""
    yaml, loader, _ = _pyyaml()
    events = yaml.parse(text, Loader=loader)
    mapping, sequence, scalar = yaml.MappingStartEvent, yaml.SequenceStartEvent, yaml.ScalarEvent
    mapping_end, sequence_end = yaml.MappingEndEvent, yaml.SequenceEndEvent

    def node(event: Any) -> Any:
        if isinstance(event, mapping):
            out = YMap()
            out.start = (event.start_mark.line, event.start_mark.column)
            while not isinstance(key_event := next(events), mapping_end):
                if not isinstance(key_event, scalar) or key_event.tag:
                    raise ValueError("not a plain key")
                key = key_event.value if key_event.style else _plain(key_event.value)
                value_event = next(events)
                out.key_pos[key] = (key_event.start_mark.line, key_event.start_mark.column)
                out.value_pos[key] = (value_event.start_mark.line, value_event.start_mark.column)
                out[key] = node(value_event)
            return out
        if isinstance(event, sequence):
            items = YList()
            items.start = (event.start_mark.line, event.start_mark.column)
            while not isinstance(item := next(events), sequence_end):
                items.item_pos.append((item.start_mark.line, item.start_mark.column))
                items.append(node(item))
            return items
        if isinstance(event, scalar) and not event.anchor and not event.tag:
            return event.value
        raise ValueError("not plain YAML")

    try:
        for event in events:
            if isinstance(event, yaml.DocumentStartEvent):
                return node(next(events))
    except (StopIteration, yaml.YAMLError) as exc:
        raise ValueError("not plain YAML") from exc
    return None


def locate(root: Any, loc: tuple[Any, ...], name: str, *, key: bool = False) -> Position:
    """The position of the node at `loc` (a pydantic-style path), or of its nearest ancestor.

    Path segments that do not exist in the data (such as a union's tag) are skipped.
    With `key=True` the position of the last mapping key is returned instead of its value.
    """
    root = positions_of(root)
    if isinstance(root, _Source):
        return _Deferred(name, root, loc, key)
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
    """Write plain data as block-style YAML, keys in the order given, that reads back as written."""
    return _pyyaml()[0].dump(data, Dumper=_dumper(), sort_keys=False, allow_unicode=True, default_flow_style=False,
                             width=100)


@functools.cache
def _dumper() -> Any:
    """PyYAML's safe dumper, quoting text by the rules this module reads by. PyYAML quotes what YAML
    1.1 would read as something else; YAML 1.2's core schema, which manifests are read by, also
    reads `08`, `1e5` and `0o17` as numbers, which PyYAML wrote bare."""
    yaml = _pyyaml()[0]

    class Dumper(yaml.SafeDumper):  # type: ignore[name-defined]
        pass

    def text(dumper: Any, value: str) -> Any:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value,
                                       style=None if isinstance(_plain(value), str) else "'")

    Dumper.add_representer(str, text)
    return Dumper
