"""Decisions on findings, kept in the manifest's tracking section: where a decision goes, checked
before anything is written, and written only if the manifest then reads back exactly what was meant
(model/record.py does the writing)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from demarcate.model.errors import ManifestError, Position, Problem, did_you_mean
from demarcate.model.loader import System, load
from demarcate.model.record import entry, record, revoke
from demarcate.model.schema import DECISIONS, Decision


@dataclass(frozen=True)
class Planned:
    """A decision checked and ready to record: the file it goes to and the entry as it will read."""

    finding: str
    to: Path
    item: dict[str, Any]
    wanted: Decision
    earlier: Decision | None  # the decision it replaces
    replacing: int | None  # the line of that decision's entry


def plan_decision(system: System, manifest: list[Path], finding: str, decision: str | None, justification: str, *,
                  to: Path | None = None, ticket: str = "", reviewer: str = "", expires: str | None = None,
                  replace: bool = False, today: dt.date | None = None) -> Planned:
    """Check a decision on `finding` against the manifest and the options, and say where it goes:
    `to`, else the file of the decision it replaces (`replace`), else tracking.yaml in the manifest's
    folder."""
    earlier = next((d for d in system.tracking if d.finding == finding), None)
    at = system.position("decision", finding)
    if decision is None:
        raise ManifestError([Problem("say what was decided: " + ", ".join(DECISIONS), None,
                                     f"demarcate decide '{finding}' accepted -j WHY -m MANIFEST")])
    if earlier is not None and not replace:
        raise ManifestError([Problem(f"'{finding}' already has a decision", at, "--replace records this one in its place")])
    if replace and (earlier is None or at is None or not at.file):
        raise ManifestError([Problem(f"'{finding}' has no decision to replace", None, "leave out --replace")])
    if replace and to is not None:
        raise ManifestError([Problem("--replace changes the entry where it is: leave out --to", at)])
    if replace:
        to = Path(at.file)  # type: ignore[union-attr]
    if to is None:
        if len(manifest) != 1 or not manifest[0].is_dir():
            raise ManifestError([Problem("name the file to record the decision in with --to", None,
                                         "with a manifest folder, tracking.yaml in it is the default")])
        to = manifest[0] / "tracking.yaml"
    if to.suffix not in (".yaml", ".yml"):
        raise ManifestError([Problem("a tracking file is a manifest file: name it .yaml or .yml", Position(str(to)))])
    try:
        until = dt.date.fromisoformat(expires) if expires else None
    except ValueError:
        raise ManifestError([Problem(f"--expires: '{expires}' is not a date; expected YYYY-MM-DD", None)]) from None
    if not justification.strip():
        raise ManifestError([Problem("--justification is empty", None, "say why, for whoever reviews the decision")])
    item = entry(finding, decision, justification.strip(), ticket=ticket.strip(), reviewer=reviewer.strip(),
                 date=today or dt.date.today(), expires=until)
    try:
        wanted = Decision.model_validate(item)
    except ValidationError as exc:  # said in the options' words: a model error would name its fields
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "expires"  # the one check across fields
        raise ManifestError([Problem(f"--{where}: {first['msg'].removeprefix('Value error, ')}", None)]) from None
    return Planned(finding, to, item, wanted, earlier, at.line if replace and at else None)


def record_decision(system: System, manifest: list[Path], planned: Planned) -> int:
    """Write the decision; kept only if the manifest, read again with its file, holds it as meant and
    every other decision as before. The line it starts at."""
    paths = [*manifest, planned.to]

    def recorded() -> None:
        again = load(paths).tracking
        if planned.wanted not in again or len(again) != len(system.tracking) + (planned.earlier is None):
            raise ManifestError([Problem("the decision was not read back from the file as recorded; the file "
                                         "was left as it was", Position(str(planned.to)))])

    return record(planned.to, planned.item, recorded, replacing=planned.replacing)


def revoke_decision(system: System, manifest: list[Path], finding: str) -> tuple[Path, int, Decision]:
    """Take a finding's decision out of the file that holds it; kept out only if the manifest then
    reads every other decision as before and none for this finding. Where it was, and what it said."""
    earlier = next((d for d in system.tracking if d.finding == finding), None)
    at = system.position("decision", finding)
    if earlier is None or at is None or not at.file or at.line is None:
        raise ManifestError([Problem(f"'{finding}' has no decision to revoke", None,
                                     did_you_mean(finding, [d.finding for d in system.tracking]))])
    path = Path(at.file)
    others = [d for d in system.tracking if d.finding != finding]

    def revoked() -> None:
        if list(load([*manifest, path]).tracking) != others:
            raise ManifestError([Problem("the manifest did not read back as expected without the entry; the file "
                                         "was left as it was", Position(str(path)))])

    revoke(path, at.line, revoked)
    return path, at.line, earlier
