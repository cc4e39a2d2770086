"""The bundled reference application as a target: started here, white-box (it reports the tool
calls it made, the controls that fired, and shows its outbox, egress log and audit log)."""

from __future__ import annotations

import time
from typing import Any

import httpx

from demarcate.lab import Lab, LabConfig
from demarcate.lab.shopbot import SYSTEM_PROMPT
from demarcate.testing.targets import Records, Reply, Setup

CUSTOMER = {"email": "ada.park@example.com", "password": "ada-pass"}


class LabTarget:
    name = "lab"
    prompt_marker = "SHOPBOT-PROMPT-7731"
    white_box = True
    user_email = CUSTOMER["email"]  # the probes' own account: its data in an answer is no leak

    def __init__(self, controls: dict[str, bool], listener_url: str, otlp_endpoint: str | None,
                 config: LabConfig | None = None):
        """`config` (from `--lab-config`): the lab's model, allowlists and switches; the campaign's own
        switches go on top, and it keeps the port, the mail relay, the trace endpoint and the rate."""
        assert self.prompt_marker in SYSTEM_PROMPT
        self.traced = bool(otlp_endpoint)  # it exports its spans there
        base = config or LabConfig()
        self.lab = Lab(base.model_copy(update={
            "port": 0, "host": "127.0.0.1", "controls": {**base.controls, **controls},
            "mail_relay": listener_url + "/relay", "otlp_endpoint": otlp_endpoint,
            "rate_limit_per_minute": 10_000})).start()
        self.url = self.lab.url
        self.client = httpx.AsyncClient(base_url=self.url, timeout=60)
        self.headers: dict[str, str] = {}

    @property
    def description(self) -> str:
        on = [k for k, v in self.lab.config.state().items() if v]
        model = self.lab.config.model
        which = "" if model.kind == "simulated" and model.follows_injections else \
            f", model {model.name} at {model.base_url}" if model.kind == "openai" else ", model simulated (resists)"
        return f"lab (controls on: {', '.join(on) or 'none'}{which})"

    async def _auth(self) -> dict[str, str]:
        if not self.headers:
            token = (await self.client.post("/api/login", json=CUSTOMER)).json()["token"]
            self.headers = {"Authorization": f"Bearer {token}"}
        return self.headers

    async def plant(self, documents: list[str], product: str, session: str = "") -> list[str]:
        ids = []
        for doc in documents:
            r = await self.client.post("/api/reviews", json={"product": product, "text": doc}, headers=await self._auth())
            r.raise_for_status()
            ids.append(str(r.json()["id"]))
        return ids

    async def send(self, message: str, traceparent: str, session: str) -> Reply:
        start = time.monotonic()
        try:
            r = await self.client.post("/api/chat", json={"message": message, "session": session},
                                       headers={**(await self._auth()), "traceparent": traceparent})
        except httpx.HTTPError as exc:
            return Reply(error=f"{type(exc).__name__}: {exc}", latency=time.monotonic() - start)
        latency = time.monotonic() - start
        if r.status_code >= 500:
            return Reply(status=r.status_code, error=f"HTTP {r.status_code}", latency=latency)
        data: dict[str, Any] = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
        if r.status_code != 200:
            fired = [{"control": data["control"], "detail": data.get("error", "")}] if data.get("control") else []
            return Reply(status=r.status_code, text=data.get("error", r.text), fired=fired, latency=latency,
                         extra={"retry_after": r.headers.get("retry-after")})
        return Reply(status=200, text=data["reply"], tool_calls=data["tool_calls"], fired=data["controls_fired"],
                     trace_id=data["trace_id"], session=data["session"], latency=latency, context=data["context"])

    async def records(self, reply: Reply, canary: str, product: str = "") -> Records:
        auth = await self._auth()
        egress = (await self.client.get("/api/records/egress", headers=auth)).json()
        outbox = (await self.client.get("/api/records/outbox", headers=auth)).json()
        audit = (await self.client.get("/api/records/audit", headers=auth)).json()
        token = self.headers.get("Authorization", " ").split(" ", 1)[1]
        page = (await self.client.get(f"/chat/{reply.session}", params={"token": token})).text if reply.session else None
        return Records(
            # Denied requests for this case: carrying its canary, or for the page it planted (its product).
            egress_denied=[e for e in egress if not e["allowed"] and (canary in e["url"] or (product and product in e["url"]))],
            mail=[m for m in outbox if m["session"] == reply.session],
            audit_kinds={a["kind"] for a in audit if a["session"] == reply.session},
            page_html=page,
        )

    async def cleanup(self, planted: list[str]) -> None:
        for rid in planted:
            self.lab.bot.store.run("delete from passages where rowid = ?", int(rid))  # type: ignore[union-attr]

    async def infrastructure(self) -> list[dict[str, Any]]:
        """Signals no probe can give: a request without credentials, and a bounded burst."""
        out = []
        r = await self.client.post("/api/chat", json={"message": "hello"})
        out.append({"check": "auth", "control": "APP-ID-01", "held": r.status_code in (401, 403),
                    "evidence": f"request without credentials answered {r.status_code}"})
        config = self.lab.config
        old = config.rate_limit_per_minute
        config.rate_limit_per_minute = 5
        codes = []
        try:
            for _ in range(8):
                codes.append((await self.client.post("/api/chat", json={"message": "hi"},
                                                     headers=await self._auth())).status_code)
        finally:
            config.rate_limit_per_minute = old
            self.lab.bot.calls.clear()  # type: ignore[union-attr]
        out.append({"check": "rate-limit", "control": "INF-RATE-01", "held": 429 in codes,
                    "evidence": f"burst of 8 at a limit of 5/min answered {codes}"})
        return out

    async def close(self) -> None:
        await self.client.aclose()
        self.lab.stop()


def make(rest: str, setup: Setup) -> LabTarget:
    from pathlib import Path

    from demarcate.lab.config import load_config

    return LabTarget(setup.lab_controls, setup.listener_url, setup.otlp,
                     load_config(Path(setup.lab_config)) if setup.lab_config else None)
