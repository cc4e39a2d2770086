"""The history on a real PostgreSQL server (CI installs and starts one and sets
DEMARCATE_TEST_PG, e.g. postgresql+psycopg://demarcate:demarcate@127.0.0.1:5432/demarcate)."""

from __future__ import annotations

import json
import os
import secrets

import pytest

from demarcate.model import load
from demarcate.store import Store
from demarcate.testing.run import run_campaign
from tests.conftest import SHOPBOT

URL = os.environ.get("DEMARCATE_TEST_PG")


@pytest.fixture
def pg_url():
    if not URL:
        if os.environ.get("DEMARCATE_REQUIRE_PG"):
            pytest.fail("DEMARCATE_TEST_PG is not set: CI must start PostgreSQL (see .ci/run)")
        pytest.skip("no PostgreSQL configured (set DEMARCATE_TEST_PG); CI runs this test")
    return URL


def test_campaign_history_in_postgresql(pg_url):
    data = run_campaign(load([SHOPBOT]), target="lab", probes="doc-email-records,user-reveal-prompt", db=pg_url)
    store = Store(pg_url)
    try:
        run = store.run(data["run"])
        assert run["status"] == "done" and run["summary"]["overall"]["n"] == 2
        assert {r["case"] for r in store.results(data["run"])} == {"doc-email-records+plain", "user-reveal-prompt+plain"}
        # one result per case: a repeat is refused, not duplicated
        assert store.add_result(data["run"], data["results"][0]) is False
        assert "demarcate@" not in store.safe_url or "***" in store.safe_url
    finally:
        store.close()


def test_analysis_history_in_postgresql(pg_url, cli):
    seed = cli("check", SHOPBOT, "--store", "--db", pg_url, "--format", "json")
    run = next(line for line in seed.stderr.splitlines() if line.startswith("stored as run ")).split()[3]
    assert "demarcate@" not in seed.stderr or "***" in seed.stderr  # no password in what it prints
    shown = json.loads(cli("runs", "show", run, "--db", pg_url, "--format", "json").stdout)
    assert {k: v for k, v in shown.items() if k not in ("run", "stored")} == json.loads(seed.stdout)
    again = cli("check", SHOPBOT, "--baseline-run", "last", "--db", pg_url, "--fail-on", "low", "--format", "json")
    assert again.exit_code == 0 and json.loads(again.stdout)["baseline"]["new"] == []
    listed = json.loads(cli("runs", "--db", pg_url, "--kind", "analysis", "--format", "json").stdout)
    assert listed[0]["id"] == run and listed[0]["paths"]["open"] == 7
    pruned = cli("runs", "prune", "--keep", "0", "--kind", "analysis", "--target", "ShopBot customer service",
                 "--db", pg_url, "--format", "json")
    assert run in json.loads(pruned.stdout)["removed"]
    assert cli("runs", "show", run, "--db", pg_url).exit_code == 2  # gone, with its result


def test_unreachable_database_is_a_clear_error():
    from demarcate.model.errors import ManifestError

    password = secrets.token_hex(8)
    with pytest.raises(ManifestError) as info:
        Store(f"postgresql+psycopg://nobody:{password}@127.0.0.1:1/none")
    message = str(info.value)
    assert "cannot open run history" in message and password not in message
