"""The fast YAML parser and the reference one must never read a file differently.

yamlio sends a file to yaml-rs only when its gate finds nothing the two could disagree on; these
tests throw YAML-significant text at both parsers through that gate and require the same data,
and check that positions found later are the ones the reference parse gives at once.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from demarcate.builtin import examples_dir
from demarcate.model import ManifestError, load
from demarcate.model.yamlio import YDoc, _reference, locate, parse_yaml
from tests.model.test_property import _paths

# Characters and words that mean something to a YAML parser, and a few that do not.
PIECES = [*"abcXYZ019_-+.:eExobIinfNaul ~!&*#'\"[]{},?|>%@`\\/\t\x00\x1b\x7f\x85\u2028\ufeff\ufffeé😀",
          "0x", "0o", "0b", ".inf", ".nan", "true", "null", "yes", "- ", "\n", "\n  ", "\n- ", ": "]
TEMPLATES = ["a: {}\n", "a:\n  - {}\n", "{}: 1\n", "a: [{}]\n", "a: {{k: {}}}\n", "a: |\n  {}\n", "x:\n  y: {}\n  z: 2\n",
             "a: {}", "a: |\n  {}", "a: >-\n  x\n  {}"]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) or isinstance(b, dict):
        return (isinstance(a, dict) and isinstance(b, dict) and len(a) == len(b)
                and all(_same(ka, kb) and _same(va, vb) for (ka, va), (kb, vb) in zip(a.items(), b.items(), strict=True)))
    if isinstance(a, list) or isinstance(b, list):
        return (isinstance(a, list) and isinstance(b, list) and len(a) == len(b)
                and all(_same(x, y) for x, y in zip(a, b, strict=True)))
    return type(a) is type(b) and a == b


def _positions_agree(text: str) -> None:
    """A file read the fast way finds every position, of a key or of a value, where the reference parse does."""
    fast, ref = parse_yaml(text, "t.yaml"), _reference(text, "t.yaml")
    assert isinstance(fast, YDoc)
    for loc in (p for path in _paths(ref) for p in (path, (*path, "no-such-key"))):
        if any(isinstance(seg, float) and math.isnan(seg) for seg in loc):
            continue  # a NaN key equals no key, not even itself: no path can name it
        for key in (False, True):
            assert str(locate(fast, loc, "t.yaml", key=key)) == str(locate(ref, loc, "t.yaml", key=key)), (loc, key)


def _both(text: str) -> tuple[Any, Any]:
    """(what parse_yaml returns, what the reference parse returns); errors as the string 'error'."""
    out = []
    for parse in (parse_yaml, _reference):
        try:
            out.append(parse(text, "t.yaml"))
        except ManifestError:
            out.append("error")
    return out[0], out[1]


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pieces=st.lists(st.sampled_from(PIECES), min_size=1, max_size=8), template=st.sampled_from(TEMPLATES))
def test_the_gate_never_lets_the_parsers_disagree(pieces, template):
    text = template.format("".join(pieces))
    got, reference = _both(text)
    assert _same(got, reference), text
    if isinstance(got, YDoc):
        _positions_agree(text)


# Each of these is read differently by yaml-rs and by the reference parse (found by fuzzing).
DIVERGENT = ["\ufeff\ufeff\ufeff: 1", "\ufeff\ufeff: 1", "a: 1\n\ufeffb: 2", "a: \x00", "a: b\x1b[31m", "a: \x85b", "a: \u2028b", "a: \ufffe", "a: |\n  x", "a: >\n  x\n  y", "a: {k: ,a\na:\n}", "a: {k: |\n  }", "a: [\n  |\n  ]", "a: {{}}", "a: {x: 1, [y]}", "a: {k: | }", "a: 0b101", "a: 1_000", "a: 0x_9", "a: +0xf", "a: 0Xe", "a: _9", "a: |\n", "a: >\n",
             "a: !foo x", "a: !!int '5'", "base: &b {x: 1}\nc:\n  <<: *b\n  y: 2", "a: [?x]",
             "a:\n\tb: 1", "a: [x: |]", "a: [l:?]", "- : 1", "a: [|b]", "{}: 1", "a: 1\n---\nb: 2"]


@pytest.mark.parametrize("text", DIVERGENT)
def test_known_disagreements_take_the_reference_way(text):
    got, reference = _both(text)
    assert not isinstance(got, YDoc)
    assert _same(got, reference)


def test_plain_manifests_take_the_fast_way():
    for path in sorted(examples_dir().rglob("*.yaml")):
        data = parse_yaml(path.read_text(encoding="utf-8"), str(path))
        assert isinstance(data, YDoc), path
        assert _same(data, _reference(path.read_text(encoding="utf-8"), str(path)))


def test_deferred_positions_are_the_reference_positions():
    # Found from the parser's events, not its composed nodes: every key and value of every example,
    # the incidents and a generated portfolio, where the reference parse has it.
    from benchmarks.check_portfolio import portfolio

    from demarcate.model.yamlio import dump_yaml

    texts = [p.read_text(encoding="utf-8") for p in sorted(examples_dir().rglob("*.yaml"))]
    texts += [p.read_text(encoding="utf-8") for p in sorted((Path(__file__).parents[1] / "data/incidents").glob("*.yaml"))]
    for text in [*texts, dump_yaml(portfolio(300)), "a:\n- x\n- {b: 1, 'c': [2, 3]}\n-\n", "a: 'x'\n'1': y\n1: z\n"]:
        _positions_agree(text)


def test_errors_in_a_fast_file_point_at_the_right_line(tmp_path):
    body = "".join(f"  - id: c{i}\n    kind: tool\n    owner: app\n" for i in range(50))
    body += "  - id: broken\n    kind: tool\n    owner: app\n    efects: [write]\n"
    path = tmp_path / "m.yaml"
    path.write_text("version: 1\nparties:\n  - id: app\n    role: application-developer\ncomponents:\n" + body)
    assert isinstance(parse_yaml(path.read_text(), str(path)), YDoc)
    with pytest.raises(ManifestError) as exc:
        load([path])
    problem = exc.value.problems[0]
    assert "unknown field 'efects'" in problem.message
    assert (problem.position.line, problem.position.column) == (5 + 50 * 3 + 4, 5)


def test_duplicate_keys_and_bad_yaml_are_reported_by_the_reference_parse():
    for text, message, line in [("a: 1\nb: 2\na: 3\n", "duplicate key 'a'", 3), ("a: [1, 2\n", "invalid YAML", 2)]:
        with pytest.raises(ManifestError) as exc:
            parse_yaml(text, "t.yaml")
        problem = exc.value.problems[0]
        assert message in problem.message and problem.position.line == line


def test_a_leading_byte_order_mark_is_not_content():
    text = (examples_dir() / "shopbot" / "app-team.yaml").read_text(encoding="utf-8")
    with_bom = parse_yaml("\ufeff" + text, "f.yaml")
    assert isinstance(with_bom, YDoc) and _same(with_bom, _reference(text, "f.yaml"))
    assert str(locate(with_bom, ("components", 1), "f.yaml")) == str(locate(_reference(text, "f.yaml"), ("components", 1), "f.yaml"))


def test_the_shipped_catalog_takes_the_fast_parse():
    # Every command reads these files; one that the gate sends the reference way costs every run
    # ~50 ms (a '|' or a backtick in a comment is enough).
    from demarcate.catalog import DATA

    files = sorted(DATA.rglob("*.yaml"))
    assert len(files) > 3
    for path in files:
        assert isinstance(parse_yaml(path.read_text(encoding="utf-8"), str(path)), YDoc), path


def test_the_gate_sends_every_character_outside_yamls_printable_set_the_reference_way():
    from demarcate.model.yamlio import _UNUSUAL

    def printable(cp: int) -> bool:  # YAML's c-printable
        return cp in (0x09, 0x0A, 0x0D, 0x85) or 0x20 <= cp <= 0x7E or 0xA0 <= cp <= 0xD7FF or (
            0xE000 <= cp <= 0xFFFD) or 0x10000 <= cp <= 0x10FFFF

    # ... less NEL, LS and PS (line breaks to the reference parse) and the byte-order mark.
    odd = [cp for cp in range(0x110000)
           if bool(_UNUSUAL.match(chr(cp))) != (not printable(cp) or cp in (0x85, 0x2028, 0x2029, 0xFEFF))]
    assert odd == []
