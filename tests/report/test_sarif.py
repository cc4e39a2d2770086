"""SARIF 2.1.0 output validates against the official schema and points at manifest lines."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import jsonschema

from tests.conftest import SHOPBOT, copy_example

SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "data" / "sarif-2.1.0-rtm.5.json").read_text())


def test_sarif_validates_and_locates_findings(cli, tmp_path):
    out = tmp_path / "demarcate.sarif"
    result = cli("report", SHOPBOT, "--format", "sarif", "-o", out)
    assert result.exit_code == 0, result.output
    log = json.loads(out.read_text())
    jsonschema.Draft4Validator(SCHEMA).validate(log)
    run = log["runs"][0]
    rules = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert "open-attack-path" in rules and all(r["help"]["markdown"] for r in run["tool"]["driver"]["rules"])
    by_id = {r["properties"]["findingId"]: r for r in run["results"]}
    path = by_id["open-attack-path:reviews>retriever>model>send-email>egress"]
    assert path["level"] == "error" and rules[path["ruleIndex"]] == "open-attack-path"
    loc = path["locations"][0]["physicalLocation"]
    # the first hop, `reviews`, is defined in the app team's file
    text = (SHOPBOT / "app-team.yaml").read_text().splitlines()
    assert loc["artifactLocation"]["uri"].endswith("examples/shopbot/app-team.yaml")
    assert text[loc["region"]["startLine"] - 1].strip() == "- id: reviews"
    # a finding with no component points at the first claim on its first control
    elsewhere = by_id["handled-elsewhere:application"]["locations"][0]["physicalLocation"]
    first_control = json.loads(json.dumps(by_id["handled-elsewhere:application"]["properties"]))["controls"][0]
    claim_file = SHOPBOT / Path(elsewhere["artifactLocation"]["uri"]).name
    line = claim_file.read_text().splitlines()[elsewhere["region"]["startLine"] - 1]
    assert f"control: {first_control}" in line
    fingerprints = {r["partialFingerprints"]["demarcateFindingId/v1"] for r in run["results"]}
    assert len(fingerprints) == len(run["results"])


def test_sarif_fingerprints_are_stable_across_runs(cli, tmp_path):
    a, b = tmp_path / "a.sarif", tmp_path / "b.sarif"
    cli("report", SHOPBOT, "-f", "sarif", "-o", a)
    cli("report", SHOPBOT, "-f", "sarif", "-o", b)
    fa = [r["partialFingerprints"] for r in json.loads(a.read_text())["runs"][0]["results"]]
    fb = [r["partialFingerprints"] for r in json.loads(b.read_text())["runs"][0]["results"]]
    assert fa == fb


def test_decided_findings_are_suppressed_not_dropped(cli, tmp_path):
    folder = copy_example(SHOPBOT, tmp_path / "bot")
    (folder / "decisions.yaml").write_text(
        "tracking:\n  - {finding: 'speed-pressure:app-team', decision: accepted, justification: review board}\n")
    out = tmp_path / "x.sarif"
    cli("report", folder, "-f", "sarif", "-o", out)
    log = json.loads(out.read_text())
    jsonschema.Draft4Validator(SCHEMA).validate(log)
    (r,) = [r for r in log["runs"][0]["results"] if r["properties"]["findingId"] == "speed-pressure:app-team"]
    assert r["suppressions"][0]["justification"] == "accepted: review board"


def test_a_report_for_one_party_in_every_format(cli, tmp_path):
    everything = json.loads(cli("check", SHOPBOT, "--format", "json").output)
    cloud = [f["id"] for f in everything["findings"] if "cloud-team" in f["responsible"]]
    out = tmp_path / "cloud.sarif"
    assert cli("report", SHOPBOT, "--format", "sarif", "--party", "cloud-team", "-o", out).exit_code == 0
    log = json.loads(out.read_text())
    jsonschema.Draft4Validator(SCHEMA).validate(log)
    assert [r["properties"]["findingId"] for r in log["runs"][0]["results"]] == cloud
    as_json = json.loads(cli("report", SHOPBOT, "--format", "json", "--party", "cloud-team").output)
    assert [f["id"] for f in as_json["findings"]] == cloud and as_json["summary"]["parties"] == ["cloud-team"]
    rows = list(csv.DictReader(io.StringIO(cli("report", SHOPBOT, "--format", "csv", "--party", "cloud-team").output)))
    all_rows = list(csv.DictReader(io.StringIO(cli("report", SHOPBOT, "--format", "csv").output)))
    assert 0 < len(rows) < len(all_rows)
    assert all(row["cloud-team"] for row in rows)  # the matrix rows it has a part in
    assert len(rows) == sum(1 for row in all_rows if row["cloud-team"])
    html = tmp_path / "cloud.html"
    assert cli("report", SHOPBOT, "--party", "cloud-team", "-o", html).exit_code == 0
    assert "Only what cloud-team must act on" in html.read_text()
    assert cli("report", SHOPBOT, "--party", "nobody-here").exit_code == 2


def test_sarif_locations_are_uri_references_for_any_file_name(cli, tmp_path, monkeypatch):
    # A folder name with a space and a piped manifest (`<stdin>`) are percent-encoded, as a
    # URI reference must be; the decoded form is the file as the user named it.
    monkeypatch.chdir(tmp_path)
    copy_example(SHOPBOT, tmp_path / "my bot")
    cli("report", "my bot", "--format", "sarif", "-o", "demarcate.sarif")
    uris = {loc["physicalLocation"]["artifactLocation"]["uri"]
            for r in json.loads((tmp_path / "demarcate.sarif").read_text())["runs"][0]["results"]
            for loc in r["locations"]}
    assert "my%20bot/app-team.yaml" in uris and all(u.startswith("my%20bot/") for u in uris)


def test_sarif_paths_are_the_repositorys_wherever_the_file_is_written(cli, tmp_path, monkeypatch):
    # A common layout keeps the SARIF beside the manifests; code scanning still needs paths from the
    # repository's root, and a viewer opening the file elsewhere needs to know that root.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "security").mkdir()
    copy_example(SHOPBOT, tmp_path / "security" / "demarcate")
    assert cli("report", "security/demarcate", "--format", "sarif", "-o", "security/demarcate.sarif").exit_code == 0
    log = json.loads((tmp_path / "security" / "demarcate.sarif").read_text())
    jsonschema.Draft4Validator(SCHEMA).validate(log)
    run = log["runs"][0]
    assert run["originalUriBaseIds"] == {"%SRCROOT%": {"uri": tmp_path.resolve().as_uri() + "/"}}
    artifacts = {json.dumps(loc["physicalLocation"]["artifactLocation"], sort_keys=True)
                 for r in run["results"] for loc in r["locations"]}
    assert json.dumps({"uri": "security/demarcate/app-team.yaml", "uriBaseId": "%SRCROOT%"}, sort_keys=True) in artifacts
    assert all(json.loads(a)["uri"].startswith("security/demarcate/") for a in artifacts)


def test_check_prints_the_sarif_log_that_report_writes(cli):
    # For tools that read SARIF from standard output; the log on standard error keeps the counts.
    result = cli("check", SHOPBOT, "--format", "sarif", "--fail-on", "critical")
    assert result.exit_code == 1 and "33 open findings over 16 components" in result.stderr
    assert result.stdout == cli("report", SHOPBOT, "--format", "sarif").stdout
    jsonschema.Draft4Validator(SCHEMA).validate(json.loads(result.stdout))


def test_a_finding_whose_severity_changed_is_updated_against_the_baseline(cli, tmp_path):
    from demarcate.builtin import example

    baseline = tmp_path / "hardened.json"
    baseline.write_text(cli("check", example("shopbot-hardened"), "--format", "json").stdout)
    log = json.loads(cli("check", SHOPBOT, "--baseline", baseline, "--format", "sarif").stdout)
    states = {r["properties"]["findingId"]: r.get("baselineState") for r in log["runs"][0]["results"]}
    assert states["lethal-trifecta:model"] == "updated"  # medium in the baseline, critical now
    assert "new" in states.values() and "unchanged" in states.values()
