"""The typed shapes of everything demarcate reads: manifests, the control catalog, presets, kinds.

The catalog and the presets shipped in the package are validated by these same models, so a
custom control in a manifest and a built-in one are held to the same rules.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from functools import cached_property
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, create_model, model_validator

ROLES = (
    "model-provider",
    "application-developer",
    "infrastructure-operator",
    "deployer",
    "orchestration-provider",
)
LAYERS = ("model", "application", "infrastructure", "usage")
# The infrastructure layer splits in two: serving the model, and hosting the application.
PLANES = ("model-serving", "app-hosting")
# The layers a deployment preset names an operator for, in order from the model out.
OperatedLayer = Literal["model", "model-serving", "application", "app-hosting", "usage"]
OPERATED_LAYERS: tuple[OperatedLayer, ...] = ("model", "model-serving", "application", "app-hosting", "usage")
STATUSES = ("implemented", "partial", "planned")
# What does the work of a control a party provides (`by` on a claim); the last two ask a model.
MECHANISMS = ("code", "configuration", "person", "prompt", "classifier")
ASKS_MODEL = frozenset({"prompt", "classifier"})
FUNCTIONS = ("prevent", "reduce", "detect", "govern")
# How a control holds once in effect. Only an enforced preventive control closes an attack path:
# a deterministic mechanism outside the model. Probabilistic ones (classifiers, guard models,
# delimiters, alignment) lower the odds; detective ones record or flag; procedural ones are
# policy and process.
ASSURANCES = ("enforced", "probabilistic", "detective", "procedural")
# What a control holds as when its catalog entry does not say, by its function.
DEFAULT_ASSURANCE = {"prevent": "enforced", "reduce": "probabilistic", "detect": "detective", "govern": "procedural"}
DECISIONS = ("accepted", "mitigated", "false-positive")
SEVERITIES = ("low", "medium", "high", "critical")  # of findings, least severe first
PRINCIPAL_WORDS = ("anyone", "authenticated-users", "customers", "staff")
EVIDENCE_KINDS = ("url", "document", "test", "attestation", "configuration", "log", "model-card", "contract")

Role = Literal[ROLES]  # type: ignore[valid-type]
Layer = Literal[LAYERS]  # type: ignore[valid-type]
Plane = Literal[PLANES]  # type: ignore[valid-type]
Status = Literal[STATUSES]  # type: ignore[valid-type]

Id = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=200),
]
ControlId = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)+$", max_length=60)]
# No NUL: no database keeps it, no terminal shows it, and nobody means it.
Text = Annotated[str, StringConstraints(max_length=20_000, pattern=r"^[^\x00]*$")]


def _kebab(name: str) -> str:
    return name.replace("_", "-")


class Model(BaseModel):
    """Base for every manifest shape: unknown keys are errors, values never change after loading."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=_kebab,
        populate_by_name=True,
        str_strip_whitespace=True,
    )


# --- the catalog -------------------------------------------------------------------------


class References(Model):
    owasp_llm: list[Annotated[str, StringConstraints(pattern=r"^LLM(0[1-9]|10)$")]] = []
    owasp_agentic: list[Annotated[str, StringConstraints(pattern=r"^ASI(0[1-9]|10)$")]] = []
    atlas: list[Annotated[str, StringConstraints(pattern=r"^AML\.M\d{4}$")]] = []
    aicm: list[Annotated[str, StringConstraints(pattern=r"^[A-Z&]{2,4}-\d{2}$")]] = []
    nist_ai_600_1: list[Text] = []


class Verification(Model):
    evidence: list[Literal[EVIDENCE_KINDS]] = []  # type: ignore[valid-type]
    probes: list[Id] = []


def written(value: object) -> str:
    """A single value as a manifest writes it: true and false for yes/no."""
    return str(value).lower() if isinstance(value, bool) else str(value)


class AttributeCheck(Model):
    """A component attribute that shows a control in place on components of one kind."""

    kind: Id
    attribute: Id
    in_: list[Any] | None = Field(None, alias="in")
    hosts: Literal["no-relays", "listed-without-relays"] | None = None

    @model_validator(mode="after")
    def _one_test(self) -> AttributeCheck:
        if (self.in_ is None) == (self.hosts is None):
            raise ValueError("an attribute check needs exactly one of 'in' or 'hosts'")
        return self

    def holds(self, component: Any) -> bool:
        value = component.attr(self.attribute)
        if self.in_ is not None:
            return value in self.in_
        relays = any(h.unsafe for h in value or [])
        if self.hosts == "no-relays":
            return not relays
        return value is not None and not relays

    def describe(self, component: Any) -> str:
        value = component.attr(self.attribute)
        if self.hosts and value:
            unsafe = [h.why_unsafe for h in value if h.unsafe]
            if unsafe:
                return f"{self.attribute} includes {'; '.join(unsafe)}"
        if isinstance(value, bool):
            value = written(value)
        if isinstance(value, list):
            value = "[" + ", ".join(getattr(v, "host", str(v)) for v in value) + "]"
        return f"{self.attribute}: {value if value is not None else 'not set'}"


class Control(Model):
    """One security control: what it is, where it naturally sits, and how it can be proven."""

    id: ControlId
    title: Text
    description: Text = ""
    layer: Layer
    plane: Plane | None = None
    function: Literal[FUNCTIONS] = "prevent"  # type: ignore[valid-type]
    assurance: Literal[ASSURANCES] | None = Field(  # type: ignore[valid-type]
        None, description="How it holds: enforced (a deterministic mechanism outside the model), "
                          "probabilistic (a classifier, guard model, delimiter or alignment: lowers the odds), "
                          "detective (logs, flags, alerts) or procedural (policy and process). "
                          "By default from `function`: prevent is enforced, reduce probabilistic, "
                          "detect detective, govern procedural. Say `probabilistic` for anything that asks "
                          "a model or classifier to tell instructions from data.")
    applies_to: list[Id] = []
    applies_when: dict[Id, Any] = Field(default_factory=dict, description="Attribute values a component of the "
                                        "`applies-to` kinds must have for the control to apply (`fine-tuned: true`).")
    mitigates: list[Id] = []
    references: References = References()
    verify: Verification = Verification()
    configured_by: list[AttributeCheck] = []
    holds_for: Literal["turn"] | None = Field(
        None, description="How long it holds once it acts: `turn` for a gate that lasts the rest of the turn "
                          "(tools withheld after untrusted content was read). A renderer that sends the model's "
                          "words on as the user's next message (`sends-as-user`) carries an injection past it.")
    triggered_by: Literal["outside-content"] | None = Field(
        None, description="What sets it off, where that is not everything the model reads: `outside-content` for "
                          "a control that acts once content the application takes in (documents, pages, tool "
                          "output) reaches the model, never on what its own user types (tools withheld after "
                          "untrusted content was read). On a path from the user's own input it stops nothing.")

    @model_validator(mode="before")
    @classmethod
    def _default_assurance(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("assurance") is None and isinstance(data.get("function", "prevent"), str):
            return {**data, "assurance": DEFAULT_ASSURANCE.get(data.get("function", "prevent"))}
        return data

    @cached_property
    def approval(self) -> bool:
        """Whether it holds through a person approving (its configuration is a `confirmation`)."""
        return any(c.attribute == "confirmation" for c in self.configured_by)

    @cached_property
    def outside_content_only(self) -> bool:
        """Whether it acts only on content the application takes in, never on what its user types: said
        (`triggered-by`), or implied by its mitigating indirect injection and not direct."""
        return self.triggered_by == "outside-content" or (
            "indirect-injection" in self.mitigates and "direct-injection" not in self.mitigates)

    @property
    def closes_paths(self) -> bool:
        """Whether, in effect on a hop, it closes an attack path: enforced and preventive."""
        return self.function == "prevent" and self.assurance == "enforced"

    @model_validator(mode="after")
    def _plane_only_for_infrastructure(self) -> Control:
        if self.plane and self.layer != "infrastructure":
            raise ValueError("'plane' is only meaningful for infrastructure controls")
        return self

    @property
    def operating_layer(self) -> str:
        """The preset key that decides who operates this control: a layer, or an infrastructure plane."""
        if self.layer == "infrastructure":
            return self.plane or "app-hosting"
        return self.layer


class CatalogFile(Model):
    version: str
    threats: dict[Id, Text]
    probe_categories: dict[Id, Text]
    controls: list[Control]


class AttributeSpec(Model):
    type: Literal["bool", "integer", "string", "enum", "enum-list", "string-list", "principals", "parties",
                  "components", "hosts"]
    values: list[Id] = []
    required: bool = False
    default: Any = None
    description: Text = ""


class KindSpec(Model):
    title: Text
    graph: Literal["source", "model", "context", "impact", "infrastructure", "guard"]
    controlled_by: list[Role] = []
    attributes: dict[Id, AttributeSpec] = {}


class KindsFile(Model):
    version: int
    kinds: dict[Id, KindSpec]


# Who operates a layer under a preset (`by`), as a sentence names them.
OPERATED_BY = {"self": "you", "vendor": "the SaaS vendor", "model-vendor": "the model vendor",
               "cloud": "the cloud provider", "upstream": "the open-weights publisher"}


class LayerOperator(Model):
    role: Role
    by: Literal["self", "vendor", "model-vendor", "cloud", "upstream"]
    configured_by: Literal["self"] | None = None


class PresetOverride(Model):
    role: Role
    shared_with: list[Role] = []
    why: Text = ""


class Preset(Model):
    id: Id
    title: Text
    description: Text
    examples: list[Text] = []
    operators: dict[OperatedLayer, LayerOperator]
    overrides: dict[ControlId, PresetOverride] = {}
    model_hosting: Literal["provider-api", "cloud-platform", "self-hosted"] = "provider-api"
    model_fine_tuned: bool = False  # the starter's model is one you fine-tuned

    @property
    def model_attributes(self) -> dict[str, Any]:
        """The attributes of the preset's model component, as a starter manifest gives them."""
        return {"hosting": self.model_hosting, "fine-tuned": self.model_fine_tuned}

    @model_validator(mode="after")
    def _every_layer_has_an_operator(self) -> Preset:
        missing = set(OPERATED_LAYERS) - set(self.operators)
        if missing:
            raise ValueError(f"operators missing for: {', '.join(sorted(missing))}")
        return self


# --- the manifest ------------------------------------------------------------------------


class SystemInfo(Model):
    name: Text
    description: Text = ""
    preset: Id | None = None


class Party(Model):
    """An organisation or team that owns part of the system."""

    id: Id
    role: Role
    name: Text = ""
    organisation: Text = ""
    description: Text = ""
    layers: list[OperatedLayer] = Field(default_factory=list, description="The layers this party operates, where "
                                        "parties share a role (the cloud serves the model, you host the app); "
                                        "empty: every layer of its role.")
    # Facts the analysis uses; None means the manifest does not say.
    security_review: bool | None = None
    ai_security_training: bool | None = None

    @property
    def label(self) -> str:
        return self.name or self.id


class AcceptsString(Model):
    """A model that may also be written as a bare string; the JSON Schema says so too."""

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> Any:
        return {"anyOf": [{"type": "string"}, handler(core_schema)]}


class HostEntry(AcceptsString):
    """A host in an allowlist. `relays: true` marks a host that fetches or redirects to arbitrary
    URLs (an image proxy, an open redirect, a user-content host)."""

    host: Annotated[str, StringConstraints(min_length=1, max_length=300)]
    relays: bool = False
    owned: bool = Field(True, description="The owner controls this host. False for a third party's domain, "
                                          "or one whose registration lapsed: whoever holds it receives what is sent.")
    uploads: bool = Field(False, description="It takes data into whatever account or recipient the request "
                                             "names: anyone's account, with the key they hand over (an API, "
                                             "a package registry), a way out for code that builds its own "
                                             "requests; or whoever the call names (a mail API, an issue "
                                             "tracker), a way out for a tool that sends out. The analysis "
                                             "sets it for the hosts it knows where that applies; "
                                             "`uploads: false` written out overrides it (a webhook fixed in "
                                             "configuration).")
    note: Text = ""

    @property
    def unsafe(self) -> bool:
        """It makes a list it is on as good as open: it lets any host through, relays, takes uploads
        into anyone's account, or someone else holds it."""
        return self.relays or self.uploads or not self.owned or self.any_host

    @property
    def any_host(self) -> bool:
        """It matches hosts anyone can register: every host (`*`), every name under a top-level
        domain (`*.com`), or names that end like the owner's (`*corp.example` takes in
        evilcorp.example). A wildcard under a name of two labels or more is the owner's
        (`*.corp.example`; a two-label public suffix such as `*.co.uk` is not told apart)."""
        entry = _bare_entry(self.host)
        if "*" in entry:
            tail = entry.rsplit("*", 1)[1]
        elif entry.startswith("."):  # `.domain`: the domain and every name under it
            tail = entry
        else:
            return False
        labels = [label for label in tail.split(".") if label]
        return len(labels) < (2 if tail.startswith(".") else 3)

    @property
    def why_unsafe(self) -> str:
        note = f" ({self.note})" if self.note else ""
        if self.any_host:
            return f"{self.host}, which matches hosts anyone can register{note}"
        if not self.owned:
            return f"{self.host}, which is not under the owner's control{note}"
        if self.relays:
            return f"{self.host}, which relays arbitrary URLs{note}"
        return f"{self.host}, which takes data into whatever account or recipient the request names{note}"

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, data: Any) -> Any:
        return {"host": data} if isinstance(data, str) else data


class RelayingHost(Model):
    """A host that makes an allowlist naming it as good as open (catalog/relaying-hosts.yaml)."""

    host: Annotated[str, StringConstraints(min_length=1, max_length=300, pattern=r"^[A-Za-z0-9.-]+$")]
    match: Literal["host", "subdomains", "tenants"] = Field(
        "host", description="host: this host relays; subdomains: every subdomain of it does; tenants: "
                            "anyone can get a subdomain of it, so a wildcard over them is unsafe.")
    reason: Text = Field(description="Why, in one line: what it relays or serves.")
    via: Literal["fetch", "deliver", "upload"] = Field(
        "fetch", description="fetch: a request to a URL the attacker chose carries data out (an image "
                             "proxy, a redirect, a form that takes GET), so it is a way out from any host "
                             "list; deliver: it delivers what it gets to whatever recipient, repository or "
                             "webhook the call names (a mail or chat API), so it is a way out for a tool "
                             "that sends out: in its destinations and on the egress its traffic goes "
                             "through; upload: anyone can open an account there and send data into it with "
                             "a key they hand over (an API, a package registry), so it is a way out only "
                             "where code runs and builds its own requests: an egress list carrying traffic "
                             "of a tool that executes code.")

    def covers(self, entry: str) -> bool:
        """Whether an allowlist entry (a host, or `*.domain`) lets traffic reach what this relays."""
        base, wildcard = allowlist_entry(entry)
        host = self.host.lower()
        under = base == host or base.endswith("." + host)  # the entry is this host or below it
        above = host.endswith("." + base)  # the entry's wildcard takes in this host
        if self.match == "host":
            return base == host or (wildcard and above)
        if self.match == "subdomains":
            return (under and (base != host or wildcard)) or (wildcard and above)
        return wildcard and (base == host or above)


def allowlist_entry(entry: str) -> tuple[str, bool]:
    """An allowlist entry as a host name, and whether it was written as a wildcard (`*.domain` or
    `.domain`): a scheme, a path and a port are dropped."""
    entry = _bare_entry(entry)
    return entry.lstrip("*").lstrip("."), entry.startswith("*.") or entry.startswith(".")


def _bare_entry(entry: str) -> str:
    """An allowlist entry without its scheme, path and port, in lower case."""
    return entry.strip().lower().removeprefix("https://").removeprefix("http://").split("/")[0].split(":")[0]


class RelayingHostsFile(Model):
    version: Literal[1]
    hosts: list[RelayingHost]


class ComponentBase(Model):
    """Fields every component has; each kind adds its own attributes (see catalog/kinds.yaml)."""

    id: Id
    owner: Id
    operated_by: Id | None = Field(
        None, description="The party that runs and configures it here, when that is not its owner: who "
                          "chooses its credential, its confirmations and where it may reach (the platform "
                          "that calls a vendor's plugin; the deployer who runs an MCP server). The party "
                          "able to act on it, and so the one a fix on it names.")
    configurable: list[Id] | None = Field(
        None, description="Where another party runs it (`operated-by`): the controls its settings can "
                          "provide (a product's switches). One it does not list needs a change to its code, "
                          "so a fix that asks for it names its owner. Absent: its operator can provide any.")
    name: Text = ""
    description: Text = ""

    @property
    def actor(self) -> str:
        """The party able to act on it: its operator, else its owner."""
        return self.operated_by or self.owner

    def acts_on(self, control: str) -> str:
        """The party able to put a control on it: its owner where its operator has no setting for it
        (`configurable` leaves it out), else its `actor`."""
        return self.owner if self.operated_by and self.configurable is not None and control not in self.configurable else self.actor

    def acting(self, controls: Sequence[str]) -> tuple[str, ...]:
        """The parties able to put any of these controls on it (`acts_on`), in their order; its
        `actor` where none is named."""
        return tuple(dict.fromkeys(self.acts_on(c) for c in controls)) or (self.actor,)

    @property
    def label(self) -> str:
        return self.name or self.id

    def attr(self, name: str) -> Any:
        return getattr(self, name.replace("-", "_"))

    def get(self, name: str) -> Any:
        """An attribute that only some kinds have (`environment`, say): None on a kind without it."""
        return vars(self).get(name.replace("-", "_"))  # a model keeps its fields' values there


class Flow(Model):
    source: Id = Field(alias="from")
    target: Id = Field(alias="to")
    data: Text = ""
    description: Text = ""


class EvidenceRef(AcceptsString):
    """Evidence that a control is in place: exactly one of url, document, test, attestation."""

    url: Text | None = None
    document: Text | None = None
    test: Text | None = None
    attestation: Text | None = None
    note: Text = ""

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, data: Any) -> Any:
        """A bare string is a URL when it looks like one, a test id after 'test:', else a document."""
        if not isinstance(data, str):
            return data
        if data.startswith(("http://", "https://")):
            return {"url": data}
        if data.startswith("test:"):
            return {"test": data[5:].strip()}
        return {"document": data}

    @model_validator(mode="after")
    def _exactly_one(self) -> EvidenceRef:
        given = [k for k in ("url", "document", "test", "attestation") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("evidence needs exactly one of: url, document, test, attestation")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ("url", "document", "test", "attestation") if getattr(self, k))

    @property
    def ref(self) -> str:
        return str(getattr(self, self.kind))


class Claim(Model):
    """A responsibility claim: a party provides a control, relies on another party for it,
    or the control does not apply here."""

    control: ControlId
    party: Id | None = None
    provides: Status | None = None
    relies_on: Id | None = None
    not_applicable: Text | None = None
    assumption: Text = ""
    scope: list[Id] = []
    evidence: list[EvidenceRef] = []
    by: Literal[MECHANISMS] | None = Field(  # type: ignore[valid-type]
        None, description="What does the work, for a `provides` claim: code (a check in the application), "
                          "configuration (a product or platform setting), a person (who approves or "
                          "reviews), a prompt (an instruction to the model: the system prompt, a tool's "
                          "description) or a classifier (a model or guard that judges the text). A prompt or "
                          "a classifier asks a model to tell instructions from data: it lowers the odds and "
                          "closes nothing, so an enforced control provided that way does not close a path.")
    note: Text = ""

    @model_validator(mode="after")
    def _one_kind_of_claim(self) -> Claim:
        kinds = [k for k in ("provides", "relies_on", "not_applicable") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("a claim needs exactly one of 'provides', 'relies-on', 'not-applicable'")
        if kinds[0] != "not_applicable" and not self.party:
            raise ValueError(f"a '{_kebab(kinds[0])}' claim needs 'party': who makes it")
        if self.relies_on is not None and self.relies_on == self.party:
            raise ValueError("a party cannot rely on itself")
        if self.by is not None and kinds[0] != "provides":
            raise ValueError("'by' says what does the work of a 'provides' claim; this claim provides nothing")
        return self

    @property
    def asks_model(self) -> bool:
        """It rests on a model telling instructions from data: a prompt or a classifier."""
        return self.by in ASKS_MODEL

    @property
    def kind(self) -> str:
        if self.provides is not None:
            return "provides"
        if self.relies_on is not None:
            return "relies-on"
        return "not-applicable"


class Decision(Model):
    """A decision recorded against a finding, by the finding's stable id."""

    finding: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    decision: Literal[DECISIONS]  # type: ignore[valid-type]
    justification: Text
    ticket: Text = ""
    reviewer: Text = ""
    date: dt.date | None = None
    expires: dt.date | None = Field(None, description="The first day the decision no longer holds: from "
                                    "then on the finding is open again until the decision is renewed.")

    @model_validator(mode="after")
    def _expires_after_date(self) -> Decision:
        if self.date and self.expires and self.expires <= self.date:
            raise ValueError(f"'expires' ({self.expires}) must come after the decision's 'date' ({self.date})")
        return self


class RequirementScope(Model):
    """Which components a requirement holds for: of those its control protects, the ones of this
    kind, these ids, this owner and these attribute values (all that are given must match; a list
    of values matches a component whose attribute is, or includes, any of them)."""

    kind: Id | None = None
    components: list[Id] = []
    owner: Id | None = None
    where: dict[Id, Any] = Field(default_factory=dict, description="Attribute values, as the component kind names them: "
                                                 "`effects: [send-external, financial]`, `images: true`.")

    def covers(self, component_id: str, component: Any) -> bool:
        if self.kind is not None and component.kind != self.kind:
            return False
        if self.components and component_id not in self.components:
            return False
        if self.owner is not None and component.owner != self.owner:
            return False
        for attribute, wanted in self.where.items():
            value = component.attr(attribute)
            options = wanted if isinstance(wanted, list) else [wanted]
            held = value if isinstance(value, list) else [value]
            held = [getattr(v, "host", v) for v in held]  # a host list matches by host name
            if not any(v in options for v in held):
                return False
        return True


class Requirement(Model):
    """A control the organisation requires in effect on some components — its own baseline, which
    the gate holds every system to, whatever else the analysis finds."""

    control: ControlId
    on: RequirementScope = Field(RequirementScope(), description="Which of the components the control "
                                                                 "protects must have it; all of them if left out.")
    severity: Literal[SEVERITIES] = "high"  # type: ignore[valid-type]
    why: Text = Field(description="The reason, shown with every finding: the policy, the incident, the ticket.")
    party: Id | None = Field(None, description="Who must provide it; by default whoever answers for the control.")


_TYPES: dict[str, Any] = {
    "bool": bool,
    "integer": int,
    "string": Text,
    "string-list": list[Text],
    "principals": list[Id],
    "parties": list[Id],
    "components": list[Id],
    "hosts": list[HostEntry],
}


def _attribute_type(spec: AttributeSpec) -> Any:
    if spec.type == "enum":
        return Literal[tuple(spec.values)]  # a kind's values, known only from the catalog
    if spec.type == "enum-list":
        return list[Literal[tuple(spec.values)]]  # type: ignore[misc]
    return _TYPES[spec.type]


def component_models(kinds: dict[str, KindSpec]) -> dict[str, type[ComponentBase]]:
    """One pydantic model per component kind, built from the kinds table."""
    models: dict[str, type[ComponentBase]] = {}
    for name, spec in kinds.items():
        fields: dict[str, Any] = {"kind": (Literal[name], ...)}
        for attr, aspec in spec.attributes.items():
            typ = _attribute_type(aspec)
            if aspec.required:
                fields[attr.replace("-", "_")] = (typ, Field(..., description=aspec.description))
            else:
                fields[attr.replace("-", "_")] = (
                    typ | None,
                    Field(aspec.default, description=aspec.description),
                )
        class_name = "".join(p.capitalize() for p in name.split("-")) + "Component"
        models[name] = create_model(class_name, __base__=ComponentBase, __doc__=spec.title, **fields)
    return models


def manifest_file_model(kinds: dict[str, KindSpec]) -> type[Model]:
    """The model of one manifest file. Every section is optional: a file may hold one party's part."""
    union = Annotated[Union[tuple(component_models(kinds).values())], Field(discriminator="kind")]  # type: ignore[valid-type]  # noqa: UP007
    model = create_model(
        "ManifestFile",
        __base__=Model,
        __doc__="One demarcate manifest file. Several files (one per party) merge into one system.",
        version=(Literal[1], Field(1, description="Manifest format version.")),
        system=(SystemInfo | None, None),
        parties=(list[Party], []),
        components=(list[union], []),  # type: ignore[valid-type]
        flows=(list[Flow], []),
        controls=(list[Claim], Field([], description="Responsibility claims.")),
        custom_controls=(list[Control], Field([], description="Controls beyond the built-in catalog.")),
        tracking=(list[Decision], Field([], description="Decisions on findings.")),
        requirements=(list[Requirement], Field([], description="Controls your organisation requires in effect.")),
        relaying_hosts=(list[RelayingHost], Field([], description="Hosts that make an allowlist as good as "
                                                                  "open, beside the built-in list.")),
    )
    model.component_kinds = tuple(kinds)  # type: ignore[attr-defined]  # the union's tags, for error messages
    return model
