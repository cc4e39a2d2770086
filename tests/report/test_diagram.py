"""Diagrams stay readable: a small system is drawn whole, a portfolio only as far as its open
paths go, and a selected path in a portfolio as just that path."""

from __future__ import annotations

import re

from benchmarks.check_portfolio import portfolio

from demarcate.analysis.check import analyse
from demarcate.model import load
from demarcate.model.yamlio import dump_yaml
from demarcate.report.diagram import MAX_DRAWN, mermaid, scope_note
from demarcate.report.markdown import check_markdown
from tests.conftest import SHOPBOT


def _nodes(text: str) -> set[str]:
    return set(re.findall(r"^\s+(c\d+)\[", text, flags=re.M))


def test_a_small_system_is_drawn_whole_with_every_lane():
    result = analyse(load([SHOPBOT]))
    text = mermaid(result)
    assert len(_nodes(text)) == len(result.system.components)
    assert text.count("subgraph") == len(result.system.parties)
    assert scope_note(result) is None


def _edge_labels(text: str) -> list[str]:
    return re.findall(r'\|"([^"]*)"\|', text)


def test_the_overview_labels_no_flow_and_a_selected_path_labels_its_own():
    # Eight of the shop bot's fourteen flows meet at the model: their labels piled onto its box.
    result = analyse(load([SHOPBOT]))
    assert _edge_labels(mermaid(result)) == []
    path = next(p for p in result.paths.open_paths if p.id == "reviews>retriever>model>send-email>egress")
    labels = _edge_labels(mermaid(result, highlight=path.id))
    carried = {(f.source, f.target): f.data for f in result.system.flows}
    assert labels == [carried[hop] for hop in zip(path.steps, path.steps[1:], strict=False) if carried[hop]]
    assert "shopper review text" in labels and "outgoing mail" in labels


def test_a_party_with_no_components_is_a_lane_all_the_same(tmp_path):
    doc = {"version": 1, "system": {"name": "s"},
           "parties": [{"id": "app", "role": "application-developer"}, {"id": "ops", "role": "infrastructure-operator"}],
           "components": [{"id": "chat", "kind": "user-input", "owner": "app"}]}
    path = tmp_path / "m.yaml"
    path.write_text(dump_yaml(doc), encoding="utf-8")
    text = mermaid(analyse(load([path])))
    lane = text.split('subgraph p1[', 1)[1].split("end", 1)[0]
    assert 'e1["no components in this manifest"]:::empty' in lane


def test_a_portfolio_diagram_is_bounded_and_a_selected_path_is_drawn_alone(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(dump_yaml(portfolio(1000)), encoding="utf-8")
    result = analyse(load([path]))
    overview = mermaid(result)
    assert 0 < len(_nodes(overview)) <= MAX_DRAWN
    assert f"of {len(result.system.components):,} components" in scope_note(result)
    chosen = result.paths.open_paths[3]
    alone = mermaid(result, highlight=chosen.id)
    assert len(_nodes(alone)) == len(chosen.steps)
    assert alone.count("==>") == len(chosen.steps) - 1
    assert "linkStyle" in alone
    markdown = check_markdown(result)
    assert len(markdown) < 60_000  # fits a pull-request comment
    assert "The diagram shows" in markdown


def test_a_lane_says_what_its_party_operates_and_a_box_who_operates_it(write):
    # The deployer owns nothing here but runs the vendor's server: its lane was "no components".
    manifest = write("m.yaml", """
        version: 1
        system: {name: operated}
        parties:
          - {id: maintainers, role: application-developer}
          - {id: deployer, role: deployer}
          - {id: mp, role: model-provider}
        components:
          - {id: llm, kind: model, owner: mp}
          - {id: db, kind: tool, owner: maintainers, operated-by: deployer, effects: [write]}
        flows:
          - {from: llm, to: db}
        """)
    text = mermaid(analyse(load([manifest])))
    assert '["operates db"]:::empty' in text
    assert "db<br/><small>tool, operated by deployer</small>" in text
