"""What if a party put a control in effect: the system as `check --assume` analyses it.

An assumed control is claimed `implemented` by the party that would provide it (by default whoever
answers for it: a party already claiming it, else the one the preset puts it on) on every
component it protects, whoever owns it, and its configuration checks are taken to pass — implementing it includes
configuring it. That party's own reliances on others for the control are dropped: it now does it
itself. Nothing else in the manifest changes."""

from __future__ import annotations

import dataclasses

from demarcate.analysis.responsibility import Responsibilities
from demarcate.model.errors import ManifestError, Problem, did_you_mean
from demarcate.model.loader import System
from demarcate.model.schema import Claim


def parse(text: str) -> tuple[str, str | None]:
    """`CONTROL` or `CONTROL@PARTY`, the control upper-cased as the catalog spells it."""
    control, _, party = text.strip().partition("@")
    return control.strip().upper(), party.strip() or None


def assume(system: System, wanted: list[tuple[str, str | None]]) -> tuple[System, list[tuple[str, str]]]:
    """The system with each control in effect, and the (control, party) pairs assumed."""
    resp = Responsibilities(system)
    problems: list[Problem] = []
    assumed: list[tuple[str, str]] = []
    for control, party in wanted:
        if control not in system.catalog.controls:
            problems.append(Problem(f"--assume: unknown control '{control}'", None,
                                    did_you_mean(control, system.catalog.controls)))
            continue
        r = resp[control]
        if not resp.applies(r.control):
            problems.append(Problem(f"--assume: {control} protects none of this system's components "
                                    f"(it applies to {', '.join(r.control.applies_to)})"))
            continue
        if party is not None and party not in system.parties:
            problems.append(Problem(f"--assume: unknown party '{party}'", None, did_you_mean(party, system.parties)))
            continue
        parties = [party] if party else list(r.responsible)
        if not parties:
            problems.append(Problem(f"--assume: no party answers for {control} here", None,
                                    f"say which: --assume {control}@PARTY"))
            continue
        assumed += [(control, p) for p in parties if (control, p) not in assumed]
    if problems:
        raise ManifestError(problems)
    dropped = set(assumed)
    claims = [c for c in system.claims if not (c.kind == "relies-on" and (c.control, c.party) in dropped)]
    claims += [Claim.model_validate({"control": c, "party": p, "provides": "implemented", "scope": list(resp[c].protected),
                                     "note": "assumed by check --assume"}) for c, p in assumed]
    # The name says it, so that no report written from this system passes for the real one.
    name = f"{system.info.name} (what if {', '.join(dict.fromkeys(c for c, _ in assumed))} were in effect)"
    return dataclasses.replace(system, info=system.info.model_copy(update={"name": name}), claims=tuple(claims),
                               assumed=system.assumed | {c for c, _ in assumed}), assumed
