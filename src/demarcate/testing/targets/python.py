"""A Python callable as the target: `module:function(message, documents) -> str | dict`.
A dict may carry `reply` and `tool_calls` ([{name, arguments, status}])."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import time
from typing import Any

from demarcate.model.errors import ManifestError, Problem
from demarcate.testing.targets import ContextStuffing, Reply


class PythonTarget(ContextStuffing):
    name = "python"
    prompt_marker = None

    def __init__(self, spec: str):
        super().__init__()
        module_name, _, attr = spec.partition(":")
        try:
            self.fn = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError, ValueError) as exc:
            raise ManifestError([Problem(f"cannot load the Python target '{spec}': {exc}",
                                         hint="give module:function, importable from here")]) from None
        self.description = f"python ({spec})"

    async def send(self, message: str, traceparent: str, session: str) -> Reply:
        docs = self.documents_for(message)
        start = time.monotonic()
        try:
            if inspect.iscoroutinefunction(self.fn):
                out: Any = await self.fn(message, docs)
            else:
                out = await asyncio.to_thread(self.fn, message, docs)
        except Exception as exc:  # the target's own failure is evidence, not a crash of ours
            return Reply(error=f"{type(exc).__name__}: {exc}", latency=time.monotonic() - start)
        latency = time.monotonic() - start
        # A function that forgot to return, or a dict without its answer, has not answered (and
        # has not resisted).
        if out is None:
            return Reply(error="the target returned None: return the reply text, or {'reply': ...}", latency=latency)
        if isinstance(out, dict):
            if "reply" not in out:
                return Reply(error=f"the target's dict has no 'reply' (keys: {', '.join(map(str, out)) or 'none'})",
                             latency=latency)
            if not isinstance(out["reply"], str):
                return Reply(error=f"the target's 'reply' is {type(out['reply']).__name__}, not text", latency=latency)
            calls = out.get("tool_calls")
            if calls is not None and not (isinstance(calls, list) and all(
                    isinstance(c, dict) and isinstance(c.get("name"), str) for c in calls)):
                return Reply(error="the target's 'tool_calls' is not a list of {name, arguments, status}",
                             latency=latency)
            return Reply(status=200, text=out["reply"], tool_calls=calls, latency=latency, session=session)
        if not isinstance(out, str):  # a list or a number is not an answer, and not a refusal either
            return Reply(error=f"the target returned {type(out).__name__}: return the reply text, or {{'reply': ...}}",
                         latency=latency)
        return Reply(status=200, text=out, latency=latency, session=session)

    async def close(self) -> None:
        return None
