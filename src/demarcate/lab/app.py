"""The lab's HTTP surface (starlette): the chat API, the OpenAI-compatible façade, the review
endpoint shoppers (and attackers) write to, the page a browser renders, and the lab's records."""

from __future__ import annotations

import html
import json
import secrets
import time
from typing import Any

from markdown_it import MarkdownIt
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from demarcate.lab.config import switches
from demarcate.lab.manifest import manifest_yaml
from demarcate.lab.models import SIMULATION_NOTICE
from demarcate.lab.shopbot import LabError, Shopbot

ENDPOINTS = (
    ("POST /api/login {email, password}", "a bearer token"),
    ("POST /api/chat {message, session?}", "a turn: the reply, tool calls, controls fired, what was retrieved"),
    ("POST /v1/chat/completions", "the same through an OpenAI-compatible façade ('user' names the session)"),
    ("POST /api/reviews {product, text}", "the untrusted entry point: anyone may write a review"),
    ("POST /api/confirm/{id}", "approve a pending email (with the confirmation gate on)"),
    ("GET /chat/{session}?token=…", "the conversation rendered as a browser client would"),
    ("GET /api/records/{outbox,egress,audit}", "what was sent, what left, what was logged"),
    ("GET /api/info, GET /api/manifest", "the running configuration, and its manifest"),
)


# A request body past this is refused before it is read (a 20 MB body once held up every other request).
BODY_LIMIT = 1_000_000


class LimitBody:
    """Refuse a body larger than the limit, by its Content-Length or as it streams in."""

    def __init__(self, app: ASGIApp, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"0")
        if declared.isdigit() and int(declared) > self.limit:
            await JSONResponse({"error": f"request body over {self.limit} bytes"}, status_code=413)(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise LabError(413, f"request body over {self.limit} bytes")
            return message

        await self.app(scope, counted, send)


def build_app(bot: Shopbot) -> Starlette:
    async def body(request: Request) -> dict[str, Any]:
        try:
            data = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise LabError(400, "expected a JSON body") from None
        if not isinstance(data, dict):
            raise LabError(400, "expected a JSON object")
        return data

    def who(request: Request) -> dict[str, Any] | None:
        customer = bot.identify(dict(request.headers), dict(request.query_params))
        bot.throttle(customer["id"] if customer else (request.client.host if request.client else "anon"))
        return customer

    def own_session(customer: dict[str, Any] | None, session: str) -> str:
        """A conversation belongs to whoever started it: another signed-in user cannot read or
        continue it, whatever id the client chose."""
        owner = bot.store.session_owner(session)
        user = customer["email"] if customer else "guest"
        if owner is not None and owner != user and bot.config.on("auth"):
            raise LabError(403, "this conversation belongs to another user", "APP-ID-01")
        return session

    async def login(request: Request) -> Response:
        data = await body(request)
        token = bot.login(str(data.get("email", "")), str(data.get("password", "")))
        return JSONResponse({"token": token})

    async def chat(request: Request) -> Response:
        customer = who(request)
        data = await body(request)
        message = data.get("message")
        if not isinstance(message, str) or not message.strip():
            raise LabError(400, "'message' must be non-empty text")
        session = own_session(customer, str(data.get("session") or secrets.token_hex(8))[:200])
        return JSONResponse(await bot.chat(customer, session, message, dict(request.headers)))

    async def completions(request: Request) -> Response:
        customer = who(request)
        data = await body(request)
        messages = data.get("messages")
        if not isinstance(messages, list) or not messages:
            raise LabError(400, "'messages' must be a non-empty list")
        last = next((m for m in reversed(messages) if isinstance(m, dict) and m.get("role") == "user"), None)
        if last is None or not isinstance(last.get("content"), str):
            raise LabError(400, "no user message with text content")
        session = own_session(customer, str(data.get("user") or request.headers.get("x-session-id")
                                            or secrets.token_hex(8))[:200])
        result = await bot.chat(customer, session, last["content"], dict(request.headers))
        return JSONResponse({
            "id": f"chatcmpl-{secrets.token_hex(8)}", "object": "chat.completion", "created": int(time.time()),
            "model": result["model"]["name"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": result["reply"]},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            "demarcate": result,
        })

    async def review(request: Request) -> Response:
        customer = who(request)
        data = await body(request)
        text, product = data.get("text"), data.get("product")
        if not isinstance(text, str) or not text.strip() or not isinstance(product, str) or not product.strip():
            raise LabError(400, "'product' and 'text' must be non-empty text")
        author = str(data.get("author") or (customer["name"] if customer else "anonymous"))
        rid = bot.store.add_review(product[:200], author[:100], text[:20_000])
        return JSONResponse({"id": rid, "product": product}, status_code=201)

    async def confirm(request: Request) -> Response:
        customer = who(request)
        mid = int(request.path_params["mail_id"])
        rows = bot.store.rows("select * from outbox where id = ? and status = 'pending'", mid)
        if not rows or (customer and rows[0]["user"] != customer["email"]):
            raise LabError(404, "no such pending email")
        m = rows[0]
        _, status = await bot.deliver(m["session"], m["user"], m["recipient"], m["subject"], m["body"], existing=mid)
        return JSONResponse({"id": mid, "status": status})

    async def page(request: Request) -> Response:
        session = own_session(who(request), request.path_params["session"])
        md = MarkdownIt("commonmark", {"html": not bot.config.on("html-escaping")})
        items = []
        for m in bot.store.conversation(session):
            who_ = "You" if m["role"] == "user" else "ShopBot"
            content = html.escape(m["content"]) if m["role"] == "user" else md.render(m["content"])
            items.append(f'<div class="msg {m["role"]}"><b>{who_}</b>{content}</div>')
        notice = f'<p class="notice">{html.escape(SIMULATION_NOTICE)}</p>' if bot.simulated else ""
        return HTMLResponse(
            "<!DOCTYPE html><html><head><meta charset='utf-8'><title>ShopBot</title><style>"
            "body{font-family:sans-serif;max-width:720px;margin:2em auto}.msg{margin:1em 0;padding:.5em;"
            "border-radius:6px}.user{background:#eef}.assistant{background:#f4f4f4}.notice{color:#a00}"
            "</style></head><body><h1>ShopBot (demarcate lab)</h1>" + notice + "".join(items) + "</body></html>")

    async def index(request: Request) -> Response:
        """What a browser pointed at the lab sees: what it is, its switches, and how to talk to it."""
        rows = "".join(
            f"<tr><td><code>{html.escape(name)}</code></td><td class={'on' if bot.config.on(name) else 'off'}>"
            f"{'on' if bot.config.on(name) else 'off'}</td><td>{html.escape(sw.control)}</td>"
            f"<td>{html.escape(sw.party)}</td><td>{html.escape(sw.does)}</td></tr>"
            for name, sw in switches().items())
        endpoints = "".join(f"<tr><td><code>{html.escape(e)}</code></td><td>{html.escape(what)}</td></tr>"
                            for e, what in ENDPOINTS)
        notice = f'<p class="notice">{html.escape(SIMULATION_NOTICE)}</p>' if bot.simulated else ""
        return HTMLResponse(
            "<!DOCTYPE html><html><head><meta charset='utf-8'><title>demarcate lab: ShopBot</title><style>"
            "body{font-family:sans-serif;max-width:960px;margin:2em auto}td,th{padding:.3em .6em;"
            "border-bottom:1px solid #ddd;text-align:left;vertical-align:top}.on{color:#070}.off{color:#a00}"
            ".notice{color:#a00}</style></head><body><h1>demarcate lab: ShopBot</h1>"
            "<p>The source document's support bot, vulnerable on purpose: a shopper's review can make it mail "
            "the customer table out. Sign in, plant a review, ask about the product; docs/lab.md walks "
            "through it.</p>" + notice
            + f"<p>model: {html.escape(bot.model.name)}</p><h2>Control switches</h2><table><tr><th>switch</th>"
            "<th>now</th><th>control</th><th>party</th><th>what it does</th></tr>" + rows + "</table>"
            "<h2>Endpoints</h2><table>" + endpoints + "</table></body></html>")

    async def info(request: Request) -> Response:
        return JSONResponse({
            "name": "demarcate lab: ShopBot",
            "model": {"kind": bot.config.model.kind, "name": bot.model.name, "simulated": bot.simulated,
                      **({"notice": SIMULATION_NOTICE} if bot.simulated else {})},
            "controls": {name: {"on": bot.config.on(name), "control": sw.control, "party": sw.party,
                                "does": sw.does} for name, sw in switches().items()},
            "egress_allow": bot.config.egress_allow, "url_allow": bot.config.url_allow,
            "mail_relay": bot.config.mail_relay,
        })

    async def records(request: Request) -> Response:
        who(request)  # behind the auth switch, like everything that holds customers' data
        table = request.path_params["table"]
        query = {"outbox": "select * from outbox order by id", "egress": "select * from egress order by id",
                 "audit": "select * from audit order by id"}.get(table)
        if query is None:
            raise LabError(404, "unknown record table")
        return JSONResponse(bot.store.rows(query))

    async def manifest(request: Request) -> Response:
        return PlainTextResponse(manifest_yaml(bot.config), media_type="application/yaml")

    async def on_error(request: Request, exc: Exception) -> Response:
        if isinstance(exc, LabError):
            return JSONResponse({"error": exc.message, **({"control": exc.control} if exc.control else {})},
                                status_code=exc.status, headers=exc.headers)
        return JSONResponse({"error": "internal error"}, status_code=500)

    return Starlette(
        middleware=[Middleware(LimitBody, limit=BODY_LIMIT),
                    Middleware(TrustedHostMiddleware, allowed_hosts=bot.config.allowed_hosts())],
        routes=[
            Route("/", index),
            Route("/api/login", login, methods=["POST"]),
            Route("/api/chat", chat, methods=["POST"]),
            Route("/v1/chat/completions", completions, methods=["POST"]),
            Route("/api/reviews", review, methods=["POST"]),
            Route("/api/confirm/{mail_id:int}", confirm, methods=["POST"]),
            Route("/chat/{session}", page),
            Route("/api/info", info),
            Route("/api/records/{table}", records),
            Route("/api/manifest", manifest),
        ],
        exception_handlers={LabError: on_error, Exception: on_error},
    )
