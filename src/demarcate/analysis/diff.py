"""Compare two analyses: which findings are new, which were fixed, which remain.

Either side can be a manifest (analysed on the spot) or a saved `check --format json` result, so
a CI job can keep the last accepted result as its baseline.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from demarcate.analysis.check import analyse, finding_json
from demarcate.analysis.findings import SEVERITIES, severity_rank
from demarcate.model.errors import ManifestError, Position, Problem, did_you_mean, read_text
from demarcate.model.loader import MANIFEST_SUFFIXES, load


class SavedFinding(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    rule: str
    severity: str
    title: str
    status: str = "open"
    responsible: list[str] = []


class SavedResult(BaseModel):
    model_config = ConfigDict(extra="allow")
    version: int
    system: str = ""
    findings: list[SavedFinding]


@dataclass
class Diff:
    new: list[dict[str, Any]]
    fixed: list[dict[str, Any]]
    unchanged: list[dict[str, Any]]
    # Open on both sides at another severity: the later finding, with `was`, the earlier severity.
    changed: list[dict[str, Any]] = field(default_factory=list)

    def fails(self, threshold: str) -> bool:
        """A new finding at or above the threshold, or one that has risen to it."""
        at = severity_rank(threshold)
        return any(severity_rank(f["severity"]) >= at for f in self.new) or any(
            severity_rank(f["severity"]) >= at > severity_rank(f["was"]) for f in self.changed)

    @property
    def new_ids(self) -> set[str]:
        """What a gate against the baseline judges: new findings, and those whose severity rose."""
        return {f["id"] for f in self.new} | {f["id"] for f in self.changed
                                              if severity_rank(f["severity"]) > severity_rank(f["was"])}

    def to_json(self) -> dict[str, Any]:
        return {"version": 1, "new": self.new, "fixed": self.fixed, "changed": self.changed,
                "unchanged": self.unchanged,
                "summary": {"new": len(self.new), "fixed": len(self.fixed), "changed": len(self.changed),
                            "unchanged": len(self.unchanged)}}


@dataclass
class Findings:
    """One side of a comparison: the system's name and its findings as the JSON contract has them."""

    system: str
    items: list[dict[str, Any]]


def load_findings(paths: list[Path]) -> Findings:
    """Findings from a saved JSON result (one .json file, or one file or pipe holding one, such as
    `<(demarcate check … --format json)`) or from manifests, analysed now."""
    if len(paths) == 1 and paths[0].suffix == ".json":
        return _saved(paths[0], read_text(paths[0]))
    if len(paths) == 1 and paths[0].suffix not in MANIFEST_SUFFIXES and not paths[0].is_dir() and paths[0].exists():
        text = read_text(paths[0])
        if text.lstrip().startswith("{") and '"findings"' in text:
            return _saved(paths[0], text)
        if not paths[0].is_file():  # a pipe reads once: it had to be a saved result
            raise ManifestError([Problem("not a demarcate check result", Position(str(paths[0])),
                                         "save one with `demarcate check PATH --format json > FILE`")])
    result = analyse(load(paths))
    return Findings(result.system.info.name, [finding_json(f) for f in result.findings])


def other_system(before: Findings, after: Findings) -> str | None:
    """A warning when the two sides look like different systems — other names, and not one component
    in common among their findings (a renamed or hardened version keeps its components): findings
    are matched by id, so every one would count as new or fixed."""
    if before.system == after.system:
        return None
    named_before = {c for f in before.items for c in f.get("components") or []}
    if not named_before or any(c in named_before for f in after.items for c in f.get("components") or []):
        return None
    return (f"the two sides look like different systems ('{before.system}' and '{after.system}', no component in "
            "common): findings are matched by id, so they count as new or fixed")


def _saved(path: Path, text: str) -> Findings:
    name = str(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError([Problem(f"invalid JSON: {exc.msg}", Position(name, exc.lineno, exc.colno))]) from None
    try:
        saved = SavedResult.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"])
        raise ManifestError([Problem(
            f"not a demarcate check result: {where}: {err['msg'].lower()}", Position(name),
            "save one with `demarcate check PATH --format json > FILE`")]) from None
    if saved.version != 1:
        raise ManifestError([Problem(f"unsupported result version {saved.version}; expected 1", Position(name))])
    for f in saved.findings:
        if f.severity not in SEVERITIES:
            raise ManifestError([Problem(f"finding {f.id}: unknown severity '{f.severity}'", Position(name))])
    return Findings(saved.system, [f.model_dump() for f in saved.findings])


def naming(findings: list[dict[str, Any]], parties: Iterable[str]) -> list[dict[str, Any]]:
    """The findings that name one of these parties among those who must act."""
    wanted = set(parties)
    return [f for f in findings if wanted.intersection(f.get("responsible") or [])]


def unnamed(parties: Iterable[str], *sides: Findings) -> list[tuple[str, str | None]]:
    """The parties no finding on any side names (a typo, or a party with nothing to do), each with
    the nearest id that is named."""
    named = sorted({p for side in sides for f in side.items for p in f.get("responsible") or []})
    return [(p, did_you_mean(p, named)) for p in parties if p not in named]


def diff(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> Diff:
    before = {f["id"]: f for f in old if f.get("status", "open") == "open"}
    after = {f["id"]: f for f in new if f.get("status", "open") == "open"}

    def ranked(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(items, key=lambda f: (-severity_rank(f["severity"]), f["id"]))

    both = [i for i in after if i in before]
    return Diff(
        new=ranked([f for i, f in after.items() if i not in before]),
        fixed=ranked([f for i, f in before.items() if i not in after]),
        unchanged=ranked([after[i] for i in both if after[i]["severity"] == before[i]["severity"]]),
        changed=ranked([{**after[i], "was": before[i]["severity"]} for i in both
                        if after[i]["severity"] != before[i]["severity"]]),
    )
