"""The manifest fuzzer's cases, a seeded few hundred of them, end as documented in both commands.

benchmarks/fuzz_manifests.py runs 10,000 of the same cases (its results are in
benchmarks/README.md); here a bounded, seeded share runs on every change, so that a crash the
fuzzer once found stays found."""

from __future__ import annotations

import pytest
from benchmarks.fuzz_manifests import HOSTILE, cases, run_case, write

from demarcate.builtin import example

CASES = 120


@pytest.mark.parametrize("seed", [7, 11])
def test_malformed_manifests_end_in_an_exit_code_never_a_traceback(tmp_path, seed):
    failing = []
    for n, name, content in cases(seed, CASES // 2):
        write(tmp_path / "m", name, content)
        failing += [f"case {n} ({name}): {w}" for w in run_case(tmp_path / "m")]
    assert not failing


@pytest.mark.parametrize("field", ["sensitivity: public", "kind: data-source"])
@pytest.mark.parametrize("value", [v for v in HOSTILE if v.strip()])
def test_every_hostile_value_in_an_enum_field_is_a_clean_error(tmp_path, value, field):
    # The fields most often quoted back in an error: "'x' is not allowed; expected one of", and the
    # component kind, which picks the model the rest is checked against.
    text = (example("shopbot") / "app-team.yaml").read_text(encoding="utf-8")
    assert field in text
    key = field.split(":")[0]
    write(tmp_path / "m", "app-team.yaml", text.replace(field, f"{key}: {value}", 1))
    assert run_case(tmp_path / "m") == []
