from __future__ import annotations

from demarcate.testing.transforms import Transform

TRANSFORM = Transform(description="The payload as written.")


def apply(payload: str, goal: str, values: dict[str, str]) -> list[str]:
    return [payload]
