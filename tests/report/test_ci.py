"""Findings where CI systems show them: GitHub Actions annotations (`check --format github`), whose
manifest text cannot break out of its own command, and GitLab Code Quality (`--format gitlab`)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema

from demarcate.analysis.rules import RULES
from demarcate.model.yamlio import dump_yaml
from tests.conftest import SHOPBOT, copy_example

COMMAND = re.compile(r"^::(error|warning|notice)(?: ([^:]*))?::(.*)$")


def _decode(text: str) -> str:
    # What the runner does with a command's data and properties.
    for code, char in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        text = text.replace(code, char)
    return text


def _commands(output: str) -> list[tuple[str, dict[str, str], str]]:
    found = []
    for line in output.splitlines():
        m = COMMAND.match(line)
        assert m, f"not a workflow command: {line!r}"
        props = dict(p.split("=", 1) for p in m.group(2).split(",")) if m.group(2) else {}
        found.append((m.group(1), {k: _decode(v) for k, v in props.items()}, _decode(m.group(3))))
    return found


def test_each_open_finding_is_annotated_where_sarif_locates_it(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(SHOPBOT.parent.parent)
    folder = SHOPBOT.relative_to(SHOPBOT.parent.parent)
    result = cli("check", folder, "--format", "github", "--fail-on", "high")
    assert result.exit_code == 1  # the gate is the same
    # The log gets the counts and the fix; the findings go to the annotations.
    assert result.stderr.startswith("ShopBot customer service: 33 open findings over 16 components\n")
    assert "highest-leverage fix: APP-OUT-04, APP-TOOL-01 closes 7 of 7 open paths" in result.stderr
    commands = _commands(result.stdout)
    sarif = json.loads(cli("report", folder, "--format", "sarif").stdout)["runs"][0]["results"]
    located = {r["properties"]["findingId"]: r["locations"][0]["physicalLocation"] for r in sarif}
    assert len(commands) == 33 == len(located)
    levels = [level for level, _props, _message in commands]
    assert levels == sorted(levels, key=["error", "warning", "notice"].index)  # most severe first
    for _level, props, message in commands:
        fid = message.rsplit("[", 1)[1].rstrip("]")
        where = located[fid]
        assert props["file"] == where["artifactLocation"]["uri"] and props["file"].startswith(f"{folder}/")
        assert (int(props["line"]), int(props["col"])) == (where["region"]["startLine"], where["region"]["startColumn"])
        assert props["title"].startswith("demarcate ") and fid.split(":")[0] in props["title"]
    (_level, props, path) = next(c for c in commands if "[open-attack-path:reviews>retriever>model>send-email>egress]"
                                 in c[2])
    assert props["title"] == "demarcate critical: open-attack-path" and "Who must act: app-team" in path


def _poisoned(tmp_path: Path, evil: str) -> Path:
    """A small manifest with an open path, `evil` in every field a CI format shows."""
    doc = {
        "version": 1,
        "system": {"name": evil},
        "parties": [{"id": "app", "role": "application-developer"}, {"id": "vendor", "role": "model-provider"}],
        "components": [
            {"id": "chat", "kind": "user-input", "owner": "app", "trust": "untrusted", "name": evil},
            {"id": "llm", "kind": "model", "owner": "vendor", "name": evil},
            {"id": "mail", "kind": "tool", "owner": "app", "effects": ["send-external"], "name": evil},
        ],
        "flows": [{"from": "chat", "to": "llm"}, {"from": "llm", "to": "mail"}],
        "controls": [{"control": "APP-IN-02", "party": "app", "relies-on": "vendor", "assumption": evil}],
        "tracking": [{"finding": "open-egress:nowhere", "decision": "accepted", "justification": evil}],
    }
    manifest = tmp_path / "evil.yaml"
    manifest.write_text(dump_yaml(doc), encoding="utf-8")
    return manifest


def test_manifest_text_cannot_start_a_workflow_command_of_its_own(cli, tmp_path):
    evil = "ok\n::add-mask::hunter2\r\n::set-output name=x::y, line=1,file=x:: 100%0A"
    manifest = _poisoned(tmp_path, evil)
    result = cli("check", manifest, "--format", "github")
    assert result.exit_code == 0, result.output
    commands = _commands(result.stdout)  # every line is one of ours, nothing else starts a command
    assert len(commands) >= 3 and not any(line.startswith("::add-mask") or line.startswith("::set-output")
                                          for line in result.stdout.splitlines())
    # Shown, decoded, as written — less the carriage return, a control character like any other.
    assert any(evil.replace("\r", "") in message for _level, _props, message in commands)
    warning = [c for c in commands if "tracking entry 'open-egress:nowhere'" in c[2]]
    assert [(level, props["file"]) for level, props, _message in warning] == [("warning", str(manifest))]
    lines = manifest.read_text().splitlines()
    assert "open-egress:nowhere" in lines[int(warning[0][1]["line"]) - 1]


# The fields GitLab's merge-request widget reads (docs.gitlab.com, "Code Quality": implement a tool).
CODE_QUALITY = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["description", "check_name", "fingerprint", "severity", "location"],
        "properties": {
            "description": {"type": "string", "minLength": 1},
            "check_name": {"type": "string", "minLength": 1},
            "fingerprint": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            "severity": {"enum": ["info", "minor", "major", "critical", "blocker"]},
            "location": {"type": "object", "required": ["path", "lines"],
                         "properties": {"path": {"type": "string", "minLength": 1},
                                        "lines": {"type": "object", "required": ["begin"],
                                                  "properties": {"begin": {"type": "integer", "minimum": 1}}}}},
        },
    },
}


def test_gitlab_code_quality_lists_open_findings_at_their_lines_with_stable_fingerprints(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(SHOPBOT.parent.parent)
    folder = SHOPBOT.relative_to(SHOPBOT.parent.parent)
    result = cli("check", folder, "--format", "gitlab", "--fail-on", "high")
    assert result.exit_code == 1 and "33 open findings over 16 components" in result.stderr
    report = json.loads(result.stdout)
    jsonschema.validate(report, CODE_QUALITY)
    sarif = json.loads(cli("report", folder, "--format", "sarif").stdout)["runs"][0]["results"]
    located = {r["properties"]["findingId"]: r["locations"][0]["physicalLocation"] for r in sarif}
    assert len(report) == len(located) == len({e["fingerprint"] for e in report}) == 33
    for entry in report:
        where = located[entry["description"].rsplit("[", 1)[1].rstrip("]")]
        assert entry["location"] == {"path": where["artifactLocation"]["uri"],
                                     "lines": {"begin": where["region"]["startLine"]}}
    by_rule = {e["check_name"]: e["severity"] for e in report}
    assert by_rule["lethal-trifecta"] == "critical" and by_rule["open-egress"] == "major"
    # The same finding keeps its fingerprint from run to run (how GitLab tells new from resolved),
    # and `report --format gitlab` writes the same report.
    again = tmp_path / "gl-code-quality-report.json"
    assert cli("report", folder, "--format", "gitlab", "-o", again).exit_code == 0
    assert json.loads(again.read_text()) == report
    # A decided finding is not reported.
    bot = copy_example(SHOPBOT, tmp_path / "bot")
    (bot / "decisions.yaml").write_text(
        "tracking:\n  - {finding: 'open-egress:egress', decision: accepted, justification: proxy next quarter}\n")
    decided = json.loads(cli("check", bot, "--format", "gitlab").stdout)
    assert len(decided) == 32 and "open-egress" not in {e["check_name"] for e in decided}
    # Paths are the repository's (the working directory's), wherever the report is written.
    monkeypatch.chdir(tmp_path)
    assert cli("report", "bot", "--format", "gitlab", "-o", Path("bot") / "gl.json").exit_code == 0
    written = json.loads((bot / "gl.json").read_text())
    assert {e["location"]["path"] for e in written} <= {f"bot/{p.name}" for p in bot.glob("*.yaml")}


def test_against_a_baseline_only_the_new_findings_are_annotated(cli, tmp_path):
    from demarcate.builtin import example

    baseline = tmp_path / "hardened.json"
    baseline.write_text(cli("check", example("shopbot-hardened"), "--format", "json").stdout)
    result = cli("check", SHOPBOT, "--baseline", baseline, "--format", "github", "--fail-on", "high")
    assert result.exit_code == 1
    annotated = {message.rsplit("[", 1)[1].rstrip("]") for _level, _props, message in _commands(result.stdout)}
    base = json.loads(cli("check", SHOPBOT, "--baseline", baseline, "--format", "json").stdout)["baseline"]
    # The new findings, and the one whose severity rose (the trifecta: medium in the baseline, critical
    # here): what the gate judges; the findings open the same on both sides are not this change's doing.
    assert annotated == {*base["new"], "lethal-trifecta:model"} and len(base["new"]) == 28
    assert not annotated & set(base["unchanged"])


def _broken(tmp_path: Path, monkeypatch) -> None:
    """A manifest folder `ai` with a misspelt kind on line 4, in the working directory."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ai").mkdir()
    (tmp_path / "ai" / "system.yaml").write_text(
        "version: 1\ncomponents:\n  - id: bot\n    kind: modle\n    owner: app\n")


def test_a_broken_manifest_is_annotated_at_its_lines_and_fails(cli, tmp_path, monkeypatch):
    _broken(tmp_path, monkeypatch)
    result = cli("check", "ai", "--format", "github", "--fail-on", "high")
    assert result.exit_code == 2
    assert _commands(result.stdout) == [
        ("error", {"file": "ai/system.yaml", "line": "4", "col": "11", "title": "demarcate"},
         "unknown component kind 'modle' (did you mean 'model'?)"),
        # Every problem at once: the component's owner is no party either.
        ("error", {"file": "ai/system.yaml", "line": "5", "col": "12", "title": "demarcate"},
         "unknown party 'app' (the manifest defines no party yet)")]
    assert "ai/system.yaml:4:11: error: unknown component kind" in result.stderr  # the log keeps its line


def test_a_pull_request_comment_against_a_baseline_says_what_is_new(cli, tmp_path):
    from demarcate.builtin import example

    baseline = tmp_path / "hardened.json"
    baseline.write_text(cli("check", example("shopbot-hardened"), "--format", "json").stdout)
    comment = cli("check", SHOPBOT, "--baseline", baseline, "--format", "markdown").stdout
    assert comment.startswith("## demarcate: ShopBot customer service")
    section = comment[comment.index("### Against the baseline: 28 new, 0 fixed, 1 changed severity, 4 unchanged findings"):]
    assert "#### New" in section and "`open-attack-path:reviews>retriever>model>send-email>egress`" in section
    # Open on both sides, but medium there and critical here: a change, not "unchanged".
    changed = section[section.index("#### Changed severity"):section.index("<details>")]
    assert "| medium |" in changed and "critical" in changed and "`lethal-trifecta:model`" in changed
    assert "### Against the baseline" not in cli("check", SHOPBOT, "--format", "markdown").stdout


def _junit(text: str):
    from junitparser import JUnitXml

    ET.fromstring(text.encode())  # well-formed XML, as every CI system's reader needs it
    return JUnitXml.fromstring(text)


def test_junit_fails_each_open_finding_at_its_line_and_passes_each_quiet_rule(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(SHOPBOT.parent.parent)
    folder = SHOPBOT.relative_to(SHOPBOT.parent.parent)
    result = cli("check", folder, "--format", "junit", "--fail-on", "high", "--report", tmp_path / "junit.xml")
    assert result.exit_code == 1 and "33 open findings over 16 components" in result.stderr
    assert (tmp_path / "junit.xml").read_text() == result.stdout  # --report NAME.xml writes the same
    report = _junit(result.stdout)
    cases = {case.name: (suite.name, case) for suite in report for case in suite}
    failed = {name for name, (_suite, case) in cases.items() if not case.is_passed and not case.is_skipped}
    findings = json.loads(cli("check", folder, "--format", "json").stdout)["findings"]
    assert failed == {f["id"] for f in findings} and len(failed) == 33
    assert all(suite == name.split(":", 1)[0] for name, (suite, _case) in cases.items() if name in failed)
    quiet = set(RULES) - {f["rule"] for f in findings}
    assert {suite for name, (suite, case) in cases.items() if case.is_passed} == quiet
    assert report.tests == 33 + len(quiet) and report.failures == 33 and report.skipped == 0
    # Each failure is where SARIF locates the finding, with its severity and whole message.
    sarif = json.loads(cli("report", folder, "--format", "sarif").stdout)["runs"][0]["results"]
    located = {r["properties"]["findingId"]: r["locations"][0]["physicalLocation"] for r in sarif}
    xml = ET.fromstring(result.stdout)
    for element in xml.iter("testcase"):
        if element.get("name") in failed:
            where = located[element.get("name")]
            assert (element.get("file"), element.get("line")) == (
                where["artifactLocation"]["uri"], str(where["region"]["startLine"]))
    trifecta = cases["lethal-trifecta:model"][1].result[0]
    assert trifecta.type == "critical" and trifecta.message.startswith("critical: Lethal trifecta in model")
    assert "Who must act: app-team, cloud-team." in trifecta.text
    # A decided finding is skipped with its decision, not failed.
    bot = copy_example(SHOPBOT, tmp_path / "bot")
    (bot / "decisions.yaml").write_text(
        "tracking:\n  - {finding: 'open-egress:egress', decision: accepted, justification: proxy next quarter}\n")
    decided = _junit(cli("check", bot, "--format", "junit").stdout)
    skipped = [(case.name, case.result[0].message) for suite in decided for case in suite if case.is_skipped]
    assert skipped == [("open-egress:egress", "accepted: accepted — proxy next quarter")]
    only = _junit(cli("check", bot, "--format", "junit", "--rule", "open-egress").stdout)
    assert [suite.name for suite in only] == ["open-egress"]


def test_junit_against_a_baseline_fails_only_what_is_new(cli, tmp_path):
    from demarcate.builtin import example

    baseline = tmp_path / "hardened.json"
    baseline.write_text(cli("check", example("shopbot-hardened"), "--format", "json").stdout)
    report = _junit(cli("check", SHOPBOT, "--baseline", baseline, "--format", "junit").stdout)
    new = json.loads(cli("check", SHOPBOT, "--baseline", baseline, "--format", "json").stdout)["baseline"]
    failed = {case.name for suite in report for case in suite if not case.is_passed and not case.is_skipped}
    known = {case.name: case.result[0].message for suite in report for case in suite if case.is_skipped}
    # A finding whose severity rose since the baseline (the trifecta: medium there, critical here) fails
    # like a new one; the rest of the baseline's findings are known.
    assert new["changed"] == ["lethal-trifecta:model"]
    assert failed == {*new["new"], *new["changed"]}
    assert known == dict.fromkeys(new["unchanged"], "in the baseline: not new")


def test_junit_holds_any_manifest_text(cli, tmp_path):
    # Characters XML cannot carry at all (control characters) become U+FFFD; markup stays text.
    evil = "a\x01b\x1b[31m <x> & ]]> \"q\" 'q' \ufffe"
    manifest = _poisoned(tmp_path, evil)
    result = cli("check", manifest, "--format", "junit")
    assert result.exit_code == 0, result.output
    report = _junit(result.stdout)
    shown = "a\ufffdb\ufffd[31m <x> & ]]> \"q\" 'q' \ufffd"
    assert ET.fromstring(result.stdout.encode()).get("name") == f"demarcate: {shown}"
    texts = [case.result[0].text for suite in report for case in suite if case.result]
    assert any(shown in text for text in texts)


def test_junit_for_a_broken_manifest_reports_each_problem_as_an_error(cli, tmp_path, monkeypatch):
    _broken(tmp_path, monkeypatch)
    result = cli("check", "ai", "--format", "junit", "--fail-on", "high")
    assert result.exit_code == 2 and "ai/system.yaml:4:11: error: unknown component kind" in result.stderr
    report = _junit(result.stdout)
    assert report.errors == 2 and report.failures == 0
    case, owner = [case for suite in report for case in suite]
    assert case.result[0].message == "unknown component kind 'modle' (did you mean 'model'?)"
    assert owner.result[0].message == "unknown party 'app' (the manifest defines no party yet)"
    xml = ET.fromstring(result.stdout).find("testsuite/testcase")
    assert xml is not None and (xml.get("file"), xml.get("line")) == ("ai/system.yaml", "4")
