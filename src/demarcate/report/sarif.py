"""SARIF 2.1.0 for code-scanning views: one result per finding, located at the manifest line that
defines what it concerns, with a stable fingerprint from the finding id."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Collection
from pathlib import Path
from typing import Any
from urllib.parse import quote

from demarcate import __version__
from demarcate.analysis.check import Result, finding_position
from demarcate.analysis.rules import RULES

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}
# GitHub code scanning reads a 0-10 score from this property to rank security results.
SCORE = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0"}


def manifest_path(file: str, base: Path) -> str:
    """A manifest file's name relative to `base` where it lies below it, else as given."""
    path = Path(file)
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


# Relative locations are relative to the directory the analysis ran in, the repository's root in CI;
# the run records which directory that was, so that a viewer opening the file elsewhere finds them.
SRCROOT = "%SRCROOT%"


def _location(file: str, base: Path) -> dict[str, str]:
    """An artifact location for a manifest file: relative to `base` where it lies below it,
    percent-encoded (a space in a folder's name, the `<stdin>` of a piped manifest)."""
    named = manifest_path(file, base)
    if Path(named).is_absolute():
        return {"uri": Path(named).resolve().as_uri()}
    return {"uri": quote(named), "uriBaseId": SRCROOT}


def sarif(result: Result, base: Path | None = None, new: Collection[str] | None = None,
          updated: Collection[str] = ()) -> dict[str, Any]:
    """`new`, the ids of the open findings new against a baseline, and `updated`, those open there at
    another severity, set each open result's `baselineState` (new, updated or unchanged); without a
    baseline no result has one."""
    base = base or Path(os.getcwd())
    rule_ids = list(RULES)
    rules = []
    for rid in rule_ids:
        r = RULES[rid].rule
        rules.append({
            "id": r.id,
            "name": "".join(w.capitalize() for w in r.id.split("-")),
            "shortDescription": {"text": r.title},
            "fullDescription": {"text": r.detects},
            "help": {
                "text": f"{r.why}\n\nFix: {r.fix}\n\nWho acts: {r.who_acts}",
                "markdown": f"**Why it matters.** {r.why}\n\n**Fix.** {r.fix}\n\n**Who acts.** {r.who_acts}\n\n"
                            f"**Known false positives.** {r.false_positives}",
            },
            "properties": {"tags": ["security", "ai", "shared-responsibility", *r.references]},
        })
    results = []
    locations: dict[str, dict[str, str]] = {}  # a handful of files, thousands of findings
    for f in result.findings:
        pos = finding_position(result.system, f)
        file = pos.file if pos else result.system.files[0]
        artifact = locations.get(file)
        if artifact is None:
            artifact = locations[file] = _location(file, base)
        location: dict[str, Any] = {"physicalLocation": {"artifactLocation": dict(artifact)}}
        if pos and pos.line:
            location["physicalLocation"]["region"] = {"startLine": pos.line, "startColumn": max(1, pos.column)}
        location["logicalLocations"] = [{"name": c, "kind": "object"} for c in f.components[:5]]
        entry: dict[str, Any] = {
            "ruleId": f.rule,
            "ruleIndex": rule_ids.index(f.rule),
            "level": LEVEL[f.severity],
            "message": {"text": f.message},
            "locations": [location],
            "partialFingerprints": {"demarcateFindingId/v1": hashlib.sha256(f.id.encode()).hexdigest()},
            "properties": {"findingId": f.id, "severity": f.severity, "security-severity": SCORE[f.severity],
                           "responsible": list(f.responsible), "controls": list(f.controls)},
        }
        if new is not None and f.is_open:
            entry["baselineState"] = "updated" if f.id in updated else "new" if f.id in new else "unchanged"
        if not f.is_open and f.decision:
            entry["suppressions"] = [{"kind": "external", "status": "accepted",
                                      "justification": f"{f.status}: {f.decision['justification']}"}]
        results.append(entry)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "demarcate", "version": __version__, "semanticVersion": __version__,
                                "informationUri": "https://pypi.org/project/demarcate/", "rules": rules}},
            "results": results,
            "originalUriBaseIds": {SRCROOT: {"uri": base.resolve().as_uri().rstrip("/") + "/"}},
            "columnKind": "unicodeCodePoints",
        }],
    }
