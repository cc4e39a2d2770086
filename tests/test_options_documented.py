"""Every option of every command is in the documentation, in a section that names the command."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from demarcate.cli import app

ROOT = Path(__file__).resolve().parents[1]


def _commands(cmd, path=()):
    if hasattr(cmd, "commands"):
        for name, sub in cmd.commands.items():
            yield from _commands(sub, (*path, name))
    else:
        yield path, cmd


def test_every_option_of_every_command_is_documented_where_the_command_is():
    sections = [part for doc in [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
                for part in re.split(r"\n(?=#)", doc.read_text(encoding="utf-8"))]
    missing = []
    checked = 0
    for path, cmd in _commands(typer.main.get_command(app)):
        named = re.compile(rf"\b{re.escape(path[-1])}\b")
        for param in cmd.params:
            if getattr(param, "param_type_name", "") != "option":
                continue
            flags = [o for o in param.opts + param.secondary_opts if o != "--help"]
            said = [re.compile(rf"(?<![\w-]){re.escape(o)}(?![\w-])") for o in flags]
            checked += 1
            if not any(named.search(s) and any(f.search(s) for f in said) for s in sections):
                missing.append(f"{' '.join(path)} {flags[0]}")
    assert checked > 90 and missing == []  # every command was seen
