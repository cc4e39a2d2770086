"""`diff` and `check --baseline`: only new findings fail the gate."""

from __future__ import annotations

import json
import subprocess
import sys

from demarcate.builtin import example
from tests.conftest import SHOPBOT

HARDENED = example("shopbot-hardened")


def test_diff_lists_the_findings_the_hardening_fixed(cli):
    data = json.loads(cli("diff", SHOPBOT, HARDENED, "--format", "json").output)
    fixed = {f["id"] for f in data["fixed"]}
    assert "open-attack-path:reviews>retriever>model>send-email>egress" in fixed
    assert "model-is-safe:model" in fixed and "handled-elsewhere:application" in fixed
    assert data["new"] == []
    assert cli("diff", SHOPBOT, HARDENED, "--fail-on", "low").exit_code == 0


def test_regression_is_new_and_fails(cli):
    result = cli("diff", HARDENED, SHOPBOT, "--fail-on", "high")
    assert result.exit_code == 1
    assert "new" in result.output and "open-attack-path:reviews>retriever>model>send-email>egress" in result.output


def test_diff_accepts_saved_json_results(cli, tmp_path):
    saved = tmp_path / "old.json"
    saved.write_text(cli("check", SHOPBOT, "--format", "json").output)
    data = json.loads(cli("diff", saved, HARDENED, "--format", "json").output)
    assert data["summary"]["fixed"] > 20


def test_a_saved_result_is_recognised_by_its_content_in_a_file_or_a_pipe(cli, tmp_path):
    saved = tmp_path / "old.out"  # not named .json: a CI step's artifact, say
    saved.write_text(cli("check", SHOPBOT, "--format", "json").output)
    assert json.loads(cli("diff", saved, HARDENED, "--format", "json").output)["summary"]["fixed"] > 20
    # Process substitution, `--baseline <(demarcate check … --format json)`: a pipe, read once.
    script = (f"{sys.executable} -m demarcate check {HARDENED} --fail-on low "
              f"--baseline <({sys.executable} -m demarcate check {SHOPBOT} --format json)")
    piped = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120)
    assert piped.returncode == 0, piped.stderr  # every finding left was in the baseline
    not_a_result = subprocess.run(["bash", "-c", f"{sys.executable} -m demarcate diff <(echo 'version: 1') {HARDENED}"],
                                  capture_output=True, text=True, timeout=120)
    assert not_a_result.returncode == 2 and "error: not a demarcate check result" in not_a_result.stderr


def test_baseline_gate_fails_only_on_new_findings(cli, tmp_path):
    saved = tmp_path / "baseline.json"
    saved.write_text(cli("check", SHOPBOT, "--format", "json").output)
    assert cli("check", SHOPBOT, "--fail-on", "high").exit_code == 1
    assert cli("check", SHOPBOT, "--fail-on", "high", "--baseline", saved).exit_code == 0
    hardened_base = tmp_path / "hardened.json"
    hardened_base.write_text(cli("check", HARDENED, "--format", "json").output)
    gated = cli("check", SHOPBOT, "--fail-on", "high", "--baseline", hardened_base, "--format", "json")
    assert gated.exit_code == 1
    assert "open-attack-path:reviews>retriever>model>send-email>egress" in json.loads(gated.stdout)["baseline"]["new"]


def test_bad_baseline_file_is_a_clear_error(cli, tmp_path):
    bad = tmp_path / "b.json"
    bad.write_text('{"version": 1,\n "findings": [}')
    result = cli("check", SHOPBOT, "--baseline", bad)
    assert result.exit_code == 2 and f"{bad}:2:15: error: invalid JSON" in result.output
    bad.write_text('{"version": 1, "findings": [{"id": "x"}]}')
    result = cli("check", SHOPBOT, "--baseline", bad)
    assert result.exit_code == 2 and "not a demarcate check result: findings.0.rule" in result.output


def test_diff_for_one_party_compares_what_it_must_act_on(cli):
    everything = json.loads(cli("diff", HARDENED, SHOPBOT, "--format", "json").output)
    cloud = json.loads(cli("diff", HARDENED, SHOPBOT, "--party", "cloud-team", "--format", "json").output)
    for side in ("new", "fixed", "unchanged"):
        assert [f["id"] for f in cloud[side]] == [f["id"] for f in everything[side] if "cloud-team" in f["responsible"]]
    assert cloud["new"] and len(cloud["new"]) < len(everything["new"])
    # the gate judges that party's new findings
    assert cli("diff", HARDENED, SHOPBOT, "--fail-on", "high", "--party", "cloud-team").exit_code == 1
    assert cli("diff", SHOPBOT, HARDENED, "--fail-on", "low", "--party", "cloud-team").exit_code == 0
    typo = cli("diff", HARDENED, SHOPBOT, "--party", "cloud-tem")
    assert "warning: no finding on either side names party 'cloud-tem' (did you mean 'cloud-team'?)" in typo.output


def test_comparing_two_different_systems_is_warned_about(cli, tmp_path):
    saved = tmp_path / "shop.json"
    saved.write_text(cli("check", SHOPBOT, "--format", "json").output)
    other = example("coding-agent")
    warning = "warning: the two sides look like different systems ('ShopBot customer service' and 'Internal coding agent'"
    assert warning in cli("diff", saved, other).output
    assert warning in cli("check", other, "--baseline", saved).output
    # another name but the same components: a new version of the same system, compared without a word
    assert "warning" not in cli("diff", saved, HARDENED).output
    assert "warning" not in cli("check", HARDENED, "--baseline", saved).output


def test_markdown_shows_ids_as_written_and_keeps_crafted_ones_inert(cli, tmp_path):
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark").enable("table")
    html = md.render(cli("diff", HARDENED, SHOPBOT, "--format", "markdown").output)
    # A path's id reads as it is written, with its '>' (entities are not decoded inside code).
    assert "<code>open-attack-path:reviews&gt;retriever&gt;model&gt;send-email&gt;egress</code>" in html
    assert "&amp;#62;" not in html
    # A saved result is a file anyone could have written: its ids stay text, in their cell.
    saved = json.loads(cli("check", HARDENED, "--format", "json").output)
    crafted = "x`<img src=x onerror=alert(1)>`|[link](http://evil.example)|``"
    saved["findings"].append({**saved["findings"][0], "id": crafted})
    path = tmp_path / "crafted.json"
    path.write_text(json.dumps(saved))
    html = md.render(cli("diff", path, HARDENED, "--format", "markdown").output)
    assert "<img" not in html and "<a " not in html
    fixed = next(row for row in html.split("<tr>") if "onerror" in row)
    assert fixed.count("<td>") == 2  # the pipes did not split the row
    assert "<code>x`&lt;img src=x onerror=alert(1)&gt;`|[link](http://evil.example)|``</code>" in fixed
