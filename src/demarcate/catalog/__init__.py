"""The built-in catalog: controls, component kinds and deployment presets, shipped as YAML data."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from demarcate.model.errors import ManifestError, Position, Problem, did_you_mean
from demarcate.model.schema import (
    CatalogFile,
    Control,
    KindsFile,
    KindSpec,
    Preset,
    RelayingHost,
    RelayingHostsFile,
    written,
)
from demarcate.model.validate import validate
from demarcate.model.yamlio import locate, read_yaml

DATA = Path(str(resources.files("demarcate.catalog")))


def search(controls: Iterable[Control], text: str) -> list[Control]:
    """The controls every word of `text` begins a word of — in the id, title, references, the kinds
    and threats it concerns, or the description — best first: a word counts for every field it is in,
    more in the id or title than in the description; ties keep the catalog's order. ('rate' finds
    rate limits, not 'generated'.)"""
    words = [re.compile(r"(?<![a-z0-9])" + re.escape(w), re.IGNORECASE) for w in text.split()]
    scored = []
    for order, c in enumerate(controls):
        fields = [(4, c.id), (3, c.title), (3, " ".join(v for refs in c.references.model_dump().values() for v in refs)),
                  (2, " ".join([*c.applies_to, *c.mitigates])), (1, c.description)]
        score = 0
        for word in words:
            weight = sum(w for w, field_text in fields if word.search(field_text))
            if not weight:
                break
            score += weight
        else:
            scored.append((-score, order, c))
    return [c for _, _, c in sorted(scored, key=lambda s: (s[0], s[1]))]


@dataclass(frozen=True, eq=False)
class Catalog:
    version: str
    controls: dict[str, Control]
    threats: dict[str, str]
    probe_categories: dict[str, str]
    kinds: dict[str, KindSpec]
    presets: dict[str, Preset]
    custom: frozenset[str] = field(default_factory=frozenset)
    relaying_hosts: tuple[RelayingHost, ...] = ()

    def with_custom(self, controls: list[Control]) -> Catalog:
        """This catalog plus a manifest's own controls (which may not redefine built-in ones)."""
        merged = dict(self.controls)
        merged.update({c.id: c for c in controls})
        return Catalog(
            self.version,
            merged,
            self.threats,
            self.probe_categories,
            self.kinds,
            self.presets,
            frozenset(c.id for c in controls),
            self.relaying_hosts,
        )


def data_label(path: Path) -> str:
    return f"<demarcate>/catalog/{path.relative_to(DATA).as_posix()}"


def check_control(control: Control, kinds: dict[str, KindSpec], threats: dict[str, str],
                  probes: dict[str, str], where: Position) -> list[Problem]:
    """Catalog integrity for one control: every name it uses must be known."""
    problems = []
    for kind in control.applies_to:
        if kind not in kinds:
            problems.append(Problem(f"control {control.id} applies to unknown component kind '{kind}'", where))
    for threat in control.mitigates:
        if threat not in threats:
            problems.append(Problem(f"control {control.id} mitigates unknown threat '{threat}'", where))
    problems += _check_applies_when(control, kinds, where)
    for check in control.configured_by:
        spec = kinds.get(check.kind)
        if spec is None or check.attribute not in spec.attributes:
            problems.append(Problem(
                f"control {control.id} checks unknown attribute '{check.attribute}' of kind '{check.kind}'", where))
        elif check.hosts and spec.attributes[check.attribute].type != "hosts":
            problems.append(Problem(f"control {control.id}: '{check.attribute}' is not a host list", where))
    for probe in control.verify.probes:
        if probe not in probes:
            problems.append(Problem(f"control {control.id} names unknown probe category '{probe}'", where))
    return problems


# The attribute types `applies-when` can compare with one value, and the Python type of that value.
_COMPARABLE = {"bool": bool, "integer": int, "string": str, "enum": str}


def _check_applies_when(control: Control, kinds: dict[str, KindSpec], where: Position) -> list[Problem]:
    """`applies-when` names an attribute every `applies-to` kind has, with a value it can take: a
    misspelt name or value would otherwise make the control silently apply nowhere."""
    if control.applies_when and not control.applies_to:
        return [Problem(f"control {control.id} has applies-when but no applies-to", where,
                        "name the component kinds whose attributes it reads")]
    problems = []
    for name, value in control.applies_when.items():
        for kind in control.applies_to:
            spec = kinds.get(kind)
            if spec is None:
                continue  # reported as an unknown kind
            attr = spec.attributes.get(name)
            if attr is None:
                problems.append(Problem(
                    f"control {control.id} applies when '{name}' is {written(value)}, but kind '{kind}' has no "
                    f"attribute '{name}'", where,
                    did_you_mean(name, spec.attributes) or "list in applies-to only kinds that have it"))
                continue
            expected = _COMPARABLE.get(attr.type)
            if expected is None:
                problems.append(Problem(
                    f"control {control.id} applies when '{name}' is {written(value)}, but '{name}' of kind '{kind}' "
                    f"is a list ({attr.type}): applies-when compares one value", where))
            elif type(value) is not expected or (attr.type == "enum" and value not in attr.values):
                problems.append(Problem(
                    f"control {control.id} applies when '{name}' is {written(value)}, which '{name}' of kind "
                    f"'{kind}' cannot be", where,
                    f"expected one of: {', '.join(attr.values)}" if attr.type == "enum" else f"expected a {attr.type}"))
    return problems


@functools.cache
def load_catalog() -> Catalog:
    """Load and check the shipped data; a broken data file is reported like a broken manifest."""
    kinds_path = DATA / "kinds.yaml"
    kinds = validate(KindsFile, read_yaml(kinds_path, data_label(kinds_path)), data_label(kinds_path)).kinds

    controls_path = DATA / "controls.yaml"
    label = data_label(controls_path)
    raw = read_yaml(controls_path, label)
    catalog = validate(CatalogFile, raw, label)
    problems: list[Problem] = []
    controls: dict[str, Control] = {}
    for i, control in enumerate(catalog.controls):
        where = locate(raw, ("controls", i), label)
        if control.id in controls:
            problems.append(Problem(f"control {control.id} is defined twice", where))
        controls[control.id] = control
        problems += check_control(control, kinds, catalog.threats, catalog.probe_categories, where)

    presets: dict[str, Preset] = {}
    for path in sorted((DATA / "presets").glob("*.yaml")):
        plabel = data_label(path)
        praw = read_yaml(path, plabel)
        preset = validate(Preset, praw, plabel)
        if preset.id != path.stem:
            problems.append(Problem(f"preset id '{preset.id}' differs from its file name", Position(plabel, 1, 1)))
        for cid in preset.overrides:
            if cid not in controls:
                problems.append(Problem(f"preset overrides unknown control {cid}", locate(praw, ("overrides", cid), plabel)))
        presets[preset.id] = preset
    relays_path = DATA / "relaying-hosts.yaml"
    relays = validate(RelayingHostsFile, read_yaml(relays_path, data_label(relays_path)), data_label(relays_path)).hosts
    if problems:
        raise ManifestError(problems)
    return Catalog(catalog.version, controls, catalog.threats, catalog.probe_categories, kinds, presets,
                   relaying_hosts=tuple(relays))
