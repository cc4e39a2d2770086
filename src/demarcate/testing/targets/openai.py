"""Any OpenAI-compatible chat-completions endpoint. The key comes from an environment variable.
Documents are handed to the model as context in the user turn, as a RAG application would.

Requests go out as plain JSON over one pooled aiohttp session: at high concurrency its pool
costs a fraction of httpx's per request, and a campaign should cost the target's latency, not
client-side overhead.
"""

from __future__ import annotations

import json
import os
import time

import aiohttp

from demarcate.model.errors import ManifestError, Problem
from demarcate.testing.targets import (
    CONTROL_STATUSES,
    ContextStuffing,
    Reply,
    Setup,
    is_http_url,
    status_error,
)


class OpenAITarget(ContextStuffing):
    name = "openai"
    prompt_marker = None

    def __init__(self, base_url: str, model: str, key_env: str = "OPENAI_API_KEY", system: str | None = None,
                 params: dict[str, object] | None = None, timeout: float = 120.0):
        super().__init__()
        self.model = model
        # Request fields of the user's choosing (max_tokens, temperature, a server's own options): a small
        # model on one slot answers in time only when told to stop early.
        self.params = dict(params or {})
        self.timeout = timeout
        self.system = system
        self.url = base_url.rstrip("/") + "/chat/completions"
        key = os.environ.get(key_env)
        self.headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._session: aiohttp.ClientSession | None = None
        self.description = f"openai-compatible ({base_url}, model {model})"

    def session(self) -> aiohttp.ClientSession:
        # Created inside the running loop, on first use.
        if self._session is None:
            self._session = aiohttp.ClientSession(
                headers=self.headers, timeout=aiohttp.ClientTimeout(total=self.timeout),
                connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300))
        return self._session

    async def send(self, message: str, traceparent: str, session: str) -> Reply:
        docs = self.documents_for(message)
        content = message + ("\n\nRetrieved context:\n" + "\n".join(f"- {d}" for d in docs) if docs else "")
        messages = ([{"role": "system", "content": self.system}] if self.system else []) + \
            [{"role": "user", "content": content}]
        start = time.monotonic()
        try:
            async with self.session().post(self.url, json={**self.params, "model": self.model, "messages": messages},
                                           headers={"traceparent": traceparent}) as r:
                status, retry_after = r.status, r.headers.get("retry-after")
                body = await r.read()
        except TimeoutError:
            # The server may still be generating: asking again would only queue more work behind it.
            return Reply(error=f"no answer within {self.timeout:g} s", latency=time.monotonic() - start,
                         extra={"no_retry": True})
        except aiohttp.ClientError as exc:
            return Reply(error=f"{type(exc).__name__}: {exc}", latency=time.monotonic() - start)
        latency = time.monotonic() - start
        if not 200 <= status < 300 or status in CONTROL_STATUSES:  # no completion in it
            start_of_body = body[:500].decode("utf-8", "replace")
            if why := status_error(status, start_of_body):
                return Reply(status=status, error=why, latency=latency, extra={"retry_after": retry_after})
            return Reply(status=status, text=start_of_body, latency=latency, extra={"retry_after": retry_after})
        try:
            text = json.loads(body)["choices"][0]["message"].get("content") or ""
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            return Reply(status=status, error="reply is not a chat completion", latency=latency)
        return Reply(status=status, text=text, latency=latency, session=session, context=docs)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def make(rest: str, setup: Setup) -> OpenAITarget:
    if not is_http_url(rest):
        raise ManifestError([Problem(f"openai target needs an http:// or https:// base URL, not '{rest}'",
                                     hint="--target openai:http://host:port/v1")])
    return OpenAITarget(rest, setup.model or "gpt-4o-mini", setup.key_env, params=setup.params, timeout=setup.timeout)
