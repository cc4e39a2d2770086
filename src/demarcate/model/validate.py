"""Turn pydantic validation errors into Problems that name file, line, column and what was expected."""

from __future__ import annotations

import sys
import types
import typing
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from demarcate.model.errors import ManifestError, Problem, did_you_mean
from demarcate.model.yamlio import locate

M = TypeVar("M", bound=BaseModel)

_EXPECTED = {
    "string_type": "expected text",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number",
    "list_type": "expected a list",
    "dict_type": "expected a mapping (key: value)",
    "model_type": "expected a mapping (key: value)",
    "model_attributes_type": "expected a mapping (key: value)",
    "date_type": "expected a date (YYYY-MM-DD)",
    "date_parsing": "expected a date (YYYY-MM-DD)",
    "date_from_datetime_parsing": "expected a date (YYYY-MM-DD)",
}


def validate(model: type[M], data: Any, name: str) -> M:
    """Validate parsed YAML against a model; every error becomes a positioned Problem."""
    if data is None:
        data = {}
    # pydantic writes a value into its error for a union's tag with str(), which Python refuses for
    # a number of more than 4,300 digits; it then prints the failure as "Exception ignored" on
    # standard error. The error itself is still raised, and described below without str().
    hook, sys.unraisablehook = sys.unraisablehook, lambda unraisable: None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ManifestError(_problems(model, exc, data, name)) from None
    finally:
        sys.unraisablehook = hook


def _problems(model: type[BaseModel], exc: ValidationError, data: Any, name: str) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[tuple[Any, ...]] = set()
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        typ = err["type"]
        # A bad component kind makes pydantic try nothing else; one message is enough per place.
        if loc in seen:
            continue
        seen.add(loc)
        problems.append(_problem(model, typ, err, loc, data, name))
    return problems


def _where(loc: tuple[Any, ...], data: Any) -> str:
    """The path as the user wrote it: segments absent from the data (union tags) are left out."""
    parts: list[str] = []
    node = data
    for i, seg in enumerate(loc):
        last = i == len(loc) - 1
        if (isinstance(node, dict) and seg in node) or (isinstance(node, list) and isinstance(seg, int) and 0 <= seg < len(node)):
            node = node[seg]
        elif not last:
            continue
        if isinstance(seg, int):
            parts.append(f"[{seg}]")
        else:
            parts.append(("." if parts else "") + str(seg))
    return "".join(parts)


def _problem(
    model: type[BaseModel], typ: str, err: ErrorDetails, loc: tuple[Any, ...], data: Any, name: str
) -> Problem:
    where = _where(loc, data)
    got = err.get("input")
    if typ == "extra_forbidden":
        field = loc[-1]
        allowed = _allowed_fields(model, loc[:-1], data)
        hint = did_you_mean(field, allowed)
        if isinstance(field, str) and (" " in field.strip() or got is None):
            hint = "a comma inside {...} ends the value there: put text that contains commas in quotes"
        if not hint and allowed:
            hint = "allowed here: " + ", ".join(sorted(allowed))
        return Problem(f"unknown field '{field}'", locate(data, loc, name, key=True), hint)
    pos = locate(data, loc, name)
    if typ == "missing":
        return Problem(f"missing required field '{loc[-1]}'", pos)
    if typ in ("union_tag_invalid", "union_tag_not_found"):
        expected = err.get("ctx", {}).get("expected_tags", "")
        known = [t.strip().strip("'") for t in str(expected).split(",") if t.strip()]
        if not known:  # pydantic names the tags only when one is given: the model knows its kinds
            known = sorted(getattr(model, "component_kinds", ()))
        if typ == "union_tag_not_found":
            return Problem(f"{where}: missing 'kind'", pos, "one of: " + ", ".join(known))
        tag = err.get("ctx", {}).get("tag")
        given = err.get("input", {}).get("kind") if isinstance(err.get("input"), dict) else tag
        named = f"'{tag}'" if isinstance(given, str) else _describe(given)
        return Problem(
            f"unknown component kind {named}",
            locate(data, (*loc, "kind"), name),
            did_you_mean(tag, known) or "one of: " + ", ".join(known),
        )
    if typ == "literal_error":
        expected = str(err.get("ctx", {}).get("expected", ""))
        options = [o.strip().strip("'") for o in expected.replace(" or ", ", ").split(",") if o.strip()]
        return Problem(
            f"{where}: {_describe(got)} is not allowed; expected one of: {', '.join(options)}",
            pos,
            did_you_mean(got, options) if isinstance(got, str) else "",
        )
    if typ == "string_pattern_mismatch":
        if isinstance(err.get("input"), str) and "\x00" in err["input"]:
            return Problem(f"{where}: the text holds a NUL character (\\0)", pos, "remove it")
        return Problem(f"{where}: '{got}' is not a valid identifier here", pos, _pattern_hint(loc))
    if typ == "value_error":
        msg = str(err.get("ctx", {}).get("error", err["msg"]))
        return Problem(f"{where}: {msg}" if where else msg, pos)
    if typ in _EXPECTED:
        return Problem(f"{where}: {_EXPECTED[typ]}, got {_describe(got)}", pos)
    return Problem(f"{where}: {err['msg'][0].lower()}{err['msg'][1:]}", pos)


REFERENCE_HINTS = {"owasp-llm": "like LLM01", "owasp-agentic": "like ASI01", "atlas": "like AML.M0015",
                   "aicm": "like AIS-08"}
CONTROL_HINT = "control ids look like APP-IN-03: capital letters, digits and dashes"


def _pattern_hint(loc: tuple[Any, ...]) -> str:
    names = [s for s in loc if isinstance(s, str)]
    for key, hint in REFERENCE_HINTS.items():
        if key in names:
            return hint
    last = names[-1] if names else ""
    if last == "control" or (last == "id" and "custom-controls" in names):
        return CONTROL_HINT
    return "letters, digits, '.', '_' and '-', starting with a letter or digit"


def _describe(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"'{str(value).lower()}'"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, int) and value.bit_length() > 13_000:  # too long for str() to write in decimal
        return f"a number of about {int(value.bit_length() * 0.30103):,} digits"
    text = str(value)
    return f"'{text[:40]}…'" if len(text) > 40 else f"'{text}'"


def _allowed_fields(model: type[BaseModel], loc: tuple[Any, ...], data: Any) -> list[str]:
    """The field names (as spelt in YAML) of the model found at `loc`, for suggestions."""
    current: Any = model
    node = data
    for seg in loc:
        if isinstance(node, dict):
            node = node.get(seg) if seg in node else node
        elif isinstance(node, list) and isinstance(seg, int) and 0 <= seg < len(node):
            node = node[seg]
        current = _step(current, seg, node)
        if current is None:
            return []
    current = _unwrap(current, node)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or n for n, f in current.model_fields.items()]
    return []


def _unwrap(tp: Any, node: Any) -> Any:
    """Strip Optional, Annotated and discriminated unions down to one model class."""
    for _ in range(6):
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
            kind = node.get("kind") if isinstance(node, dict) else None
            for m in models:
                field = m.model_fields.get("kind")
                if field is not None and kind in typing.get_args(field.annotation):
                    return m
            tp = models[0] if len(models) == 1 else (args[0] if len(args) == 1 else None)
        else:
            return tp
    return tp


def _step(tp: Any, seg: Any, node: Any) -> Any:
    tp = _unwrap(tp, node)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        if isinstance(seg, int):
            return tp
        for n, f in tp.model_fields.items():
            if seg in (n, f.alias):
                return f.annotation
        return tp  # a union tag segment: stay on the same model
    origin = typing.get_origin(tp)
    if origin in (list, tuple) and isinstance(seg, int):
        return typing.get_args(tp)[0]
    if origin is dict:
        return typing.get_args(tp)[1]
    return None
