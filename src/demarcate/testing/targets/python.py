"""A Python callable as the target: `module:function(message, documents) -> str | dict`.
A dict may carry `reply` and `tool_calls` ([{name, arguments, status}])."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import time
from typing import Any

from demarcate.model.errors import ManifestError, Problem
from demarcate.testing.targets import Records, Reply


class PythonTarget:
    name = "python"
    white_box = False
    prompt_marker = None
    can_plant = True

    def __init__(self, spec: str):
        module_name, _, attr = spec.partition(":")
        try:
            self.fn = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError, ValueError) as exc:
            raise ManifestError([Problem(f"cannot load the Python target '{spec}': {exc}",
                                         hint="give module:function, importable from here")]) from None
        self.description = f"python ({spec})"
        self.context: dict[str, list[str]] = {}

    async def plant(self, documents: list[str], product: str) -> list[str]:
        self.context[product] = list(documents)
        return [product]

    async def send(self, message: str, traceparent: str, session: str) -> Reply:
        docs = [d for p, ds in self.context.items() if p in message for d in ds]
        start = time.monotonic()
        try:
            if inspect.iscoroutinefunction(self.fn):
                out: Any = await self.fn(message, docs)
            else:
                out = await asyncio.to_thread(self.fn, message, docs)
        except Exception as exc:  # the target's own failure is evidence, not a crash of ours
            return Reply(error=f"{type(exc).__name__}: {exc}", latency=time.monotonic() - start)
        if isinstance(out, dict):
            return Reply(status=200, text=str(out.get("reply", "")), tool_calls=out.get("tool_calls"),
                         latency=time.monotonic() - start, session=session)
        return Reply(status=200, text=str(out), latency=time.monotonic() - start, session=session)

    async def records(self, reply: Reply, canary: str) -> Records:
        return Records()

    async def cleanup(self, planted: list[str]) -> None:
        for p in planted:
            self.context.pop(p, None)

    async def close(self) -> None:
        return None
