"""The smallest systems that trigger each rule, built from one small bot and edits to it."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from demarcate.analysis.check import analyse
from demarcate.model import load
from demarcate.model.yamlio import dump_yaml

PARTIES = [
    {"id": "vendor", "role": "model-provider"},
    {"id": "app", "role": "application-developer"},
    {"id": "infra", "role": "infrastructure-operator"},
]
COMPONENTS = [
    {"id": "chat", "kind": "user-input", "owner": "app", "authenticated": True},
    {"id": "reviews", "kind": "data-source", "owner": "app", "trust": "untrusted", "writable-by": ["customers"]},
    {"id": "db", "kind": "data-source", "owner": "app", "trust": "trusted", "sensitivity": "personal"},
    {"id": "rag", "kind": "retriever", "owner": "app"},
    {"id": "llm", "kind": "model", "owner": "vendor"},
    {"id": "lookup", "kind": "tool", "owner": "app", "effects": ["read-private"], "credential": "user-delegated"},
    {"id": "mail", "kind": "tool", "owner": "app", "effects": ["send-external"]},
    {"id": "out", "kind": "network-egress", "owner": "infra", "policy": "open"},
]
FLOWS = [
    ("chat", "llm"), ("reviews", "rag"), ("rag", "llm"), ("db", "lookup"), ("llm", "lookup"),
    ("lookup", "llm"), ("llm", "mail"), ("mail", "out"),
]


class Bot:
    """A tiny shop bot: reviews (untrusted) → rag → llm → mail → open egress, with order lookup."""

    def __init__(self) -> None:
        self.parties = copy.deepcopy(PARTIES)
        self.components = copy.deepcopy(COMPONENTS)
        self.flows = [{"from": a, "to": b} for a, b in FLOWS]
        self.controls: list[dict[str, Any]] = []
        self.requirements: list[dict[str, Any]] = []
        self.system: dict[str, Any] = {"name": "bot", "preset": "managed-model-api"}

    def set(self, cid: str, **attrs: Any) -> Bot:
        comp = next(c for c in self.components if c["id"] == cid)
        comp.update({k.replace("_", "-"): v for k, v in attrs.items()})
        return self

    def add(self, component: dict[str, Any], *flows: tuple[str, str]) -> Bot:
        self.components.append(component)
        self.flows += [{"from": a, "to": b} for a, b in flows]
        return self

    def drop(self, *cids: str) -> Bot:
        self.components = [c for c in self.components if c["id"] not in cids]
        self.flows = [f for f in self.flows if f["from"] not in cids and f["to"] not in cids]
        return self

    def party(self, pid: str, **attrs: Any) -> Bot:
        next(p for p in self.parties if p["id"] == pid).update({k.replace("_", "-"): v for k, v in attrs.items()})
        return self

    def provides(self, control: str, party: str = "app", status: str = "implemented", **extra: Any) -> Bot:
        self.controls.append({"control": control, "party": party, "provides": status, **extra})
        return self

    def relies(self, control: str, party: str, on: str, assumption: str = "") -> Bot:
        self.controls.append({"control": control, "party": party, "relies-on": on, "assumption": assumption})
        return self

    def requires(self, control: str, why: str = "our policy", **entry: Any) -> Bot:
        self.requirements.append({"control": control, "why": why, **entry})
        return self

    def doc(self) -> dict[str, Any]:
        return {"version": 1, "system": self.system, "parties": self.parties, "components": self.components,
                "flows": self.flows, "controls": self.controls,
                **({"requirements": self.requirements} if self.requirements else {})}


@pytest.fixture
def bot() -> Bot:
    return Bot()


@pytest.fixture
def run(tmp_path):
    """Load the bot as a real manifest file and run one rule; returns its findings."""
    counter = iter(range(1000))

    def _run(b: Bot, rule: str):
        path = tmp_path / f"m{next(counter)}.yaml"
        path.write_text(dump_yaml(b.doc()), encoding="utf-8")
        return analyse(load([path]), rules=[rule]).findings

    return _run
