"""Public incidents, each described as its system was before the fix (tests/data/incidents, listed
with what was shipped in index.yaml).

For each: `check` finds the root cause and the open path the attack took; the fix that was shipped,
applied to the manifest, closes that path or takes it away, as it did in fact. Over all of them:
the first fix `check` recommends contains a control that was shipped in at least 80 % of the
systems, and none is told "nothing to fix". docs/incidents.md holds the table; regenerate it with
`python tests/analysis/test_incidents.py`.
"""

from __future__ import annotations

import copy
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from demarcate.analysis.check import Result, analyse
from demarcate.analysis.findings import severity_rank
from demarcate.model import load
from demarcate.model.yamlio import dump_yaml

INCIDENTS = Path(__file__).resolve().parents[1] / "data" / "incidents"
DOC = Path(__file__).resolve().parents[2] / "docs" / "incidents.md"
INDEX: list[dict[str, Any]] = yaml.safe_load((INCIDENTS / "index.yaml").read_text(encoding="utf-8"))["incidents"]
TARGET = 0.8  # the share of systems whose first recommended fix contains a shipped control


def _doc(case: dict[str, Any]) -> dict[str, Any]:
    doc = yaml.safe_load((INCIDENTS / case["file"]).read_text(encoding="utf-8"))
    doc.setdefault("controls", [])
    return doc


def _check(doc: dict[str, Any], folder: Path) -> Result:
    path = folder / "m.yaml"
    path.write_text(dump_yaml(doc), encoding="utf-8")
    return analyse(load([path]))


def _apply(doc: dict[str, Any], changes: list[dict[str, Any]]) -> dict[str, Any]:
    """The shipped fix, as the index writes it, applied to a copy of the manifest."""
    doc = copy.deepcopy(doc)
    for change in changes:
        if "component" in change:
            next(c for c in doc["components"] if c["id"] == change["component"]).update(change["set"])
        else:
            claim = change["claim"]
            doc["controls"] = [c for c in doc["controls"]
                               if (c.get("control"), c.get("party")) != (claim["control"], claim["party"])]
            doc["controls"].append(claim)
    return doc


def test_the_index_lists_every_incident_manifest_once():
    listed = [c["file"] for c in INDEX]
    assert len(listed) == len(set(listed)) >= 20
    assert set(listed) == {p.name for p in INCIDENTS.glob("*.yaml")} - {"index.yaml"}


@pytest.mark.parametrize("case", INDEX, ids=[c["file"].removesuffix(".yaml") for c in INDEX])
def test_the_incident_is_found_and_its_shipped_fix_closes_it(case, tmp_path):
    doc = _doc(case)
    before = _check(doc, tmp_path)
    rules = {f.rule for f in before.open_findings()}
    assert set(case["finds"]) <= rules, f"missing {set(case['finds']) - rules}"
    attack = next(p for p in before.paths.paths if p.id == case["attack"])
    assert attack.open and f"open-attack-path:{case['attack']}" in {f.id for f in before.open_findings()}
    # Model-layer safety never closes a path, whatever the model's training.
    assert before.leverage.by_layer["model"] == 0
    catalog = before.system.catalog.controls
    assert set(case["shipped"]) <= set(catalog), "shipped fixes are catalog ids"

    after = _check(_apply(doc, case["apply"]), tmp_path)
    still = [p for p in after.paths.paths if p.id == case["attack"]]
    left = {f.id: f for f in after.open_findings()}.get(f"open-attack-path:{case['attack']}")
    if "after" in case:  # the fix lowers the path rather than closing it
        worst = {f.id: f for f in before.open_findings()}[f"open-attack-path:{case['attack']}"]
        assert left is not None and severity_rank(left.severity) <= severity_rank(case["after"]) \
            < severity_rank(worst.severity)
        return
    assert not still or not still[0].open, "the shipped fix closes the attack's path or takes it away"
    if still:
        assert all(catalog[c].assurance == "enforced" for c in still[0].closed_by)
    assert left is None


def test_a_fix_that_only_lowers_likelihood_leaves_the_path_open(tmp_path):
    # ZombAIs: the vendor's safety training and a claimed "model refuses web instructions" change nothing.
    doc = _doc(next(c for c in INDEX if c["file"] == "zombais.yaml"))
    doc["controls"].append({"control": "MOD-SAFE-03", "party": "model-vendor", "provides": "implemented"})
    result = _check(doc, tmp_path)
    attack = next(p for p in result.paths.paths if p.id == "web-page>llm>shell>internet")
    assert attack.open and any(c.id == "MOD-SAFE-03" and c.status == "implemented" for c in attack.controls)


@dataclass
class Row:
    case: dict[str, Any]
    fix: list[str]
    also: list[str]

    @property
    def meets(self) -> bool:
        return bool(set(self.fix) & set(self.case["shipped"]))

    @property
    def nothing_to_fix(self) -> bool:
        return not self.fix and not self.also


def measure() -> list[Row]:
    rows = []
    for case in INDEX:
        result = analyse(load([INCIDENTS / case["file"]]))
        also = [c for a in result.leverage.also for c in a.controls] or [a.finding for a in result.leverage.also]
        rows.append(Row(case, list(result.leverage.fix), also))
    return rows


def table(rows: list[Row]) -> str:
    met = sum(r.meets for r in rows)
    lines = [
        f"The first recommended fix contains a shipped control in **{met} of {len(rows)}** exploited systems "
        f"({met / len(rows):.0%}); {sum(r.nothing_to_fix for r in rows)} report nothing to fix.",
        "",
        "| incident | manifest | the computed fix | what was shipped | meet |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        shipped = ", ".join(r.case["shipped"]) + ("" if r.case.get("shipped-known", True) else " *(called for)*")
        lines.append(f"| {r.case['name']} | `{r.case['file']}` | {', '.join(r.fix) or 'nothing'} | "
                     f"{shipped}: {r.case['shipped-text']} | {'yes' if r.meets else '**no**'} |")
    return "\n".join(lines) + "\n"


def test_the_computed_fix_is_the_shipped_one_on_the_real_world():
    rows = measure()
    assert not [r.case["file"] for r in rows if r.nothing_to_fix]
    assert sum(r.meets for r in rows) / len(rows) >= TARGET, table(rows)


def test_the_table_in_the_docs_is_what_check_computes():
    assert table(measure()) in DOC.read_text(encoding="utf-8"), "regenerate: python tests/analysis/test_incidents.py"


if __name__ == "__main__":
    sys.stdout.write(table(measure()))
