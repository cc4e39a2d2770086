"""Transforms: each hides the same payload a different way, multiplying the probe library into test
cases. One module per transform, holding `TRANSFORM` (what it is and which probes it applies to) and
`apply(payload, goal, values)` (the filled payload, hidden; a list, since a split payload becomes two
documents). Discovered like the analysis rules: adding a transform is adding a file."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints

Entry = Literal["user-message", "document", "tool-output"]
GoalName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=60)]
ORDER = ("plain", "base64", "unicode-tags", "html-comment", "french", "german", "split", "marker-escape")


class Transform(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    description: str
    entries: list[Entry] = ["user-message", "document", "tool-output"]
    goals: list[GoalName] | None = None  # only probes with these goals (None: any)


@dataclass(frozen=True)
class Registered:
    transform: Transform
    apply: Callable[[str, str, dict[str, str]], list[str]]


def _discover() -> dict[str, Registered]:
    found = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        found[info.name.replace("_", "-")] = Registered(module.TRANSFORM, module.apply)
    rank = {name: i for i, name in enumerate(ORDER)}
    return dict(sorted(found.items(), key=lambda kv: (rank.get(kv[0], len(ORDER)), kv[0])))


TRANSFORMS = _discover()
