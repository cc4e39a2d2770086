"""Whatever a manifest holds, loading ends in a valid System or a clean ManifestError; never anything else."""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from demarcate.model import ManifestError, System, load
from tests.conftest import SHOPBOT

SOURCES = {p.name: p.read_text(encoding="utf-8") for p in sorted(SHOPBOT.glob("*.yaml"))}
YAML_CHARS = "{}[]:,-#&*!|>'\"%@`\t\n ?\\0aZ9é\u202e"

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 10**12), st.floats(allow_nan=True),
    st.text(max_size=30), st.sampled_from(["tool", "model", "app-team", "APP-IN-03", "untrusted", "open", "-"]),
)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)), max_leaves=20)


def _check(folder: Path) -> None:
    try:
        assert isinstance(load([folder]), System)
    except ManifestError as exc:
        assert exc.problems
        for problem in exc.problems:
            text = str(problem)
            assert "error:" in text and "Traceback" not in text


def _dump(data) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


settings.register_profile("ci", max_examples=150, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture])
settings.load_profile("ci")


@given(data=st.dictionaries(st.sampled_from(
    ["version", "system", "parties", "components", "flows", "controls", "custom-controls", "tracking", "x"]),
    values, max_size=6))
def test_random_documents_never_crash(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("rand")
    (folder / "m.yaml").write_text(_dump(data), encoding="utf-8")
    _check(folder)


@given(name=st.sampled_from(sorted(SOURCES)), edits=st.lists(
    st.tuples(st.sampled_from(["insert", "delete", "replace", "dup-line", "drop-line"]),
              st.floats(0, 1), st.sampled_from(list(YAML_CHARS))), min_size=1, max_size=4))
def test_mutated_shopbot_never_crashes(tmp_path_factory, name, edits):
    folder = tmp_path_factory.mktemp("mut")
    for other, text in SOURCES.items():
        if other == name:
            for op, where, ch in edits:
                i = int(where * len(text))
                lines = text.splitlines(keepends=True)
                j = min(int(where * len(lines)), len(lines) - 1)
                if op == "insert":
                    text = text[:i] + ch + text[i:]
                elif op == "delete":
                    text = text[:i] + text[i + 1:]
                elif op == "replace":
                    text = text[:i] + ch + text[i + 1:]
                elif op == "dup-line":
                    text = "".join(lines[: j + 1] + lines[j:])
                else:
                    text = "".join(lines[:j] + lines[j + 1:])
        (folder / other).write_text(text, encoding="utf-8")
    _check(folder)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*prefix, i))


@given(name=st.sampled_from(sorted(SOURCES)), pick=st.floats(0, 1), value=values)
def test_structurally_mutated_shopbot_never_crashes(tmp_path_factory, name, pick, value):
    folder = tmp_path_factory.mktemp("struct")
    for other, text in SOURCES.items():
        if other == name:
            data = yaml.safe_load(text)
            paths = [p for p in _paths(data) if p]
            target = paths[min(int(pick * len(paths)), len(paths) - 1)]
            node = data
            for seg in target[:-1]:
                node = node[seg]
            node[target[-1]] = value
            text = _dump(data)
        (folder / other).write_text(text, encoding="utf-8")
    _check(folder)
