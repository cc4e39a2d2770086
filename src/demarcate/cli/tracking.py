"""decide: a decision on a finding, kept in the manifest's tracking file."""

from __future__ import annotations

import shlex
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from demarcate.analysis.findings import listing
from demarcate.cli.analysis import find_finding, normal_finding_id
from demarcate.cli.core import app, load_system, out, reports_errors, terminal
from demarcate.model.errors import ManifestError, Position, Problem, did_you_mean
from demarcate.model.loader import System, load, manifest_paths
from demarcate.model.schema import DECISIONS

# The decisions a tracking entry can record, as the manifest schema names them.
DecisionKind = StrEnum("DecisionKind", [(d.replace("-", "_"), d) for d in DECISIONS])  # type: ignore[misc]


@app.command()
@reports_errors
def decide(
    finding_id: Annotated[str, typer.Argument(metavar="FINDING-ID", help="The finding's id, as `check` prints it.")],
    manifest: Annotated[list[Path], typer.Option(
        "--manifest", "-m", help="The manifest the finding is in: its folder, or its files.")],
    decision: Annotated[DecisionKind | None, typer.Argument(
        metavar="DECISION", help=", ".join(DECISIONS) + " (required, except with --revoke).", show_default=False)] = None,
    justification: Annotated[str, typer.Option(
        "--justification", "-j", help="Why: shown with the finding wherever it is reported (required, except "
                                      "with --revoke).", show_default=False)] = "",
    to: Annotated[Path | None, typer.Option(
        "--to", help="The file of tracking entries to append to, created if missing (default: tracking.yaml in "
                     "the manifest's folder). A file holding anything but tracking entries is refused.")] = None,
    ticket: Annotated[str, typer.Option(help="The ticket that follows the decision up.")] = "",
    reviewer: Annotated[str, typer.Option(help="Who took the decision.")] = "",
    expires: Annotated[str | None, typer.Option(
        metavar="YYYY-MM-DD", help="The first day the decision no longer holds: from then on the finding is "
                                   "open again.")] = None,
    replace: Annotated[bool, typer.Option(
        "--replace", help="The finding has a decision already (one that lapsed, say): record this one in its "
                          "place, in the file that holds it.")] = False,
    revoke: Annotated[bool, typer.Option(
        "--revoke", help="Take the finding's decision out of the file that holds it: the finding is open again "
                         "(or, if it matches no finding any more, the entry is gone).")] = False,
) -> None:
    """Record a decision on a finding in the manifest's tracking section: from then on it is reported
    as accepted, mitigated or a false positive, not open. --replace renews one, --revoke takes one out."""
    import datetime as dt

    from pydantic import ValidationError

    from demarcate.analysis.check import analyse
    from demarcate.model.record import entry, record
    from demarcate.model.schema import Decision

    finding_id = normal_finding_id(finding_id)
    system = load_system(manifest)
    earlier = next((d for d in system.tracking if d.finding == finding_id), None)
    at = system.position("decision", finding_id)
    if revoke:
        given = [name for name, value in (("DECISION", decision), ("--justification", justification), ("--to", to),
                                          ("--ticket", ticket), ("--reviewer", reviewer), ("--expires", expires),
                                          ("--replace", replace)) if value]
        if given:
            raise ManifestError([Problem(f"--revoke takes out the decision where it is: leave out {listing(given)}")])
        _revoke(system, manifest, finding_id, earlier, at)
        return
    if decision is None:
        raise ManifestError([Problem("say what was decided: " + ", ".join(DECISIONS), None,
                                     f"demarcate decide '{finding_id}' accepted -j WHY -m MANIFEST")])
    if earlier is not None and not replace:
        raise ManifestError([Problem(f"'{finding_id}' already has a decision", at,
                                     "--replace records this one in its place")])
    if replace and (earlier is None or at is None or not at.file):
        raise ManifestError([Problem(f"'{finding_id}' has no decision to replace", None, "leave out --replace")])
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
    item = entry(finding_id, decision.value, justification.strip(), ticket=ticket.strip(), reviewer=reviewer.strip(),
                 date=dt.date.today(), expires=until)
    try:
        wanted = Decision.model_validate(item)
    except ValidationError as exc:  # said in the options' words: a model error would name its fields
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "expires"  # the one check across fields
        raise ManifestError([Problem(f"--{where}: {first['msg'].removeprefix('Value error, ')}", None)]) from None
    finding = find_finding(analyse(system), finding_id)
    paths = [*manifest, to]

    def recorded() -> None:  # the manifest, read again with the file, holds the decision as recorded
        again = load(paths).tracking
        if wanted not in again or len(again) != len(system.tracking) + (earlier is None):
            raise ManifestError([Problem("the decision was not read back from the file as recorded; the file "
                                         "was left as it was", Position(str(to)))])

    line = record(to, item, recorded, replacing=at.line if replace and at else None)
    out.print(f"{'replaced' if replace else 'recorded'}: {finding_id} {decision.value}"
              + (f" until {until}" if until else "") + f" — {finding.title}", soft_wrap=True, markup=False,
              highlight=False)
    out.print(f"  in {to}:{line}" + (f" (was: {finding.decision_note})" if earlier is not None else ""),
              soft_wrap=True, markup=False, highlight=False)
    if to.resolve() not in {p.resolve() for p in manifest_paths(manifest)}:  # not read with the manifest as given
        out.print(terminal.t(f"  read it with the manifest: demarcate check {' '.join(shlex.quote(str(m)) for m in paths)}",
                             "dim"), soft_wrap=True)


def _revoke(system: System, manifest: list[Path], finding_id: str, earlier: Any, at: Position | None) -> None:
    """`decide --revoke`: the entry taken out of its file, kept out only if the manifest then reads
    every other decision as before and none for this finding."""
    from demarcate.analysis.check import analyse
    from demarcate.model.record import revoke

    if earlier is None or at is None or not at.file or at.line is None:
        raise ManifestError([Problem(f"'{finding_id}' has no decision to revoke", None,
                                     did_you_mean(finding_id, [d.finding for d in system.tracking]))])
    path = Path(at.file)
    others = [d for d in system.tracking if d.finding != finding_id]

    def revoked() -> None:  # read again, the manifest holds every other decision and not this one
        if list(load([*manifest, path]).tracking) != others:
            raise ManifestError([Problem("the manifest did not read back as expected without the entry; the file "
                                         "was left as it was", Position(str(path)))])

    note = next((f.decision_note for f in analyse(system).findings if f.id == finding_id), None)
    revoke(path, at.line, revoked)
    out.print(f"revoked: {finding_id} — {note or earlier.decision + ' (it matched no finding)'}", soft_wrap=True,
              markup=False, highlight=False)
    out.print(f"  from {path}:{at.line}" + (": the finding is open again" if note else ""), soft_wrap=True,
              markup=False, highlight=False)
