"""Optional parts of demarcate, installed as extras: importing one that is missing is a clear error
naming the extra to install, never a traceback."""

from __future__ import annotations

import importlib
from types import ModuleType

from demarcate.model.errors import ManifestError, Problem

# module -> the extra that installs it
EXTRAS = {"fpdf": "pdf", "openai": "openai", "playwright": "browser", "psycopg": "postgres",
          "yaml_rs": "fast-yaml"}


def need(module: str, what: str) -> ModuleType:
    """The module, or a ManifestError saying that `what` needs its extra."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ManifestError([missing(module, what)]) from None


def missing(module: str, what: str) -> Problem:
    extra = EXTRAS[module]
    return Problem(f"{what} needs the optional '{extra}' part of demarcate, which is not installed",
                   hint=f"pip install 'demarcate[{extra}]'")
