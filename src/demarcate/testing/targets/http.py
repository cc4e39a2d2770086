"""Any HTTP application: a request template with placeholders, a JSON path to the answer, and an
optional endpoint to plant documents. Secrets come from environment variables (${NAME})."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, field_validator

from demarcate.model.errors import ManifestError, Problem
from demarcate.model.validate import validate
from demarcate.model.yamlio import read_yaml
from demarcate.testing.targets import CONTROL_STATUSES, Records, Reply, is_http_url, status_error


class RequestSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str
    method: str = "POST"
    headers: dict[str, str] = {}
    body: Any = None

    @field_validator("url")
    @classmethod
    def _http(cls, url: str) -> str:
        if not is_http_url(url):
            raise ValueError(f"'{url}' is not an http:// or https:// address")
        return url


class HttpSpec(RequestSpec):
    reply: str = "reply"  # dotted path into the JSON answer; "" for the raw body
    plant: RequestSpec | None = None
    prompt_marker: str | None = None


_ENV = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)\}")


def _env(text: str, where: str) -> str:
    def sub(m: re.Match[str]) -> str:
        if m.group(1) not in os.environ:
            raise ManifestError([Problem(f"environment variable {m.group(1)} is not set (used in {where})")])
        return os.environ[m.group(1)]

    return _ENV.sub(sub, text)


def _fill(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, str):
        for k, v in values.items():
            value = value.replace("{" + k + "}", v)
        return value
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    return value


class NotThere(LookupError):
    """A reply path that leads nowhere in the answer."""


def dig(data: Any, path: str) -> Any:
    """The value at a dotted path (`choices.0.message.content`); NotThere if the answer lacks it."""
    for part in [p for p in path.replace("$.", "").split(".") if p]:
        if isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        elif isinstance(data, dict) and part in data:
            data = data[part]
        else:
            raise NotThere(part)
    return data


class HttpTarget:
    name = "http"
    white_box = False

    def __init__(self, spec_path: Path):
        raw = read_yaml(spec_path, str(spec_path))
        self.spec = validate(HttpSpec, raw, str(spec_path))
        self.prompt_marker = self.spec.prompt_marker
        self.client = httpx.AsyncClient(timeout=60, trust_env=False)
        self.description = f"http ({self.spec.method} {self.spec.url})"

    async def _request(self, spec: RequestSpec, values: dict[str, str]) -> httpx.Response:
        headers = {k: _env(_fill(v, values), "headers") for k, v in spec.headers.items()}
        body = _fill(spec.body, {k: json.dumps(v)[1:-1] if isinstance(spec.body, str) else v
                                 for k, v in values.items()})
        kwargs: dict[str, Any] = {"headers": headers}
        if isinstance(body, str):
            kwargs["content"] = body
        elif body is not None:
            kwargs["json"] = body
        return await self.client.request(spec.method, _fill(spec.url, values), **kwargs)

    async def plant(self, documents: list[str], product: str) -> list[str]:
        if self.spec.plant is None:
            return []
        for doc in documents:
            (await self._request(self.spec.plant, {"document": doc, "product": product})).raise_for_status()
        return []

    @property
    def can_plant(self) -> bool:
        return self.spec.plant is not None

    async def send(self, message: str, traceparent: str, session: str) -> Reply:
        start = time.monotonic()
        spec = self.spec.model_copy(update={"headers": {**self.spec.headers, "traceparent": traceparent}})
        try:
            r = await self._request(spec, {"message": message, "session": session})
        except httpx.HTTPError as exc:
            return Reply(error=f"{type(exc).__name__}: {exc}", latency=time.monotonic() - start)
        latency = time.monotonic() - start
        if why := status_error(r.status_code, r.text):
            return Reply(status=r.status_code, error=why, latency=latency,
                         extra={"retry_after": r.headers.get("retry-after")})
        text = r.text
        if self.spec.reply and r.status_code not in CONTROL_STATUSES:  # a refusal by status has its own body
            try:
                found = dig(r.json(), self.spec.reply)
                text = found if isinstance(found, str) else json.dumps(found)
            except ValueError:
                return Reply(status=r.status_code, error="reply is not JSON", latency=latency)
            except NotThere as missing:  # an answer we cannot read is no answer, least of all a refusal
                return Reply(status=r.status_code, latency=latency,
                             error=f"the answer has no '{self.spec.reply}' (no '{missing}' in it): check `reply:`")
        return Reply(status=r.status_code, text=text, latency=latency, session=session,
                     extra={"retry_after": r.headers.get("retry-after")})

    async def records(self, reply: Reply, canary: str) -> Records:
        return Records()

    async def cleanup(self, planted: list[str]) -> None:
        return None

    async def close(self) -> None:
        await self.client.aclose()
