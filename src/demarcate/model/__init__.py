"""The manifest: schema, loading and merging with positions, and errors."""

from demarcate.model.errors import ManifestError, Position, Problem
from demarcate.model.load import System, load

__all__ = ["ManifestError", "Position", "Problem", "System", "load"]
