"""Load a manifest from one or more files (one per party is the intended use), merge, and check it.

Merging is deterministic: files are read in sorted path order; an item defined identically in two
files is kept once; the same key defined with different values is an error naming both places.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

from demarcate.catalog import Catalog, check_control, load_catalog
from demarcate.model.errors import ManifestError, Position, Problem, did_you_mean
from demarcate.model.schema import (
    PRINCIPAL_WORDS,
    Claim,
    ComponentBase,
    Control,
    Decision,
    Flow,
    Party,
    Preset,
    RelayingHost,
    Requirement,
    SystemInfo,
    manifest_file_model,
)
from demarcate.model.validate import validate
from demarcate.model.yamlio import STDIN, STDIN_NAME, locate, positions_of, read_yaml

MANIFEST_SUFFIXES = (".yaml", ".yml")


class Positions(dict):
    """Where each item of a manifest was written, keyed like ("component", id). A position is
    worked out when first read with [] or get: most are never shown, and a portfolio has tens of
    thousands. (values() and items() would see entries not yet worked out; nothing uses them.)"""

    def __init__(self) -> None:
        super().__init__()
        self.written: dict[tuple[str, Any], tuple[Any, tuple[Any, ...], str]] = {}  # for of_field

    def pending(self, key: tuple[str, Any], raw: Any, loc: tuple[Any, ...], name: str) -> None:
        dict.__setitem__(self, key, (raw, loc, name))
        self.written[key] = (raw, loc, name)

    def of_field(self, key: tuple[str, Any], field: str) -> Position | None:
        """Where one field of an item was written (its `owner:` line, say); the item's place if not known."""
        found = self.written.get(key)
        if found is None:
            return self.get(key)
        raw, loc, name = found
        return locate(raw, (*loc, field), name) or self.get(key)

    def alias(self, key: tuple[str, Any], same_as: tuple[str, Any]) -> None:
        dict.__setitem__(self, key, dict.__getitem__(self, same_as))

    def __getitem__(self, key: tuple[str, Any]) -> Position:
        value = dict.__getitem__(self, key)
        if type(value) is tuple:
            value = locate(*value)
            dict.__setitem__(self, key, value)
        return value

    def get(self, key: tuple[str, Any], default: Any = None) -> Any:
        return self[key] if key in self else default  # noqa: SIM401 (self.get is this method)


@dataclass(frozen=True)
class System:
    """A whole AI application as the manifest describes it: typed, checked, immutable."""

    info: SystemInfo
    parties: dict[str, Party]
    components: dict[str, ComponentBase]
    flows: tuple[Flow, ...]
    claims: tuple[Claim, ...]
    tracking: tuple[Decision, ...]
    catalog: Catalog
    files: tuple[str, ...]
    # Where each item was defined: ("party", id), ("component", id), ("flow", i), ("claim", i), ...
    where: Positions = field(default_factory=Positions)
    # Controls taken to be in effect whatever the configuration says (`check --assume`).
    assumed: frozenset[str] = frozenset()
    # Controls the organisation requires in effect, and where.
    requirements: tuple[Requirement, ...] = ()
    # What a stored campaign showed (`check --evidence`): {run, target, refuted: {control: why},
    # verified: {control: why}}. A refuted control is not in effect, whatever is claimed.
    live: dict[str, Any] | None = None

    @property
    def preset(self) -> Preset | None:
        return self.catalog.presets.get(self.info.preset) if self.info.preset else None

    def kind(self, component_id: str) -> str:
        return self.components[component_id].kind  # type: ignore[attr-defined]

    def parties_with_role(self, role: str) -> list[Party]:
        return [p for p in self.parties.values() if p.role == role]

    def position(self, what: str, key: Any) -> Position | None:
        return self.where.get((what, key))

    def with_evidence(self, live: dict[str, Any]) -> System:
        """The system as a stored campaign showed it (`check --evidence`): the evidence kept for the
        analysis, and what it contradicts of the manifest taken as the campaign saw it (`actual`: a
        tool's `destinations`, where its call reached a host they do not name, left out; its
        `output-trust`, where it brought the attacker's page to the model, untrusted)."""
        comps = dict(self.components)
        for cid, attributes in live.get("contradicted", {}).items():
            if cid in comps:
                comps[cid] = comps[cid].model_copy(
                    update={a.replace("-", "_"): seen.get("actual") for a, seen in attributes.items()})
        return replace(self, live=live, components=comps)


@functools.cache
def _file_model(catalog: Catalog) -> type:
    return manifest_file_model(catalog.kinds)


def manifest_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Expand folders into their YAML files; keep files (and "-", standard input) as given; sorted
    for determinism."""
    found: list[Path] = []
    problems: list[Problem] = []
    for raw in paths:
        path = Path(raw)
        if str(raw) == STDIN:
            found.append(path)
        elif path.is_dir():
            named = sorted(p for p in path.iterdir() if p.suffix in MANIFEST_SUFFIXES)
            files = [p for p in named if p.is_file()]
            # A link to nothing (or to itself) named like a manifest is a file the author meant to be read.
            problems += [Problem("a link to nothing: its target is missing or it links back to itself"
                                 if p.is_symlink() else "not a regular file", Position(str(p)))
                         for p in named if not p.is_file() and not p.is_dir()]
            if not named:
                problems.append(Problem("folder holds no .yaml or .yml manifest files", Position(str(path))))
            found.extend(files)
        elif path.exists():
            found.append(path)
        else:
            problems.append(Problem("no such file or folder", Position(str(path))))
    if problems:
        raise ManifestError(problems)
    return sorted(dict.fromkeys(found), key=lambda p: str(p))


def load(paths: Sequence[str | Path], catalog: Catalog | None = None) -> System:
    """Read, validate, merge and reference-check a manifest. Raises ManifestError with every problem."""
    catalog = catalog or load_catalog()
    files = manifest_paths(paths)
    model = _file_model(catalog)
    parsed: list[tuple[str, Any, Any, dict[str, list[int]] | None]] = []
    problems: list[Problem] = []
    unreadable = False
    # Ids of items that failed validation: references to them are not reported as unknown as well.
    invalid: dict[str, set[str]] = {"party": set(), "component": set()}
    loose: list[_Loose] = []  # what the items that failed validation refer to, and where they are
    for path in files:
        name = _name(path)
        try:
            raw = read_yaml(path, name)
            if raw is not None and not isinstance(raw, dict):
                raise ManifestError([Problem("a manifest file must be a mapping of sections (parties:, components:, ...)", Position(name, 1, 1))])
        except ManifestError as exc:
            problems += exc.problems
            unreadable = True
            continue
        try:
            parsed.append((name, raw or {}, validate(model, raw, name), None))
        except ManifestError as exc:
            # Every problem at once: what is valid in the file is still merged and its references
            # checked, so that fixing these does not bring the next wave to light.
            problems += exc.problems
            valid, sections = _valid_part(model, raw, name, invalid, loose)
            parsed.append((name, raw, valid, sections))
    if unreadable:  # a file that cannot be read hides what it defines: references would be guesses
        raise ManifestError(problems)
    merger = _Merger(problems, invalid, loose)
    for name, raw, doc, kept in parsed:
        merger.add(name, raw, doc, kept)
    return merger.finish(catalog, tuple(_name(f) for f in files))


_SECTIONS = ("parties", "components", "flows", "controls", "custom-controls", "tracking", "requirements",
             "relaying-hosts")
# The fields of an item that name another, by section: (field, what it names).
_REFERRING = {"components": (("owner", "party"), ("operated-by", "party")),
              "flows": (("from", "component"), ("to", "component")),
              "controls": (("control", "control"), ("party", "party"), ("relies-on", "party"))}
_DEFINES = {"parties": "party", "components": "component"}


class _Loose(NamedTuple):
    """A name in an item that failed validation: an id it defines (`field` "id") or a reference."""

    what: str  # party | component | control
    value: str
    field: str
    where: Position | None


def _valid_part(model: Any, raw: Any, name: str, invalid: dict[str, set[str]],
                loose: list[_Loose]) -> tuple[Any, dict[str, list[int]]]:
    """The items of a file that failed validation which are valid on their own, as a document, with
    each section's kept indices in the file. Of the others, the ids they define go into `invalid`
    and what they define or name, where, into `loose`."""
    kept: dict[str, list[int]] = {}
    data: dict[str, Any] = {}
    if isinstance(raw.get("system"), dict) and _valid(model, {"system": raw["system"]}):
        data["system"] = raw["system"]
    for section in _SECTIONS:
        items = raw.get(section)
        if not isinstance(items, list):
            continue
        kept[section] = [i for i, item in enumerate(items) if _valid(model, {section: [item]})]
        data[section] = [items[i] for i in kept[section]]
        for i, item in enumerate(items):
            if i in kept[section] or not isinstance(item, dict):
                continue
            what = _DEFINES.get(section)
            if what and isinstance(item.get("id"), str):
                invalid[what].add(item["id"])
                loose.append(_Loose(what, item["id"], "id", locate(raw, (section, i), name)))
            for key, named in _REFERRING.get(section, ()):
                if isinstance(item.get(key), str):
                    loose.append(_Loose(named, item[key], key, locate(raw, (section, i, key), name)))
    return model.model_validate(data), kept


def _valid(model: type, data: dict[str, Any]) -> bool:
    try:
        validate(model, data, "")
    except ManifestError:
        return False
    return True


def _sends_where_the_call_says(comp: ComponentBase) -> bool:
    """Whether a component sends out to wherever its call names, neither its hosts (`destinations`) nor
    the service it hands its sending to (`sends-through`) written down."""
    return ("send-external" in (comp.get("effects") or ())
            and not comp.get("destinations") and not comp.get("sends-through"))


def _name(path: Path) -> str:
    """A manifest file's name in messages and positions."""
    return STDIN_NAME if str(path) == STDIN else str(path)


def _mark_unsafe_hosts(comp: ComponentBase, catalog: Catalog, relaying: Sequence[RelayingHost]) -> ComponentBase:
    """The component with every host-list entry that a known relaying host covers marked `relays`
    (or `uploads`), the reason in its note, so that every check and every report sees it as the
    manifest would have said it."""
    spec = catalog.kinds[comp.kind]  # type: ignore[attr-defined]
    update: dict[str, Any] = {}
    for name, attr in spec.attributes.items():
        if attr.type != "hosts":
            continue
        field_name = name.replace("-", "_")
        hosts = getattr(comp, field_name)
        if not hosts:
            continue
        marked = []
        for h in hosts:
            known = None if h.unsafe else next((r for r in relaying if r.covers(h.host)), None)
            flag = "relays" if known and known.via == "fetch" else "uploads"
            # An entry that says `relays: false` or `uploads: false` outright is taken at its word: the
            # author knows their tenant (a webhook fixed in configuration, their own proxy).
            known = None if flag in h.model_fields_set else known
            marked.append(h.model_copy(update={flag: True, "note": h.note or known.reason}) if known else h)
        if marked != hosts:
            update[field_name] = marked
    return comp.model_copy(update=update) if update else comp


class _Merger:
    def __init__(self, problems: list[Problem] | None = None, invalid: dict[str, set[str]] | None = None,
                 loose: list[_Loose] | None = None) -> None:
        self.problems: list[Problem] = list(problems or [])
        self.invalid = invalid or {}
        self.loose = loose or []
        self.where = Positions()
        self.system: dict[str, tuple[Any, Position]] = {}
        self.parties: dict[str, Party] = {}
        self.components: dict[str, ComponentBase] = {}
        self.flows: dict[tuple[str, str], Flow] = {}
        self.claims: dict[tuple[str, str | None, str], Claim] = {}
        self.controls: dict[str, Control] = {}
        self.tracking: dict[str, Decision] = {}
        self.requirements: dict[tuple[str, str], Requirement] = {}
        self.relaying_hosts: dict[tuple[str, str], RelayingHost] = {}

    def _keyed(self, table: dict[Any, Any], what: str, key: Any, item: Any, at: tuple[Any, str, str, int],
               label: str) -> None:
        """Add an item unless an equal one is there; `at` is (raw file, file name, section, index)."""
        raw, name, section, i = at
        if key in table:
            if table[key] != item:
                first = self.where[(what, key)]
                self.problems.append(Problem(f"{label} is defined differently in two places",
                                             locate(raw, (section, i), name), f"also defined at {first}"))
            return
        table[key] = item
        self.where.pending((what, key), positions_of(raw), (section, i), name)

    def add(self, name: str, raw: Any, doc: Any, kept: dict[str, list[int]] | None = None) -> None:
        """`kept`: for a file whose invalid items were left out, the index in the file of each item
        kept, by section, so that positions still point at the right lines."""
        def at(section: str, i: int) -> int:
            return kept[section][i] if kept is not None else i

        if doc.system is not None:
            for key, value in doc.system.model_dump(by_alias=True, exclude_unset=True).items():
                pos = locate(raw, ("system", key), name)
                if key in self.system and self.system[key][0] != value:
                    self.problems.append(
                        Problem(f"system.{key} is set differently in two files", pos,
                                f"also set at {self.system[key][1]}")
                    )
                else:
                    self.system.setdefault(key, (value, pos))
        for i, party in enumerate(doc.parties):
            self._keyed(self.parties, "party", party.id, party, (raw, name, "parties", at("parties", i)), f"party '{party.id}'")
        for i, comp in enumerate(doc.components):
            self._keyed(self.components, "component", comp.id, comp, (raw, name, "components", at("components", i)),
                        f"component '{comp.id}'")
        for i, flow in enumerate(doc.flows):
            key = (flow.source, flow.target)
            self._keyed(self.flows, "flow", key, flow, (raw, name, "flows", at("flows", i)), f"flow {flow.source} -> {flow.target}")
        for i, claim in enumerate(doc.controls):
            key = (claim.control, claim.party, claim.kind)
            self._keyed(self.claims, "claim", key, claim, (raw, name, "controls", at("controls", i)),
                        f"claim '{claim.kind}' on {claim.control} by {claim.party or 'nobody'}")
        for i, control in enumerate(doc.custom_controls):
            self._keyed(self.controls, "control", control.id, control, (raw, name, "custom-controls", at("custom-controls", i)),
                        f"custom control {control.id}")
        for i, decision in enumerate(doc.tracking):
            self._keyed(self.tracking, "decision", decision.finding, decision, (raw, name, "tracking", at("tracking", i)),
                        f"tracking entry for '{decision.finding}'")
        for i, relaying in enumerate(doc.relaying_hosts):
            self._keyed(self.relaying_hosts, "relaying-host", (relaying.host, relaying.match), relaying,
                        (raw, name, "relaying-hosts", at("relaying-hosts", i)), f"relaying host {relaying.host}")
        for i, requirement in enumerate(doc.requirements):
            key = (requirement.control, requirement.on.model_dump_json())
            self._keyed(self.requirements, "requirement", key, requirement, (raw, name, "requirements", at("requirements", i)),
                        f"requirement of {requirement.control} on the same components")

    def finish(self, catalog: Catalog, files: tuple[str, ...]) -> System:
        info_data = {k: v for k, (v, _) in self.system.items()}
        first = Position(files[0], 1, 1) if files else Position("<manifest>")
        if "name" not in info_data:
            # Unnamed: called after its one file, or after the folder holding its files.
            named = ""
            if files:
                named = Path(files[0]).stem if len(files) == 1 else Path(files[0]).resolve().parent.name
            info_data["name"] = named or "system"
        info = SystemInfo.model_validate(info_data)
        if "preset" in self.system:
            self.where[("system", "preset")] = self.system["preset"][1]
        self.where.setdefault(("system", "name"), self.system.get("name", (None, first))[1])

        for cid, control in self.controls.items():
            pos = self.where[("control", cid)]
            if cid in catalog.controls:
                self.problems.append(Problem(f"custom control {cid} has the id of a built-in control", pos,
                                             "choose another id, for example with your organisation's prefix"))
            self.problems += check_control(control, catalog.kinds, catalog.threats, catalog.probe_categories, pos)
        catalog = catalog.with_custom(list(self.controls.values()))
        # Which known hosts pass data on depends on who builds the request (`via`). A URL fetched
        # carries data out from any host list. A service that delivers to whoever the call names (a
        # mail API, an issue in the attacker's public repository) does so for any tool that sends out
        # where its call says: in its destinations and on the egress its traffic goes through. An
        # account anyone opens takes data only with the attacker's own key, which only code that
        # builds its own requests puts there: on egress that carries a code-running tool's traffic.
        known = (*catalog.relaying_hosts, *self.relaying_hosts.values())
        fetching = tuple(r for r in known if r.via == "fetch")
        delivering = tuple(r for r in known if r.via != "upload")
        comps = self.components
        feeding = [(comps[f.source], f.target) for f in self.flows.values()
                   if f.target in comps and comps[f.target].kind == "network-egress"  # type: ignore[attr-defined]
                   and f.source in comps]
        runs_code = {target for source, target in feeding if "execute-code" in (source.get("effects") or ())}
        sends = {target for source, target in feeding if _sends_where_the_call_says(source)}
        sends |= {cid for cid, c in comps.items()
                  if c.kind == "tool" and "send-external" in (c.get("effects") or ())}  # type: ignore[attr-defined]
        hosts_for = {cid: known if cid in runs_code else delivering if cid in sends else fetching for cid in comps}
        system = System(
            info=info,
            parties=self.parties,
            components={cid: _mark_unsafe_hosts(c, catalog, hosts_for[cid]) for cid, c in comps.items()},
            flows=tuple(self.flows.values()),
            claims=tuple(self.claims.values()),
            tracking=tuple(self.tracking.values()),
            requirements=tuple(self.requirements.values()),
            catalog=catalog,
            files=files,
            where=self._renumber(),
        )
        self.problems += _references(system, self.invalid)
        self.problems += self._loose_problems(system)
        if self.problems:
            raise ManifestError(self.problems)
        return system

    def _loose_problems(self, system: System) -> list[Problem]:
        """What the items that failed validation get wrong besides: a name they refer to that
        nothing defines, an id another item defines too."""
        known: dict[str, Iterable[str]] = {
            "party": [*system.parties, *self.invalid.get("party", ())],
            "component": [*system.components, *self.invalid.get("component", ())],
            "control": system.catalog.controls}
        problems = []
        defined: dict[tuple[str, str], Position | None] = {}
        reported = {str(p.position) for p in self.problems if p.position is not None}  # a bad value, said once
        for item in self.loose:
            if str(item.where) in reported:
                continue
            if item.field == "id":
                first = system.where.get((item.what, item.value)) or defined.get((item.what, item.value))
                if first is not None:
                    problems.append(Problem(f"{item.what} '{item.value}' is defined differently in two places",
                                            item.where, f"also defined at {first}"))
                defined.setdefault((item.what, item.value), item.where)
            elif item.value not in known[item.what]:
                problems.append(Problem(f"unknown {item.what} '{item.value}'", item.where,
                                        did_you_mean(item.value, known[item.what]) or _known(item.what, known[item.what])))
        return problems

    def _renumber(self) -> Positions:
        """Flows and claims are addressed by their index in the merged system, like parties by id."""
        where = self.where
        for i, flow in enumerate(self.flows):
            where.alias(("flow", i), ("flow", flow))
        for i, requirement in enumerate(self.requirements):
            where.alias(("requirement", i), ("requirement", requirement))
        for i, claim in enumerate(self.claims):
            where.alias(("claim", i), ("claim", claim))
            # The first claim on each control: where findings about that control point.
            if ("control-claim", claim[0]) not in where:
                where.alias(("control-claim", claim[0]), ("claim", claim))
        return where


def _references(system: System, invalid: dict[str, set[str]] | None = None) -> list[Problem]:
    """Every id a manifest mentions must exist; unknown ones get the nearest known spelling, else
    the known ones. Ids of items reported invalid already (`invalid`, by what) are not unknown."""
    problems: list[Problem] = []
    parties = system.parties
    comps = system.components
    controls = system.catalog.controls
    invalid = invalid or {}

    def ref(value: str, known: dict[str, Any] | Iterable[str], what: str, at: tuple[str, Any],
            field: str | None = None) -> None:
        if value not in known and value not in invalid.get(what, ()):
            # `at` is the referring item's key in system.where; `field` the line's
            where = system.where.of_field(at, field) if field else system.where.get(at)
            named = [*known, *invalid.get(what, ())]
            problems.append(Problem(f"unknown {what} '{value}'", where, did_you_mean(value, named) or _known(what, named)))

    if system.info.preset:
        ref(system.info.preset, system.catalog.presets, "preset", ("system", "preset"))
    # Only attributes that name parties, principals or components refer to anything.
    referring = {kind: [(attr, aspec) for attr, aspec in spec.attributes.items()
                        if aspec.type in ("parties", "principals", "components")]
                 for kind, spec in system.catalog.kinds.items()}
    at: tuple[str, Any]
    for cid, comp in comps.items():
        at = ("component", cid)
        ref(comp.owner, parties, "party", at, "owner")
        if comp.operated_by:
            ref(comp.operated_by, parties, "party", at, "operated-by")
        for control in comp.configurable or ():
            ref(control, controls, "control", at, "configurable")
            if control in controls and controls[control].applies_to and comp.kind not in controls[control].applies_to:  # type: ignore[attr-defined]
                problems.append(Problem(
                    f"{control} in configurable of component '{cid}' does not act on its kind ({comp.kind})", system.where.of_field(at, "configurable"),  # type: ignore[attr-defined]
                    f"it acts on: {', '.join(controls[control].applies_to)}"))
        for attr, aspec in referring[comp.kind]:  # type: ignore[attr-defined]
            value = comp.attr(attr)
            if not value:
                continue
            if aspec.type == "parties":
                for p in value:
                    ref(p, parties, "party", at)
            elif aspec.type == "components":
                for c in value:
                    ref(c, comps, "component", at, attr)
            elif aspec.type == "principals":
                for p in value:
                    if p not in parties and p not in PRINCIPAL_WORDS:
                        problems.append(Problem(
                            f"unknown principal '{p}' in {attr} of component '{cid}'", system.where[at],
                            did_you_mean(p, [*parties, *PRINCIPAL_WORDS])
                            or f"use a party id or one of: {', '.join(PRINCIPAL_WORDS)}"))
    for i, flow in enumerate(system.flows):
        at = ("flow", i)
        ref(flow.source, comps, "component", at)
        ref(flow.target, comps, "component", at)
        if flow.source == flow.target:
            problems.append(Problem(f"flow from '{flow.source}' to itself", system.where[at]))
    for i, claim in enumerate(system.claims):
        at = ("claim", i)
        ref(claim.control, controls, "control", at)
        if claim.party:
            ref(claim.party, parties, "party", at)
        if claim.relies_on:
            ref(claim.relies_on, parties, "party", at)
        for c in claim.scope:
            ref(c, comps, "component", at)
    for i, requirement in enumerate(system.requirements):
        problems += _requirement_problems(system, requirement, ("requirement", i), ref)
    return problems


def _requirement_problems(system: System, requirement: Requirement, at: tuple[str, Any],
                          ref: Callable[[str, Any, str, tuple[str, Any]], None]) -> list[Problem]:
    """A requirement names a control that can protect what it selects, in the words of that kind."""
    problems: list[Problem] = []
    where = system.where.get(at)
    control = system.catalog.controls.get(requirement.control)
    ref(requirement.control, system.catalog.controls, "control", at)
    scope = requirement.on
    for pid in filter(None, (requirement.party, scope.owner)):
        ref(pid, system.parties, "party", at)
    for cid in scope.components:
        ref(cid, system.components, "component", at)
    kinds = system.catalog.kinds
    if scope.kind is not None:
        ref(scope.kind, kinds, "component kind", at)
    if control is None or (scope.kind is not None and scope.kind not in kinds):
        return problems
    if not control.applies_to and (scope.kind or scope.components or scope.owner or scope.where):
        problems.append(Problem(f"{control.id} is a control of the system as a whole: it protects no component",
                                where, "leave out 'on'"))
        return problems
    if scope.kind is not None and scope.kind not in control.applies_to:
        problems.append(Problem(f"{control.id} does not protect {scope.kind} components", where,
                                f"it applies to {', '.join(control.applies_to) or 'no component kind'}"))
    if scope.where and scope.kind is None:
        problems.append(Problem("a requirement's 'where' needs 'kind': attributes are a kind's", where))
        return problems
    attributes = kinds[scope.kind].attributes if scope.kind is not None else {}
    for attribute, wanted in scope.where.items():
        spec = attributes.get(attribute)
        if spec is None:
            problems.append(Problem(f"{scope.kind} components have no attribute '{attribute}'", where,
                                    did_you_mean(attribute, attributes)))
            continue
        allowed: list[Any] | None = list(spec.values) or ([True, False] if spec.type == "bool" else None)
        for value in wanted if isinstance(wanted, list) else [wanted]:
            if allowed is not None and value not in allowed:
                problems.append(Problem(f"'{value}' is not a value of {scope.kind}.{attribute}", where,
                                        did_you_mean(str(value), [str(v) for v in allowed])
                                        or f"expected one of: {', '.join(str(v).lower() for v in allowed)}"))
    return problems


def _known(what: str, known: dict[str, Any] | Iterable[str]) -> str:
    """The hint for an unknown id nothing is spelt like: the ids there are, or where to list them."""
    names = sorted(known)
    if not names:
        return f"the manifest defines no {what} yet"
    if len(names) <= 12:
        return "known: " + ", ".join(names)
    where = {"control": "`demarcate catalog`", "preset": "`demarcate presets`"}.get(what)
    return f"{len(names):,} are known; see {where}" if where else f"{len(names):,} are known, none spelt like it"
