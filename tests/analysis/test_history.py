"""Analyses kept in the run history (`check --store`): listed, shown and compared beside campaigns,
and a stored analysis used as the baseline of the next (`--baseline-run`)."""

from __future__ import annotations

import json
import sqlite3

from demarcate.builtin import example
from demarcate.store import Store
from tests.conftest import BASE, SHOPBOT

HARDENED = example("shopbot-hardened")
REQUIREMENTS = SHOPBOT.parent / "requirements.yaml"


def _stored(result) -> str:
    """The run id a `--store` run names on standard error."""
    assert result.exit_code in (0, 1), result.output
    line = next(line for line in result.stderr.splitlines() if line.startswith("stored as run "))
    return line.split()[3]


def test_stored_analyses_are_listed_shown_and_compared(tmp_path, cli):
    db = str(tmp_path / "history.sqlite")
    seed = cli("check", SHOPBOT, "--store", "--db", db, "--fail-on", "high", "--format", "json")
    assert seed.exit_code == 1  # the gate's verdict is kept, and storing does not change it
    seed_run = _stored(seed)
    fixed_run = _stored(cli("check", HARDENED, "--store", "--db", db, "--fail-on", "high"))

    listed = json.loads(cli("runs", "--db", db, "--format", "json").stdout)
    assert [r["id"] for r in listed] == [fixed_run, seed_run]
    newest, oldest = listed
    assert oldest["kind"] == "analysis" and oldest["target"] == "ShopBot customer service"
    assert oldest["gate"] == {"fail_on": "high", "failed": True} and newest["gate"]["failed"] is False
    assert oldest["paths"] == {"total": 7, "open": 7} and newest["paths"]["open"] == 0
    assert oldest["fix"] == ["APP-OUT-04", "APP-TOOL-01"] and oldest["findings"]["by_severity"]["critical"] == 8
    table = cli("runs", "--db", db, columns=200).output
    assert "33 open findings, 7 open attack paths; failed --fail-on high" in table

    # What `runs show` gives back is the result the check printed, so it serves as a baseline file.
    shown = json.loads(cli("runs", "show", seed_run, "--db", db, "--format", "json").stdout)
    assert shown.pop("run") == seed_run and isinstance(shown.pop("stored"), float)
    assert shown == json.loads(seed.stdout)
    text = cli("runs", "show", seed_run, "--db", db).output
    assert f"run {seed_run} — analysis of ShopBot customer service" in text
    assert "critical open-attack-path:reviews>retriever>model>send-email>egress" in text
    assert "highest-leverage fix: APP-OUT-04, APP-TOOL-01" in text
    short = cli("runs", "show", seed_run, "--db", db, "--limit", "2").output.splitlines()
    assert [line.split()[0] for line in short[-3:-1]] == ["critical", "critical"]
    assert short[-1] == "  … and 31 more open findings (all of them: without --limit)"

    better = cli("runs", "diff", seed_run, fixed_run, "--db", db, "--format", "json")
    assert better.exit_code == 0
    diff = json.loads(better.stdout)
    assert diff["kind"] == "analysis" and diff["regressions"] == [] and diff["findings"]["new"] == []
    assert len(diff["findings"]["fixed"]) == 28 and diff["paths"]["open"] == {"old": 7, "new": 0}
    assert {p["id"] for p in diff["paths"]["closed"]} >= {"reviews>retriever>model>send-email>egress"}
    assert diff["fix"] == {"old": ["APP-OUT-04", "APP-TOOL-01"], "new": []}

    worse = cli("runs", "diff", fixed_run, seed_run, "--db", db, "--format", "json")
    assert worse.exit_code == 1
    regressions = json.loads(worse.stdout)["regressions"]
    assert {"path": "reviews>retriever>model>send-email>egress",
            "why": "an attack path that was closed in the earlier analysis is open now"} in regressions
    assert "model-is-safe:model" in {r.get("finding") for r in regressions}
    text = cli("runs", "diff", fixed_run, seed_run, "--db", db).output
    assert "REGRESSION: 28 findings and 7 attack paths open now that were not open in the earlier analysis" in text
    assert "opened path reviews>retriever>model>send-email>egress" in text
    assert "warning" not in text  # the hardened bot is the same system under another name

    # Two systems with nothing in common compare, with a warning that every finding is new or fixed.
    (tmp_path / "tiny.yaml").write_text(BASE.replace("chat", "form"))
    other_run = _stored(cli("check", tmp_path / "tiny.yaml", "--store", "--db", db))
    unlike = cli("runs", "diff", seed_run, other_run, "--db", db)
    assert "warning: the two sides look like different systems ('ShopBot customer service' and 'Tiny bot'" in unlike.stderr


def test_the_last_stored_analysis_is_the_next_ones_baseline(tmp_path, cli):
    db = str(tmp_path / "history.sqlite")
    first = cli("check", SHOPBOT, "--baseline-run", "last", "--store", "--db", db, "--fail-on", "low")
    # Nothing stored yet: every finding is new, and the gate says so rather than refusing to run.
    assert first.exit_code == 1
    assert "no analysis of 'ShopBot customer service' run this way is stored in sqlite:///" in first.stderr
    assert "every finding counts as new" in first.stderr
    _stored(first)
    # The same system again: nothing new, the gate passes though 33 findings are open.
    again = cli("check", SHOPBOT, "--baseline-run", "last", "--store", "--db", db, "--fail-on", "low", "--format", "json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["baseline"]["new"] == []
    # The organisation's requirements join: only what they add counts, in every output.
    stricter = cli("check", SHOPBOT, REQUIREMENTS, "--baseline-run", "last", "--db", db, "--fail-on", "low",
                   "--format", "json")
    assert stricter.exit_code == 1
    new = json.loads(stricter.stdout)["baseline"]["new"]
    assert new and all(i.startswith("unmet-requirement:") for i in new)
    report = cli("report", SHOPBOT, REQUIREMENTS, "--baseline-run", "last", "--db", db, "--format", "json")
    assert json.loads(report.stdout)["baseline"]["new"] == new
    # Only `--store` stores: the last two runs added nothing.
    assert [r["kind"] for r in json.loads(cli("runs", "--db", db, "--format", "json").stdout)] == ["analysis"] * 2
    # Another system's analyses are not this one's baseline, nor are a what-if's or one party's view.
    other = cli("check", HARDENED, "--baseline-run", "last", "--db", db)
    assert "no analysis of 'ShopBot customer service (hardened)' run this way" in other.stderr
    what_if = _stored(cli("check", SHOPBOT, "--assume", "APP-IN-03", "--store", "--db", db))
    narrowed = _stored(cli("check", SHOPBOT, "--party", "cloud-team", "--store", "--db", db))
    whole = cli("check", SHOPBOT, "--baseline-run", "last", "--db", db, "--format", "json")
    assert json.loads(whole.stdout)["baseline"]["new"] == []  # against the last whole analysis, not those two
    party = cli("check", SHOPBOT, "--party", "cloud-team", "--baseline-run", "last", "--db", db)
    assert "Against the baseline: 0 new, 0 fixed" in party.stdout and "warning" not in party.stderr
    assert {what_if, narrowed} <= {r["id"] for r in json.loads(cli("runs", "--db", db, "--format", "json").stdout)}
    app_team = cli("check", SHOPBOT, "--party", "app-team", "--baseline-run", "last", "--db", db)
    assert "no analysis of 'ShopBot customer service' for app-team run this way" in app_team.stderr
    # Nor is one that ran other rules: their findings would all count as new or fixed.
    fewer = cli("check", SHOPBOT, "--skip-rule", "speed-pressure", "--baseline-run", "last", "--db", db)
    assert "run this way is stored" in fewer.stderr


def test_history_mistakes_are_clear_errors(tmp_path, cli):
    db = str(tmp_path / "history.sqlite")
    analysis = _stored(cli("check", SHOPBOT, "--store", "--db", db))
    store = Store(db)
    campaign = store.new_run("lab", {"manifests": []})
    store.close()

    for args, message in (
        (("check", SHOPBOT, "--baseline-run", "nope", "--db", db), "no run 'nope' in sqlite:///"),
        (("check", SHOPBOT, "--baseline-run", campaign, "--db", db), f"run '{campaign}' is a campaign, not an analysis"),
        (("check", SHOPBOT, "--baseline-run", analysis, "--baseline", tmp_path / "r.json", "--db", db),
         "--baseline and --baseline-run each name a baseline; give one of them"),
        (("runs", "diff", analysis, campaign, "--db", db),
         f"run '{analysis}' is an analysis and run '{campaign}' is a campaign: only runs of one kind compare"),
        (("check", SHOPBOT, "--store", "--db", str(tmp_path / "history.sqlite" / "inside")), "cannot open run history"),
        # What reads a campaign's results is given an analysis: said so, not read as one that tested nothing.
        (("matrix", SHOPBOT, "--run", analysis, "--db", db), f"run '{analysis}' is an analysis, not a campaign"),
        (("test", SHOPBOT, "--resume", analysis, "--db", db), f"run '{analysis}' is an analysis, not a campaign"),
        (("runs", "show", "nope", "--db", db), "no run 'nope' in sqlite:///"),
    ):
        result = cli(*args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output and "Traceback" not in result.output, (args, result.output)
    kinds = cli("runs", "--db", db, "--kind", "campaign", "--format", "json")
    assert [r["id"] for r in json.loads(kinds.stdout)] == [campaign]


def test_a_stored_result_is_compressed_and_whole(tmp_path, cli):
    db = tmp_path / "history.sqlite"
    seed = cli("check", SHOPBOT, "--store", "--db", str(db), "--format", "json")
    run = _stored(seed)
    with sqlite3.connect(db) as c:
        (blob,) = c.execute("select result from analyses where run_id = ?", (run,)).fetchone()
        (config,) = c.execute("select config from runs where id = ?", (run,)).fetchone()
    assert len(blob) < len(seed.stdout) / 5
    assert json.loads(config) == {"manifests": [str(SHOPBOT)], "fail_on": "never"}


def test_old_runs_are_pruned_and_resumable_campaigns_kept(tmp_path, cli):
    db = tmp_path / "history.sqlite"
    seed = [_stored(cli("check", SHOPBOT, "--store", "--db", str(db))) for _ in range(3)]
    hardened = [_stored(cli("check", HARDENED, "--store", "--db", str(db))) for _ in range(2)]
    store = Store(str(db))
    finished, resumable = store.new_run("lab", {}), store.new_run("lab", {})
    store.set_status(finished, "done")
    store.add_result(finished, {"case": "c", "probe": "p", "category": "x", "entry": "user", "outcome": "resisted"})
    store.close()

    dry = cli("runs", "prune", "--keep", "1", "--dry-run", "--db", str(db), "--format", "json")
    assert json.loads(dry.stdout) == {"would_remove": [finished, hardened[0], seed[1], seed[0]], "kept": 3,
                                      "unfinished": [resumable]}
    assert len(json.loads(cli("runs", "--db", str(db), "--format", "json").stdout)) == 7  # nothing removed

    text = cli("runs", "prune", "--keep", "1", "--kind", "analysis", "--db", str(db)).output
    assert "removed 3 analyses from sqlite:///" in text and "; 2 analyses kept" in text
    left = [r["id"] for r in json.loads(cli("runs", "--db", str(db), "--format", "json").stdout)]
    assert left == [resumable, finished, hardened[1], seed[2]]
    with sqlite3.connect(db) as c:  # a removed run leaves nothing behind
        assert c.execute("select count(*) from analyses").fetchone()[0] == 2

    # Before a day: everything finished goes, the campaign that can still be resumed stays.
    cli("runs", "prune", "--before", "2999-01-01", "--db", str(db))
    assert [r["id"] for r in json.loads(cli("runs", "--db", str(db), "--format", "json").stdout)] == [resumable]
    with sqlite3.connect(db) as c:
        assert c.execute("select count(*) from results").fetchone()[0] == 0

    for args, message in ((("--keep", "-1"), "greater than or equal to 0"), ((), "say which runs to remove"),
                          (("--before", "yesterday"), "--before: 'yesterday' is not a day; expected YYYY-MM-DD")):
        result = cli("runs", "prune", *args, "--db", str(db))
        assert result.exit_code == 2 and message in result.output, result.output
