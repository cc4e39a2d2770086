"""The runtime's egress policy, enforced on every outgoing request the lab makes, and logged."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from demarcate.lab.config import LabConfig
from demarcate.lab.database import ShopDatabase


class EgressDenied(Exception):
    pass


def host_allowed(host: str, allow: list[str]) -> bool:
    host = host.lower().rstrip(".")
    return any(host == a or host.endswith("." + a) for a in (x.lower() for x in allow))


class Egress:
    def __init__(self, config: LabConfig, store: ShopDatabase):
        self.config = config
        self.store = store

    async def request(self, method: str, url: str, **kwargs: object) -> httpx.Response:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.scheme not in ("http", "https"):
            self.store.egress_record(method, url, host, False, None, f"scheme {parts.scheme!r} not allowed")
            raise EgressDenied(f"egress denied: only http and https may leave ({url})")
        if self.config.on("egress-allowlist") and not host_allowed(host, self.config.egress_allow):
            self.store.egress_record(method, url, host, False, None, "host not on the egress allowlist")
            raise EgressDenied(f"egress denied: {host} is not on the allowlist")
        try:
            # A client per request: the lab's loop and the caller's may differ, and requests are few.
            async with httpx.AsyncClient(timeout=10.0, follow_redirects=False, trust_env=False) as client:
                response = await client.request(method, url, **kwargs)  # type: ignore[arg-type]
        except httpx.HTTPError as exc:
            self.store.egress_record(method, url, host, True, None, f"network error: {type(exc).__name__}")
            raise
        self.store.egress_record(method, url, host, True, response.status_code, "allowed")
        return response
