"""`check --assume`: the system as if a party put a control in effect, configuration included."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from benchmarks.check_portfolio import portfolio

from demarcate.analysis.assume import assume, parse
from demarcate.analysis.check import analyse
from demarcate.builtin import example
from demarcate.model import ManifestError, load
from demarcate.model.yamlio import dump_yaml
from tests.conftest import SHOPBOT

INCIDENTS = sorted(p for p in (Path(__file__).resolve().parents[1] / "data" / "incidents").glob("*.yaml") if p.name != "index.yaml")


def test_the_seeds_fix_assumed_closes_every_path_and_passes_a_critical_gate(cli):
    assert cli("check", SHOPBOT, "--fail-on", "critical").exit_code == 1
    # Egress alone leaves the mail paths open: the shop's mail server, which egress must let through,
    # delivers to whatever address the call names.
    egress_only = cli("check", SHOPBOT, "--assume", "APP-OUT-04", "--assume", "inf-net-03", "--format", "json")
    assert {p["id"] for p in json.loads(egress_only.stdout)["paths"] if p["open"]} == {
        "reviews>retriever>model>send-email>egress", "fetch-url>model>send-email>egress", "chat>model>send-email>egress"}
    # The computed fix sits at the application layer, as the source document says: images only from the
    # shop's hosts, and each tool granted only the recipients and hosts its use needs.
    result = cli("check", SHOPBOT, "--assume", "APP-OUT-04", "--assume", "app-tool-01",
                 "--fail-on", "critical", "--format", "json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["assumed"] == {"controls": [{"control": "APP-OUT-04", "party": "app-team"},
                                            {"control": "APP-TOOL-01", "party": "app-team"}],
                               "before": {"open_findings": 33, "open_paths": 7}}
    assert not [p for p in data["paths"] if p["open"]] and {p["state"] for p in data["paths"]} == {"closed"}
    assert data["system"] == "ShopBot customer service (what if APP-OUT-04, APP-TOOL-01 were in effect)"
    # The cloud team's egress is still asked for beside it, as depth the fix does not need.
    assert "open-egress:egress" in {f["id"] for f in data["findings"] if f["status"] == "open"}


def test_screening_the_reviews_leaves_the_rendering_exfiltration_open_and_the_fix_is_enforced(cli):
    # The source document's fix, read literally: screen the reviews and gate the tools. Screening is a
    # classifier; the image in the chat window still carries the data out, and the fix says what closes it.
    data = json.loads(cli("check", SHOPBOT, "--assume", "APP-IN-03", "--assume", "APP-TOOL-02", "--format",
                          "json").stdout)
    still = {p["id"]: p for p in data["paths"] if p["open"]}
    assert set(still) == {"reviews>retriever>model>chat-ui", "fetch-url>model>chat-ui",
                          "chat>model>fetch-url>egress", "chat>model>send-email>egress"}
    assert {still[p]["state"] for p in ("reviews>retriever>model>chat-ui", "fetch-url>model>chat-ui")} == {"reduced"}
    assert data["leverage"]["fix"] == ["APP-OUT-04", "APP-TOOL-01"]
    assert {c["id"]: c["assurance"] for p in still.values() for c in p["controls"]}["APP-IN-03"] == "probabilistic"
    comment = cli("check", SHOPBOT, "--assume", "APP-IN-03", "--format", "markdown").stdout.splitlines()
    assert comment[0] == "## demarcate: ShopBot customer service (what if APP-IN-03 were in effect)"
    assert comment[2].startswith("> What if APP-IN-03 (app-team) were in effect: open findings 33 → ")
    text = cli("check", SHOPBOT, "--assume", "APP-IN-03", "--assume", "APP-TOOL-02").stdout
    # 24: with the reviews' mail path gated, APP-TOOL-05 would close no open path (the shopper's own mail path
    # is not one it acts on: nothing the application took in set it off), so its unowned finding goes too.
    assert text.startswith("What if APP-IN-03 (app-team), APP-TOOL-02 (app-team) were in effect: open findings "
                           "33 → 24, open attack paths 7 → 4\n")
    assert "unowned-control:APP-TOOL-05" not in text


def test_an_assumed_control_includes_its_configuration_and_ends_the_partys_reliance():
    system = load([SHOPBOT])
    # Claimed without changing the tools' `confirmation: none`, APP-TOOL-02 would be contradicted;
    # assumed, it is in effect, and closes the three paths from outside content it could close. The
    # two from the chat stay open: the shopper who would approve is the one attacking.
    assert len(analyse(system).paths.candidate_use["APP-TOOL-02"].paths) == 3
    result = analyse(assume(system, [parse("APP-TOOL-02")])[0])
    assert len(result.paths.open_paths) == 4
    assert {p.id for p in result.paths.open_paths if p.source == "chat"} == {
        "chat>model>fetch-url>egress", "chat>model>send-email>egress"}
    assert not [f for f in result.findings if f.id.startswith("claim-contradicted:APP-TOOL-02")]
    # app-team relied on the model provider for APP-IN-03; doing it itself, that chain is gone.
    ids = {f.id for f in analyse(assume(system, [parse("APP-IN-03")])[0]).findings}
    assert "assumption-chain:APP-IN-03" not in ids and "misplaced-responsibility:APP-IN-03:model-provider" not in ids
    assert "assumption-chain:APP-IN-02" in ids  # the other reliances stay
    # A party named explicitly provides it instead of the default.
    _, assumed = assume(system, [parse("INF-NET-03@app-team")])
    assert assumed == [("INF-NET-03", "app-team")]


@pytest.mark.parametrize("path", [SHOPBOT, example("coding-agent"), example("enterprise-assistant"), *INCIDENTS,
                                  "portfolio-1000"], ids=lambda p: Path(p).stem if Path(p).suffix else Path(p).name)
def test_assuming_the_computed_fix_closes_what_the_leverage_says(path, tmp_path):
    # The leverage and the path analysis must agree: put the fix in effect, by the parties it
    # names, and exactly the paths it claims to close are closed.
    if path == "portfolio-1000":
        path = tmp_path / "portfolio.yaml"
        path.write_text(dump_yaml(portfolio(1000)), encoding="utf-8")
    system = load([path])
    before = analyse(system)
    lev = before.leverage
    assert lev.fix, "every example and incident has an open path"
    wanted = [(c, p) for c in lev.fix for p in (lev.responsible.get(c) or [None])]
    after = analyse(assume(system, wanted)[0])
    assert len(after.paths.open_paths) == lev.open_paths - lev.closes


def test_an_assumption_that_cannot_hold_is_a_clear_error(cli):
    system = load([SHOPBOT])
    with pytest.raises(ManifestError) as bad:
        assume(system, [parse("APP-IN-3"), parse("INF-NET-03@nobody"), parse("GOV-MON-01")])
    assert sorted(str(p) for p in bad.value.problems) == sorted([
        "error: --assume: unknown control 'APP-IN-3' (did you mean 'APP-IN-03'?)",
        "error: --assume: unknown party 'nobody'",
        "error: --assume: no party answers for GOV-MON-01 here (say which: --assume GOV-MON-01@PARTY)",
    ])
    kinds = {c.kind for c in system.components.values()}
    foreign = next(c for c in system.catalog.controls.values()
                   if c.applies_to and not kinds.intersection(c.applies_to) and not any(
                       claim.control == c.id for claim in system.claims))
    with pytest.raises(ManifestError, match=f"--assume: {foreign.id} protects none of this system's components"):
        assume(system, [(foreign.id, None)])
    result = cli("check", SHOPBOT, "--assume", "APP-IN-3")
    assert result.exit_code == 2 and "did you mean 'APP-IN-03'?" in result.stderr


def test_a_report_written_under_an_assumption_says_so(cli, tmp_path):
    out = tmp_path / "what-if.html"
    assert cli("check", SHOPBOT, "--assume", "APP-TOOL-02", "--report", out).exit_code == 0
    assert "ShopBot customer service (what if APP-TOOL-02 were in effect)" in out.read_text()
