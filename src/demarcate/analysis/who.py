"""The source document's challenge, answered: which party is responsible for control X here, and why."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from demarcate.analysis.context import Context
from demarcate.analysis.responsibility import Responsibilities, Responsibility
from demarcate.model.loader import System
from demarcate.model.schema import Control, written


@dataclass(frozen=True)
class Reliance:
    party: str
    on: str
    assumption: str
    held: bool  # whether the party relied upon provides the control (at any status)
    on_status: str  # its status, or "nobody"


@dataclass(frozen=True)
class Answer:
    control: str
    title: str
    layer: str
    status: str
    responsible: list[str]
    verdict: str
    reasons: list[str] = field(default_factory=list)
    reliances: list[Reliance] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def who(system: System, control_id: str, resp: Responsibilities | None = None) -> Answer:
    resp = resp or Responsibilities(system)
    r = resp[control_id]
    names = {p: system.parties[p].label for p in system.parties}

    def named(ids: Any) -> str:
        ids = list(ids)
        return ", ".join(f"{i} ({names[i]})" if names.get(i, i) != i else i for i in ids) or "nobody"

    reasons: list[str] = []
    warnings: list[str] = []
    for claim in r.providers:
        text = f"{claim.party} claims to provide it ({claim.provides}{f' by {claim.by}' if claim.by else ''})"
        if claim.asks_model and r.control.closes_paths:
            warnings.append(f"{claim.party} provides it by a {claim.by}, which asks a model to tell instructions "
                            "from data: it lowers the odds and closes no attack path")
        if claim.evidence:
            text += "; evidence: " + "; ".join(e.ref for e in claim.evidence)
        else:
            text += "; no evidence given"
        if claim.scope:
            text += f"; scope: {', '.join(claim.scope)}"
        reasons.append(text)
    default_ids = [p.id for p in r.default_parties]
    default_text = r.default_reason
    if default_ids:
        default_text += f"; in this system that is {named(default_ids)}"
    else:
        default_text += f"; no party in this manifest has the role {' or '.join(r.default_roles)}"
    reasons.append(default_text)
    if r.protected:
        owners = dict.fromkeys(system.components[c].owner for c in r.protected)
        reasons.append(f"it protects {', '.join(r.protected)}, owned by {named(owners)}")
        operated = [system.components[c] for c in r.protected if system.components[c].operated_by]
        if operated:
            reasons.append("the party able to act on " + "; on ".join(
                f"{c.id} is {named([c.operated_by])}, which operates it" if c.acts_on(control_id) == c.actor else
                f"{c.id} is {named([c.owner])}, which makes it: run by {named([c.operated_by])}, {c.id} has no "
                f"setting for {control_id} (configurable)" for c in operated))
    elif r.control.applies_to:
        reasons.append(f"it applies to {_acts_on(r.control)}; this system has none")
    else:
        reasons.append("it applies to the system as a whole")
    if r.not_applicable is not None:
        reasons.append(f"declared not applicable: {r.not_applicable.not_applicable}")
    if r.protected and any(not c.scope for c in r.providers):  # what an unscoped claim leaves out
        covered = set(Context(system, resp).covered(control_id))
        left = [c for c in r.protected if c not in covered]
        if left and covered:
            reasons.append(f"the claims to provide it cover {', '.join(c for c in r.protected if c in covered)}, "
                           f"not {', '.join(left)} (a claim without `scope` covers its party's own components; "
                           "name the others in its scope if it covers them too)")
    for req in system.requirements:
        if req.control == control_id:
            on = [c for c in r.protected if req.on.covers(c, system.components[c])]
            where = ("for the system as a whole" if not r.control.applies_to
                     else f"on {', '.join(on) or 'none of its components yet'}")
            reasons.append(f"the manifest requires it ({req.severity}) {where}"
                           + (f", from {req.party}" if req.party else "") + f": {req.why}")

    reliances = [_reliance(r, c.party or "", c.relies_on or "", c.assumption) for c in r.reliances]

    # Only a party that owns a protected component can actually put the control in place.
    if r.protected:
        for party in r.responsible:
            if party in system.parties and party not in r.component_owners:
                warnings.append(
                    f"{party} owns none of the components this control protects; "
                    f"only {named(r.component_owners)} can implement it there"
                )
        for rel in reliances:
            if rel.on not in r.component_owners:
                warnings.append(
                    f"{rel.party} relies on {rel.on}, which owns none of the components this control protects"
                )
    applies = resp.applies(r.control)
    return Answer(
        control=r.control.id,
        title=r.control.title,
        layer=r.control.layer,
        status=r.status if applies else "not-applicable",
        responsible=list(r.responsible),
        verdict=_verdict(r, reliances, named) if applies else (
            f"{r.control.id} does not apply to this system: it acts on {_acts_on(r.control)}, "
            "and the system has none."),
        reasons=reasons,
        reliances=reliances,
        warnings=warnings,
    )


def _acts_on(control: Control) -> str:
    """The components a control acts on, in words: `model components with fine-tuned: true`."""
    kinds = f"{', '.join(control.applies_to)} components"
    if control.applies_when:
        kinds += " with " + ", ".join(f"{a}: {written(v)}"
                                      for a, v in control.applies_when.items())
    return kinds


def _reliance(r: Responsibility, party: str, on: str, assumption: str) -> Reliance:
    claim = r.provided_by(on)
    return Reliance(party, on, assumption, claim is not None, claim.provides if claim and claim.provides else "nobody")


def _verdict(r: Responsibility, reliances: list[Reliance], named: Any) -> str:
    if r.status == "not-applicable":
        return f"{r.control.id} is declared not applicable to this system."
    if r.providers:
        text = f"{named(r.owners)} provides {r.control.id} ({r.status})."
    else:
        default = [p.id for p in r.default_parties]
        text = f"Nobody provides {r.control.id}. " + (
            f"It falls to {named(default)}." if default else "No party in the manifest has the role it falls to."
        )
    if r.verify_only and r.providers == ():
        text += " Your organisation does not operate this layer: verify it by contract, attestation or model card."
    broken = [x for x in reliances if not x.held]
    if broken:
        pairs = "; ".join(f"{x.party} relies on {x.on}" for x in broken)
        text += f" Yet {pairs}, which does not provide it."
    return text
