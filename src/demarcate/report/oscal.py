"""The responsibility matrix as an OSCAL 1.1.3 system security plan, for a GRC team to put beside its
other control paperwork (docs/oscal.md).

Each party is an OSCAL party and a component of the system; each applicable control is an
implemented requirement with one `by-component` entry per party that has a part in it:

- a party that provides the control states how far (`implementation-status`) and exports what it
  provides (`export.provided`), and what it leaves to the parties that rely on it
  (`export.responsibilities`: confirming that what it provides covers their use);
- a party that relies on another inherits what that party provides (`inherited`, pointing at its
  `provided` entry); relying on a party that provides nothing is a gap, said in words and in a
  property, with nothing to inherit;
- a party the preset expects to provide a control it does not claim is listed as responsible,
  with no implementation status: demarcate does not invent one;
- live tests, where a stored campaign is given, verify or refute the provider's entry.

Identifiers are stable: a party, a component, a control's entries keep their UUIDs from one export
to the next (derived from the system's name and what they describe), so two exports diff cleanly;
the document's own UUID and version change exactly when its content does."""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from demarcate import __version__
from demarcate.analysis.matrix import Cell, Row, matrix
from demarcate.analysis.responsibility import Responsibilities
from demarcate.model.loader import System
from demarcate.model.schema import Claim
from demarcate.report.jsonio import json_bytes
from demarcate.report.untrusted import clean

OSCAL_VERSION = "1.1.3"
# The namespace of demarcate's own properties (OSCAL asks for a URI; it need not resolve).
NS = "urn:demarcate:oscal"
_ROOT = uuid.uuid5(uuid.NAMESPACE_URL, NS)
ROLE_TITLES = {
    "model-provider": "Model provider",
    "application-developer": "Application developer",
    "infrastructure-operator": "Infrastructure operator",
    "deployer": "Deployer",
    "orchestration-provider": "Orchestration provider",
}
# What a manifest's component is, as OSCAL names component types.
_SERVICE_KINDS = ("model", "vector-store", "retriever", "egress", "gateway")
_MARKUP = re.compile(r"([\\`*_{}\[\]<>#+!|~&])")


def _line(text: object) -> str:
    """Untrusted text as an OSCAL string or line: no control characters, one line, no whitespace at
    either end (OSCAL's string type refuses it)."""
    return " ".join(clean(text).split())


def _markup(text: object) -> str:
    """Untrusted text inside an OSCAL markup field (Markdown): read as written, never as markup, so a
    viewer that renders it shows no link, image or HTML the manifest's author put there."""
    escaped = _MARKUP.sub(r"\\\1", clean(text).replace("\r", ""))
    return escaped.replace("://", "\\://").replace("www.", "www\\.")


def _prop(name: str, value: object, remarks: str = "") -> dict[str, Any]:
    prop: dict[str, Any] = {"name": name, "ns": NS, "value": _line(value) or "none"}
    if remarks:
        prop["remarks"] = remarks
    return prop


class _Ids:
    """Per-subject UUIDs: the same system and subject give the same UUID in every export."""

    def __init__(self, system: System):
        self.base = uuid.uuid5(_ROOT, system.info.name)

    def __call__(self, *subject: str) -> str:
        return str(uuid.uuid5(self.base, "\x1f".join(subject)))


def oscal_ssp(system: System, *, now: datetime | None = None) -> dict[str, Any]:
    """The system's responsibility matrix as an OSCAL system security plan (a whole document). With
    `system.live` (a stored campaign's evidence), each control's provider entries carry what the live
    test showed."""
    ids = _Ids(system)
    resp = Responsibilities(system)
    rows = matrix(system, resp)
    roles = _roles(system, rows)
    plan: dict[str, Any] = {
        "uuid": "",  # set below, from the content
        "metadata": _metadata(system, ids, roles, now or datetime.now(UTC)),
        "import-profile": {
            "href": f"#{ids('catalog')}",
            "remarks": "Control identifiers are those of demarcate's AI security control catalog (version "
                       f"{system.catalog.version}); each requirement names the public frameworks the "
                       "control maps to (OWASP, MITRE ATLAS, CSA AICM) in its properties.",
        },
        "system-characteristics": _characteristics(system, ids),
        "system-implementation": _implementation(system, ids),
        "control-implementation": {
            "description": f"Who provides, relies on and answers for each AI security control of "
                           f"{_markup(system.info.name)}, as its demarcate manifest claims them"
                           + (f", with the live evidence of campaign {_markup(system.live['run'])}"
                              if system.live else "") + ".",
            "implemented-requirements": [_requirement(system, ids, row) for row in rows],
        },
        "back-matter": {"resources": [{
            "uuid": ids("catalog"),
            "title": "demarcate AI security control catalog",
            "description": f"The control catalog of demarcate {__version__}, version {system.catalog.version}: "
                           "`demarcate catalog` lists it, `demarcate explain CONTROL` gives one control "
                           "with its references.",
            "props": [_prop("catalog-version", system.catalog.version)],
        }]},
    }
    digest = hashlib.sha256(json_bytes(plan["metadata"] | {"last-modified": ""}, indent=False)
                            + json_bytes({k: v for k, v in plan.items() if k != "metadata"}, indent=False))
    plan["uuid"] = str(uuid.uuid5(ids.base, digest.hexdigest()))
    plan["metadata"]["version"] = f"content-{digest.hexdigest()[:12]}"
    return {"system-security-plan": plan}


def _roles(system: System, rows: list[Row]) -> list[str]:
    """Every role the document names: those the parties play, and those the preset gives a control
    to although nobody here plays them (the system's owner must assign those)."""
    named = [p.role for p in system.parties.values()]
    named += [role for r in rows for role in r.responsibility.default_roles]
    return list(dict.fromkeys(named))


def _metadata(system: System, ids: _Ids, roles: list[str], now: datetime) -> dict[str, Any]:
    parties = list(system.parties.values())
    metadata: dict[str, Any] = {
        "title": f"{_markup(_line(system.info.name))}: who secures what",
        "last-modified": now.astimezone(UTC).isoformat(timespec="seconds"),
        "version": "",  # set from the content
        "oscal-version": OSCAL_VERSION,
        "props": [_prop("generator", f"demarcate {__version__}")]
        + ([_prop("preset", system.info.preset)] if system.info.preset else []),
        "roles": [{"id": role, "title": ROLE_TITLES.get(role, role)} for role in roles],
    }
    if parties:
        metadata["parties"] = [{
            "uuid": ids("party", p.id),
            "type": "organization",
            "name": _line(p.label) or p.id,
            "props": [_prop("party-id", p.id), _prop("role", p.role)]
            + ([_prop("organisation", p.organisation)] if _line(p.organisation) else []),
            **({"remarks": _markup(p.description)} if p.description.strip() else {}),
        } for p in parties]
        by_role: dict[str, list[str]] = {}
        for p in parties:
            by_role.setdefault(p.role, []).append(ids("party", p.id))
        metadata["responsible-parties"] = [{"role-id": role, "party-uuids": uuids} for role, uuids in by_role.items()]
    return metadata


def _characteristics(system: System, ids: _Ids) -> dict[str, Any]:
    name = _line(system.info.name) or "unnamed system"
    sensitive = [c for c in system.components.values() if getattr(c, "sensitivity", None) in ("confidential", "personal")]
    return {
        "system-ids": [{"identifier-type": "https://ietf.org/rfc/rfc4122", "id": ids("system")}],
        "system-name": name,
        "description": _markup(system.info.description.strip()) or f"The AI application {_markup(name)}, as its "
                                                                    "demarcate manifest describes it.",
        "system-information": {"information-types": [{
            "uuid": ids("information", "processed"),
            "title": "Information the AI application processes",
            "description": "What its components hold and pass between them: "
                           + (", ".join(_markup(c.label) for c in sensitive) + " hold data marked sensitive."
                              if sensitive else "the manifest marks no component's data as sensitive.")
                           + " Categorise it against NIST SP 800-60 here; demarcate does not.",
        }]},
        "status": {"state": "other",
                   "remarks": "demarcate does not know the system's life-cycle state: set it here."},
        "authorization-boundary": {
            "description": "The components the demarcate manifest lists: "
                           + (", ".join(_markup(c.label) for c in system.components.values()) or "none") + ".",
        },
    }


def _component_type(kind: str) -> str:
    return "service" if kind in _SERVICE_KINDS else "software"


def _implementation(system: System, ids: _Ids) -> dict[str, Any]:
    users = [{
        "uuid": ids("user", p.id),
        "title": _markup(_line(p.label)) or p.id,
        "role-ids": [p.role],
    } for p in system.parties.values()]
    components: list[dict[str, Any]] = [{
        "uuid": ids("this-system"),
        "type": "this-system",
        "title": _markup(_line(system.info.name)) or "this system",
        "description": "The whole AI application.",
        "status": {"state": "operational"},
    }]
    for p in system.parties.values():
        components.append({
            "uuid": ids("party-component", p.id),
            "type": "service",
            "title": f"{_markup(_line(p.label))}: its part of the system",
            "description": f"What {_markup(p.label)} ({p.role}) provides, relies on and answers for.",
            "props": [_prop("party-id", p.id)],
            "status": {"state": "operational"},
            "responsible-roles": [{"role-id": p.role, "party-uuids": [ids("party", p.id)]}],
        })
    for c in system.components.values():
        kind = system.kind(c.id)
        operators = list(dict.fromkeys(x for x in (c.owner, c.operated_by) if x and x in system.parties))
        entry: dict[str, Any] = {
            "uuid": ids("component", c.id),
            "type": _component_type(kind),
            "title": _markup(_line(c.label)) or c.id,
            "description": _markup(c.description.strip()) or f"A {kind} of the AI application.",
            "props": [_prop("component-id", c.id), _prop("kind", kind), _prop("owner", c.owner)]
            + ([_prop("operated-by", c.operated_by)] if c.operated_by else []),
            "status": {"state": "operational"},
        }
        if operators:
            entry["responsible-roles"] = [{"role-id": system.parties[p].role, "party-uuids": [ids("party", p)]}
                                          for p in operators]
        components.append(entry)
    return {"users": users, "components": components}  # a manifest with components names their parties


def _evidence(claim: Claim) -> tuple[list[dict[str, str]], str]:
    """A claim's evidence: links where it is a web address, words for the rest."""
    links = [{"href": e.url, "rel": "evidence"} for e in claim.evidence
             if e.url and re.fullmatch(r"https?://[^\s<>\"]+", e.url)]
    words = [f"{e.kind}: {_markup(_line(e.ref))}" + (f" ({_markup(_line(e.note))})" if e.note.strip() else "")
             for e in claim.evidence]
    return links, ("Evidence: " + "; ".join(words) + ".") if words else "No evidence given."


def _requirement(system: System, ids: _Ids, row: Row) -> dict[str, Any]:
    r = row.responsibility
    control = r.control
    refs = control.references
    props = [_prop("status", r.status), _prop("layer", control.layer), _prop("function", control.function),
             _prop("verify-only", "yes" if r.verify_only else "no",
                   "yes: a vendor operates this layer; the organisation verifies it by contract"
                   if r.verify_only else "")]
    props += [_prop("owasp-llm", x) for x in refs.owasp_llm] + [_prop("owasp-agentic", x) for x in refs.owasp_agentic]
    props += [_prop("mitre-atlas", x) for x in refs.atlas] + [_prop("csa-aicm", x) for x in refs.aicm]
    live = system.live or {}
    if live:
        state = ("refuted" if control.id in live.get("refuted", {}) else
                 "verified" if control.id in live.get("verified", {}) else "untested")
        props.append(_prop("live-test", state))
    responsible = [p for p in r.responsible if p in system.parties]
    roles = list(dict.fromkeys(system.parties[p].role for p in responsible)) or list(r.default_roles)
    requirement: dict[str, Any] = {
        "uuid": ids("requirement", control.id),
        "control-id": control.id,
        "props": props,
        "responsible-roles": [{"role-id": role, **({"party-uuids": uuids} if (uuids := [
            ids("party", p) for p in responsible if system.parties[p].role == role]) else {})} for role in roles],
    }
    remarks = [f"{_markup(control.title)}. {_markup(r.default_reason)}."]
    if not responsible:
        remarks.append(f"No party here plays the {' or '.join(r.default_roles)} role: the system's owner "
                       "must assign it.")
    requirement["remarks"] = " ".join(remarks)
    entries = [e for party, cell in row.cells.items() if (e := _by_component(system, ids, row, party, cell))]
    if entries:
        requirement["by-components"] = entries
    return requirement


def _by_component(system: System, ids: _Ids, row: Row, party: str, cell: Cell) -> dict[str, Any] | None:
    r = row.responsibility
    cid = r.control.id
    name = _markup(system.parties[party].label)
    entry: dict[str, Any] = {"component-uuid": ids("party-component", party), "uuid": ids("by", cid, party)}
    if cell.claim == "provides":
        claim = r.provided_by(party)
        assert claim is not None
        links, evidence = _evidence(claim)
        entry["description"] = (f"{name} provides {cid} ({cell.status})"
                                + (f" for {', '.join(_markup(s) for s in claim.scope)}" if claim.scope else "")
                                + (f": {_markup(claim.note.strip())}" if claim.note.strip() else ".") + f" {evidence}"
                                + (f" It is provided by a {claim.by}, which asks a model to tell instructions from data: "
                                   "it lowers the odds and closes no attack path."
                                   if claim.asks_model and r.control.closes_paths else ""))
        entry["implementation-status"] = {"state": cell.status}
        relying = [c for c in r.reliances if c.relies_on == party and c.party]
        export: dict[str, Any] = {"provided": [{
            "uuid": ids("provided", cid, party),
            "description": f"{name} provides {cid} ({cell.status}) to the parties that rely on it.",
        }]}
        if relying:
            export["responsibilities"] = [{
                "uuid": ids("responsibility", cid, party, c.party or ""),
                "provided-uuid": ids("provided", cid, party),
                "description": f"{_markup(system.parties[c.party].label)} relies on {name} for {cid} and keeps the "
                               "duty to confirm that what is provided covers its use"
                               + (f" (its assumption: {_markup(c.assumption.strip())})" if c.assumption.strip() else "")
                               + ".",
            } for c in relying if c.party in system.parties]
        entry["export"] = export
        if links:
            entry["links"] = links
        live = system.live or {}
        for state in ("refuted", "verified"):
            if cid in live.get(state, {}):
                entry["props"] = [_prop("live-test", state)]
                entry["remarks"] = f"Live test {state} it: {_markup(live[state][cid])}"
                break
        return entry
    if cell.claim == "relies-on":
        on = cell.on
        provider = r.provided_by(on)
        relied_name = _markup(system.parties[on].label) if on in system.parties else _markup(on)
        assumption = f" Its assumption: {_markup(cell.assumption.strip())}" if cell.assumption.strip() else ""
        if provider is not None:
            entry["description"] = f"{name} relies on {relied_name} for {cid}.{assumption}"
            entry["inherited"] = [{
                "uuid": ids("inherited", cid, party),
                "provided-uuid": ids("provided", cid, on),
                "description": f"{name} inherits {cid} from {relied_name} ({provider.provides}).",
            }]
        else:
            entry["description"] = (f"{name} relies on {relied_name} for {cid}, but {relied_name} does not claim to "
                                    f"provide it: nothing is there to inherit.{assumption}")
            entry["props"] = [_prop("gap", "assumed-not-provided")]
        return entry
    if cell.claim == "not-applicable":
        entry["description"] = f"{name}: {cid} does not apply here. {_markup(cell.assumption.strip())}".strip()
        entry["implementation-status"] = {"state": "not-applicable"}
        return entry
    if cell.claim == "default":
        entry["description"] = (f"{name} is expected to provide {cid} ({_markup(r.default_reason)}) and does not "
                                "claim it.")
        entry["props"] = [_prop("claim", "unclaimed")]
        return entry
    return None
