"""An OTLP/HTTP trace receiver (protobuf and JSON) that normalises spans for attribution.

Spans from old and new GenAI semantic conventions and from OpenInference are mapped to the same
names (`tool.name`, `tool.arguments`, `operation`), so evidence reads the same whatever
instrumentation the target uses.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from demarcate.testing.targets import NOT_JSON, REQUESTED, arguments_shown, json_or_not, strings
from demarcate.testing.targets.http import tool_calls as shaped

# Several spellings of the same fact, newest first.
ALIASES = {
    # The AI SDK's own telemetry (`experimental_telemetry`) names its tool spans' facts `ai.toolCall.*`.
    "tool.name": ("gen_ai.tool.name", "tool.name", "ai.toolCall.name"),
    # OpenInference's TOOL spans hold the call's input in `input.value`; some of its instrumentations
    # (LlamaIndex, OpenAI Agents) put the tool's parameter schema in `tool.parameters`, others the call's.
    # LangSmith's OpenTelemetry export records a tool run's input as `gen_ai.prompt`.
    "tool.arguments": ("gen_ai.tool.call.arguments", "input.value", "tool.parameters", "gen_ai.prompt",
                       "ai.toolCall.args"),
    "tool.call_id": ("gen_ai.tool.call.id", "tool_call.id", "tool.id", "ai.toolCall.id"),
    "operation": ("gen_ai.operation.name", "openinference.span.kind", "ai.operationId"),
    "model": ("gen_ai.request.model", "gen_ai.response.model", "llm.model_name"),
    "provider": ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system"),
}


@dataclass
class Span:
    trace_id: str
    span_id: str
    parent_id: str
    name: str
    attributes: dict[str, Any] = field(default_factory=dict)
    start_ns: int = 0
    end_ns: int = 0
    failed: str | None = None  # the span ended in error: its status message ("" when it gives none)
    events: list[Event] = field(default_factory=list)  # content events sent as OTLP logs, tied to this span

    def attach(self, event: Event) -> None:
        """Fold a GenAI content event into the attributes it stands for: the messages a model call
        was given (`gen_ai.*.message` events) as `gen_ai.input.messages`, its answers (`gen_ai.choice`)
        as `gen_ai.output.messages`, as the conventions record them on spans when not as events."""
        self.events.append(event)
        for key, stands_for in EVENT_KEYS.items():
            bodies = [e.body for e in self.events if stands_for(e.name)]
            if bodies:
                self.attributes[key] = json.dumps(bodies, ensure_ascii=False, default=str)

    def get(self, fact: str) -> Any:
        for key in ALIASES.get(fact, (fact,)):
            if key in self.attributes:
                value = self.attributes[key]
                return value.lower() if fact == "operation" and isinstance(value, str) else value
        return None

    @property
    def is_tool(self) -> bool:
        return self.get("operation") in ("execute_tool", "tool") or self.get("tool.name") is not None


@dataclass
class Event:
    """An OTLP log record that belongs to a span: a GenAI content event."""

    trace_id: str
    span_id: str
    name: str
    body: Any


# The GenAI conventions' content events (the official OpenAI instrumentation sends message content
# as logs, not span attributes), and the span attribute each stands for: a message the model was
# given is `gen_ai.{role}.message` (system, user, assistant, tool, and the older API's function).
EVENT_KEYS: dict[str, Callable[[str], bool]] = {
    "gen_ai.input.messages": lambda name: name.startswith("gen_ai.") and name.endswith(".message"),
    "gen_ai.output.messages": lambda name: name == "gen_ai.choice",
}


# Where instrumentations record what a model call was given, when they record content at all:
# OpenInference, the GenAI conventions old and new, OpenLLMetry, the AI SDK.
INPUT_KEYS = ("input.value", "gen_ai.input.messages", "gen_ai.system_instructions", "gen_ai.prompt",
              "ai.prompt.messages")
INPUT_PREFIXES = ("llm.input_messages.", "gen_ai.prompt.")
# The AI SDK's spans of one call to the model (its `ai.streamText` span is the whole loop of them).
MODEL_CALLS = ("chat", "llm", "text_completion", "generate_content", "ai.streamtext.dostream",
               "ai.generatetext.dogenerate", "ai.streamobject.dostream", "ai.generateobject.dogenerate")


def model_input(spans: list[Span]) -> list[str] | None:
    """The texts the model calls in these spans were given — the messages' contents, not their roles
    or the model's name — or None when no span records a model call's input: then what the model saw
    is not shown."""
    texts: list[str] = []
    recorded = False
    for span in spans:
        if span.get("operation") not in MODEL_CALLS:
            continue
        for key, value in span.attributes.items():
            if not isinstance(value, str):
                continue
            if key.startswith(INPUT_PREFIXES):
                recorded = True
                if key.endswith(("content", "text")):
                    texts.append(value)
            elif key in INPUT_KEYS:
                recorded = True
                decoded = json_or_not(value)
                texts.extend([value] if decoded is NOT_JSON else _contents(decoded))
    return list(dict.fromkeys(t for text in texts for t in _unwrapped(text))) if recorded else None


def _unwrapped(text: str) -> list[str]:
    """A message's text; for one that is itself JSON (a tool's result, as most apps hand it back),
    the texts in it: a planted mail inside a JSON list of mails is written there with its quotes
    escaped."""
    decoded = json_or_not(text) if text.lstrip()[:1] in ("{", "[") else NOT_JSON
    return [text] if decoded is NOT_JSON else strings(decoded) or [text]




# Where instrumentations record what a model call answered: OpenInference (flattened, and the raw
# response), the GenAI conventions (JSON), OpenLLMetry (flattened).
OUTPUT_KEYS = ("output.value", "gen_ai.output.messages", "gen_ai.completion", "ai.response.text",
               "ai.response.toolCalls")
OUTPUT_PREFIXES = ("llm.output_messages.", "gen_ai.completion.")
# One tool call of a model's answer, flattened: its prefix, then the fact (`function.name`, `name`,
# `id` ...); OpenInference writes the older API's one function call as `function_call_name` and
# `function_call_arguments_json`.
_FLAT_CALL = re.compile(r"(llm\.output_messages\.\d+\.message\.tool_calls\.\d+\.tool_call"
                        r"|gen_ai\.completion\.\d+\.tool_calls\.\d+)\.(.+)"
                        r"|(llm\.output_messages\.\d+\.message\.function_call)_(.+)")


def tool_calls(spans: list[Span]) -> list[dict[str, Any]] | None:
    """The tool calls a trace shows, or None when it cannot show any. A tool span is a call that ran
    (status `ok`; `error` when the span ended in error: the tool refused or failed). A call that a
    model call's recorded answer asks for, and that no tool span shows
    running, is what the model tried, whether or not the app then ran it (status `requested`): the
    app may run its tools in code nobody traced, or refuse them. A trace can show tool calls when it
    has a tool span or a model call that records its answer; one of the web framework or the
    retriever alone says nothing about them."""
    ran: list[dict[str, Any]] = []
    asked: dict[Any, dict[str, Any]] = {}
    shows = False
    for span in spans:
        if span.is_tool:
            shows = True
            if span.get("tool.name"):  # it ran, unless it ended in error: then it did not do its act
                ran.append({"name": span.get("tool.name"), "arguments": span.get("tool.arguments") or "",
                            "status": "ok" if span.failed is None else "error", "id": span.get("tool.call_id")})
        elif span.get("operation") in MODEL_CALLS:
            found, recorded = _answer_calls(span)
            shows = shows or recorded
            for call in found:  # the same call recorded twice (flattened, and in the raw response) is one
                asked.setdefault(call["id"] or (call["name"], str(call["arguments"])), call)
    if not shows:
        return None
    runs, waiting = list(ran), list(asked.values())
    # A tool span shows a request running: the one with its id; else, where either has none, one of
    # its name given the same arguments; else one of its name (LangChain's tool spans carry no id).
    # Each pass pairs what it can before the looser one takes the rest.
    for by_id, pairs in ((True, lambda r, c: bool(r["id"]) and r["id"] == c["id"]),
                         (False, lambda r, c: r["name"] == c["name"] and not (r["id"] and c["id"])
                          and _same(r["arguments"], c["arguments"])),
                         (False, lambda r, c: r["name"] == c["name"] and not (r["id"] and c["id"]))):
        for request in list(waiting):
            if (match := next((c for c in runs if pairs(request, c)), None)) is not None:
                runs.remove(match)
                waiting.remove(request)
                # A tool span that records no input (the GenAI conventions make it opt-in) ran what its
                # request asked, where which request it answers cannot be in doubt.
                if not arguments_shown(match) and (by_id or _only_one(match["name"], ran, asked.values())):
                    match["arguments"] = request["arguments"]
    calls = [{k: v for k, v in c.items() if k != "id"} for c in ran]
    return calls + [{"name": r["name"], "arguments": r["arguments"], "status": REQUESTED} for r in waiting]


def _only_one(name: str, *lists: Iterable[dict[str, Any]]) -> bool:
    """Whether each list has exactly one call of this name."""
    return all(sum(c["name"] == name for c in calls) == 1 for calls in lists)


def _same(a: Any, b: Any) -> bool:
    """Whether two recordings of a call's arguments say the same (JSON text and a mapping alike)."""
    def read(v: Any) -> Any:
        decoded = json_or_not(v)
        return v if decoded is NOT_JSON else decoded
    return bool(read(a) == read(b))


def with_arguments(calls: list[dict[str, Any]], traced: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The calls an app reports, each that does not show what it was given (an app that names only
    the tool) given the arguments of the same call in its trace — only where which is which cannot
    matter: the trace has as many calls of that name as the app lists, and the app gives them all one
    status. Two mails asked for and one sent must not lend the sent one the other's address."""
    shown = [c for c in traced or [] if arguments_shown(c)]
    unshown = [c for c in calls if not arguments_shown(c)]
    lent: dict[int, Any] = {}
    for name in {c.get("name") for c in unshown}:
        mine = [c for c in unshown if c.get("name") == name]
        theirs = [t for t in shown if t["name"] == name]
        if len(mine) == len(theirs) and len({str(c.get("status")) for c in mine}) == 1:
            lent.update((id(c), t["arguments"]) for c, t in zip(mine, theirs, strict=True))
    return [{**c, "arguments": lent[id(c)]} if id(c) in lent else c for c in calls]


def _answer_calls(span: Span) -> tuple[list[dict[str, Any]], bool]:
    """The tool calls a model call's recorded answer asks for ({name, arguments, id}), and whether
    the span records its answer at all."""
    flat: dict[str, dict[str, Any]] = {}
    items: list[dict[str, Any]] = []
    answers: list[Any] = []  # the recorded answers that are JSON (plain text holds no call)
    recorded = False
    for key, value in span.attributes.items():
        if key.startswith(OUTPUT_PREFIXES):
            recorded = True
            if m := _FLAT_CALL.fullmatch(key):
                flat.setdefault(m.group(1) or m.group(3), {})[m.group(2) or m.group(4)] = value
        elif key in OUTPUT_KEYS:
            recorded = True
            if (decoded := json_or_not(value)) is not NOT_JSON:
                answers.append(decoded)
                items += _requests(decoded)
    for facts in flat.values():
        arguments = next((facts[k] for k in ("function.arguments", "arguments", "arguments_json") if k in facts), "")
        items.append({"id": facts.get("id"), "name": facts.get("function.name") or facts.get("name"),
                      "arguments": arguments})
    found = []
    for item in items:
        for call in shaped([item]):
            found.append({**call, "id": item.get("id") or item.get("call_id") or item.get("toolCallId")})
    if not found and TOOL_FINISH & set(_finish_reasons(span, answers)):
        # It stopped to call a tool, and the record does not say which (OpenTelemetry's OpenAI
        # instrumentation keeps no older-API function call): it shows no answer to judge by.
        recorded = False
    return found, recorded


TOOL_FINISH = frozenset({"tool_calls", "function_call", "tool_call", "tool_use"})


def _finish_reasons(span: Span, answers: list[Any]) -> list[str]:
    """Why a model call's answer ended, as its span or its recorded answers say."""
    reasons = strings([span.attributes.get(k) for k in ("gen_ai.response.finish_reasons", "llm.finish_reason")])
    reasons += _gather(answers, lambda k, v: [v] if k == "finish_reason" else None)
    return [str(r).lower() for r in reasons]


def _requests(value: Any) -> list[dict[str, Any]]:
    """The tool calls in a recorded answer: the items of its `tool_calls` lists (OpenAI's) or its
    `function_call` (the older API's one), and the parts of the GenAI conventions' messages
    (`tool_call`), Anthropic's content (`tool_use`) or the AI SDK's (`tool-call`, with `toolName`)."""

    def take(key: Any, v: Any) -> list[Any] | None:
        if isinstance(v, dict) and isinstance(v.get("name"), str) and (
                key == "function_call" or v.get("type") in ("tool_call", "tool_use", "function_call")):
            return [v]
        if isinstance(v, dict) and v.get("type") == "tool-call" and isinstance(v.get("toolName"), str):
            return [v]
        if key == "tool_calls" and isinstance(v, list):
            return [i for i in v if isinstance(i, dict)]
        return None

    return _gather(value, take)


def _contents(value: Any) -> list[str]:
    """The texts under `content` or `text` keys of a recorded request (every text, if it has none), and
    what the tools returned (the AI SDK's `tool-result` parts: its `output`'s value, ai 4's `result`)."""

    def take(key: Any, v: Any) -> list[Any] | None:
        if key in ("content", "text") and isinstance(v, str):
            return [v]
        if isinstance(v, dict) and v.get("type") == "tool-result":
            output = v.get("output", v.get("result"))
            return strings(output.get("value") if isinstance(output, dict) and "value" in output else output)
        return None

    return _gather(value, take) or strings(value)


def _gather(value: Any, take: Callable[[Any, Any], list[Any] | None]) -> list[Any]:
    """What `take(key, value)` finds in a recorded JSON value, asked of every value in it with its key
    (None for a list's items): what it returns is kept, and where it returns None the search goes on inside."""
    found: list[Any] = []

    def walk(key: Any, v: Any) -> None:
        if (got := take(key, v)) is not None:
            found.extend(got)
        elif isinstance(v, dict):
            for k, inner in v.items():
                walk(k, inner)
        elif isinstance(v, list):
            for inner in v:
                walk(None, inner)

    walk(None, value)
    return found


def _value(v: Any) -> Any:
    """An OTLP AnyValue (protobuf message or its JSON form) as a plain Python value."""
    if hasattr(v, "WhichOneof"):
        kind = v.WhichOneof("value")
        if kind is None:
            return None
        raw = getattr(v, kind)
        if kind == "array_value":
            return [_value(x) for x in raw.values]
        if kind == "kvlist_value":
            return {kv.key: _value(kv.value) for kv in raw.values}
        return raw
    if isinstance(v, dict):
        for key in ("stringValue", "boolValue", "doubleValue"):
            if key in v:
                return v[key]
        if "intValue" in v:
            return int(v["intValue"])
        if "arrayValue" in v:
            return [_value(x) for x in v["arrayValue"].get("values", [])]
        if "kvlistValue" in v:
            return {kv["key"]: _value(kv.get("value", {})) for kv in v["kvlistValue"].get("values", [])}
    return None


def _hex(raw: Any) -> str:
    if isinstance(raw, bytes):
        return raw.hex()
    if isinstance(raw, str) and raw:
        # OTLP/JSON uses hex ids; some exporters send base64 instead.
        if len(raw) in (16, 32) and all(c in "0123456789abcdefABCDEF" for c in raw):
            return raw.lower()
        try:
            return base64.b64decode(raw).hex()
        except ValueError:
            return raw
    return ""


def _failed(code: Any, message: Any) -> str | None:
    """A span's status, as OTLP gives it (2, or "STATUS_CODE_ERROR" in JSON): its message if it
    ended in error, else None."""
    return str(message or "") if code in (2, "2", "STATUS_CODE_ERROR") else None


def parse_protobuf(body: bytes) -> list[Span]:
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    spans = []
    for rs in request.resource_spans:
        for ss in rs.scope_spans:
            for s in ss.spans:
                spans.append(Span(_hex(s.trace_id), _hex(s.span_id), _hex(s.parent_span_id), s.name,
                                  {a.key: _value(a.value) for a in s.attributes},
                                  s.start_time_unix_nano, s.end_time_unix_nano,
                                  _failed(s.status.code, s.status.message)))
    return spans


def parse_json(body: bytes) -> list[Span]:
    data = json.loads(body)
    spans = []
    for rs in data.get("resourceSpans", []):
        for ss in rs.get("scopeSpans", rs.get("instrumentationLibrarySpans", [])):
            for s in ss.get("spans", []):
                spans.append(Span(_hex(s.get("traceId")), _hex(s.get("spanId")), _hex(s.get("parentSpanId")),
                                  s.get("name", ""), {a["key"]: _value(a.get("value", {}))
                                                      for a in s.get("attributes", [])},
                                  int(s.get("startTimeUnixNano", 0)), int(s.get("endTimeUnixNano", 0)),
                                  _failed((s.get("status") or {}).get("code"), (s.get("status") or {}).get("message"))))
    return spans


def parse_logs_protobuf(body: bytes) -> list[Event]:
    request = ExportLogsServiceRequest()
    request.ParseFromString(body)
    return [event for rl in request.resource_logs for sl in rl.scope_logs for r in sl.log_records
            if (event := _event(_hex(r.trace_id), _hex(r.span_id), r.event_name,
                                {a.key: _value(a.value) for a in r.attributes}, _value(r.body))) is not None]


def parse_logs_json(body: bytes) -> list[Event]:
    data = json.loads(body)
    return [event for rl in data.get("resourceLogs", []) for sl in rl.get("scopeLogs", [])
            for r in sl.get("logRecords", [])
            if (event := _event(_hex(r.get("traceId")), _hex(r.get("spanId")), r.get("eventName", ""),
                                {a["key"]: _value(a.get("value", {})) for a in r.get("attributes", [])},
                                _value(r.get("body", {})))) is not None]


def _event(trace_id: str, span_id: str, name: str, attributes: dict[str, Any], body: Any) -> Event | None:
    """A log record as a content event of its span; None for any other record (an app's own logs)."""
    name = name or str(attributes.get("event.name") or "")
    return Event(trace_id, span_id, name, body) if span_id and any(f(name) for f in EVENT_KEYS.values()) else None


class TraceStore:
    """Spans received so far, by trace id."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.spans: list[Span] = []
        self.by_trace: dict[str, list[Span]] = {}  # a case polls for its trace while it waits
        self.by_id: dict[str, Span] = {}
        self.waiting: dict[str, list[Event]] = {}  # content events that came before their span

    def add(self, spans: list[Span]) -> None:
        with self.lock:
            self.spans.extend(spans)
            for span in spans:
                self.by_trace.setdefault(span.trace_id, []).append(span)
                self.by_id[span.span_id] = span
                for event in self.waiting.pop(span.span_id, []):
                    span.attach(event)

    def add_events(self, events: list[Event]) -> None:
        with self.lock:
            for event in events:
                span = self.by_id.get(event.span_id)
                if span is not None:
                    span.attach(event)
                else:
                    self.waiting.setdefault(event.span_id, []).append(event)

    def trace(self, trace_id: str) -> list[Span]:
        with self.lock:
            return list(self.by_trace.get(trace_id, ()))

    def naming(self, text: str, exclude: set[str]) -> list[Span]:
        """The spans of every trace outside `exclude` whose attributes hold the text as written or as
        JSON writes it: for an app that starts a trace of its own for each request instead of
        continuing the caller's, the traces that recorded one case's message (each case's is unique)."""
        forms = (text, json.dumps(text)[1:-1])
        with self.lock:
            ids = {s.trace_id for s in self.spans if s.trace_id not in exclude and any(
                isinstance(v, str) and any(f in v for f in forms) for v in s.attributes.values())}
            return [s for s in self.spans if s.trace_id in ids]

    def trace_ids(self) -> set[str]:
        with self.lock:
            return set(self.by_trace)


def receiver_app(store: TraceStore) -> Starlette:
    """OTLP/HTTP: spans at /v1/traces, and at /v1/logs the content events some instrumentations
    send as logs, each in protobuf or JSON."""

    def route(path: str, from_json: Callable[[bytes], list[Any]], from_protobuf: Callable[[bytes], list[Any]],
              add: Callable[[list[Any]], None]) -> Route:
        async def receive(request: Request) -> Response:
            body = await request.body()
            kind = request.headers.get("content-type", "")
            try:
                items = from_json(body) if "json" in kind else from_protobuf(body)
            except (DecodeError, ValueError, KeyError, TypeError) as exc:
                return JSONResponse({"error": f"malformed OTLP payload: {type(exc).__name__}"}, status_code=400)
            add(items)
            return JSONResponse({}) if "json" in kind else Response(b"", media_type="application/x-protobuf")

        return Route(path, receive, methods=["POST"])

    return Starlette(routes=[route("/v1/traces", parse_json, parse_protobuf, store.add),
                             route("/v1/logs", parse_logs_json, parse_logs_protobuf, store.add_events)])
