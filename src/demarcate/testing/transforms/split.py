from __future__ import annotations

from demarcate.testing.transforms import Transform

TRANSFORM = Transform(description="The payload split across two planted documents.", entries=["document"])


def apply(payload: str, goal: str, values: dict[str, str]) -> list[str]:
    words = payload.split(" ")
    half = len(words) // 2
    return [" ".join(words[:half]), " ".join(words[half:])]
