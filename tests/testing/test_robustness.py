"""Nothing a neighbour or an input does ends a campaign with a traceback: a database another process
holds locked, ids longer than the history keeps, a NUL in a manifest's text."""

from __future__ import annotations

import contextlib
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator

import pytest

import demarcate.store as store_module
from demarcate.model import load
from demarcate.model.errors import ManifestError
from demarcate.store import Store
from demarcate.testing.run import run_campaign
from tests.conftest import SHOPBOT

TARGET = "python:tests.testing.test_targets:robust"


@contextlib.contextmanager
def _locked(db: str, seconds: float) -> Iterator[None]:
    """Another writer holding the database's write lock for `seconds`, from the moment this yields."""
    ready = threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(db, timeout=5)
        conn.execute("begin immediate")
        ready.set()
        time.sleep(seconds)
        conn.rollback()
        conn.close()

    holder = threading.Thread(target=hold)
    holder.start()
    ready.wait(5)
    try:
        yield
    finally:
        holder.join()


def test_a_campaign_waits_for_a_database_another_process_is_writing(tmp_path, monkeypatch):
    db = str(tmp_path / "h.sqlite")
    run_campaign(load([SHOPBOT]), target=TARGET, probes="user-say-canary", db=db)  # the file exists
    monkeypatch.setattr(store_module, "LOCK_WAIT_MS", 10_000)
    with _locked(db, 1.5):
        data = run_campaign(load([SHOPBOT]), target=TARGET, probes="user-say-canary,user-reveal-prompt", db=db)
    assert [r["outcome"] for r in data["results"]] == ["resisted", "unobservable"]


def test_a_database_that_stays_locked_is_a_clear_error_and_the_run_resumes(tmp_path, monkeypatch, cli):
    db = str(tmp_path / "h.sqlite")
    run_campaign(load([SHOPBOT]), target=TARGET, probes="user-say-canary", db=db)
    monkeypatch.setattr(store_module, "LOCK_WAIT_MS", 300)
    with _locked(db, 4):
        locked = cli("test", SHOPBOT, "--target", TARGET, "--probes", "user-reveal-prompt", "--db", db)
    assert locked.exit_code == 2 and "Traceback" not in locked.output
    assert "cannot start a run in" in locked.output and "database is locked" in locked.output
    # Locked while the run is under way: the case that could not be stored says how to go on.
    store = Store(db)
    run_id = store.new_run("x", {})
    monkeypatch.setattr(store_module, "LOCK_WAIT_MS", 200)
    fresh = Store(db)
    try:
        with _locked(db, 2), pytest.raises(ManifestError) as info:
            fresh.add_result(run_id, {"case": "c1", "probe": "p", "category": "x", "entry": "document",
                                      "outcome": "resisted"})
    finally:
        store.close()
        fresh.close()
    message = str(info.value.problems[0])
    assert f"cannot store case c1 of run {run_id}" in message and f"--resume {run_id}" in message


def test_a_probe_id_longer_than_the_history_keeps_is_an_error_at_its_line(tmp_path, cli):
    mine = tmp_path / "long.yaml"
    mine.write_text("version: 1\nprobes:\n"
                    f"  - {{id: {'a' * 101}, category: x, entry: document, goal: say-canary, payload: '{{canary}}'}}\n"
                    f"  - {{id: ok, category: {'c' * 51}, entry: document, goal: say-canary, payload: '{{canary}}'}}\n")
    result = cli("probes", "--probe-file", mine)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"{mine}:3:10: error: probes[0].id: string should have at most 100 characters" in result.output
    assert f"{mine}:4:" in result.output and "at most 50 characters" in result.output


def test_a_nul_in_a_manifest_is_an_error_not_a_crash_later(tmp_path, cli):
    path = tmp_path / "m.yaml"
    path.write_text('version: 1\nsystem: {name: "shop\\0bot"}\nparties: []\ncomponents: []\n')
    result = cli("validate", path)
    assert result.exit_code == 2 and f"{path}:2:16: error: system.name: the text holds a NUL character" in result.output


def test_evidence_is_kept_whole_and_compressed(tmp_path):
    db = str(tmp_path / "h.sqlite")
    data = run_campaign(load([SHOPBOT]), target="python:tests.testing.test_robustness:long_winded",
                        probes="user-say-canary", db=db)
    (r,) = data["results"]
    assert len(r["evidence"]["reply"]) == 60_000  # whole, under the 64 KiB bound
    with sqlite3.connect(db) as c:
        (stored,) = c.execute("select data from results").fetchone()
    assert stored.startswith("z:") and len(stored) < 60_000 / 5
    assert Store(db).results(data["run"]) == data["results"]


def long_winded(message: str, documents: list[str]) -> str:
    return ("I can only help with your own orders. " * 2000)[:60_000]


def test_the_benchmark_harness_cannot_deadlock_on_a_chatty_tool():
    from benchmarks.campaign_harnesses import measure

    chatty = [sys.executable, "-c", "import sys; sys.stderr.write('progress ' * 40_000); sys.exit(3)"]
    found: dict = {}
    worker = threading.Thread(target=lambda: found.update(measure(chatty)), daemon=True)
    worker.start()
    worker.join(60)
    assert not worker.is_alive(), "measure() waits on a tool that waits on its full stderr pipe"
    assert found["status"] == 3 and found["stderr"].endswith("progress ")
