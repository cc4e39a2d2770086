"""A loopback OpenAI-compatible chat endpoint with a fixed latency, for harness benchmarks.

    python benchmarks/openai_stub.py --port 8700 --latency-ms 50

It answers every request after the latency with the same short completion and counts requests
(GET /count). It runs in its own process so its CPU is not charged to the harness.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

COUNTER = itertools.count(1)
SEEN = {"n": 0}


def app(latency: float) -> Starlette:
    async def completions(request: Request):
        body = await request.json()
        SEEN["n"] = next(COUNTER)
        await asyncio.sleep(latency)
        return JSONResponse({
            "id": f"chatcmpl-{SEEN['n']}", "object": "chat.completion", "created": 0,
            "model": body.get("model", "stub"),
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "I can only help with your orders."}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 8, "total_tokens": 18}})

    async def count(request: Request):
        return JSONResponse({"requests": SEEN["n"]})

    async def models(request: Request):
        return JSONResponse({"object": "list", "data": [{"id": "stub", "object": "model"}]})

    return Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"]),
                             Route("/v1/models", models), Route("/count", count)])


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8700)
    parser.add_argument("--latency-ms", type=float, default=50)
    args = parser.parse_args()
    uvicorn.run(app(args.latency_ms / 1000), host="127.0.0.1", port=args.port, log_level="warning",
                access_log=False, backlog=4096)
