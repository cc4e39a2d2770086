"""Findings and the rules that produce them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

# Defined with the manifest, whose requirements name them.
from demarcate.model.schema import SEVERITIES as SEVERITIES

if TYPE_CHECKING:
    from demarcate.analysis.context import Context


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)


def lower(severity: str, steps: int = 1) -> str:
    return SEVERITIES[max(0, severity_rank(severity) - steps)]


@dataclass(frozen=True)
class Rule:
    """A rule's metadata: what it finds and why, for people, SARIF and the rule docs."""

    id: str
    name: str
    title: str
    detects: str
    why: str
    severity: str  # how severity is decided, in words
    who_acts: str
    false_positives: str
    references: tuple[str, ...] = ()
    fix: str = ""


@dataclass(frozen=True)
class Finding:
    rule: str
    key: tuple[str, ...]  # the parts of the stable id after the rule
    severity: str
    title: str
    explanation: str
    recommendation: str
    responsible: tuple[str, ...] = ()
    components: tuple[str, ...] = ()
    controls: tuple[str, ...] = ()
    hops: tuple[str, ...] = ()
    claims: tuple[str, ...] = ()  # the claims that produced it, in words
    status: str = "open"  # open | accepted | mitigated | false-positive
    decision: dict[str, Any] | None = field(default=None, compare=False)
    id: str = field(init=False, repr=False, compare=False)  # stable across runs: the rule, then the key

    def __post_init__(self) -> None:
        object.__setattr__(self, "id", ":".join((self.rule, *self.key)))  # frozen: set once, here

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    @property
    def message(self) -> str:
        """The finding in one paragraph, for tools that show a single message (SARIF, annotations)."""
        who = f" Who must act: {', '.join(self.responsible)}." if self.responsible else ""
        return f"{self.title}. {self.explanation} Fix: {self.recommendation}{who}"

    @property
    def decision_note(self) -> str:
        """The tracking decision on this finding in one line, or "" when there is none."""
        d = self.decision
        if not d:
            return ""
        extra = [d["ticket"]] if d.get("ticket") else []
        if d.get("lapsed"):
            extra.append(f"lapsed on {d['expires']}: open again")
        elif d.get("expires"):
            extra.append(f"expires {d['expires']}")
        return f"{d['decision']} — {d['justification']}" + (f" ({'; '.join(extra)})" if extra else "")


Check = Callable[["Context"], Iterable[Finding]]


def claim_text(claim: Any) -> str:
    """One claim, in words, for a finding's list of the claims that produced it."""
    if claim.kind == "provides":
        return f"{claim.party} provides {claim.control} ({claim.provides})"
    if claim.kind == "relies-on":
        said = f": “{claim.assumption}”" if claim.assumption else ""
        return f"{claim.party} relies on {claim.relies_on} for {claim.control}{said}"
    return f"{claim.control} declared not applicable: {claim.not_applicable}"


def count(n: int, noun: str, plural: str | None = None) -> str:
    """'1 path', '3 paths'."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


def listing(items: Iterable[str], limit: int = 8, sep: str = ", ", total: int | None = None) -> str:
    """The first `limit` items and how many more there are: of `items`, or of `total` when the
    items are only the first few of that many."""
    items = list(items)
    total = len(items) if total is None else total
    if total <= limit and len(items) <= limit:
        return sep.join(items)
    return sep.join(items[:limit]) + f" and {total - min(limit, len(items)):,} more"
