"""Six public incidents, each described as its system was before the fix (tests/data/incidents).

For each: `check` finds the root cause and the open path the attack took, the layer that made the
real fix can close that path, and applying the real fix to the manifest — the change the vendor
or the documentation made — closes the path or removes it, as it did in fact.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from demarcate.analysis.check import Result, analyse
from demarcate.model import load
from demarcate.model.yamlio import dump_yaml

INCIDENTS = Path(__file__).resolve().parents[1] / "data" / "incidents"


def _component(doc: dict[str, Any], cid: str) -> dict[str, Any]:
    return next(c for c in doc["components"] if c["id"] == cid)


@dataclass
class Incident:
    file: str
    path: str  # the attack's route, as a path id
    causes: set[str]  # rules that must find it before the fix
    fix_layer: str | None  # the layer whose controls can close the path (None: no control on it did)
    fix: Callable[[dict[str, Any]], None]  # the real fix, applied to the manifest
    gone_after: set[str] = field(default_factory=set)  # findings (rule:component) the fix removes
    removes_path: bool = False  # the fix takes away the source or the impact rather than closing a hop
    closed_by: tuple[str, ...] = ()  # otherwise: the controls that close the path after the fix


def _no_images(doc):
    _component(doc, "chat-panel")["images"] = False


def _image_allowlist(doc):
    _component(doc, "chat")["url-allowlist"] = ["cdn.writer.example"]


def _approve_config_changes(doc):
    _component(doc, "mcp-config")["confirmation"] = "user"


def _scope_the_build_token(doc):
    _component(doc, "extension-repo")["writable-by"] = ["staff"]


def _isolate_and_allowlist(doc):
    _component(doc, "internet")["policy"] = "allowlist"
    _component(doc, "internet")["allow"] = ["docs.example"]
    doc["controls"].append({"control": "APP-TOOL-04", "party": "deployer", "provides": "implemented",
                            "note": "runs in a throwaway VM"})


def _read_only_config_and_approval(doc):
    _component(doc, "container")["agent-writable-config"] = False
    _component(doc, "execute")["confirmation"] = "user"


CASES = [
    Incident("camoleak.yaml", "pr-description>context>llm>chat-panel",
             {"unsafe-rendering", "lethal-trifecta", "claim-contradicted"}, "application", _no_images,
             {"unsafe-rendering:chat-panel"}, removes_path=True),  # no images, no fetch
    Incident("writer-exfil.yaml", "web-source>llm>chat", {"unsafe-rendering", "lethal-trifecta"}, "application",
             _image_allowlist, {"unsafe-rendering:chat"}, closed_by=("APP-OUT-04",)),
    Incident("cursor-curxecute.yaml", "slack-mcp>llm>mcp-config", {"self-approvable-action"}, "application",
             _approve_config_changes, closed_by=("APP-TOOL-02",)),
    # The fix was who may write the prompt's source (the build token's scope, an infrastructure
    # matter): the source is no longer open to outsiders, so the path is gone rather than closed.
    Incident("amazon-q.yaml", "extension-repo>agent-prompt>llm>shell", {"speed-pressure"}, None,
             _scope_the_build_token, removes_path=True),
    Incident("zombais.yaml", "web-page>llm>shell>internet", {"model-is-safe", "open-egress", "misplaced-responsibility"},
             "infrastructure", _isolate_and_allowlist, {"open-egress:internet"}, closed_by=("APP-TOOL-04", "INF-NET-03")),
    Incident("autogpt-escape.yaml", "browse>llm>execute", {"self-approvable-action"}, "application",
             _read_only_config_and_approval, {"self-approvable-action:container"}, closed_by=("APP-TOOL-02",)),
]


def _check(doc: dict[str, Any], folder: Path) -> Result:
    path = folder / "m.yaml"
    path.write_text(dump_yaml(doc), encoding="utf-8")
    return analyse(load([path]))


@pytest.mark.parametrize("case", CASES, ids=[c.file.removesuffix(".yaml") for c in CASES])
def test_the_incident_is_found_and_its_real_fix_closes_it(case: Incident, tmp_path):
    doc = yaml.safe_load((INCIDENTS / case.file).read_text(encoding="utf-8"))
    doc.setdefault("controls", [])
    before = _check(doc, tmp_path)
    rules = {f.rule for f in before.open_findings()}
    assert case.causes <= rules, f"missing {case.causes - rules}"
    attack = next(p for p in before.paths.paths if p.id == case.path)
    assert attack.open and f"open-attack-path:{case.path}" in {f.id for f in before.open_findings()}
    # Model-layer safety never closes a path, whatever the model's training; the real fix's layer can.
    assert before.leverage.by_layer["model"] == 0
    if case.fix_layer:
        assert before.leverage.by_layer[case.fix_layer] >= 1

    case.fix(doc)
    after = _check(doc, tmp_path)
    still = [p for p in after.paths.paths if p.id == case.path]
    if case.removes_path:
        assert not still, "the real fix takes the path away"
    else:
        assert still and still[0].closed_by == case.closed_by, "the real fix closes the attack's path"
    open_ids = {f.id for f in after.open_findings()}
    assert f"open-attack-path:{case.path}" not in open_ids and not case.gone_after & open_ids


def test_a_fix_that_only_lowers_likelihood_leaves_the_path_open(tmp_path):
    # ZombAIs: the vendor's safety training and a claimed "model refuses web instructions" change nothing.
    doc = yaml.safe_load((INCIDENTS / "zombais.yaml").read_text(encoding="utf-8"))
    doc["controls"].append({"control": "MOD-SAFE-03", "party": "model-vendor", "provides": "implemented"})
    result = _check(doc, tmp_path)
    attack = next(p for p in result.paths.paths if p.id == "web-page>llm>shell>internet")
    assert attack.open and any(c.id == "MOD-SAFE-03" and c.status == "implemented" for c in attack.controls)
