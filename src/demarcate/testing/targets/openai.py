"""Any OpenAI-compatible chat-completions endpoint. The key comes from an environment variable.
Documents are handed to the model as context in the user turn, as a RAG application would."""

from __future__ import annotations

import os
import time

from demarcate.testing.targets import Records, Reply


class OpenAITarget:
    name = "openai"
    white_box = False
    prompt_marker = None
    can_plant = True

    def __init__(self, base_url: str, model: str, key_env: str = "OPENAI_API_KEY", system: str | None = None):
        from openai import AsyncOpenAI

        self.model = model
        self.system = system
        self.client = AsyncOpenAI(base_url=base_url, api_key=os.environ.get(key_env) or "unset", max_retries=0,
                                  timeout=60)
        self.description = f"openai-compatible ({base_url}, model {model})"
        self.context: dict[str, list[str]] = {}

    async def plant(self, documents: list[str], product: str) -> list[str]:
        self.context[product] = list(documents)
        return [product]

    async def send(self, message: str, traceparent: str, session: str) -> Reply:
        from openai import APIConnectionError, APIStatusError

        docs = [d for p, ds in self.context.items() if p in message for d in ds]
        content = message + ("\n\nRetrieved context:\n" + "\n".join(f"- {d}" for d in docs) if docs else "")
        messages = ([{"role": "system", "content": self.system}] if self.system else []) + \
            [{"role": "user", "content": content}]
        start = time.monotonic()
        try:
            r = await self.client.chat.completions.create(model=self.model, messages=messages,
                                                          extra_headers={"traceparent": traceparent})
        except APIStatusError as exc:
            latency = time.monotonic() - start
            if exc.status_code >= 500:
                return Reply(status=exc.status_code, error=f"HTTP {exc.status_code}", latency=latency)
            return Reply(status=exc.status_code, text=str(exc), latency=latency,
                         extra={"retry_after": exc.response.headers.get("retry-after")})
        except APIConnectionError as exc:
            return Reply(error=f"{type(exc).__name__}: {exc}", latency=time.monotonic() - start)
        return Reply(status=200, text=r.choices[0].message.content or "", latency=time.monotonic() - start,
                     session=session)

    async def records(self, reply: Reply, canary: str) -> Records:
        return Records()

    async def cleanup(self, planted: list[str]) -> None:
        for p in planted:
            self.context.pop(p, None)

    async def close(self) -> None:
        await self.client.close()
