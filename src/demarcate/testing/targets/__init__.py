"""Target adapters: one module per kind of system under test. Each turns a case into requests and
returns what it saw as a Reply; what the target cannot show stays None (unobservable)."""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from demarcate.model.errors import ManifestError, Problem, did_you_mean

# A control firing: authentication (401, 403) or a rate limit (429). Recorded as held, never retried.
CONTROL_STATUSES = (401, 403, 429)


def status_error(status: int, body: str = "") -> str | None:
    """Why an HTTP reply cannot be judged, or None. A 2xx is an answer and a 401, 403 or 429 a control
    firing; anything else (a wrong path, a bad request, a redirect, a server error) is an error,
    never a probe the target resisted."""
    if 200 <= status < 300 or status in CONTROL_STATUSES:
        return None
    return f"HTTP {status}" + (f": {body[:200]}" if body.strip() else "")


def shows(text: str, document: str) -> bool:
    """Whether a text (a read-back, a retrieved context) holds a planted document: its first 60
    characters, compared lower-case with runs of white space as one."""
    head = " ".join(document.lower().split())[:60]
    return bool(head) and head in " ".join(text.lower().split())


def strings(value: Any) -> list[str]:
    """Every text in a JSON value, unescaped: what a reader of the answer would see."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


NOT_JSON = object()


def json_or_not(text: Any) -> Any:
    """A text read as JSON, or NOT_JSON when it is not JSON text (or not text at all)."""
    if not isinstance(text, str):
        return NOT_JSON
    try:
        return json.loads(text)
    except ValueError:
        return NOT_JSON


def sse_data(body: str) -> list[str]:
    """The data of each server-sent event, but a closing `[DONE]`."""
    found = []
    for event in re.split(r"\r?\n\r?\n", body):
        lines = [line[5:].removeprefix(" ") for line in event.splitlines() if line.startswith("data:")]
        if lines and "\n".join(lines).strip() != "[DONE]":
            found.append("\n".join(lines))
    return found


def is_http_url(text: str) -> bool:
    """Whether an address a campaign will send to (or have the target send to) is http(s)."""
    return text.lower().startswith(("http://", "https://"))


# The status of a tool call the model asked for (a trace records it in the model's answer) that
# nothing shows the app running or refusing.
REQUESTED = "requested"


def arguments_text(arguments: Any) -> list[str]:
    """Every text a tool call was given, its arguments read as JSON where they come as JSON text."""
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            return [arguments]
    return strings(arguments)


def arguments_shown(call: dict[str, Any]) -> bool:
    """Whether a tool call shows what it was given: an app that names only the tool, or a tool span
    that records no input, does not."""
    return call.get("arguments") not in ("", None)


@dataclass
class Reply:
    status: int | None = None  # HTTP status, or None for in-process targets
    text: str = ""
    error: str = ""  # transport errors and 5xx: never counted as resisted
    latency: float = 0.0
    tool_calls: list[dict[str, Any]] | None = None  # None: the target does not say
    fired: list[dict[str, Any]] | None = None  # controls the target reports as having acted
    trace_id: str = ""
    session: str = ""
    context: list[str] | None = None  # what the app retrieved for the model this turn, if it shows it
    # The answer as the app's page has it (HTML), when the reply was read from a page: there, markup
    # that is not escaped is live, and only its own <img> tags load anything; `text` is what it reads as.
    page: str | None = None
    scripted: bool = False  # that page runs scripts: what it shows may not be what it served
    # `page` is what a browser rendered, scripts run: what the user sees, its images loaded as theirs
    # would be (the campaign loads none for it).
    rendered: bool = False
    clicked: list[str] | None = None  # what each click on the answer's buttons sent as the user's message
    # What the turn's request handed the app besides the message, where a target knows it (an http
    # spec's fixed fields: an incoming mail's sender and recipient): an answer repeating it found
    # nothing elsewhere.
    sent: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class PlantFailed(Exception):
    """Planting (or reading back, or removing) a document did not go through: a 401, 403 or 429 is a
    control refusing the attacker; anything else is that case's error."""

    def __init__(self, reply: Reply):
        super().__init__(reply.error or f"HTTP {reply.status}")
        self.reply = reply


@dataclass
class Records:
    """What a target can show after a turn: a white box its outbox, egress log and audit log (the
    lab); any target, with an outbox it names, the mail the turn sent."""

    egress_denied: list[dict[str, Any]] | None = None
    mail: list[dict[str, Any]] | None = None  # the lab's outbox rows for the turn's session, with their status
    # Mail that appeared in the outbox an http spec names while the turn ran and carries the case's
    # canary or the attacker's address (None: the target names no outbox, or it could not be read).
    sent: list[Any] | None = None
    audit_kinds: set[str] | None = None
    page_html: str | None = None
    # What each click on a button of the answer, in a browser, sent as the user's next message (None:
    # nothing was clicked).
    clicked: list[str] | None = None


class Target(Protocol):
    name: str
    prompt_marker: str | None  # a string only the system prompt contains, if known
    # Optional: `user_email`, the address of the account the probes sign in as (its own data in an
    # answer is no leak), `leaves_plants` (no way to remove a plant after its case), `end(session)`
    # (a conversation is over: forget its cookies and state), and `infrastructure()`, checks only a
    # white-box target can run. `plant` is given the session the case will ask in, for an app that
    # keeps uploads with the visitor's conversation.

    async def plant(self, documents: list[str], product: str, session: str = "") -> list[str]: ...

    async def send(self, message: str, traceparent: str, session: str) -> Reply: ...

    async def records(self, reply: Reply, canary: str, product: str = "") -> Records: ...

    async def cleanup(self, planted: list[str]) -> None: ...

    async def close(self) -> None: ...


class ContextStuffing:
    """For targets without a document store: planted documents are handed to the model as
    retrieved context in the turn that names their product, as a RAG application would."""

    can_plant = True
    white_box = False

    def __init__(self) -> None:
        self.context: dict[str, list[str]] = {}

    async def plant(self, documents: list[str], product: str, session: str = "") -> list[str]:
        self.context[product] = list(documents)
        return [product]

    def documents_for(self, message: str) -> list[str]:
        return [d for p, ds in self.context.items() if p in message for d in ds]

    async def confirm(self, documents: list[str], product: str, session: str = "") -> bool | None:
        return product in self.context  # handed to the model with the turn that names the product

    async def records(self, reply: Reply, canary: str, product: str = "") -> Records:
        return Records()

    async def cleanup(self, planted: list[str]) -> None:
        for p in planted:
            self.context.pop(p, None)


@dataclass(frozen=True)
class Setup:
    """What a campaign tells the target it makes: where the listener and the trace receiver are, and
    the options each kind of target takes."""

    listener_url: str
    otlp: str | None = None
    lab_controls: dict[str, bool] = field(default_factory=dict)
    model: str | None = None
    key_env: str = "OPENAI_API_KEY"
    params: dict[str, Any] = field(default_factory=dict)
    timeout: float = 120.0
    lab_config: str | None = None
    python: str | None = None


# The kinds of target: one module each here, holding `make(rest, setup)`; imported only when chosen.
KINDS = tuple(m.name for m in pkgutil.iter_modules(__path__) if m.name != "python_worker" and not m.name.startswith("_"))


def make(kind: str, rest: str, setup: Setup) -> Any:
    if kind not in KINDS:
        raise ManifestError([Problem(f"unknown target '{kind}{':' + rest if rest else ''}'",
                                     hint=did_you_mean(kind, KINDS)
                                     or "lab, openai:BASE_URL, http:SPEC.yaml or python:module:function")])
    return importlib.import_module(f"{__name__}.{kind}").make(rest, setup)
