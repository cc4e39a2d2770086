"""JSON as every command writes it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

from demarcate.report.jsonio import json_bytes, json_text


@dataclasses.dataclass
class _Point:
    x: int


def test_indented_text_with_a_final_newline_and_keys_in_order():
    text = json_text({"b": 1, "a": [1, "é"]})
    assert text == '{\n  "b": 1,\n  "a": [\n    1,\n    "é"\n  ]\n}\n'


def test_keys_that_are_not_text_are_written_as_text():
    data = {"by_count": {3: "three", 1: "one"}, "nested": [{2: True}]}
    assert json.loads(json_bytes(data)) == {"by_count": {"3": "three", "1": "one"}, "nested": [{"2": True}]}
    assert json.loads(json_bytes(data, indent=False)) == json.loads(json_bytes(data))
    assert b"\n" not in json_bytes(data, indent=False)


def test_values_json_cannot_hold_are_written_as_text():
    data = {"when": dt.date(2026, 12, 4), "at": dt.datetime(2026, 12, 4, 15, 0), "point": _Point(1)}
    assert json.loads(json_bytes(data)) == {"when": "2026-12-04", "at": "2026-12-04 15:00:00",
                                            "point": "_Point(x=1)"}
