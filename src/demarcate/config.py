"""Defaults for the command line, kept in the repository: `demarcate.toml` (or `.demarcate.toml`, or
a `[tool.demarcate]` table in `pyproject.toml`), found in the working directory or the nearest
folder above it, up to the repository's root. So the gate in CI and a developer's run at their desk
read the same manifests with the same options.

    manifest = ["security/demarcate", "security/requirements.yaml"]   # PATHs when none are given
    db = ".demarcate/history.sqlite"  # the run history of every command that keeps or reads one

    [check]                  # a table per command; keys are its long options
    fail-on = "high"
    skip-rule = ["speed-pressure"]
    baseline = "security/demarcate-baseline.json"

Options given on the command line win. Relative paths are from the file's folder.
"""

from __future__ import annotations

import enum
import inspect
import os
import re
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from typer.models import ArgumentInfo, OptionInfo

from demarcate.model.errors import ManifestError, Position, Problem, did_you_mean, read_text

NAMES = ("demarcate.toml", ".demarcate.toml", "pyproject.toml")
# The top-level key that gives every command taking manifests its PATHs (and `-m` where that names them).
MANIFEST_KEY = "manifest"
MANIFEST_PARAMS = ("paths", "manifest")
# The top-level key that gives every command with a history its database, and the options that take a
# database URL or a SQLite file (a file is read from the configuration's folder).
HISTORY_KEY = "db"
PATH_OR_URL = ("db",)
HISTORY_ENV = "DEMARCATE_DB"  # set, it wins over the file's database


def find(start: Path) -> Path | None:
    """The nearest configuration file at or above `start`, not looking past a repository's root."""
    for folder in (start, *start.parents):
        for name in NAMES:
            candidate = folder / name
            if candidate.is_file() and (name != "pyproject.toml" or _has_table(candidate)):
                shown = os.path.relpath(candidate)  # named in messages as a user would type it
                return candidate if shown.startswith("..") else Path(shown)
        if (folder / ".git").exists():
            return None
    return None


_OUR_TABLE = re.compile(r"tool\s*\.\s*demarcate|^\s*\[\s*tool\s*\]", re.MULTILINE)


def _has_table(pyproject: Path) -> bool:
    try:
        text = pyproject.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    # A cheap look first: most runs meet a pyproject.toml that never mentions demarcate, and
    # importing and running a TOML parser costs a few milliseconds.
    if "demarcate" not in text or not _OUR_TABLE.search(text):
        return False
    import tomllib

    try:
        return "demarcate" in tomllib.loads(text).get("tool", {})
    except tomllib.TOMLDecodeError:
        return False  # someone else's file to get right; without our table it is not ours


def read(path: Path) -> dict[str, Any]:
    import tomllib

    name = str(path)
    text = read_text(path, missing="configuration file not found")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        where = re.search(r"\(at line (\d+), column (\d+)\)$", str(exc))
        message = re.sub(r" \(at line \d+, column \d+\)$", "", str(exc))
        line, column = (int(where.group(1)), int(where.group(2))) if where else (0, 0)
        raise ManifestError([Problem(f"invalid TOML: {message}", Position(name, line, column))]) from None
    if path.name == "pyproject.toml":
        data = data.get("tool", {}).get("demarcate", {})
    return data


def default_map(path: Path, data: dict[str, Any], commands: dict[str, Callable[..., Any]],
                subcommands: dict[str, dict[str, Callable[..., Any]]] | None = None) -> dict[str, Any]:
    """Click's defaults, by command and parameter name, from the file's tables. Every key and value is
    checked against the commands' own signatures, so that a misspelt option is an error, not ignored.
    A group's table (`[runs]`) gives its options to each of its subcommands that has them too."""
    name = str(path)
    problems: list[Problem] = []
    result: dict[str, dict[str, Any]] = {}
    manifests = data.get(MANIFEST_KEY)
    if manifests is not None and not (isinstance(manifests, list) and all(isinstance(m, str) for m in manifests)):
        problems.append(Problem(f"'{MANIFEST_KEY}' must be a list of manifest files or folders", Position(name)))
        manifests = None
    history = data.get(HISTORY_KEY)
    if history is not None and not isinstance(history, str):
        problems.append(Problem(f"'{HISTORY_KEY}' must be a database URL or a SQLite file", Position(name)))
        history = None
    options: dict[str, dict[str, tuple[str, Any]]] = {}  # read from a command's signature when a table names it
    for key, table in data.items():
        if key in (MANIFEST_KEY, HISTORY_KEY):
            continue
        if key not in commands or not isinstance(table, dict):
            unknown = f"unknown command table [{key}]" if isinstance(table, dict) else \
                f"unknown key '{key}' (the top level holds '{MANIFEST_KEY}', '{HISTORY_KEY}' and one table per command)"
            problems.append(Problem(unknown if key not in commands else
                                    f"[{key}] must be a table of options", Position(name),
                                    did_you_mean(key, [*commands, MANIFEST_KEY])))
            continue
        known = options.setdefault(key, _options(commands[key]))
        for option, value in table.items():
            found = known.get(option)
            if found is None:
                problems.append(Problem(f"[{key}] has no option '{option}'", Position(name),
                                        did_you_mean(option, known)))
                continue
            param, annotation = found
            value, error = _value(path, annotation, value)
            if error:
                problems.append(Problem(f"[{key}] {option}: {error}", Position(name)))
                continue
            if param in PATH_OR_URL and (value := _database(path, value)) is None:
                continue
            result.setdefault(key, {})[param] = value
    everywhere: dict[str, Any] = {} if manifests is None else {
        param: [str(_from(path, m)) for m in manifests] for param in MANIFEST_PARAMS}
    if history is not None and (database := _database(path, history)) is not None:
        everywhere[HISTORY_KEY] = database
    # Every command may take a file-wide value; without one, only a group given a table passes it on.
    receiving = list(commands) if everywhere else [c for c in result if c in (subcommands or {})]
    for command in receiving:
        callback = commands[command]
        own = result.setdefault(command, {})
        _give(own, callback, everywhere)
        for sub, sub_callback in (subcommands or {}).get(command, {}).items():
            _give(own.setdefault(sub, {}), sub_callback, {**everywhere, **own})
    if problems:
        raise ManifestError(problems)
    return {command: defaults for command, defaults in result.items() if defaults}


def _database(path: Path, value: str) -> str | None:
    """A history database the file names: a URL as it is, a SQLite file from the file's folder; None
    when the environment names one, which wins (a CI secret, say)."""
    if os.environ.get(HISTORY_ENV):
        return None
    return value if "://" in value else str(_from(path, value))


def _give(defaults: dict[str, Any], callback: Callable[..., Any], values: dict[str, Any]) -> None:
    """The values the command has a parameter for (seen by name, with no annotation evaluated), where
    its own table has not set them."""
    takes = inspect.signature(inspect.unwrap(callback)).parameters
    for param, value in values.items():
        if param in takes and param not in defaults:
            defaults[param] = value


def _options(callback: Callable[..., Any]) -> dict[str, tuple[str, Any]]:
    """A command's long options without their dashes (and its manifest argument, by its name), each
    with its parameter's name and type, read from the function's signature as Typer reads it."""
    function = inspect.unwrap(callback)
    found: dict[str, tuple[str, Any]] = {}
    for param, hint in typing.get_type_hints(function, include_extras=True).items():
        if param == "return":
            continue
        info = next((m for m in getattr(hint, "__metadata__", ()) if isinstance(m, (OptionInfo, ArgumentInfo))), None)
        annotation = typing.get_args(hint)[0] if hasattr(hint, "__metadata__") else hint
        if isinstance(info, ArgumentInfo) or annotation is typer.Context:
            if param in MANIFEST_PARAMS:
                found[param] = (param, annotation)
            continue
        longs = [d.split("/")[0] for d in (info.param_decls or ()) if d.startswith("--")] if info else []
        found[(longs[0] if longs else "--" + param.rstrip("_").replace("_", "-")).removeprefix("--")] = (param, annotation)
    return found


def _value(path: Path, annotation: Any, value: Any) -> tuple[Any, str | None]:
    """The value as a default for the parameter (paths from the file's folder), or what is wrong."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (types.UnionType, typing.Union) and len(args) == 1:
        annotation = args[0]  # X | None
    if typing.get_origin(annotation) is list:
        items = value if isinstance(value, list) else [value]  # `skip-rule = "speed-pressure"` for one item
        checked = [_value(path, typing.get_args(annotation)[0], item) for item in items]
        errors = [e for _, e in checked if e]
        return [v for v, _ in checked], errors[0] if errors else None
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        allowed = [str(e.value) for e in annotation]
        return value, None if value in allowed else f"expected one of {', '.join(allowed)}, got {value!r}"
    if annotation is bool:
        return value, None if isinstance(value, bool) else f"expected true or false, got {value!r}"
    if annotation is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return value, None if ok else f"expected a whole number, got {value!r}"
    if annotation in (str, Path):
        if not isinstance(value, str):
            return value, f"expected text, got {value!r}"
        return (str(_from(path, value)) if annotation is Path else value), None
    return value, None


def _from(path: Path, value: Any) -> Path:
    """A path as the file wrote it, from the file's folder: relative to the working directory when
    it is below it (as a user would type it), else absolute."""
    given = Path(str(value))
    if given.is_absolute() or str(value) == "-":
        return given
    full = os.path.normpath(path.parent.absolute() / given)
    relative = os.path.relpath(full)
    return Path(full if relative.startswith("..") else relative)
