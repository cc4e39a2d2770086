"""The matrix's filters, as scripts use them."""

from __future__ import annotations

import json

from tests.conftest import SHOPBOT


def test_the_matrix_selects_the_rows_someone_relies_on(cli):
    data = json.loads(cli("matrix", SHOPBOT, "--status", "relies-on", "--format", "json").stdout)
    assert data["rows"] and all(any(c["claim"] == "relies-on" for c in row["cells"].values()) for row in data["rows"])
    everything = json.loads(cli("matrix", SHOPBOT, "--format", "json").stdout)["rows"]
    relied = [r["control"] for r in everything if any(c["claim"] == "relies-on" for c in r["cells"].values())]
    assert [r["control"] for r in data["rows"]] == relied
