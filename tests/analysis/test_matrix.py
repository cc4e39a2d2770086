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


def test_a_developer_whose_parts_others_run_is_not_expected_to_do_the_developers_share(cli):
    # LangChain wrote the math chain; the application's developer runs it. Input screening, the
    # prompt and the rest of the developer's role are the app's, in the matrix as in `who` and `check`.
    manifest = "tests/data/incidents/langchain-llm-math.yaml"
    rows = json.loads(cli("matrix", manifest, "--format", "json").stdout)["rows"]
    developer = [r for r in rows if "app" in r["default_owners"]]
    assert developer and all("langchain" not in r["default_owners"] for r in developer)
    assert all(r["cells"]["langchain"]["claim"] != "default" for r in rows)
    who = cli("who", manifest, "APP-IN-02")
    assert who.exit_code == 0 and "It falls to app" in " ".join(who.output.split())
    assert "langchain" not in who.output.split("Why:")[0].lower()
