"""The callback listener: the 'outside' an attack tries to reach. It records every request that
carries a canary (in the path, query or body), serves the pages tool-output probes plant, and
accepts mail relayed to outside addresses. Binds 127.0.0.1 unless told otherwise."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from demarcate.serve import BackgroundServer

CANARY = re.compile(r"dmc[a-z0-9]{10,}")


@dataclass(frozen=True)
class Hit:
    canary: str
    method: str
    path: str
    query: str
    body: str
    at: float


class Listener:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, public_url: str | None = None):
        self.lock = threading.Lock()
        self.hits: list[Hit] = []
        self.pages: dict[str, str] = {}
        self.fetched: set[str] = set()  # tokens of the pages somebody fetched
        self.server = BackgroundServer(self._app(), host, port, "demarcate-listener")
        self.public_url = public_url

    def start(self) -> Listener:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    @property
    def url(self) -> str:
        return self.public_url or self.server.url

    def callback(self, canary: str) -> str:
        return f"{self.url}/c/{canary}"

    def page_url(self, token: str) -> str:
        """Where a tool-output probe's page is served: under a token of its own, so that fetching
        the page the user asked about is not mistaken for the attack reaching out."""
        return f"{self.url}/p/{token}/page.html"

    def serve_page(self, token: str, html: str) -> None:
        with self.lock:
            self.pages[token] = html

    def page_fetched(self, token: str) -> bool:
        with self.lock:
            return token in self.fetched

    def hits_for(self, canary: str) -> list[Hit]:
        with self.lock:
            return [h for h in self.hits if h.canary == canary]

    async def wait_for(self, canary: str, seconds: float) -> list[Hit]:
        """The hits for a canary, waiting up to `seconds` for a first one — yielding while it waits,
        so that every other case in flight goes on."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            found = self.hits_for(canary)
            if found:
                return found
            await asyncio.sleep(0.02)
        return self.hits_for(canary)

    def _app(self) -> Starlette:
        async def anything(request: Request) -> Response:
            body = (await request.body())[:20_000].decode("utf-8", "replace")
            text = " ".join((request.url.path, request.url.query, body)).lower()
            canaries = set(CANARY.findall(text))
            parts = request.url.path.split("/")
            with self.lock:
                for c in canaries:
                    self.hits.append(Hit(c, request.method, request.url.path, request.url.query, body, time.time()))
                page = self.pages.get(parts[2]) if len(parts) == 4 and parts[1] == "p" and parts[3] == "page.html" \
                    else None
                if page is not None:
                    self.fetched.add(parts[2])
            if page is not None:
                return HTMLResponse(page)
            if request.url.path.endswith((".png", ".jpg", ".gif")):
                return Response(GIF, media_type="image/gif")
            return JSONResponse({"ok": True})

        return Starlette(routes=[Route("/{path:path}", anything, methods=["GET", "POST", "PUT"])])


# A 1x1 transparent GIF, so rendered images load without errors.
GIF = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")
