"""Who is responsible for each control, and why: explicit claims, preset defaults, and ownership
of the components the control protects. The matrix, `who` and the gap rules all read this."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from demarcate.model.loader import System
from demarcate.model.schema import OPERATED_BY, Claim, Control, Party

# Without a preset, each layer falls to the role that naturally operates it.
LAYER_ROLE = {
    "model": "model-provider",
    "model-serving": "model-provider",
    "application": "application-developer",
    "app-hosting": "infrastructure-operator",
    "infrastructure": "infrastructure-operator",
    "usage": "deployer",
}
# Without a preset, who serves a model, by its `hosting` (as the presets have it): a provider's API
# is served by the model provider; a model on a cloud platform or your own machines by whoever
# operates that infrastructure.
SERVED_BY = {"provider-api": "model-provider", "cloud-platform": "infrastructure-operator",
             "self-hosted": "infrastructure-operator"}
STATUS_RANK = {"implemented": 3, "partial": 2, "planned": 1}


@dataclass(frozen=True)
class Responsibility:
    control: Control
    providers: tuple[Claim, ...]
    reliances: tuple[Claim, ...]
    not_applicable: Claim | None
    default_roles: tuple[str, ...]
    default_parties: tuple[Party, ...]
    default_reason: str
    verify_only: bool
    protected: tuple[str, ...]  # ids of components the control protects in this system
    component_owners: tuple[str, ...]  # parties that own or operate those components

    @cached_property
    def status(self) -> str:
        """provided | partial | planned | nobody | not-applicable."""
        if self.not_applicable is not None and not self.providers:
            return "not-applicable"
        if not self.providers:
            return "nobody"
        best = max(STATUS_RANK[c.provides or "planned"] for c in self.providers)
        return {3: "implemented", 2: "partial", 1: "planned"}[best]

    @property
    def implemented(self) -> bool:
        return self.status == "implemented"

    @cached_property
    def protected_set(self) -> frozenset[str]:
        return frozenset(self.protected)

    @cached_property
    def owners(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c.party for c in self.providers if c.party))

    @cached_property
    def responsible(self) -> tuple[str, ...]:
        """Who answers for the control: whoever claims it, else whoever the preset puts it on."""
        return self.owners or tuple(p.id for p in self.default_parties)

    @cached_property
    def _by_party(self) -> tuple[dict[str | None, Claim], dict[str | None, Claim]]:
        """Each party's first provides-claim and first relies-on claim on the control."""
        provides: dict[str | None, Claim] = {}
        relies: dict[str | None, Claim] = {}
        for c in self.providers:
            provides.setdefault(c.party, c)
        for c in self.reliances:
            relies.setdefault(c.party, c)
        return provides, relies

    def provided_by(self, party: str) -> Claim | None:
        return self._by_party[0].get(party)

    def relied_by(self, party: str) -> Claim | None:
        return self._by_party[1].get(party)


# Who operates a layer, by a preset's `by`.
class Responsibilities:
    """Responsibility for every control that applies to a system, computed once."""

    def __init__(self, system: System):
        self.system = system
        self._claims: dict[str, list[Claim]] = {}
        for claim in system.claims:
            self._claims.setdefault(claim.control, []).append(claim)
        self._kinds_present: dict[str, list[str]] = {}
        # Who owns or operates each component, and the same for each kind, in order of first appearance.
        self._owners: dict[str, tuple[str, ...]] = {}
        owners_of_kind: dict[str, dict[str, None]] = {}
        for cid, comp in system.components.items():
            self._kinds_present.setdefault(comp.kind, []).append(cid)  # type: ignore[attr-defined]
            owners = self._owners[cid] = (comp.owner, comp.operated_by) if comp.operated_by else (comp.owner,)
            owners_of_kind.setdefault(comp.kind, {}).update(dict.fromkeys(owners))  # type: ignore[attr-defined]
        self._owners_of_kind = {kind: tuple(owners) for kind, owners in owners_of_kind.items()}
        self._protecting: dict[str, tuple[str, ...]] = {}  # by control

    @cached_property
    def system_owners(self) -> tuple[str, ...]:
        """The parties of the organisation that owns the system, the one that must assign a role
        nobody plays: those playing a role the preset says you operate (the application's first, or
        the parties that run its components for an idle developer), or without a preset the
        application developers; failing both, every party."""
        preset = self.system.preset
        roles = ["application-developer"]
        if preset is not None:
            layers = ["application", *(layer for layer in preset.operators if layer != "application")]
            roles = [preset.operators[layer].role for layer in layers  # type: ignore[index]
                     if preset.operators[layer].by == "self"]  # type: ignore[index]
        found = [p.id for r in roles for p in self.system.parties_with_role(r)]
        # Not a developer whose components another party runs here: that party stands in for it.
        found = [*self.stand_ins, *(p for p in found if p not in self.idle_developers)]
        return tuple(dict.fromkeys(found)) or tuple(self.system.parties)

    @cached_property
    def idle_developers(self) -> frozenset[str]:
        """Application developers that run no component of this system while another developer
        does, or while another party runs theirs (`operated-by`): the maker of a remote agent the
        system calls as a tool, an open-source application a company deploys and configures. What
        falls to the application developer's role is not theirs here."""
        comps = self.system.components.values()
        running = {comp.actor for comp in comps}
        idle = self._developers - running
        if not self._developers & running:  # no developer runs anything here: only those another party runs for
            idle &= {comp.owner for comp in comps if comp.operated_by}
        return frozenset(idle)

    @cached_property
    def _developers(self) -> frozenset[str]:
        return frozenset(p.id for p in self.system.parties.values() if p.role == "application-developer")

    @cached_property
    def stand_ins(self) -> tuple[str, ...]:
        """Where every application developer is idle here, the parties that run their components:
        they configure the application, so its layer's controls fall to them."""
        if not self.idle_developers or self._developers != self.idle_developers:
            return ()
        return tuple(dict.fromkeys(comp.actor for comp in self.system.components.values()
                                   if comp.owner in self.idle_developers))

    def applies(self, control: Control) -> bool:
        if control.id in self._claims:
            return True
        if not control.applies_to:
            return True
        return bool(self._protected(control))

    def _protected(self, control: Control) -> tuple[str, ...]:
        """The components a control protects here: those of its kinds, with the attribute values its
        `applies-when` asks for."""
        found = self._protecting.get(control.id)
        if found is None:
            of_kinds = (c for k in control.applies_to for c in self._kinds_present.get(k, ()))
            comps = self.system.components
            found = self._protecting[control.id] = tuple(
                c for c in of_kinds if all(comps[c].attr(a) == v for a, v in control.applies_when.items())
            ) if control.applies_when else tuple(of_kinds)
        return found

    @cached_property
    def applicable(self) -> list[Control]:
        return [c for c in self.system.catalog.controls.values() if self.applies(c)]

    @cached_property
    def by_control(self) -> dict[str, Responsibility]:
        return {c.id: self.of(c) for c in self.applicable}

    def __getitem__(self, control_id: str) -> Responsibility:
        if control_id in self.by_control:
            return self.by_control[control_id]
        return self.of(self.system.catalog.controls[control_id])

    def of(self, control: Control) -> Responsibility:
        system = self.system
        claims = self._claims.get(control.id, [])
        roles, reason, verify_only = self._default(control)
        playing = [p for r in roles for p in system.parties_with_role(r)]
        active = [p for p in playing if p.id not in self.idle_developers]
        if playing and not active and self.stand_ins:
            active = [system.parties[s] for s in self.stand_ins]
            reason += (f"; here {', '.join(self.stand_ins)} {'runs' if len(self.stand_ins) == 1 else 'run'} the "
                       f"components of {', '.join(dict.fromkeys(p.id for p in playing))} (operated-by)")
        playing = active or playing
        # Where parties share a role, the ones that operate this control's layer (all, if none says so).
        operating = [p for p in playing if not p.layers or control.operating_layer in p.layers]
        default_parties = tuple(operating or playing)
        protected = self._protected(control)
        if control.applies_when:
            owners = tuple(dict.fromkeys(o for c in protected for o in self._owners[c]))
        else:  # every component of its kinds: their owners, kind by kind (walking each component per
            # control cost 0.14 G instructions on the 10,000-component benchmark)
            owners = tuple(dict.fromkeys(o for k in control.applies_to for o in self._owners_of_kind.get(k, ())))
        return Responsibility(
            control=control,
            providers=tuple(c for c in claims if c.kind == "provides"),
            reliances=tuple(c for c in claims if c.kind == "relies-on"),
            not_applicable=next((c for c in claims if c.kind == "not-applicable"), None),
            default_roles=roles,
            default_parties=default_parties,
            default_reason=reason,
            verify_only=verify_only,
            protected=protected,
            component_owners=owners,
        )

    def _served_by(self, control: Control) -> dict[str, str]:
        """The hosting of each model the control protects here."""
        comps = self.system.components
        return {c: comps[c].attr("hosting") for c in self._protected(control) if comps[c].kind == "model"}  # type: ignore[attr-defined]

    def _default(self, control: Control) -> tuple[tuple[str, ...], str, bool]:
        """The role(s) a control falls to by default, a sentence saying why, and whether the
        assessing organisation only verifies it (because a vendor operates that layer)."""
        layer = control.operating_layer
        preset = self.system.preset
        if preset is None:
            role = LAYER_ROLE[layer]
            served = self._served_by(control) if layer == "model-serving" else {}
            if served and set(served.values()) != {role}:
                how = "; ".join(f"{m} is {h}" for m, h in served.items())
                roles = tuple(dict.fromkeys(SERVED_BY[h] for h in served.values()))
                return roles, (f"no preset: the model-serving layer falls to whoever serves the model ({how}), "
                               f"so to the {' and the '.join(roles)}"), False
            return (role,), f"no preset: the {layer} layer falls to the {role} by default", False
        operator = preset.operators[layer]  # type: ignore[index]
        verify_only = operator.by != "self" and operator.configured_by != "self"
        override = preset.overrides.get(control.id)
        if override is not None:
            roles = (override.role, *override.shared_with)
            # Given to roles you play (by the preset's operators), it is yours to do, not to verify.
            yours = {op.role for op in preset.operators.values() if op.by == "self" or op.configured_by == "self"}
            verify_only = not (set(roles) & yours)
            why = f"preset {preset.id} assigns {control.id} to the {' and '.join(roles)}"
            if override.why:
                why += f": {override.why.rstrip('.')}"
            return roles, why, verify_only
        who = OPERATED_BY[operator.by]
        why = f"preset {preset.id}: the {layer} layer is operated by the {operator.role} ({who})"
        if operator.configured_by == "self":
            why += ", configured by you"
        return (operator.role,), why, verify_only
