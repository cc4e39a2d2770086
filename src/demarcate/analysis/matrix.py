"""The responsibility matrix: every applicable control against every party."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from demarcate.analysis.responsibility import Responsibilities, Responsibility
from demarcate.model.loader import System
from demarcate.model.schema import SEVERITIES

MATRIX_VERSION = 1


@dataclass(frozen=True)
class Cell:
    """What one party says about one control."""

    claim: str  # provides | relies-on | not-applicable | default | none
    status: str = ""  # for provides: implemented | partial | planned
    on: str = ""  # for relies-on: the party relied upon
    evidence: tuple[str, ...] = ()
    assumption: str = ""

    @property
    def text(self) -> str:
        if self.claim == "provides":
            return f"provides ({self.status})"
        if self.claim == "relies-on":
            return f"relies on {self.on}"
        if self.claim == "not-applicable":
            return "n/a"
        if self.claim == "default":
            return "expected (unclaimed)"
        return ""


@dataclass(frozen=True)
class Row:
    responsibility: Responsibility
    cells: dict[str, Cell]
    required: str = ""  # the highest severity the manifest's requirements give the control, if any

    @property
    def control(self) -> str:
        return self.responsibility.control.id


def cell(resp: Responsibility, party: str) -> Cell:
    provided = resp.provided_by(party)
    if provided is not None:
        return Cell("provides", provided.provides or "", evidence=tuple(e.ref for e in provided.evidence))
    relied = resp.relied_by(party)
    if relied is not None:
        return Cell("relies-on", on=relied.relies_on or "", assumption=relied.assumption)
    if resp.not_applicable is not None and resp.not_applicable.party in (None, party):
        return Cell("not-applicable", assumption=resp.not_applicable.not_applicable or "")
    if not resp.providers and any(p.id == party for p in resp.default_parties):
        return Cell("default")
    return Cell("none")


def matrix(system: System, resp: Responsibilities | None = None) -> list[Row]:
    resp = resp or Responsibilities(system)
    required: dict[str, str] = {}
    for req in system.requirements:
        current = required.get(req.control)
        if current is None or SEVERITIES.index(req.severity) > SEVERITIES.index(current):
            required[req.control] = req.severity
    return [Row(r, {p: cell(r, p) for p in system.parties}, required.get(r.control.id, ""))
            for r in resp.by_control.values()]


def filter_rows(rows: list[Row], *, layer: str | None = None, party: str | Collection[str] | None = None,
                status: str | None = None, required: bool = False) -> list[Row]:
    """The rows of a layer, of a status, where a party (or any of several) has a part, and (with
    `required`) of the controls the manifest's requirements name."""
    out = [r for r in rows if r.required] if required else rows
    if layer:
        out = [r for r in out if r.responsibility.control.layer == layer]
    if party:
        wanted = [party] if isinstance(party, str) else list(party)
        out = [r for r in out if any(r.cells.get(p, Cell("none")).claim != "none" for p in wanted)]
    if status == "relies-on":  # a control some party relies on another for, whatever its status
        out = [r for r in out if r.responsibility.reliances]
    elif status:
        out = [r for r in out if r.responsibility.status == status]
    return out


def matrix_json(system: System, rows: list[Row], tested: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "version": MATRIX_VERSION,
        "system": system.info.name,
        "preset": system.info.preset,
        "parties": [{"id": p.id, "name": p.label, "role": p.role} for p in system.parties.values()],
        "rows": [
            {
                "control": r.control,
                "title": r.responsibility.control.title,
                "layer": r.responsibility.control.layer,
                "function": r.responsibility.control.function,
                "status": r.responsibility.status,
                "owners": list(r.responsibility.owners),
                "default_owners": [p.id for p in r.responsibility.default_parties],
                "verify_only": r.responsibility.verify_only,
                **({"required": r.required} if r.required else {}),
                **({"tested": tested.get(r.control, "untested")} if tested is not None else {}),
                "cells": {
                    party: {
                        "claim": c.claim,
                        **({"status": c.status} if c.status else {}),
                        **({"on": c.on} if c.on else {}),
                        **({"evidence": list(c.evidence)} if c.evidence else {}),
                        **({"assumption": c.assumption} if c.assumption else {}),
                    }
                    for party, c in r.cells.items()
                },
            }
            for r in rows
        ],
    }


def matrix_csv_rows(system: System, rows: list[Row], tested: dict[str, str] | None = None) -> list[list[str]]:
    parties = list(system.parties)
    required = bool(system.requirements)  # a column only where the manifest has requirements
    out = [["control", "title", "layer", "status", "owners", "default owners", *parties,
            *(["tested"] if tested is not None else []), *(["required"] if required else [])]]
    for r in rows:
        resp = r.responsibility
        out.append([
            r.control,
            resp.control.title,
            resp.control.layer,
            resp.status,
            " ".join(resp.owners),
            " ".join(p.id for p in resp.default_parties),
            *(r.cells[p].text for p in parties),
            *([tested.get(r.control, "untested")] if tested is not None else []),
            *([r.required] if required else []),
        ])
    return out
