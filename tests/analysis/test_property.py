"""Whatever a valid manifest describes, `check` ends with a result that keeps its own promises.

Systems are generated from the catalog's kinds table — any kind, any attribute value, any flows
(cycles and self-feeding tools included), any claims, scopes and reliances — and every result is
held to what docs/check-json.md says: paths are real routes from an untrusted source through a
model to an impact; a path is closed exactly when an application- or infrastructure-layer
preventive control is in effect on it; the fix meets every closable open path; finding ids are
unique and name what exists; the JSON matches its schema; and the same input gives the same bytes.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import jsonschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from demarcate.analysis.check import analyse, result_json
from demarcate.catalog import load_catalog
from demarcate.model import load
from demarcate.model.schema import PRINCIPAL_WORDS, ROLES, STATUSES
from demarcate.model.yamlio import dump_yaml
from demarcate.report.html import render_html
from demarcate.report.jsonio import json_bytes
from demarcate.report.markdown import check_markdown
from demarcate.report.sarif import sarif

CATALOG = load_catalog()
KINDS = sorted(CATALOG.kinds)
# Every kind, with the ones attacks start and end at more often.
WEIGHTED_KINDS = [*KINDS, *["tool", "data-source", "user-input", "output-renderer", "network-egress", "memory"] * 2]
CONTROLS = sorted(CATALOG.controls)
SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs/schemas/check-v1.json").read_text())
HOSTS = ["api.example", "cdn.example", "proxy.example"]
# What an empty list leaves in a sentence: "protects , owned by ;", "()", "on .", doubled spaces.
EMPTY_LIST = re.compile(r"\(\)|\s[,;]|\s\.(\s|$)|\s\s|\b(by|on|of|to|for|protects)\s*[,;)]|\b(by|on|of|to|for)\.")


def _value(draw, spec, parties: list[str], components: list[str]):
    kind = spec.type
    if kind == "bool":
        return draw(st.booleans())
    if kind == "integer":
        return draw(st.integers(0, 400))
    if kind == "string":
        return draw(st.sampled_from(["x", "gpt", "idx"]))
    if kind == "enum":
        return draw(st.sampled_from(spec.values))
    if kind == "enum-list":
        return draw(st.lists(st.sampled_from(spec.values), unique=True, max_size=3))
    if kind == "string-list":
        return draw(st.lists(st.sampled_from(["a", "b"]), max_size=2))
    if kind == "principals":
        return draw(st.lists(st.sampled_from(PRINCIPAL_WORDS), unique=True, max_size=2))
    if kind == "parties":
        return draw(st.lists(st.sampled_from(parties), unique=True, max_size=2))
    if kind == "components":
        return draw(st.lists(st.sampled_from(components), unique=True, max_size=2))
    return [{"host": h, "relays": draw(st.booleans())} for h in draw(st.lists(st.sampled_from(HOSTS), unique=True,
                                                                                max_size=2))]


@st.composite
def systems(draw):
    parties = [{"id": f"p{i}", "role": role, "security-review": draw(st.booleans()),
                "ai-security-training": draw(st.booleans())}
               for i, role in enumerate(draw(st.lists(st.sampled_from(ROLES), min_size=1, max_size=4)))]
    ids = [p["id"] for p in parties]
    components = []
    # Always a model, so that paths have somewhere to go through; the rest is any kind.
    kinds = ["model", *draw(st.lists(st.sampled_from(WEIGHTED_KINDS), min_size=1, max_size=9))]
    cids = [f"c{i}" for i in range(len(kinds))]
    for cid, kind in zip(cids, kinds, strict=True):
        comp = {"id": cid, "kind": kind, "owner": draw(st.sampled_from(ids))}
        for attr, spec in CATALOG.kinds[kind].attributes.items():
            if spec.required or draw(st.booleans()):
                comp[attr] = _value(draw, spec, ids, cids)
        components.append(comp)
    # Most components exchange content with the first model (random flows alone seldom make a
    # path); more flows anywhere on top, cycles included.
    edges: dict[tuple[str, str], None] = {}
    for cid in cids[1:]:
        way = draw(st.sampled_from(["in", "out", "both", "none"]))
        if way in ("in", "both"):
            edges[(cid, "c0")] = None
        if way in ("out", "both"):
            edges[("c0", cid)] = None
    pairs = st.tuples(st.sampled_from(cids), st.sampled_from(cids)).filter(lambda ab: ab[0] != ab[1])
    edges.update(dict.fromkeys(draw(st.lists(pairs, max_size=10))))
    flows = [{"from": a, "to": b} for a, b in edges]
    claims = {}
    for control, party, how in draw(st.lists(st.tuples(st.sampled_from(CONTROLS), st.sampled_from(ids),
                                                       st.sampled_from([*STATUSES, "relies", "n/a"])), max_size=14)):
        if how == "relies":
            others = [p for p in ids if p != party]
            if not others:
                continue
            claim = {"control": control, "party": party, "relies-on": draw(st.sampled_from(others))}
            kind = "relies-on"
        elif how == "n/a":
            claim, kind = {"control": control, "not-applicable": "not used here"}, "n/a"
            party = None
        else:
            claim = {"control": control, "party": party, "provides": how}
            if draw(st.booleans()):
                claim["scope"] = draw(st.lists(st.sampled_from(cids), unique=True, min_size=1, max_size=3))
            kind = "provides"
        claims.setdefault((control, party, kind), claim)
    preset = draw(st.sampled_from([None, *sorted(CATALOG.presets)]))
    return {"version": 1, "system": {"name": "generated", **({"preset": preset} if preset else {})},
            "parties": parties, "components": components, "flows": flows, "controls": list(claims.values())}


# CI runs the same 120 systems every time, so a red build is never luck; to search afresh:
#   DEMARCATE_PROPERTY_EXAMPLES=3000 python -m pytest tests/analysis/test_property.py
SEARCH = int(os.environ.get("DEMARCATE_PROPERTY_EXAMPLES", "0"))
settings.register_profile("analysis", max_examples=SEARCH or 120, derandomize=not SEARCH, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@settings(settings.get_profile("analysis"))
@given(doc=systems())
def test_any_valid_system_gives_a_result_that_keeps_its_promises(tmp_path_factory, doc):
    path = tmp_path_factory.mktemp("gen") / "m.yaml"
    path.write_text(dump_yaml(doc), encoding="utf-8")
    system = load([path])
    result = analyse(system)
    ctx = result.context
    edges = {(f.source, f.target) for f in system.flows}
    models = set(ctx.components_of("model"))

    for p in result.paths.paths:
        assert ctx.is_untrusted_source(p.source) and p.steps[0] == p.source and p.steps[-1] == p.impact
        # A path is simple, except that it may come back to where it began, as an impact: one tool
        # that reads attacker data and also writes or sends.
        assert len(set(p.steps[1:])) == len(p.steps) - 1, "a path is simple"
        assert all(step in edges for step in zip(p.steps, p.steps[1:], strict=False)), "a path follows flows"
        assert models & set(p.steps[1:]), "a path passes through a model"
        closing = [c for c in p.controls if c.function == "prevent" and c.layer in ("application", "infrastructure")
                   and c.status in ("implemented", "configured") and c.assurance == "enforced" and c.could_close]
        # A classifier, a guard model or a filter lowers the odds and never closes a path (docs/rules.md).
        assert p.open == (not closing), "closed exactly by an effective, enforced app/infra preventive control"
        assert all(c.closes for c in closing) and not [c for c in p.controls if c.closes and c not in closing]
        assert all(c.layer != "model" for c in closing)
        assert all(set(c.components) <= set(p.steps) for c in p.controls)

    lev = result.leverage
    closable = [p for p in result.paths.open_paths if p.candidates]
    assert lev.open_paths == len(result.paths.open_paths) and lev.closes == len(closable)
    assert all(set(p.candidates) & set(lev.fix) for p in closable), "the fix meets every closable open path"
    assert all(0 <= n <= lev.open_paths for n in lev.by_layer.values())
    assert all(set(alt) != set(lev.fix) and len(alt) == len(lev.fix) for alt in lev.alternatives if lev.exact)

    ids = [f.id for f in result.findings]
    assert len(ids) == len(set(ids)), "finding ids are unique"
    known_controls = set(system.catalog.controls)
    for f in result.findings:
        assert f.severity in ("low", "medium", "high", "critical") and f.title and f.explanation
        assert set(f.components) <= set(system.components), f.id
        assert set(f.controls) <= known_controls, f.id
        assert set(f.responsible) <= set(system.parties), f.id
        for text in (f.title, f.explanation, f.recommendation):
            assert not EMPTY_LIST.search(text), f"{f.id}: {text}"

    data = result_json(result)
    jsonschema.validate(data, SCHEMA)
    again = analyse(load([path]))
    assert json_bytes(result_json(again)) == json_bytes(data), "the same input gives the same result"
    # Every way of showing the result renders it (escaping is tested elsewhere).
    assert check_markdown(result) and render_html(result) and sarif(result)
