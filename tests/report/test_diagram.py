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
