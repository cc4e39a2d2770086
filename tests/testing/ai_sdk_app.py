"""A stand-in for a shop's support chat written the AI SDK way (`streamText` over the chat's messages
with two tools, `lookupReviews` and `sendEmail`), answering in the SDK's stream protocols byte for
byte as `ai` writes them — the UI message stream of ai 5 and 6 (server-sent events of typed JSON
parts, `x-vercel-ai-ui-message-stream: v1`) or the data stream of ai 4 (`code:JSON` lines,
`x-vercel-ai-data-stream: v1`; Python backends that speak it send no such header) — as recorded from
ai 4.3.19, 5.0.285 and 6.0.333 over a loopback model. Its model is obedient by rule: it looks up the
reviews of a product the user names, mails whoever a review or the user tells it to, and starts its
answer with a word it is told to. Run on 127.0.0.1 by the tests."""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

PRODUCT = re.compile(r"\b(dmp[0-9a-f]{6,})\b")
SEND = re.compile(r"\b(?:e-?mail|send|forward)\b[^.]*?\bto\s+([\w.+-]+@[\w-]+(?:\.[\w-]+)+)", re.I)
SAY = re.compile(r"start your answer with the words\s+(\S+)", re.I)


@dataclass
class Settings:
    protocol: str = "ui"  # "ui": ai 5 and later; "data": ai 4
    header: bool = True  # the header the `ai` package sets (Python backends of the data stream set none)
    approve: bool = False  # sendEmail waits for the user's approval (ai 6's needsApproval)
    gate: bool = False  # sendEmail raises for an address outside the shop
    broken: bool = False  # the model call fails: the stream carries only an error part
    # A LlamaIndex backend (create-llama's, RAGapp's): the data stream with no header and no step
    # parts, the retrieved reviews as a `sources` annotation, the agent's tool runs as `tools` ones.
    llamaindex: bool = False
    reviews: dict[str, dict[str, str]] = field(default_factory=dict)
    sent: list[dict[str, Any]] = field(default_factory=list)
    ids: Any = field(default_factory=itertools.count)


def make_app(settings: Settings) -> Starlette:
    async def chat(request: Request) -> Response:
        message = (await request.json())["messages"][-1]
        text = message.get("content") or "".join(p.get("text", "") for p in message.get("parts", []))
        steps = [] if settings.broken else _steps(settings, text)
        body = _ui(steps, settings.broken) if settings.protocol == "ui" else \
            _llamaindex(steps) if settings.llamaindex else _data(steps)
        headers = {}
        if settings.header:
            headers = {"x-vercel-ai-ui-message-stream": "v1"} if settings.protocol == "ui" else \
                {"x-vercel-ai-data-stream": "v1"}
        media = "text/event-stream" if settings.protocol == "ui" else "text/plain; charset=utf-8"
        return Response(body, media_type=media, headers=headers)

    async def plant(request: Request) -> JSONResponse:
        ident = str(next(settings.ids))
        settings.reviews[ident] = await request.json()
        return JSONResponse({"id": ident}, status_code=201)

    async def remove(request: Request) -> Response:
        settings.reviews.pop(request.path_params["ident"], None)
        return Response(status_code=204)

    async def outbox(request: Request) -> JSONResponse:
        return JSONResponse(settings.sent)

    return Starlette(routes=[Route("/api/chat", chat, methods=["POST"]), Route("/api/reviews", plant, methods=["POST"]),
                             Route("/api/reviews/{ident}", remove, methods=["DELETE"]),
                             Route("/api/outbox", outbox, methods=["GET"])])


def _steps(settings: Settings, text: str) -> list[dict[str, Any]]:
    """The agent loop's steps: each a tool call (with its outcome) or the closing text."""
    steps: list[dict[str, Any]] = []
    read = text
    if product := PRODUCT.search(text):
        found = "\n".join(r["text"] for r in settings.reviews.values() if r["product"] == product.group(1))
        steps.append(_call(settings, "lookupReviews", {"product": product.group(1)}, found or "no reviews", "ran"))
        read = found
    if asked := SEND.search(read):
        mail = {"to": asked.group(1), "subject": "As requested", "body": "Here it is: " + read[:200]}
        if settings.approve:
            steps.append(_call(settings, "sendEmail", mail, None, "approval"))
            return steps  # the run stops until the user decides
        if settings.gate and not mail["to"].endswith("@shop.example"):
            steps.append(_call(settings, "sendEmail", mail, None, "raised"))
        else:
            settings.sent.append(mail)
            steps.append(_call(settings, "sendEmail", mail, {"status": "sent"}, "ran"))
        steps.append({"text": "Done: the email was sent."})
        return steps
    said = SAY.search(read)
    steps.append({"text": (said.group(1) + " " if said else "") + "Here is what I found: " + read[-300:]})
    return steps


def _call(settings: Settings, name: str, args: dict[str, Any], output: Any, outcome: str) -> dict[str, Any]:
    return {"id": f"call_{next(settings.ids)}", "name": name, "args": args, "output": output, "outcome": outcome}


def _sse(part: dict[str, Any]) -> str:
    return "data: " + json.dumps(part, separators=(",", ":")) + "\n\n"


def _ui(steps: list[dict[str, Any]], broken: bool) -> str:
    out = [_sse({"type": "start"})]
    if broken:
        return "".join([*out, _sse({"type": "error", "errorText": "An error occurred."}), "data: [DONE]\n\n"])
    for step in steps:
        out.append(_sse({"type": "start-step"}))
        out.append(_sse({"type": "text-start", "id": "0"}))
        if "text" in step:
            for i in range(0, len(step["text"]), 30):  # the model's text comes in pieces
                out.append(_sse({"type": "text-delta", "id": "0", "delta": step["text"][i:i + 30]}))
            out.append(_sse({"type": "text-end", "id": "0"}))
        else:
            ident, arguments = step["id"], json.dumps(step["args"])
            out.append(_sse({"type": "tool-input-start", "toolCallId": ident, "toolName": step["name"]}))
            out.append(_sse({"type": "tool-input-delta", "toolCallId": ident, "inputTextDelta": arguments}))
            out.append(_sse({"type": "text-end", "id": "0"}))
            out.append(_sse({"type": "tool-input-available", "toolCallId": ident, "toolName": step["name"],
                             "input": step["args"]}))
            if step["outcome"] == "ran":
                out.append(_sse({"type": "tool-output-available", "toolCallId": ident, "output": step["output"]}))
            elif step["outcome"] == "raised":
                out.append(_sse({"type": "tool-output-error", "toolCallId": ident, "errorText": "An error occurred."}))
            else:
                out.append(_sse({"type": "tool-approval-request", "approvalId": "aitxt-" + ident, "toolCallId": ident}))
        out.append(_sse({"type": "finish-step"}))
    waiting = steps and steps[-1].get("outcome") == "approval"
    out.append(_sse({"type": "finish", "finishReason": "tool-calls" if waiting else "stop"}))
    return "".join([*out, "data: [DONE]\n\n"])


def _data(steps: list[dict[str, Any]]) -> str:
    usage = {"promptTokens": None, "completionTokens": None}
    out = []
    for step in steps:
        out.append("f:" + json.dumps({"messageId": "msg-" + str(len(out))}))
        if "text" in step:
            out += ["0:" + json.dumps(step["text"][i:i + 30]) for i in range(0, len(step["text"]), 30)]
            reason = "stop"
        else:
            out.append("9:" + json.dumps({"toolCallId": step["id"], "toolName": step["name"], "args": step["args"]}))
            if step["outcome"] == "ran":
                out.append("a:" + json.dumps({"toolCallId": step["id"], "result": step["output"]}))
            else:  # ai 4 has no part for a tool that raised: the stream's error part follows the call
                out.append("3:" + json.dumps("An error occurred."))
            reason = "tool-calls"
        out.append("e:" + json.dumps({"finishReason": reason, "usage": usage, "isContinued": False}))
    out.append("d:" + json.dumps({"finishReason": reason if steps else "stop", "usage": usage}))
    return "\n".join(out) + "\n"


def _llamaindex(steps: list[dict[str, Any]]) -> str:
    out = ['0:""']  # a blank text part opens the stream
    for step in steps:
        if "text" in step:
            out += ["0:" + json.dumps(step["text"][i:i + 30]) for i in range(0, len(step["text"]), 30)]
        elif step["name"] == "lookupReviews":  # a context chat engine: what it retrieved, as sources
            nodes = [{"id": step["id"], "metadata": {}, "score": 0.8, "text": text, "url": None}
                     for text in step["output"].split("\n")]
            out.append("8:" + json.dumps([{"type": "sources", "data": {"nodes": nodes}}]))
        else:
            out.append("8:" + json.dumps([{"type": "events", "data": {
                "title": f"Calling tool: {step['name']} with inputs: {json.dumps(step['args'])}"}}]))
            failed = step["outcome"] != "ran"
            out.append("8:" + json.dumps([{"type": "tools", "data": {
                "toolOutput": {"output": "Error: recipient outside the shop" if failed else "sent", "isError": failed},
                "toolCall": {"id": None, "name": step["name"], "input": {"args": [], "kwargs": step["args"]}}}}]))
    return "\n".join(out) + "\n"


MANIFEST = """\
version: 1
system: {name: AI SDK support chat, preset: managed-model-api}
parties:
  - {id: vendor, name: Model provider, role: model-provider}
  - {id: dev, name: Chat developer, role: application-developer}
components:
  - {id: chat, kind: user-input, owner: dev}
  - {id: reviews, kind: data-source, owner: dev, trust: untrusted, content: reviews, writable-by: [anyone]}
  - {id: model, kind: model, owner: vendor}
  - {id: lookup-reviews, kind: tool, owner: dev, calls: [lookupReviews], effects: [read-public]}
  - {id: send-email, kind: tool, owner: dev, calls: [sendEmail], effects: [send-external], confirmation: none}
  - {id: chat-ui, kind: output-renderer, owner: dev, format: markdown, images: true}
flows:
  - {from: chat, to: model}
  - {from: reviews, to: lookup-reviews}
  - {from: model, to: lookup-reviews}
  - {from: lookup-reviews, to: model}
  - {from: model, to: send-email}
  - {from: model, to: chat-ui}
"""


def spec(url: str) -> str:
    """The `http:` spec a user writes for it: no `reply:`, the stream is read as its chat window reads it."""
    return f"""\
url: {url}/api/chat
body:
  messages:
    - {{id: m1, role: user, parts: [{{type: text, text: "{{message}}"}}], content: "{{message}}"}}
plant:
  url: {url}/api/reviews
  body: {{product: "{{product}}", text: "{{document}}"}}
  id: id
cleanup:
  url: {url}/api/reviews/{{id}}
  method: DELETE
outbox:
  url: {url}/api/outbox
  items: ""
"""
