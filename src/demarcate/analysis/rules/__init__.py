"""The rules: one module each, holding `RULE` (metadata) and `check(ctx)` (a pure function).

Modules are discovered, so adding a rule is adding a file. `ORDER` only decides how rules are
listed; a rule missing from it is listed last.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass

from demarcate.analysis.findings import Check, Rule

ORDER = (
    "open-attack-path",
    "lethal-trifecta",
    "model-is-safe",
    "infrastructure-only",
    "handled-elsewhere",
    "assumption-chain",
    "misplaced-responsibility",
    "unowned-control",
    "claim-contradicted",
    "claim-refuted",
    "manifest-contradicted",
    "claim-untested",
    "claim-asks-model",
    "unmet-requirement",
    "unsafe-rendering",
    "open-egress",
    "over-privileged-credential",
    "overshared-retrieval",
    "self-approvable-action",
    "secret-in-prompt",
    "visibility-gap",
    "speed-pressure",
    "capability-mismatch",
    "undocumented-handoff",
)


@dataclass(frozen=True)
class RegisteredRule:
    rule: Rule
    check: Check


def _discover() -> dict[str, RegisteredRule]:
    found: dict[str, RegisteredRule] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        rule: Rule = module.RULE
        if rule.id in found:
            raise RuntimeError(f"two rules share the id {rule.id}")
        found[rule.id] = RegisteredRule(rule, module.check)
    rank = {rid: i for i, rid in enumerate(ORDER)}
    return dict(sorted(found.items(), key=lambda kv: (rank.get(kv[0], len(ORDER)), kv[0])))


RULES = _discover()
