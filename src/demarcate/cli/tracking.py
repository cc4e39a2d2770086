"""decide: a decision on a finding, kept in the manifest's tracking file."""

from __future__ import annotations

import shlex
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from demarcate.analysis.findings import listing
from demarcate.cli.analysis import find_finding, normal_finding_id
from demarcate.cli.core import app, load_system, out, reports_errors, terminal
from demarcate.model.errors import ManifestError, Problem
from demarcate.model.loader import manifest_paths
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
    from demarcate.analysis.check import analyse
    from demarcate.model.tracking import plan_decision, record_decision, revoke_decision

    finding_id = normal_finding_id(finding_id)
    system = load_system(manifest)
    if revoke:
        given = [name for name, value in (("DECISION", decision), ("--justification", justification), ("--to", to),
                                          ("--ticket", ticket), ("--reviewer", reviewer), ("--expires", expires),
                                          ("--replace", replace)) if value]
        if given:
            raise ManifestError([Problem(f"--revoke takes out the decision where it is: leave out {listing(given)}")])
        note = next((f.decision_note for f in analyse(system).findings if f.id == finding_id), None)
        path, line, earlier = revoke_decision(system, manifest, finding_id)
        say(f"revoked: {finding_id} — {note or earlier.decision + ' (it matched no finding)'}")
        say(f"  from {path}:{line}" + (": the finding is open again" if note else ""))
        return
    planned = plan_decision(system, manifest, finding_id, decision and decision.value, justification, to=to,
                            ticket=ticket, reviewer=reviewer, expires=expires, replace=replace)
    finding = find_finding(analyse(system), finding_id)
    line = record_decision(system, manifest, planned)
    until = planned.wanted.expires
    say(f"{'replaced' if replace else 'recorded'}: {finding_id} {planned.wanted.decision}"
        + (f" until {until}" if until else "") + f" — {finding.title}")
    say(f"  in {planned.to}:{line}" + (f" (was: {finding.decision_note})" if planned.earlier is not None else ""))
    if planned.to.resolve() not in {p.resolve() for p in manifest_paths(manifest)}:  # not read with the manifest
        read_with = " ".join(shlex.quote(str(m)) for m in [*manifest, planned.to])
        out.print(terminal.t(f"  read it with the manifest: demarcate check {read_with}", "dim"), soft_wrap=True)


def say(line: str) -> None:
    """A line naming findings and files: untrusted text, printed as text without control characters."""
    out.print(terminal.t(line), soft_wrap=True)
