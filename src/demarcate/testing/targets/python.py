"""A Python callable as the target: `module:function(message, documents) -> str | dict`.
A dict may carry `reply` and `tool_calls` ([{name, arguments, status}]). The function runs in
demarcate's own interpreter, or — with `--python PATH` — in an interpreter of its own, so that an
application pinning its own versions of its libraries is tested as it is."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from demarcate.model.errors import ManifestError, Problem
from demarcate.testing.targets import ContextStuffing, Reply, Setup

WORKER = Path(__file__).with_name("python_worker.py")


def _load(spec: str) -> Any:
    module_name, _, attr = spec.partition(":")
    if os.getcwd() not in sys.path:  # `python:myapp.bot:answer` from the folder that holds myapp/
        sys.path.insert(0, os.getcwd())
    try:
        return getattr(importlib.import_module(module_name), attr)
    except Exception as exc:
        raise ManifestError([Problem(f"cannot load the Python target '{spec}': {type(exc).__name__}: {exc}",
                                     hint="give module:function, importable from the current folder or the "
                                          "interpreter's path (--python for one with the app's packages)")]) from None


class Worker:
    """The target in another interpreter: one request at a time, a JSON line each way."""

    def __init__(self, interpreter: str, spec: str):
        try:
            self.proc = subprocess.Popen([interpreter, str(WORKER), spec], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                         encoding="utf-8", cwd=os.getcwd())
        except OSError as exc:
            raise ManifestError([Problem(f"cannot start the interpreter '{interpreter}': {exc.strerror or exc}",
                                         hint="--python takes the path of a Python executable")]) from None
        first = self._read()
        if "load_error" in first or "ready" not in first:
            self.close()
            raise ManifestError([Problem(f"cannot load the Python target '{spec}' in {interpreter}: "
                                         f"{first.get('load_error') or first.get('error', 'no answer')}",
                                         hint="give module:function, importable from the current folder in "
                                              "that interpreter")])
        self.version = first["ready"]
        self.lock = threading.Lock()

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            return {"error": f"the interpreter exited (code {self.proc.poll()})"}
        try:
            data = json.loads(line)
        except ValueError:
            return {"error": "the interpreter answered something other than a JSON line"}
        return data if isinstance(data, dict) else {"error": "the interpreter answered something other than an object"}

    def call(self, message: str, documents: list[str]) -> dict[str, Any]:
        with self.lock:
            if self.proc.poll() is not None:
                return {"error": f"the interpreter exited (code {self.proc.returncode})"}
            assert self.proc.stdin is not None
            try:
                self.proc.stdin.write(json.dumps({"message": message, "documents": documents}) + "\n")
                self.proc.stdin.flush()
            except OSError as exc:
                return {"error": f"the interpreter is gone: {exc}"}
            return self._read()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)


class PythonTarget(ContextStuffing):
    name = "python"
    prompt_marker = None

    def __init__(self, spec: str, interpreter: str | None = None):
        super().__init__()
        self.worker = Worker(interpreter, spec) if interpreter else None
        self.fn: Any = None if self.worker else _load(spec)
        where = f", Python {self.worker.version} at {interpreter}" if self.worker else ""
        self.description = f"python ({spec}{where})"

    async def send(self, message: str, traceparent: str, session: str) -> Reply:
        docs = self.documents_for(message)
        start = time.monotonic()
        if self.worker is not None:
            answer = await asyncio.to_thread(self.worker.call, message, docs)
            if "error" in answer or "out" not in answer:
                return Reply(error=answer.get("error", "no answer"), latency=time.monotonic() - start)
            out: Any = answer["out"]
        else:
            try:
                if inspect.iscoroutinefunction(self.fn):
                    out = await self.fn(message, docs)
                else:
                    out = await asyncio.to_thread(self.fn, message, docs)
            except Exception as exc:  # the target's own failure is evidence, not a crash of ours
                return Reply(error=f"{type(exc).__name__}: {exc}", latency=time.monotonic() - start)
        return _reply(out, time.monotonic() - start, session)

    async def close(self) -> None:
        if self.worker is not None:
            self.worker.close()


def _reply(out: Any, latency: float, session: str) -> Reply:
    """What the function returned, as an answer — or as that case's error, never a refusal: a function
    that forgot to return, or a dict without its answer, has not answered (and has not resisted)."""
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
        context = out.get("context")  # what it gave its model this turn, after any screen
        if context is not None and not (isinstance(context, list) and all(isinstance(c, str) for c in context)):
            return Reply(error="the target's 'context' is not a list of texts", latency=latency)
        return Reply(status=200, text=out["reply"], tool_calls=calls, context=context, latency=latency,
                     session=session)
    if not isinstance(out, str):  # a list or a number is not an answer, and not a refusal either
        return Reply(error=f"the target returned {type(out).__name__}: return the reply text, or {{'reply': ...}}",
                     latency=latency)
    return Reply(status=200, text=out, latency=latency, session=session)


def make(rest: str, setup: Setup) -> PythonTarget:
    return PythonTarget(rest, setup.python)
