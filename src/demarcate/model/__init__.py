"""The manifest: schema, loading and merging with positions, and errors."""

from typing import Any

from demarcate.model.errors import ManifestError, Position, Problem

__all__ = ["ManifestError", "Position", "Problem", "System", "load"]


def __getattr__(name: str) -> Any:
    # Loading needs the catalog, and the catalog needs the schema: import lazily to avoid a cycle.
    if name in ("System", "load"):
        from demarcate.model import loader as _load

        return getattr(_load, name)
    raise AttributeError(name)
