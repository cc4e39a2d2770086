"""What the rules share: the system, who is responsible for what, and whether a control is in
effect on a given component (claimed, shown by configuration, or contradicted by it)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from demarcate.analysis.responsibility import STATUS_RANK, Responsibilities, Responsibility
from demarcate.model.loader import System
from demarcate.model.schema import ASKS_MODEL, AttributeCheck, Claim, Control

if TYPE_CHECKING:
    from demarcate.analysis.graph import Marked
    from demarcate.analysis.paths import PathAnalysis

# States a control can be in on one component. Only the first two close an attack path.
EFFECTIVE = ("implemented", "configured")

# Writers outside the organisation make a source untrusted whatever its label says.
OUTSIDERS = ("anyone", "customers", "authenticated-users")


def _outside_writers(comp: Any) -> list[str]:
    """Those beyond the owner's staff who can write to a data source or a memory (`writable-by`)."""
    return [w for w in comp.writable_by or [] if w in OUTSIDERS]


@dataclass(frozen=True, eq=False)
class ControlState:
    """How a control stands on one component. Equal states without a reason are one shared object."""

    state: str  # implemented | configured | partial | planned | contradicted | not-applicable | missing
    parties: tuple[str, ...]
    reason: str = ""
    # Provided only by a prompt or a classifier (`by` on its claims): in place, but it lowers the odds
    # and closes nothing, so an enforced control so provided is not in effect as one.
    by_model: bool = False

    @property
    def effective(self) -> bool:
        return self.state in EFFECTIVE and not self.by_model


class Context:
    """Computed once per analysis and handed to every rule."""

    def __init__(self, system: System, resp: Responsibilities | None = None):
        self.system = system
        self.resp = resp or Responsibilities(system)
        self.catalog = system.catalog
        self._kinds = {cid: c.kind for cid, c in system.components.items()}  # type: ignore[attr-defined]
        self._of_kind: dict[str, list[str]] = {}
        for cid, kind in self._kinds.items():
            self._of_kind.setdefault(kind, []).append(cid)
        self._states: dict[tuple[str, str], ControlState] = {}
        self._refuted: dict[str, Any] = (system.live or {}).get("refuted", {})  # by a live test (`--evidence`)
        self._refuted_on: dict[str, list[str]] = (system.live or {}).get("refuted_on", {})
        self._verified: dict[str, str] = (system.live or {}).get("verified", {})  # seen holding by a live test
        self._verified_on: dict[str, list[str]] = (system.live or {}).get("verified_on", {})
        self._provider_index: dict[str, tuple[list[Claim], dict[str, list[Claim]]]] = {}
        self._owned: dict[str, dict[str, list[str]]] = {}  # by control: protected components by owner
        self._acting: dict[tuple[str, frozenset[str]], list[Control]] = {}
        self._defaults: dict[str, frozenset[str]] = {}
        self._check_index: dict[tuple[str, str], list[AttributeCheck]] = {}
        self._neighbours: dict[str, dict[str, None]] = {}
        # Facts rules derive from the system and ask for again and again, keyed by (what, about).
        self.memo: dict[tuple[str, str], Any] = {}
        self._interned: dict[tuple[str, tuple[str, ...]], ControlState] = {}
        self._by_kind: dict[str, list[Control]] = {}
        for control in self.catalog.controls.values():
            for kind in control.applies_to:
                self._by_kind.setdefault(kind, []).append(control)

    @cached_property
    def paths(self) -> PathAnalysis:
        from demarcate.analysis.paths import analyse_paths

        return analyse_paths(self)

    @cached_property
    def fixed_host_tools(self) -> frozenset[str]:
        """The tools that send only to their own fixed `destinations` (`sends_only_to_fixed_hosts`): what
        they send reaches no host an attacker chose."""
        from demarcate.analysis.paths import sends_only_to_fixed_hosts

        return frozenset(cid for cid in self._of_kind.get("tool", ())
                         if sends_only_to_fixed_hosts(self.system.components[cid]))

    # What lies upstream of each component, for every component at once: asking for ancestors one
    # component at a time is quadratic in a long chain.
    @cached_property
    def untrusted_upstream(self) -> Marked:
        """The untrusted sources whose content reaches each component."""
        return self.paths.graph.marked(self.is_untrusted_source)

    @cached_property
    def private_upstream(self) -> Marked:
        """The components holding private data whose content reaches each component."""
        return self.paths.graph.marked(self.holds_private_data)

    @cached_property
    def models_upstream(self) -> Marked:
        """The models whose output reaches each component."""
        return self.paths.graph.marked(lambda c: self._kinds[c] == "model")

    def controls_for_kind(self, kind: str) -> list[Control]:
        return self._by_kind.get(kind, [])

    def acting_controls(self, kind: str, threats: frozenset[str]) -> list[Control]:
        """Applicable preventive or likelihood-lowering controls on a kind against any of the threats."""
        key = (kind, threats)
        if key not in self._acting:
            self._acting[key] = [
                c for c in self._by_kind.get(kind, [])
                if c.function in ("prevent", "reduce") and threats.intersection(c.mitigates) and self.resp.applies(c)
            ]
        return self._acting[key]

    def kind(self, component_id: str) -> str:
        return self._kinds[component_id]

    def components_of(self, *kinds: str) -> list[str]:
        if len(kinds) == 1:
            return self._of_kind.get(kinds[0], [])
        return [cid for cid, kind in self._kinds.items() if kind in kinds]

    def state(self, control_id: str, component_id: str) -> ControlState:
        key = (control_id, component_id)
        found = self._states.get(key)
        if found is None:
            found = self._state(control_id, component_id)
            refuted = self._refuted.get(control_id)
            only = self._refuted_on.get(control_id)  # the components a live test got past it on, if known
            if only is not None and component_id not in only:
                refuted = None
            if found.effective and refuted and control_id not in self.system.assumed:
                # A live test got past it: claimed or configured, it did not hold.
                found = ControlState("contradicted", found.parties, f"refuted by {refuted}")
            if found.effective and control_id not in self.system.assumed:
                switch = self._approval_switch(control_id, component_id)
                if switch:
                    found = ControlState("contradicted", found.parties,
                                         f"the agent can switch approvals off through {switch}")
            self._states[key] = found
        return found

    def _approval_switch(self, control_id: str, component_id: str) -> str:
        """For an approval gate on a tool: another tool the same model calls through which the agent
        can rewrite tool settings or approval rules (a workspace settings file, its own MCP config)
        without anyone's approval — an approval the agent can switch off approves nothing."""
        if not self.catalog.controls[control_id].approval:
            return ""
        into, out_of = self._flows
        for model in into.get(component_id, ()):
            if self._kinds[model] != "model":
                continue
            for other in sorted(out_of[model]):
                comp = self.system.components[other]
                if (other != component_id and self._kinds[other] == "tool" and comp.self_configurable  # type: ignore[attr-defined]
                        and comp.confirmation == "none" and not self.effective("APP-TOOL-07", other)  # type: ignore[attr-defined]
                        and (comp.switches_approvals is None or component_id in comp.switches_approvals)):  # type: ignore[attr-defined]
                    return other
        return ""

    def effective(self, control_id: str, component_id: str) -> bool:
        return self.state(control_id, component_id).effective

    def shown(self, control_id: str, component_id: str) -> str:
        """What shows, beyond a party's word, that a control in effect on a component holds: the
        component's configuration, a test named in a claim's evidence, or a stored campaign that
        verified it (`check --evidence`). Empty when nothing does, or when it is not in effect."""
        state = self.state(control_id, component_id)
        if not state.effective:
            return ""
        checks = self._checks(self.resp[control_id], self._kinds[component_id])
        if state.state == "configured" or (checks and not self.failing_checks(control_id, component_id)):
            return "its configuration"
        only = self._verified_on.get(control_id)  # the components it was seen holding on, if known
        if control_id in self._verified and (only is None or component_id in only):
            return f"campaign {self.system.live['run']}"  # type: ignore[index]
        everywhere, scoped = self._index_claims(control_id)
        for claim in (*everywhere, *scoped.get(component_id, ())):
            if claim.provides == "implemented":
                tests = [e.ref for e in claim.evidence if e.kind == "test"]
                if tests:
                    return f"test {tests[0]}"
        return ""

    def in_effect(self, control_id: str) -> frozenset[str]:
        """The components it protects that a control is in effect on."""
        found = self.memo.get(("in-effect", control_id))
        if found is None:
            found = self.memo["in-effect", control_id] = frozenset(
                c for c in self.may_be_in_effect(control_id) if self.state(control_id, c).effective)
        return found

    def may_be_in_effect(self, control_id: str) -> list[str] | tuple[str, ...]:
        """The components it protects that a control can be in effect on: only those some claim
        covers, or whose configuration the control reads (in a portfolio, a small share)."""
        r = self.resp[control_id]
        everywhere, scoped = self._index_claims(control_id)
        if everywhere:
            return r.protected
        found = self.memo.get(("may-be-in-effect", control_id))
        if found is None:
            shown = {check.kind for check in r.control.configured_by}
            found = self.memo["may-be-in-effect", control_id] = [
                c for c in r.protected if c in scoped or self._kinds[c] in shown]
        return found

    def _index_claims(self, control_id: str) -> tuple[list[Claim], dict[str, list[Claim]]]:
        """A control's provides-claims: those that cover every component it protects, and by
        component the others. A claim's `scope` names what it covers. Without one it covers the
        protected components its party owns; if the party owns none of them (an application team's
        guard in front of a vendor's model, say), those its own components exchange content with;
        failing that, all of them."""
        index = self._provider_index.get(control_id)
        if index is None:
            r = self.resp[control_id]
            everywhere: list[Claim] = []
            scoped: dict[str, list[Claim]] = {}
            for claim in r.providers:
                covered = (claim.scope or self._owned_by(control_id).get(claim.party or "")
                           or self._next_to(claim.party, r.protected_set))
                if not covered:
                    everywhere.append(claim)
                for cid in covered:
                    scoped.setdefault(cid, []).append(claim)
            index = self._provider_index[control_id] = (everywhere, scoped)
        return index

    def _owned_by(self, control_id: str) -> dict[str, list[str]]:
        """The components a control protects, by owner."""
        owned = self._owned.get(control_id)
        if owned is None:
            owned = self._owned[control_id] = {}
            for c in self.resp[control_id].protected:
                comp = self.system.components[c]
                owned.setdefault(comp.owner, []).append(c)
                if comp.operated_by and comp.operated_by != comp.owner:  # its operator's claims cover it too
                    owned.setdefault(comp.operated_by, []).append(c)
        return owned

    def concerning(self, control_id: str, parties: Iterable[str]) -> tuple[list[str], list[str]]:
        """The components it protects that claims between these parties on a control are about,
        and their owners: all of them, except those of a peer — a party with the role of one of
        these that takes no part (another application team of a portfolio, whose components one
        team's reliance on the vendor says nothing about). If peers own all of them, all of them."""
        protected = self.resp[control_id].protected
        owned = self._owned_by(control_id)
        involved = set(parties)
        known = self.system.parties
        roles = {known[p].role for p in involved if p in known}
        peers = {o for o in owned if o not in involved and o in known and known[o].role in roles}
        if not peers or peers.issuperset(owned):  # nothing to leave out, or nothing would be left
            return list(protected), list(owned)
        order = self.memo.get(("protected-order", control_id))
        if order is None:
            order = self.memo["protected-order", control_id] = {c: i for i, c in enumerate(protected)}
        owners = [o for o in owned if o not in peers]
        return sorted({c for o in owners for c in owned[o]}, key=order.__getitem__), owners

    def kinds_of(self, component_ids: Iterable[str]) -> set[str]:
        return set(map(self._kinds.__getitem__, component_ids))

    def _next_to(self, party: str | None, protected: frozenset[str]) -> list[str]:
        """Of the protected components, those a flow connects to a component the party owns."""
        if not party:
            return []
        if not self._neighbours:
            owner = {cid: c.owner for cid, c in self.system.components.items()}
            for flow in self.system.flows:
                self._neighbours.setdefault(owner[flow.source], {})[flow.target] = None
                self._neighbours.setdefault(owner[flow.target], {})[flow.source] = None
        return [c for c in self._neighbours.get(party, ()) if c in protected]

    def covered(self, control_id: str) -> list[str]:
        """The components that some provides-claim on the control covers."""
        everywhere, scoped = self._index_claims(control_id)
        return list(self.resp[control_id].protected) if everywhere else list(scoped)

    def failing_checks(self, control_id: str, component_id: str) -> list[AttributeCheck]:
        """The control's configuration checks for the component's kind that its attributes fail."""
        if control_id in self.system.assumed:
            return []
        comp = self.system.components[component_id]
        return [c for c in self._checks(self.resp[control_id], comp.kind) if not c.holds(comp)]  # type: ignore[attr-defined]

    def _checks(self, r: Responsibility, kind: str) -> list[AttributeCheck]:
        key = (r.control.id, kind)
        if key not in self._check_index:
            self._check_index[key] = [c for c in r.control.configured_by if c.kind == kind]
        return self._check_index[key]

    def _state(self, control_id: str, component_id: str) -> ControlState:
        r = self.resp[control_id]
        comp = self.system.components[component_id]
        everywhere, scoped = self._index_claims(control_id)
        claims = everywhere + scoped[component_id] if component_id in scoped else everywhere
        checks = self._checks(r, comp.kind)  # type: ignore[attr-defined]
        if not claims and not checks:  # the common case in a large portfolio: nobody, nothing shown
            if r.not_applicable is not None:
                return self._plain("not-applicable", ())
            return self._missing(r, comp)
        best = max((c.provides or "planned" for c in claims), key=STATUS_RANK.__getitem__, default=None)
        providers = tuple(dict.fromkeys(c.party for c in claims if c.party))
        failing = [] if control_id in self.system.assumed else [c for c in checks if not c.holds(comp)]
        if best in ("implemented", "partial"):
            if failing:
                why = "; ".join(c.describe(comp) for c in failing)
                return ControlState("contradicted", providers, why)
            # Resting on a model's judgement, unless the component's configuration shows it in place.
            by = {c.by or "" for c in claims if c.provides == best} if self.asks_model(r.control.id) and not checks else set()
            if by and by <= ASKS_MODEL:
                said = " or ".join(f"a {b}" for b in sorted(by))
                return ControlState(best, providers, f"provided by {said}, which asks a model to tell "
                                    "instructions from data: it lowers the odds and closes nothing", by_model=True)
            return ControlState(best, providers)
        if checks and not failing:
            why = "; ".join(c.describe(comp) for c in checks)
            return ControlState("configured", (comp.actor,), why)
        why = "; ".join(c.describe(comp) for c in failing)
        if best == "planned":
            return ControlState("planned", providers, why)
        if r.not_applicable is not None:
            return ControlState("not-applicable", ())
        return self._missing(r, comp, why)

    def asks_model(self, control_id: str) -> bool:
        """Whether some party provides this control, one that closes paths, by asking a model (`by`)."""
        found = self.memo.get(("asks-model", control_id))
        if found is None:
            r = self.resp[control_id]
            found = self.memo["asks-model", control_id] = r.control.closes_paths and any(
                c.asks_model for c in r.providers)
        return found

    def _missing(self, r: Responsibility, comp: Any, why: str = "") -> ControlState:
        """A control missing on a component: who answers for it (`_missing_parties`), or its maker where
        the party that runs it has no setting for it (`configurable`)."""
        if comp.configurable is not None and comp.acts_on(r.control.id) != comp.actor:
            unset = f"{comp.id} has no setting for it (configurable): a change to {comp.owner}'s code"
            return ControlState("missing", (comp.owner,), "; ".join(filter(None, (why, unset))))
        parties = self._missing_parties(r, comp.actor, bool(comp.operated_by))
        return ControlState("missing", parties, why) if why else self._plain("missing", parties)

    def _plain(self, state: str, parties: tuple[str, ...]) -> ControlState:
        key = (state, parties)
        found = self._interned.get(key)
        if found is None:
            found = self._interned[key] = ControlState(state, parties)
        return found

    def _missing_parties(self, r: Responsibility, owner: str, operated: bool = False) -> tuple[str, ...]:
        """Who answers for a control missing on a component: the party the manifest says operates
        it (who chooses its credential, its confirmations, where it may reach); else its owner if the
        control falls to it or to its role; otherwise everyone the control falls to."""
        if operated:
            return (owner,)
        defaults = self._defaults.get(r.control.id)
        if defaults is None:
            defaults = self._defaults[r.control.id] = frozenset(r.responsible) | {p.id for p in r.default_parties}
        return (owner,) if owner in defaults else r.responsible

    # --- facts about components that several rules need -----------------------------------

    def is_untrusted_source(self, component_id: str) -> bool:
        comp = self.system.components[component_id]
        kind = comp.kind  # type: ignore[attr-defined]
        if kind == "user-input":
            return comp.trust == "untrusted"  # type: ignore[attr-defined]
        if kind == "data-source":
            return comp.trust in ("untrusted", "mixed") or (  # type: ignore[attr-defined]
                comp.trust != "trusted" and bool(_outside_writers(comp)))  # type: ignore[attr-defined]
        if kind == "tool":
            return comp.output_trust == "untrusted"  # type: ignore[attr-defined]
        if kind == "memory":
            return (bool(comp.shared_across_users) or bool(_outside_writers(comp))  # type: ignore[attr-defined]
                    or self._written_after_untrusted(component_id))
        return False

    def untrusted_because(self, component_id: str) -> str:
        """Why a way in counts as untrusted where its own `trust` does not say so: who else can write
        it. A source marked internal that any signed-in user edits carries whatever they put in it."""
        comp = self.system.components[component_id]
        kind = comp.kind  # type: ignore[attr-defined]
        if kind not in ("data-source", "memory") or (kind == "data-source" and comp.trust in ("untrusted", "mixed")):  # type: ignore[attr-defined]
            return ""
        writers = _outside_writers(comp)
        if writers:
            return f"{' and '.join(writers)} can write it"
        return "shared across users" if kind == "memory" and comp.shared_across_users else ""  # type: ignore[attr-defined]

    def _written_after_untrusted(self, memory: str) -> bool:
        """Persistent memory the model writes, itself or through a tool it calls (a save-memory tool),
        where that model reads untrusted content: an injection saved there comes back in every later
        session, so the memory is a way in of its own. What a user types counts only where the memory
        is shared across users: their own memory they write for themselves."""
        comp = self.system.components[memory]
        if not comp.persistent:  # type: ignore[attr-defined]
            return False
        key = ("written-after-untrusted", memory)
        if key not in self.memo:
            self.memo[key] = False  # while asking: a memory feeding its own writer is not its own proof
            into = self._flows[0]
            kinds = self._kinds
            direct = [m for m in into.get(memory, ()) if kinds[m] == "model"] if comp.model_writable else []  # type: ignore[attr-defined]
            by_tool = [m for t in into.get(memory, ()) if kinds[t] == "tool" for m in into.get(t, ()) if kinds[m] == "model"]
            todo = list(dict.fromkeys([*direct, *by_tool]))
            seen = {memory, *todo}
            while todo:  # everything upstream of the models that write it
                for up in into.get(todo.pop(), ()):
                    if up not in seen:
                        if kinds[up] != "user-input" and self.is_untrusted_source(up):
                            self.memo[key] = True
                            return True
                        seen.add(up)
                        todo.append(up)
        return bool(self.memo[key])

    @cached_property
    def _flows(self) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        """The flows by target (what feeds each component) and by source (what each one feeds), for
        questions asked while the path graph itself is being built."""
        into: dict[str, list[str]] = {}
        out_of: dict[str, list[str]] = {}
        for flow in self.system.flows:
            into.setdefault(flow.target, []).append(flow.source)
            out_of.setdefault(flow.source, []).append(flow.target)
        return into, out_of

    def holds_private_data(self, component_id: str) -> bool:
        comp = self.system.components[component_id]
        kind = comp.kind  # type: ignore[attr-defined]
        if kind == "data-source":
            return comp.sensitivity in ("confidential", "personal")  # type: ignore[attr-defined]
        if kind == "memory":  # what earlier sessions said
            return bool(comp.persistent)  # type: ignore[attr-defined]
        if kind == "tool":
            return "read-private" in (comp.effects or [])  # type: ignore[attr-defined]
        if kind == "system-prompt":
            return bool(comp.contains_secrets)  # type: ignore[attr-defined]
        if kind == "user-input":  # the conversation itself
            return comp.sensitivity in ("confidential", "personal")  # type: ignore[attr-defined]
        return False
