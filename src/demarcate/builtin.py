"""Where the built-in example manifests are: inside the installed package, or in the source tree."""

from __future__ import annotations

from pathlib import Path


def examples_dir() -> Path:
    packaged = Path(__file__).parent / "examples"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "examples"


def example(name: str) -> Path:
    return examples_dir() / name
