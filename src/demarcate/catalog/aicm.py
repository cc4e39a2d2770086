"""demarcate's owners beside the CSA AI Controls Matrix's (AICM v1.0.3) shared security
responsibility model: for every preset and every catalog control with an AICM counterpart, which
organisation each says must do it, and whether they agree.

How a comparison is made (docs/frameworks.md says the same to its readers):

- The counterpart is the control's first AICM reference, the one the catalog names as closest.
- The AICM column is the control's layer: the model layer is the Model column, the serving and
  hosting planes the processing-infrastructure column, the usage layer and the application the
  Application column, except application controls on tools, retrievers or memory, which are the
  Orchestrated Services column.
- AICM's actors become the preset's organisations: the model provider is whoever the preset has
  operate the model layer; the cloud service provider whoever operates the plane in question (model
  serving, or app hosting for app-hosting controls); the orchestrated service provider a platform
  that plays the orchestration-provider role, else whoever builds the application; the application
  provider whoever builds the application; the AI customer the usage layer (you). "Shared across
  the supply chain" is every organisation in the preset.
- demarcate's organisations are those operating the control's layer (and you, where the preset says
  you configure it), or for a preset override the organisations playing its roles.
- A control compared only where it can apply under the preset: one that asks for a self-hosted or
  a fine-tuned model (`applies-when`) is left out of presets whose model is neither.
- exact: the same organisations; partial: they overlap (one side shares it, the other names one of
  the sharers); differs: no organisation in common.
"""

from __future__ import annotations

import functools
import sys
from collections import Counter
from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from demarcate.catalog import DATA, Catalog, data_label, load_catalog
from demarcate.model.errors import ManifestError, Problem
from demarcate.model.schema import OPERATED_BY, Control, Model, Preset
from demarcate.model.validate import validate
from demarcate.model.yamlio import locate, read_yaml

Column = Literal["pi", "model", "orchestrated", "application"]
Owner = Literal["CSP", "MP", "OSP", "AP", "AIC", "CSP-MP", "MP-OSP", "OSP-AP", "AP-AIC", "supply-chain"]
Agreement = Literal["exact", "partial", "differs"]

COLUMN_OF_LAYER: dict[str, Column] = {"model": "model", "model-serving": "pi", "app-hosting": "pi",
                                      "application": "application", "usage": "application"}
ORCHESTRATION_KINDS = frozenset({"tool", "retriever", "memory"})
COLUMN_TITLE = {"pi": "Processing infrastructure", "model": "Model", "orchestrated": "Orchestrated services",
                "application": "Application"}


class AicmControl(Model):
    type: Literal["ai-specific", "cloud-and-ai", "cloud-specific"]
    pi: Owner
    model: Owner
    orchestrated: Owner
    application: Owner


class AicmFile(Model):
    source: str
    columns: list[Column]
    controls: dict[str, AicmControl]
    differences: dict[str, str] = Field(default_factory=dict, description="Why demarcate keeps a different "
                                        "owner: keyed by control id, or CONTROL@PRESET for one preset; "
                                        "several controls separated by commas share one explanation.")

    def explained(self) -> dict[str, str]:
        """The explanations by CONTROL or CONTROL@PRESET, one key per control."""
        found = {}
        for key, why in self.differences.items():
            controls, at, preset = key.partition("@")
            for control in controls.split(","):
                found[control.strip() + at + preset] = why
        return found


@dataclass(frozen=True)
class Comparison:
    preset: str
    control: str
    aicm: str
    column: Column
    aicm_owner: Owner
    ours: tuple[str, ...]  # organisations, as a preset's `by` values
    theirs: tuple[str, ...]
    agreement: Agreement
    why: str = ""  # why demarcate keeps a different owner, when it differs


@functools.cache
def load_aicm() -> AicmFile:
    path = DATA / "aicm-ssrm.yaml"
    label = data_label(path)
    raw = read_yaml(path, label)
    data = validate(AicmFile, raw, label)
    catalog = load_catalog()
    problems = []
    for key in data.differences:
        controls, _, preset = key.partition("@")
        unknown = [c.strip() for c in controls.split(",") if c.strip() not in catalog.controls]
        if unknown or (preset and preset not in catalog.presets):
            problems.append(Problem(f"a difference is explained for unknown '{', '.join(unknown) or preset}'",
                                    locate(raw, ("differences", key), label)))
    if problems:
        raise ManifestError(problems)
    return data


def column_of(control: Control) -> Column:
    layer = control.operating_layer
    if layer == "application" and ORCHESTRATION_KINDS & set(control.applies_to):
        return "orchestrated"
    return COLUMN_OF_LAYER[layer]


def ours(control: Control, preset: Preset) -> frozenset[str]:
    """The organisations the preset makes answer for the control."""
    layer = control.operating_layer
    override = preset.overrides.get(control.id)
    if override is None:
        layers = [layer]
    else:
        roles = (override.role, *override.shared_with)
        layers = []
        for role in roles:
            played = [name for name, op in preset.operators.items() if op.role == role]
            layers += [layer] if layer in played else played
    found = set()
    for name in layers:
        op = preset.operators[name]  # type: ignore[index]
        found.add(op.by)
        if op.configured_by == "self":
            found.add("self")
    return frozenset(found)


def theirs(owner: str, control: Control, preset: Preset) -> frozenset[str]:
    """The organisations of the preset that play the AICM owner of a cell."""
    ops = preset.operators
    if owner == "supply-chain":
        return frozenset(op.by for op in ops.values())
    platform = [op.by for op in ops.values() if op.role == "orchestration-provider"]
    plane = "app-hosting" if control.operating_layer == "app-hosting" else "model-serving"
    actors = {
        "MP": [ops["model"].by], "CSP": [ops[plane].by], "OSP": platform or [ops["application"].by],  # type: ignore[index]
        "AP": [ops["application"].by], "AIC": [ops["usage"].by],
    }
    return frozenset(org for actor in owner.split("-") for org in actors[actor])


def applies_under(control: Control, preset: Preset) -> bool:
    """Whether the control's `applies-when` on the model can hold for the preset's model."""
    if "model" not in control.applies_to:
        return True
    model = preset.model_attributes
    return all(model.get(attr, value) == value for attr, value in control.applies_when.items())


def compare(catalog: Catalog | None = None, aicm: AicmFile | None = None) -> list[Comparison]:
    """Every preset × every catalog control whose first AICM reference the matrix data holds."""
    catalog = catalog or load_catalog()
    aicm = aicm or load_aicm()
    explained = aicm.explained()
    found = []
    for preset in catalog.presets.values():
        for control in catalog.controls.values():
            refs = control.references.aicm
            if not refs or refs[0] not in aicm.controls or not applies_under(control, preset):
                continue
            column = column_of(control)
            owner: Owner = getattr(aicm.controls[refs[0]], column)
            a, b = ours(control, preset), theirs(owner, control, preset)
            agreement: Agreement = "exact" if a == b else "partial" if a & b else "differs"
            why = ""
            if agreement == "differs":
                why = explained.get(f"{control.id}@{preset.id}") or explained.get(control.id, "")
            found.append(Comparison(preset.id, control.id, refs[0], column, owner, tuple(sorted(a)),
                                    tuple(sorted(b)), agreement, why))
    return found


def figures(comparisons: list[Comparison]) -> dict[str, int]:
    counts = Counter(c.agreement for c in comparisons)
    return {"compared": len(comparisons), "exact": counts["exact"], "partial": counts["partial"],
            "differs": counts["differs"]}


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f} %" if whole else "-"


def _orgs(orgs: tuple[str, ...]) -> str:
    return ", ".join(OPERATED_BY[o] for o in orgs) or "nobody"


def markdown(catalog: Catalog | None = None) -> str:
    """docs/frameworks.md: the figures, then a table per preset; generated, never edited by hand."""
    catalog = catalog or load_catalog()
    aicm = load_aicm()
    comparisons = compare(catalog, aicm)
    total = figures(comparisons)
    agreed = total["exact"] + total["partial"]
    shared = sum(c.agreement == "partial" and c.aicm_owner == "supply-chain" for c in comparisons)
    lines = [
        "# demarcate's owners beside the CSA AI Controls Matrix",
        "",
        "<!-- Generated by `python -m demarcate.catalog.aicm > docs/frameworks.md`; a test fails when it is stale. -->",
        "",
        "For every deployment preset and every catalog control with a counterpart in the CSA AI Controls",
        "Matrix (AICM v1.0.3), this page puts the organisation demarcate makes answer for the control beside",
        "the one the matrix's shared security responsibility model (SSRM) names, and says where they agree.",
        "The matrix's owner cells are in `src/demarcate/catalog/aicm-ssrm.yaml`; the comparison is",
        "`src/demarcate/catalog/aicm.py`, whose docstring gives the rules in full. In short: the counterpart",
        "is the control's first AICM reference; the column is the control's layer (tools, retrievers and",
        "memory are orchestrated services); AICM's actors become the preset's organisations (the model",
        "provider is whoever operates the model layer, the AI customer is you, and so on); *exact* means",
        "the same organisations, *partial* that they overlap (one side shares the control, the other names",
        "one of the sharers), *differs* that they have none in common. A control that applies only to a",
        "self-hosted or fine-tuned model is compared only in the presets whose model is one.",
        "",
        f"**Overall: {agreed} of {total['compared']} comparisons agree exactly or partly "
        f"({_pct(agreed, total['compared'])}): {total['exact']} exactly, {total['partial']} partly; "
        f"{total['differs']} differ, each explained below.**",
        "",
        f"Of the partial agreements, {shared} are cells AICM shares across the whole supply chain, which",
        "any single owner overlaps; the rest are controls one side shares between two parties.",
        "",
        "| preset | compared | exact | partial | differs | exact or partial |",
        "|---|---|---|---|---|---|",
    ]
    by_preset: dict[str, list[Comparison]] = {}
    for c in comparisons:
        by_preset.setdefault(c.preset, []).append(c)
    for preset_id, rows in by_preset.items():
        f = figures(rows)
        lines.append(f"| {preset_id} | {f['compared']} | {f['exact']} | {f['partial']} | {f['differs']} "
                     f"| {_pct(f['exact'] + f['partial'], f['compared'])} |")
    differing = [c for c in comparisons if c.agreement == "differs"]
    if differing:
        lines += ["", "## Where demarcate differs, and why", ""]
        for c in differing:
            lines.append(f"- **{c.control}** ({c.preset}; AICM {c.aicm}, {COLUMN_TITLE[c.column]}: {c.aicm_owner}): "
                         f"demarcate names {_orgs(c.ours)}, AICM {_orgs(c.theirs)}. {c.why or 'Not explained.'}")
    mapped = {ref for control in catalog.controls.values() for ref in control.references.aicm}
    uncovered = [cid for cid, cell in aicm.controls.items() if cell.type == "ai-specific" and cid not in mapped]
    unmapped = [cid for cid, control in catalog.controls.items() if not control.references.aicm]
    lines += ["", "## Coverage", "",
              f"AI-specific AICM controls transcribed: {sum(c.type == 'ai-specific' for c in aicm.controls.values())}; "
              f"without a counterpart in the catalog: {', '.join(uncovered) or 'none'}.",
              f"Catalog controls without an AICM reference: {', '.join(unmapped) or 'none'}."]
    for preset_id, rows in by_preset.items():
        lines += ["", f"## {preset_id}", "",
                  "| control | AICM | column | AICM owner | AICM names | demarcate names | agreement |",
                  "|---|---|---|---|---|---|---|"]
        for c in rows:
            lines.append(f"| {c.control} | {c.aicm} | {COLUMN_TITLE[c.column]} | {c.aicm_owner} | {_orgs(c.theirs)} "
                         f"| {_orgs(c.ours)} | {c.agreement} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(markdown())
