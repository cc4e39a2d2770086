"""Starter manifests written from a deployment preset (`demarcate init`)."""

from __future__ import annotations

from typing import Any

from demarcate.model.schema import Preset
from demarcate.model.yamlio import dump_yaml

WHO = {
    "self": "your organisation",
    "vendor": "the SaaS vendor",
    "model-vendor": "the model vendor",
    "cloud": "the cloud provider",
    "upstream": "the open-weights publisher",
}
ROLE_NAMES = {
    "model-provider": "Model provider",
    "application-developer": "Application team",
    "infrastructure-operator": "Infrastructure team",
    "deployer": "Deploying organisation",
    "orchestration-provider": "Agent platform",
}


# A party's id when its role is already taken by another organisation's party in the same preset.
SECOND_ID = {"self": "your-{role}", "vendor": "saas-vendor", "model-vendor": "model-vendor", "cloud": "cloud-provider",
             "upstream": "open-weights-publisher"}
LAYERS = ("model", "application", "app-hosting", "model-serving", "usage")


def starter(preset: Preset, name: str = "My AI application") -> dict[str, Any]:
    """A small, valid manifest: parties per the preset, a typical component set, and the flows. A role
    that two organisations play (the cloud serves the model, you host the app) gets a party for each,
    with the layers it operates; the model is operated by whoever serves it."""
    ops = preset.operators
    parties: dict[tuple[str, str], dict[str, Any]] = {}
    of_layer: dict[str, str] = {}
    for layer in LAYERS:
        op = ops[layer]  # type: ignore[index]
        key = (op.role, op.by)
        if key not in parties:
            taken = any(role == op.role for role, _ in parties)
            parties[key] = {
                "id": SECOND_ID[op.by].format(role=op.role) if taken else op.role,
                "name": ROLE_NAMES[op.role] + (f" ({WHO[op.by]})" if taken else ""),
                "organisation": WHO[op.by],
                "role": op.role,
                "layers": [],
            }
        parties[key]["layers"].append(layer)
        of_layer[layer] = parties[key]["id"]
    for layer in LAYERS:  # a layer a vendor runs and you configure is your party's as well
        op = ops[layer]  # type: ignore[index]
        if op.configured_by == "self" and op.by != "self" and (op.role, "self") in parties:
            parties[(op.role, "self")]["layers"].append(layer)
    split = {role for role, _ in parties if sum(r == role for r, _ in parties) > 1}
    for party in parties.values():
        if party["role"] not in split:
            del party["layers"]  # the only party of its role: every layer of it is its own
    app, hosting, model = of_layer["application"], of_layer["app-hosting"], of_layer["model"]
    served = {"operated-by": of_layer["model-serving"]} if of_layer["model-serving"] != model else {}
    # The starter says fine-tuned only of a model that is: false is the kind's default.
    model_attrs = {a: v for a, v in preset.model_attributes.items() if v is not False}
    components = [
        {"id": "chat", "kind": "user-input", "owner": app, "trust": "untrusted", "authenticated": True},
        {"id": "system-prompt", "kind": "system-prompt", "owner": app},
        {"id": "model", "kind": "model", "owner": model, **served, **model_attrs},
        {"id": "documents", "kind": "data-source", "owner": app, "trust": "internal", "content": "documents",
         "writable-by": ["staff"]},
        {"id": "retriever", "kind": "retriever", "owner": app},
        {"id": "chat-ui", "kind": "output-renderer", "owner": app, "format": "markdown"},
        {"id": "runtime", "kind": "runtime", "owner": hosting, "isolation": "container"},
        {"id": "egress", "kind": "network-egress", "owner": hosting, "policy": "open"},
        {"id": "logs", "kind": "logging", "owner": hosting, "captures": ["requests", "errors"],
         "readable-by": [hosting]},
    ]
    flows = [
        {"from": "chat", "to": "model"},
        {"from": "system-prompt", "to": "model"},
        {"from": "documents", "to": "retriever"},
        {"from": "retriever", "to": "model"},
        {"from": "model", "to": "chat-ui"},
    ]
    return {
        "version": 1,
        "system": {"name": name, "preset": preset.id},
        "parties": list(parties.values()),
        "components": components,
        "flows": flows,
        "controls": [],
    }


HEADER = """\
# demarcate manifest, scaffolded from the '{preset}' preset: {title}.
# Describe your parties, components and flows, then record which party provides
# each control, which relies on another, and what does not apply:
#   controls:
#     - {{control: APP-IN-03, party: {app}, provides: implemented, evidence: ["test:rag-injection"]}}
#     - {{control: APP-OUT-02, party: {app}, provides: implemented, by: code}}  # what does the work:
#       code | configuration | person | prompt | classifier (the last two close no attack path)
#     - {{control: MOD-SAFE-03, party: {app}, relies-on: {model}, assumption: "..."}}
# `demarcate catalog` lists controls; `demarcate validate PATH` checks this file.
# Decide on a finding by the id `demarcate check` prints (optionally until a date):
#   tracking:
#     - {{finding: "speed-pressure:{app}", decision: accepted, justification: "...", expires: 2027-06-30}}
"""


def render(preset: Preset, data: dict[str, Any]) -> str:
    header = HEADER.format(preset=preset.id, title=preset.title,
                           app=preset.operators["application"].role,
                           model=preset.operators["model"].role)
    return header + dump_yaml(data)


def split(preset: Preset, data: dict[str, Any]) -> dict[str, str]:
    """One file per party (its party entry and components), plus system.yaml with what they share."""
    files: dict[str, str] = {}
    shared = {"version": 1, "system": data["system"], "flows": data["flows"]}
    files["system.yaml"] = render(preset, shared)
    for party in data["parties"]:
        part = {
            "version": 1,
            "parties": [party],
            "components": [c for c in data["components"] if c["owner"] == party["id"]],
            "controls": [],
        }
        files[f"{party['id']}.yaml"] = f"# {party['name']}'s part of the manifest.\n" + dump_yaml(part)
    return files
