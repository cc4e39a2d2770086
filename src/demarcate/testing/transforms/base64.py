from __future__ import annotations

import base64

from demarcate.testing.transforms import Transform

TRANSFORM = Transform(description="The payload base64-encoded, after a short innocent sentence.",
                      entries=["document", "tool-output", "user-message"])


def apply(payload: str, goal: str, values: dict[str, str]) -> list[str]:
    return ["Bought it last month, happy so far. " + base64.b64encode(payload.encode()).decode()]
