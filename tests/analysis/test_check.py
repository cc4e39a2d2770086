"""`demarcate check` end to end on the examples: the seed's findings, the gate, the JSON contract."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import jsonschema

from demarcate.analysis.check import analyse
from demarcate.builtin import example
from demarcate.model import load
from tests.conftest import SHOPBOT, copy_example

HARDENED = example("shopbot-hardened")
SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs/schemas/check-v1.json").read_text())


def _json(cli, *args):
    result = cli("check", *args, "--format", "json")
    return result, json.loads(result.stdout)


def test_shopbot_shows_the_seed_scenario(cli):
    _result, data = _json(cli, SHOPBOT)
    jsonschema.validate(data, SCHEMA)
    by_id = {f["id"]: f for f in data["findings"]}
    # the three failure modes
    assert by_id["model-is-safe:model"]["responsible"] == ["app-team"]
    (infra_only,) = [f for f in data["findings"] if f["rule"] == "infrastructure-only"]
    assert infra_only["responsible"][0] == "app-team" and "send-email" in infra_only["components"]
    assert "handled-elsewhere:application" in by_id
    # the assumption chain, the trifecta, the open path from reviews to email and open egress
    assert "app-team → model-provider" in by_id["assumption-chain:APP-IN-03"]["explanation"]
    assert by_id["lethal-trifecta:model"]["severity"] == "critical"
    path = by_id["open-attack-path:reviews>retriever>model>send-email>egress"]
    assert path["hops"] == ["reviews", "retriever", "model", "send-email", "egress"]
    assert path["severity"] == "critical" and path["responsible"][0] == "app-team"
    for f in data["findings"]:
        assert f["explanation"] and f["recommendation"]
    # the computed fix. The source document says "input validation + constrained tool access", at the
    # application developer's layer; screening reviews is a classifier and closes nothing, and a
    # confirmation the shopper gives stops nothing the shopper types, so what closes every path is
    # enforced: images only from the shop's own hosts, and each tool granted only the recipients and
    # hosts its use needs (constrained tool access). The cloud team's egress closes the fetch tool's
    # paths but no mail path: the shop's mail server, which it must let through, delivers to any address.
    lev = data["leverage"]
    assert lev["exact"] is True and lev["closes"] == lev["open_paths"] == 7
    assert lev["by_layer"] == {"model": 0, "application": 7, "infrastructure": 2, "usage": 0}
    assert lev["fix"] == ["APP-OUT-04", "APP-TOOL-01"]
    assurance = {c["id"]: c["assurance"] for p in data["paths"] for c in p["controls"]}
    assert {assurance[c] for c in lev["fix"]} == {"enforced"} and assurance["APP-IN-03"] == "probabilistic"
    assert lev["responsible"] == {"APP-OUT-04": ["app-team"], "APP-TOOL-01": ["app-team"]}


def test_path_json_lists_controls_with_layer_party_and_status(cli):
    _, data = _json(cli, SHOPBOT)
    path = next(p for p in data["paths"] if p["id"] == "reviews>retriever>model>send-email>egress")
    assert path["open"] is True and path["source"] == "reviews" and path["impact"] == "egress"
    controls = {c["id"]: c for c in path["controls"]}
    assert controls["MOD-SAFE-03"] == {**controls["MOD-SAFE-03"], "layer": "model", "party": "model-provider",
                                       "status": "partial"}
    assert controls["INF-NET-03"]["party"] == "cloud-team" and controls["INF-NET-03"]["status"] == "missing"


def test_fail_on_high_fails_on_shopbot_and_passes_on_hardened(cli):
    assert cli("check", SHOPBOT, "--fail-on", "high").exit_code == 1
    hardened = cli("check", HARDENED, "--fail-on", "high")
    assert hardened.exit_code == 0, hardened.output
    assert "Attack paths: 0 open of 7" in hardened.output
    assert cli("check", SHOPBOT).exit_code == 0  # no gate unless asked


def test_hardened_has_no_high_or_critical_finding():
    result = analyse(load([HARDENED]))
    assert not [f.id for f in result.findings if f.severity in ("high", "critical")]
    assert all(not p.open for p in result.paths.paths)


def test_text_output_names_findings_paths_and_fix(cli):
    out = cli("check", SHOPBOT).output
    assert "who must act: app-team" in out
    assert "open    reviews → retriever → model → send-email → egress" in out
    assert "Highest-leverage fix (exact)" in out and "application 7/7" in out


def test_text_output_opens_with_the_counts_and_can_be_limited(cli):
    lines = cli("check", SHOPBOT).output.splitlines()
    assert lines[0] == "ShopBot customer service: 33 open findings over 16 components"
    assert lines[1] == "  8 critical · 17 high · 3 medium · 5 low · 7 of 7 attack paths open"
    assert lines[2].startswith("  who must act: app-team ")
    short = cli("check", SHOPBOT, "--limit", "2", "--fail-on", "high")
    assert short.exit_code == 1  # the gate still judges every finding
    text = short.output
    assert text.count("\n  id: ") == 2 and "… and 31 more findings (all of them: without --limit)" in text
    assert text.count("\n  open    ") == 2 and "… and 5 more paths" in text
    assert "Highest-leverage fix" in text and "closes 7 of 7 open paths" in text


def test_tracking_marks_findings_decided_and_reports_orphans(write, cli, tmp_path):
    folder = copy_example(SHOPBOT, tmp_path / "bot")
    (folder / "decisions.yaml").write_text(
        "tracking:\n"
        "  - {finding: 'speed-pressure:app-team', decision: accepted, justification: weekly review board,"
        " ticket: SEC-9, reviewer: rev, date: 2026-11-20}\n"
        "  - {finding: 'open-egress:nowhere', decision: mitigated, justification: gone}\n"
        "  - {finding: 'lethal-trifecta:modle', decision: accepted, justification: a typo}\n"
        "  - {finding: 'retired-rule:q', decision: accepted, justification: long gone}\n")
    _result, data = _json(cli, folder)
    f = next(f for f in data["findings"] if f["id"] == "speed-pressure:app-team")
    assert f["status"] == "accepted" and f["decision"]["ticket"] == "SEC-9"
    assert data["summary"]["decided"] == 1
    gone, typo, far = data["warnings"]
    assert gone.startswith(f"{folder / 'decisions.yaml'}:3:5: warning: tracking entry 'open-egress:nowhere' matches no finding")
    assert gone.endswith("(did you mean 'open-egress:egress'? If the finding was fixed, remove the entry: "
                         "`demarcate decide 'open-egress:nowhere' --revoke -m …`)")
    assert far.endswith("matches no finding (the finding may be fixed: remove the entry (`demarcate decide "
                        "'retired-rule:q' --revoke -m …`), or check the id against `demarcate check`)")
    # A mistyped id is answered with the finding it most likely meant, which stays open.
    assert typo == (f"{folder / 'decisions.yaml'}:4:5: warning: tracking entry 'lethal-trifecta:modle' matches "
                    "no finding (did you mean 'lethal-trifecta:model'? If the finding was fixed, remove the entry: "
                    "`demarcate decide 'lethal-trifecta:modle' --revoke -m …`)")
    # The command the warning names takes the entry out, and the warning with it; the rest stay.
    revoked = cli("decide", "open-egress:nowhere", "--revoke", "-m", folder)
    assert revoked.exit_code == 0, revoked.output
    assert revoked.stdout.startswith("revoked: open-egress:nowhere — mitigated (it matched no finding)")
    assert "open-egress:nowhere" not in (folder / "decisions.yaml").read_text()
    assert [w.split("'")[1] for w in _json(cli, folder)[1]["warnings"]] == ["lethal-trifecta:modle", "retired-rule:q"]


def test_stale_tracking_hints_look_in_the_rule_meant_and_stay_cheap(cli, tmp_path):
    from demarcate.analysis.check import SUGGESTED

    folder = copy_example(SHOPBOT, tmp_path / "bot")
    entries = ["lethal-trifcta:model"] + [f"open-egress:gone-{i}" for i in range(SUGGESTED)]
    (folder / "decisions.yaml").write_text("tracking:\n" + "".join(
        f"  - {{finding: '{e}', decision: accepted, justification: x}}\n" for e in entries))
    _result, data = _json(cli, folder)
    first, *rest = data["warnings"]
    assert "(did you mean 'lethal-trifecta:model'?" in first  # the rule's name mistyped too
    assert "did you mean" in rest[0] and "did you mean" not in rest[-1]  # past the first few, no search
    assert rest[-1].endswith(f"(the finding may be fixed: remove the entry (`demarcate decide '{entries[-1]}' "
                             "--revoke -m …`), or check the id against `demarcate check`)")


def test_decided_findings_do_not_fail_the_gate(tmp_path, cli):
    folder = copy_example(HARDENED, tmp_path / "bot")
    assert cli("check", folder, "--fail-on", "medium").exit_code == 1
    (folder / "decisions.yaml").write_text(
        "tracking:\n  - {finding: 'lethal-trifecta:model', decision: accepted, justification: every leg is gated}\n")
    assert cli("check", folder, "--fail-on", "medium").exit_code == 0


def test_a_decision_lapses_on_its_expiry_date_and_the_finding_fails_the_gate_again(tmp_path, cli):
    folder = copy_example(HARDENED, tmp_path / "bot")
    decisions = folder / "decisions.yaml"
    decisions.write_text(
        "tracking:\n  - {finding: 'lethal-trifecta:model', decision: accepted, justification: every leg is gated,"
        " ticket: SEC-4, date: 2026-01-05, expires: 2026-03-01}\n")
    system = load([folder])
    held = analyse(system, today=dt.date(2026, 2, 28))  # the last day it holds
    lapsed = analyse(system, today=dt.date(2026, 3, 1))
    assert [f.status for f in held.findings if f.id == "lethal-trifecta:model"] == ["accepted"]
    assert not held.warnings
    (f,) = [f for f in lapsed.findings if f.id == "lethal-trifecta:model"]
    assert f.status == "open" and f.decision and f.decision["lapsed"] is True
    assert f.decision_note == "accepted — every leg is gated (SEC-4; lapsed on 2026-03-01: open again)"
    assert [str(w) for w in lapsed.warnings] == [
        f"{decisions}:2:5: warning: tracking entry 'lethal-trifecta:model' lapsed on 2026-03-01: the finding is "
        "open again (review it: renew the decision with a later 'expires' (`demarcate decide "
        "'lethal-trifecta:model' … --replace`), or fix the finding)"]
    # Through the command, against today's date: a lapsed acceptance fails the gate, a live one does not.
    result, data = _json(cli, folder, "--fail-on", "medium")
    assert result.exit_code == 1 and data["summary"]["decided"] == 0
    jsonschema.validate(data, SCHEMA)
    assert "lapsed on 2026-03-01: open again" in cli("check", folder).stdout
    decisions.write_text(decisions.read_text().replace("expires: 2026-03-01", "expires: 2999-01-01"))
    result, data = _json(cli, folder, "--fail-on", "medium")
    assert result.exit_code == 0 and not data["warnings"]
    assert "(SEC-4; expires 2999-01-01)" in cli("check", folder).stdout


def test_an_expiry_must_come_after_the_decision(tmp_path, cli):
    folder = copy_example(HARDENED, tmp_path / "bot")
    (folder / "decisions.yaml").write_text(
        "tracking:\n  - finding: lethal-trifecta:model\n    decision: accepted\n    justification: gated\n"
        "    date: 2026-03-01\n    expires: 2026-03-01\n")
    result = cli("validate", folder)
    assert result.exit_code == 2
    assert (f"{folder / 'decisions.yaml'}:2:5: error: tracking[0]: 'expires' (2026-03-01) must come after the "
            "decision's 'date' (2026-03-01)") in result.output


def test_markdown_has_mermaid_and_escapes_manifest_text(cli, tmp_path):
    out = cli("check", SHOPBOT, "--format", "markdown").output
    assert "```mermaid" in out and "flowchart LR" in out and "linkStyle" in out
    assert "Highest-leverage fix" in out


def test_a_fix_many_teams_must_make_names_a_few_of_them_in_text_and_markdown():
    # A portfolio's fix can fall to dozens of teams: the printout and the pull-request comment
    # name the first eight and count the rest; the JSON keeps every one.
    import dataclasses
    import io

    from rich.console import Console

    from demarcate.report.markdown import check_markdown
    from demarcate.report.terminal import print_check

    result = analyse(load([SHOPBOT]))
    teams = [f"team{i:02}" for i in range(20)]
    lev = dataclasses.replace(result.leverage, responsible={c: teams for c in result.leverage.fix})
    result = dataclasses.replace(result, leverage=lev)
    buffer = io.StringIO()
    print_check(Console(file=buffer, width=200), result)
    for text in (check_markdown(result), buffer.getvalue()):
        assert "team07 and 12 more" in text and "team08" not in text


def test_the_demo_shows_the_most_severe_finding_of_each_rule_in_rank_order():
    import io

    from rich.console import Console

    from demarcate.report.terminal import print_check

    result = analyse(load([SHOPBOT]))
    buffer = io.StringIO()
    print_check(Console(file=buffer, width=200), result, limit=6, each_rule=True)
    text = buffer.getvalue()
    shown = [f for f in result.findings if f"id: {f.id}\n" in text]
    firsts, seen = [], set()
    for f in result.findings:
        if f.rule not in seen:
            seen.add(f.rule)
            firsts.append(f)
    assert shown == firsts[:6] and len({f.rule for f in shown}) == 6
    assert f"… and {len(result.findings) - 6} more findings" in text


def test_rule_selection_and_unknown_rule(cli):
    _, data = _json(cli, SHOPBOT, "--rule", "lethal-trifecta")
    assert {f["rule"] for f in data["findings"]} == {"lethal-trifecta"}
    bad = cli("check", SHOPBOT, "--rule", "lethal")
    assert bad.exit_code == 2 and "did you mean 'lethal-trifecta'?" in bad.output
    bad = cli("check", SHOPBOT, "--skip-rule", "speedpressure")
    assert bad.exit_code == 2 and "did you mean 'speed-pressure'?" in bad.output


def test_skipped_rules_leave_the_rest_and_their_tracking_entries_alone(cli, tmp_path):
    folder = copy_example(SHOPBOT, tmp_path / "bot")
    (folder / "decisions.yaml").write_text(
        "tracking:\n  - {finding: 'speed-pressure:app-team', decision: accepted, justification: reviewed weekly}\n"
        "  - {finding: 'no-such-rule:x', decision: accepted, justification: typo}\n")
    _, everything = _json(cli, folder)
    _, skipped = _json(cli, folder, "--skip-rule", "speed-pressure", "--skip-rule", "unowned-control")
    assert [f["id"] for f in skipped["findings"]] == [
        f["id"] for f in everything["findings"] if f["rule"] not in ("speed-pressure", "unowned-control")]
    # The entry for a rule that did not run is not stale; one that names no rule at all still is.
    for data in (skipped, _json(cli, folder, "--rule", "lethal-trifecta")[1]):
        assert [w.split(": warning: ")[1].split(" matches")[0] for w in data["warnings"]] == [
            "tracking entry 'no-such-rule:x'"]
    _, both = _json(cli, folder, "--rule", "lethal-trifecta", "--rule", "open-egress", "--skip-rule", "open-egress")
    assert {f["rule"] for f in both["findings"]} == {"lethal-trifecta"}


def test_party_narrows_findings_and_paths_to_what_it_must_act_on(cli):
    _, everything = _json(cli, SHOPBOT)
    _, cloud = _json(cli, SHOPBOT, "--party", "cloud-team")
    jsonschema.validate(cloud, SCHEMA)
    # the findings naming cloud-team, in the same order, and only those
    assert [f["id"] for f in cloud["findings"]] == [
        f["id"] for f in everything["findings"] if "cloud-team" in f["responsible"]]
    assert "model-is-safe:model" not in {f["id"] for f in cloud["findings"]}
    # the paths crossing its egress or naming it on a control; the fix stays the whole system's
    assert cloud["paths"] and len(cloud["paths"]) < len(everything["paths"])
    for path in cloud["paths"]:
        assert "egress" in path["steps"] or any("cloud-team" in c["parties"] for c in path["controls"])
    assert cloud["leverage"] == everything["leverage"]
    assert cloud["summary"]["parties"] == ["cloud-team"] and "parties" not in everything["summary"]
    assert sum(cloud["summary"]["open"].values()) == len(cloud["findings"])
    text = cli("check", SHOPBOT, "--party", "cloud-team").output
    # The mail paths are not the cloud team's to close (their mail server delivers anywhere), though they cross its egress.
    assert "10 open findings for cloud-team" in text and "Attack paths concerning cloud-team: 5 open of 5" in text
    assert "Only what cloud-team must act on" in cli("check", SHOPBOT, "--party", "cloud-team",
                                                      "--format", "markdown").output


def test_each_party_gates_on_its_own_findings(cli, tmp_path):
    # shopbot-hardened leaves the app team a medium finding and the model provider only a low one
    assert cli("check", HARDENED, "--fail-on", "medium").exit_code == 1
    assert cli("check", HARDENED, "--fail-on", "medium", "--party", "model-provider").exit_code == 0
    assert cli("check", HARDENED, "--fail-on", "medium", "--party", "app-team").exit_code == 1
    # against a baseline, another party's findings are neither new nor fixed
    saved = tmp_path / "base.json"
    saved.write_text(cli("check", SHOPBOT, "--format", "json").stdout)
    _, data = _json(cli, HARDENED, "--party", "model-provider", "--baseline", str(saved))
    assert data["baseline"]["new"] == [] and "model-is-safe:model" not in data["baseline"]["fixed"]
    assert "model-is-safe:model" in _json(cli, HARDENED, "--baseline", str(saved))[1]["baseline"]["fixed"]
    bad = cli("check", SHOPBOT, "--party", "cloud-tem")
    assert bad.exit_code == 2 and "did you mean 'cloud-team'?" in bad.output


def test_findings_per_component_stays_low_on_every_example():
    from demarcate.builtin import examples_dir

    for folder in sorted(p for p in examples_dir().iterdir() if p.is_dir()):
        result = analyse(load([folder]))
        ratio = len(result.open_findings()) / len(result.system.components)
        assert ratio < 3, (folder.name, ratio)
