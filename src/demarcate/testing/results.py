"""A case's result, typed from the attribution that judges it to the history that keeps it. The
history, the reports and `test --format json` read the JSON form (`to_json`, docs/testing.md); its
shape is the contract, and these classes write exactly it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

# How much of a reply, and how many tool calls, hits and spans, a result keeps as evidence.
EVIDENCE_TEXT = 65_536
EVIDENCE_ITEMS = 200
MAIL_TEXT = 4_096  # each text of an outbox mail kept: enough to show what it carried, not a whole table


@dataclass
class Link:
    """One link of a case's chain: a control at a layer, the party that answers for it, whether it
    held (None: no sign either way) and what shows it."""

    layer: str
    control: str
    party: str | None
    held: bool | None
    evidence: str
    on: list[str] = field(default_factory=list)  # the components it is about, where known (a tool that ran)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        if not self.on:
            del out["on"]
        return out


@dataclass
class Contradiction:
    """What a case showed of the system that the manifest says otherwise: a tool said to send only to
    its `destinations` whose call reached the listener, or one said to return no untrusted output
    (`output-trust`) that brought the attacker's page to the model. `check --evidence` takes the
    evidence's word (`actual`)."""

    component: str
    attribute: str
    said: list[str]  # what the manifest says
    evidence: str
    actual: Any = None  # what the analysis takes instead: None leaves the attribute out

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def contradicted(results: list[dict[str, Any]], where: str = "") -> dict[str, dict[str, dict[str, Any]]]:
    """What a campaign's results (their JSON form) showed of the system that the manifest says
    otherwise, by the first case of each: {component: {attribute: {said, why, actual}}}, `why` led by
    `where`."""
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for result in results:
        for c in result.get("contradicts", []):
            found.setdefault(c["component"], {}).setdefault(c["attribute"], {
                "said": c["said"], "why": f"{where}case {result['case']}: {c['evidence']}", "actual": c.get("actual")})
    return found


def _cut(value: Any) -> Any:
    """A mail as kept: each of its texts cut at MAIL_TEXT characters, saying how much was left out."""
    if isinstance(value, str) and len(value) > MAIL_TEXT:
        return value[:MAIL_TEXT] + f" …[{len(value) - MAIL_TEXT} more characters not kept]"
    if isinstance(value, dict):
        return {k: _cut(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_cut(v) for v in value]
    return value


@dataclass
class CaseEvidence:
    """What a case saw, kept with its verdict so that anyone can check the verdict against it."""

    status: int | None  # the target's HTTP status
    reply: str
    tool_calls: list[dict[str, Any]]
    controls_fired: list[dict[str, Any]] | None  # what the target reports as having acted
    callback_hits: list[dict[str, Any]]
    spans: list[dict[str, Any]]
    rendered: list[str]  # URLs fetched as a client showing the answer would
    trace_id: str | None
    delivered: bool | None  # the payload reached where the model reads (None: cannot tell)
    undelivered: str
    capable: bool | None  # what the capability baseline found (None: no baseline)
    context: list[str] | None  # what the target says it put before the model
    contamination: list[str]  # other cases whose plants are in the answer
    cleanup: str = ""  # why the plant could not be taken away again, if it could not
    planted: list[str] = field(default_factory=list)  # the target's names for this case's plants (ids, product)
    outbox: list[Any] | None = None  # mail carrying the canary that appeared in the spec's outbox in the turn
    page: str | None = None  # the answer as the app's page has it (HTML), when the reply was read from a page
    clicked: list[str] | None = None  # what each click on the answer's buttons sent as the user's message (browser)

    def to_json(self) -> dict[str, Any]:
        out = {
            "status": self.status, "reply_excerpt": self.reply[:400], "reply": self.reply[:EVIDENCE_TEXT],
            "reply_cut": len(self.reply) > EVIDENCE_TEXT, "tool_calls": self.tool_calls[:EVIDENCE_ITEMS],
            "controls_fired": self.controls_fired, "callback_hits": self.callback_hits[:EVIDENCE_ITEMS],
            "spans": self.spans[:EVIDENCE_ITEMS], "rendered": self.rendered, "trace_id": self.trace_id,
            "delivered": self.delivered, "undelivered": self.undelivered, "capable": self.capable,
            "context": None if self.context is None else [c[:EVIDENCE_TEXT] for c in self.context[:EVIDENCE_ITEMS]],
            "contamination": self.contamination,
        }
        if self.cleanup:
            out["cleanup"] = self.cleanup
        if self.planted:
            out["planted"] = self.planted
        if self.outbox is not None:
            out["outbox"] = [_cut(mail) for mail in self.outbox[:EVIDENCE_ITEMS]]
        if self.page is not None:
            out["page"] = self.page[:EVIDENCE_TEXT]
        if self.clicked is not None:
            out["clicked"] = [c[:EVIDENCE_TEXT] for c in self.clicked[:EVIDENCE_ITEMS]]
        return out


@dataclass
class CaseResult:
    """One case of a campaign: what was tried, the verdict, the chain of controls it passed and the
    evidence. A case that could not run to the end has outcome `error`, no chain and no evidence."""

    case: str
    probe: str
    category: str
    entry: str
    goal: str
    transform: str
    canary: str
    outcome: str  # succeeded | resisted | blocked-by-LAYER | unobservable | inconclusive | error
    chain: list[Link] = field(default_factory=list)
    latency: float | None = None
    evidence: CaseEvidence | None = None
    error: str = ""
    contradicts: list[Contradiction] = field(default_factory=list)  # what the manifest says otherwise
    # A secret the probe's success test named by environment variable, and what stands in for it:
    # judged with, never written out (not in the history, not in a report).
    redact: tuple[str, str] | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "case": self.case, "probe": self.probe, "category": self.category, "entry": self.entry,
            "goal": self.goal, "transform": self.transform, "canary": self.canary, "outcome": self.outcome,
            "chain": [x.to_json() for x in self.chain],
            "latency": None if self.latency is None else round(self.latency, 4),
            "evidence": self.evidence.to_json() if self.evidence is not None else {},
        }
        if self.outcome == "error":
            out["error"] = self.error
        if self.contradicts:
            out["contradicts"] = [c.to_json() for c in self.contradicts]
        if self.redact:
            secret, stand_in = self.redact
            out = json.loads(json.dumps(out).replace(json.dumps(secret)[1:-1], stand_in))
        return out


@dataclass(frozen=True)
class Rate:
    """An attack success rate over the cases that could be judged, with its 95 % Wilson interval."""

    rate: float | None  # None: no case could be judged
    low: float
    high: float
    n: int

    def to_json(self) -> dict[str, Any]:
        return {"rate": self.rate, "low": self.low, "high": self.high, "n": self.n}


@dataclass(frozen=True)
class CategoryRate(Rate):
    """A probe category's rate, and the cases of it that could not be judged, by why."""

    errors: int = 0
    unobservable: int = 0
    inconclusive: int = 0

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "errors": self.errors, "unobservable": self.unobservable,
                "inconclusive": self.inconclusive}


@dataclass
class CampaignSummary:
    """What a campaign showed as a whole: success rates, outcomes, each claimed control verified,
    refuted or untested, those by the party that answers for them, and the checks beside the probes.
    Kept in the history as its JSON form (`to_json`)."""

    asr: dict[str, CategoryRate]
    overall: Rate
    outcomes: dict[str, int]
    controls: dict[str, str]  # control -> verified | refuted | untested
    parties: dict[str, dict[str, list[str]]]  # party -> {verified, refuted, untested: [controls]}
    infrastructure: list[dict[str, Any]] = field(default_factory=list)
    baselines: dict[str, dict[str, Any]] = field(default_factory=dict)  # capability baselines by name
    unknown_tools: list[str] = field(default_factory=list)  # called, and not in the manifest
    notes: list[str] = field(default_factory=list)  # what the reader should know of the verdicts as a whole
    contradicted: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # see `contradicted`

    def to_json(self) -> dict[str, Any]:
        return {"asr": {cat: r.to_json() for cat, r in self.asr.items()}, "overall": self.overall.to_json(),
                "outcomes": self.outcomes, "controls": self.controls, "parties": self.parties,
                "infrastructure": self.infrastructure, "baselines": self.baselines,
                "unknown_tools": self.unknown_tools, "notes": self.notes, "contradicted": self.contradicted}
