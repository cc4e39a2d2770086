"""What `pip install .` ships: every package and every data file under src/, so that the README's
first command works from a wheel and not only from an editable install (where a package missing from
pyproject.toml's list still imports, from the source tree)."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "demarcate"
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]


def test_every_package_under_src_is_listed():
    folders = {"demarcate." + ".".join(p.parent.relative_to(SRC).parts) if p.parent != SRC else "demarcate"
               for p in SRC.rglob("__init__.py")}
    listed = set(SETUPTOOLS["packages"]) - {"demarcate.examples"}  # the examples come from examples/
    assert folders - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
    assert listed - folders == set()


def test_every_data_file_under_src_is_package_data():
    patterns = SETUPTOOLS["package-data"]["demarcate"]
    data = [p.relative_to(SRC).as_posix() for p in SRC.rglob("*")
            if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts]
    assert data  # the catalog, the probes, the templates
    missing = [f for f in data if not any(fnmatch.fnmatch(f, pattern) for pattern in patterns)]
    assert missing == [], "add patterns for these to [tool.setuptools.package-data] in pyproject.toml"
