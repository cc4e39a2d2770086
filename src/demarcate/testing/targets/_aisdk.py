"""Answers in the AI SDK's stream protocols — Vercel's `ai` package, which most JavaScript chat apps
answer with, and the Python backends written to speak to its chat UI (create-llama's, RAGapp's).
Two protocols: the UI message stream (ai 5 and later: server-sent events, each a JSON part with a
`type`) and the data stream (ai 4: lines of `code:JSON`). An `http:` spec with no `reply:` gets them
read as the chat window reads them: the answer is the text parts; the tool calls are those the
model made, each with what became of it — an output (it ran), an error (it raised, or its input did
not fit), or a request for a person's approval (ai 6's `needsApproval`: the confirmation gate
acting, `awaiting-approval` until someone decides); and what the tools returned, and the nodes LlamaIndex's
backends say they retrieved, is what the model was given."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from demarcate.testing.targets import NOT_JSON, json_or_not, sse_data, strings

# A line of the data stream: its part's code (0 text, 3 error, 9 a tool call, a its result, e/d ends), then JSON.
_DATA_LINE = re.compile(r"([0-9a-z]):(.*)")
# Part types only this protocol sends (`start` and `finish` alone are common to hand-made streams too).
_UI_TYPES = {"start-step", "finish-step", "text-start", "text-delta", "tool-input-available"}


@dataclass
class Streamed:
    text: str
    calls: list[dict[str, Any]] = field(default_factory=list)  # {name, arguments, status}
    context: list[str] = field(default_factory=list)  # what each tool returned to the model
    error: str = ""  # the stream's own error part, when it shows nothing else: no answer at all


def read(body: str, headers: Any) -> Streamed | None:
    """The answer, if it is in one of the protocols (by the header the `ai` package sets, or, from
    backends that set none, by every part having the protocol's shape and one a part only it sends);
    None otherwise."""
    parts, whole = _ui_parts(body)
    if headers.get("x-vercel-ai-ui-message-stream") or (whole and any(p["type"] in _UI_TYPES for p in parts)):
        return _ui(parts)
    lines, whole = _data_parts(body)
    if headers.get("x-vercel-ai-data-stream") or (whole and any(code in "09ed" for code, _ in lines)):
        return _data(lines)
    return None


def _ui_parts(body: str) -> tuple[list[dict[str, Any]], bool]:
    """The typed JSON parts of a UI message stream, and whether every event is one."""
    parts = [json_or_not(data) for data in sse_data(body)]
    typed = [p for p in parts if isinstance(p, dict) and isinstance(p.get("type"), str)]
    return typed, len(typed) == len(parts)


def _data_parts(body: str) -> tuple[list[tuple[str, Any]], bool]:
    """The (code, value) parts of a data stream, and whether every line that is not blank is one."""
    parts, lines = [], [line.strip() for line in body.splitlines() if line.strip()]
    for line in lines:
        m = _DATA_LINE.fullmatch(line)
        if m and (value := json_or_not(m.group(2))) is not NOT_JSON:
            parts.append((m.group(1), value))
    return parts, len(parts) == len(lines)


def _ui(parts: list[dict[str, Any]]) -> Streamed:
    texts: list[str] = []
    calls: dict[str, dict[str, Any]] = {}
    out = Streamed("")
    for part in parts:
        kind, ident = part["type"], str(part.get("toolCallId", ""))
        if kind == "text-start" or (kind == "text-delta" and not texts):
            texts.append("")
        if kind == "text-delta":
            texts[-1] += str(part.get("delta", ""))
        elif kind in ("tool-input-available", "tool-input-error"):
            calls[ident] = {"name": str(part.get("toolName", "")), "arguments": part.get("input", ""),
                            "status": "invalid-input" if kind == "tool-input-error" else None}
        elif kind == "tool-output-available" and ident in calls:
            calls[ident]["status"] = "success"
            out.context.append(" ".join(strings(part.get("output"))))
        elif kind == "tool-output-error" and ident in calls:
            calls[ident]["status"] = "error"
        elif kind in ("tool-approval-request", "tool-output-denied") and ident in calls:
            calls[ident]["status"] = "awaiting-approval" if kind == "tool-approval-request" else "approval-denied"
        elif kind == "error":
            out.error = str(part.get("errorText", "an error part"))[:200]
    return _done(out, texts, list(calls.values()))


def _data(parts: list[tuple[str, Any]]) -> Streamed:
    texts: list[str] = [""]
    calls: dict[str, dict[str, Any]] = {}
    out = Streamed("")
    for code, value in parts:
        if code == "0":
            texts[-1] += str(value)
        elif code in "ef" and texts[-1]:
            texts.append("")  # a step ended: its text is a part of its own
        elif code == "9" and isinstance(value, dict):
            ident = str(value.get("toolCallId", ""))
            calls[ident] = {"name": str(value.get("toolName", "")), "arguments": value.get("args", ""),
                            "status": None}
        elif code == "a" and isinstance(value, dict) and str(value.get("toolCallId", "")) in calls:
            calls[str(value["toolCallId"])]["status"] = "success"
            out.context.append(" ".join(strings(value.get("result"))))
        elif code == "8" and isinstance(value, list):
            _annotations(value, calls, out)
        elif code == "3":
            out.error = str(value)[:200]
            # A tool that raised gets no result: the stream's error stands in for it.
            for call in calls.values():
                call["status"] = call["status"] or "error"
    return _done(out, texts, list(calls.values()))


def _annotations(items: list[Any], calls: dict[str, dict[str, Any]], out: Streamed) -> None:
    """Message annotations of LlamaIndex's chat backends (create-llama's, RAGapp's): the nodes
    retrieved for the answer (`sources`), which the model was given, and the tools an agent ran
    (`tools`: the call, and its output or error)."""
    for item in items:
        data = item.get("data") if isinstance(item, dict) else None
        if not isinstance(data, dict):
            continue
        if item.get("type") == "sources":
            out.context += [" ".join(strings(n.get("text"))) for n in data.get("nodes") or [] if isinstance(n, dict)]
        elif item.get("type") == "tools" and isinstance(data.get("toolCall"), dict):
            call = data["toolCall"]
            output: dict[str, Any] = data["toolOutput"] if isinstance(data.get("toolOutput"), dict) else {}
            failed = bool(output.get("isError"))
            calls[str(call.get("id") or f"annotation-{len(calls)}")] = {
                "name": str(call.get("name", "")), "arguments": call.get("input", ""),
                "status": "error" if failed else "success" if output else None}
            if output and not failed:
                out.context.append(" ".join(strings(output.get("output"))))


def _done(out: Streamed, texts: list[str], calls: list[dict[str, Any]]) -> Streamed:
    out.text = "\n\n".join(t for t in texts if t)
    out.calls = calls
    if out.text or calls:
        out.error = ""  # a partial answer is judged on what it shows
    return out
