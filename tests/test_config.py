"""A repository's defaults for the command line: demarcate.toml (or pyproject.toml's
[tool.demarcate]) gives commands their manifests and options, so CI and a desk run agree."""

from __future__ import annotations

import json

from tests.conftest import SHOPBOT, copy_example


def _repo(tmp_path, config: str, name: str = "demarcate.toml"):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".git").mkdir()  # the repository's root: the search for a file stops here
    copy_example(SHOPBOT, repo / "security")
    (repo / "docs").mkdir()
    (repo / name).write_text(config)
    return repo


CONFIG = """\
manifest = ["security"]

[check]
fail-on = "high"
skip-rule = "speed-pressure"
"""


def test_the_nearest_config_gives_check_its_manifests_and_options(cli, tmp_path, monkeypatch):
    repo = _repo(tmp_path, CONFIG)
    monkeypatch.chdir(repo / "docs")  # found from a folder below it too
    result = cli("check", "--format", "json")
    assert result.exit_code == 1  # fail-on high, from the file
    rules = {f["rule"] for f in json.loads(result.stdout)["findings"]}
    assert "speed-pressure" not in rules and "open-attack-path" in rules
    # The command line wins over the file; --no-config reads none.
    assert cli("check", "--fail-on", "never").exit_code == 0
    given = cli("check", "--skip-rule", "lethal-trifecta", "--format", "json")
    assert "speed-pressure" in {f["rule"] for f in json.loads(given.stdout)["findings"]}
    bare = cli("--no-config", "check")
    assert bare.exit_code == 2 and "Missing argument" in bare.output
    # Every command that reads manifests gets them.
    assert cli("validate").stdout.startswith("ok: ShopBot customer service")
    assert cli("report", "--format", "markdown").stdout.startswith("## demarcate: ShopBot customer service")


def test_paths_in_the_file_are_from_its_folder(cli, tmp_path, monkeypatch):
    repo = _repo(tmp_path, CONFIG + 'baseline = "security/accepted.json"\n')
    monkeypatch.chdir(repo)
    saved = cli("--no-config", "check", "security", "--skip-rule", "speed-pressure", "--format", "json").stdout
    (repo / "security" / "accepted.json").write_text(saved)
    monkeypatch.chdir(repo / "docs")
    result = cli("check")
    assert result.exit_code == 0 and "Against the baseline: 0 new, 0 fixed" in result.stdout


def test_a_repository_keeps_every_analysis_and_judges_each_against_the_last(cli, tmp_path, monkeypatch):
    repo = _repo(tmp_path, 'db = ".demarcate/ci.sqlite"\n' + CONFIG + 'store = true\nbaseline-run = "last"\n'
                                                                      '[runs]\nformat = "json"\n')
    monkeypatch.chdir(repo / "docs")  # the database is the file's, wherever the command runs
    first = cli("check")
    assert first.exit_code == 1 and "every finding counts as new" in first.stderr
    assert "stored as run" in first.stderr and (repo / ".demarcate" / "ci.sqlite").is_file()
    assert not (repo / "docs" / ".demarcate").exists()
    assert cli("check").exit_code == 0  # nothing new against the analysis stored just before
    # `runs` and its subcommands read the same database; the [runs] table's options reach them too.
    runs = json.loads(cli("runs").stdout)
    assert [r["kind"] for r in runs] == ["analysis", "analysis"]
    assert json.loads(cli("runs", "show", runs[1]["id"]).stdout)["run"] == runs[1]["id"]
    assert json.loads(cli("runs", "diff", runs[1]["id"], runs[0]["id"]).stdout)["regressions"] == []
    # A table's own value wins over the file-wide one; the environment's database over both.
    (repo / "demarcate.toml").write_text((repo / "demarcate.toml").read_text() + 'db = "other.sqlite"\n')
    assert json.loads(cli("runs").stdout) == [] and (repo / "other.sqlite").is_file()
    monkeypatch.setenv("DEMARCATE_DB", str(tmp_path / "env.sqlite"))
    assert cli("check").exit_code == 1 and (tmp_path / "env.sqlite").is_file()  # its first analysis: all new


def test_pyproject_toml_is_read_only_with_a_demarcate_table(cli, tmp_path, monkeypatch):
    repo = _repo(tmp_path, '[tool.demarcate]\nmanifest = ["security"]\n\n[tool.demarcate.check]\nlimit = 1\n',
                 name="pyproject.toml")
    monkeypatch.chdir(repo)
    limited = cli("check")  # the manifest and `limit = 1` both come from the table
    assert limited.exit_code == 0 and limited.stdout.count("\n  id: ") == 1
    assert cli("check", "--limit", "3").stdout.count("\n  id: ") == 3
    (repo / "pyproject.toml").write_text('[project]\nname = "shop"\n')  # someone else's: not ours
    assert cli("check").exit_code == 2


def test_the_search_stops_at_the_repositorys_root(cli, tmp_path, monkeypatch):
    (tmp_path / "demarcate.toml").write_text("[check]\nfail-on = 'low'\n")  # above the repository
    repo = _repo(tmp_path, "")
    monkeypatch.chdir(repo)
    assert cli("check", "security").exit_code == 0


def test_a_config_file_with_mistakes_is_refused_whole_with_each_one_named(cli, tmp_path, monkeypatch):
    repo = _repo(tmp_path, 'manifest = ["security"]\n[check]\nfail_on = "high"\nformat = "sarif"\nlimit = "ten"\n'
                           '[chek]\n[report]\nparty = ["app-team"]\n')
    monkeypatch.chdir(repo)
    result = cli("check")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "demarcate.toml: error: [check] has no option 'fail_on' (did you mean 'fail-on'?)",
        "demarcate.toml: error: [check] limit: expected a whole number, got 'ten'",
        "demarcate.toml: error: unknown command table [chek] (did you mean 'check'?)",
        "3 problems found"]
    (repo / "demarcate.toml").write_text('manifests = ["security"]\n')  # a key, not a table
    assert cli("check").stderr.startswith("demarcate.toml: error: unknown key 'manifests' (the top level holds "
                                          "'manifest', 'db' and one table per command) (did you mean 'manifest'?)")
    (repo / "demarcate.toml").write_text('[check]\nfail-on = "hgh"\n')
    assert "[check] fail-on: expected one of low, medium, high, critical, never, got 'hgh'" in cli("check").stderr
    (repo / "demarcate.toml").write_text('db = 5\n[runs]\nkind = "analyses"\n')
    assert cli("runs").stderr.splitlines() == [
        "demarcate.toml: error: 'db' must be a database URL or a SQLite file",
        "demarcate.toml: error: [runs] kind: expected one of campaign, analysis, got 'analyses'",
        "2 problems found"]
    (repo / "demarcate.toml").write_text('manifest = ["security"\n[check]\n')
    broken = cli("check")
    assert broken.exit_code == 2 and broken.stderr.startswith("demarcate.toml:2:1: error: invalid TOML")
    missing = cli("--config", tmp_path / "nope.toml", "check")
    assert missing.exit_code == 2 and "nope.toml: error: configuration file not found" in missing.stderr
