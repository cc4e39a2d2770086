"""Campaigns against the lab: the chain per probe, the party per link, the summary, the contract."""

from __future__ import annotations

import json
import re

import pytest

from demarcate.model import load
from demarcate.testing.run import run_campaign
from tests.conftest import SHOPBOT

PROBES = "doc-email-records,doc-image-records,page-email-records,user-reveal-prompt,doc-markup"


def _by_case(data):
    return {r["case"]: r for r in data["results"]}


def test_default_lab_lets_the_poisoned_review_through_every_layer(tmp_path):
    data = run_campaign(load([SHOPBOT]), target="lab", probes=PROBES, db=str(tmp_path / "h.sqlite"))
    assert data["version"] == 1 and data["run"] and "lab" in data["target"]
    r = _by_case(data)["doc-email-records+plain"]
    assert r["outcome"] == "succeeded" and r["entry"] == "document" and r["category"] == "exfiltration-tool"
    chain = {link["control"]: link for link in r["chain"]}
    # each link names the party the manifest makes responsible
    assert chain["MOD-SAFE-03"] == {**chain["MOD-SAFE-03"], "layer": "model", "party": "model-provider", "held": False}
    assert chain["APP-TOOL-02"]["party"] == "app-team" and chain["APP-TOOL-02"]["held"] is False
    # The mail left through the shop's mail server, which the egress must let through: not the cloud
    # team's failure (the analysis says the same of the mail paths).
    assert chain["INF-NET-03"]["party"] == "cloud-team" and chain["INF-NET-03"]["held"] is None
    assert "canary reached the listener" in chain["INF-NET-03"]["evidence"]
    assert "smtp.shop.example" in chain["INF-NET-03"]["evidence"]
    assert r["canary"] in json.dumps(r["evidence"]["tool_calls"])
    summary = data["summary"]
    assert "INF-NET-03" not in summary["controls"] and summary["controls"]["APP-ID-01"] == "verified"
    assert summary["controls"]["MOD-DOC-01"] == "untested"
    assert "INF-RATE-01" in summary["parties"]["cloud-team"]["verified"]
    asr = summary["asr"]["exfiltration-tool"]
    assert asr["n"] == 2 and asr["rate"] == 1.0 and 0 < asr["low"] < 1


def test_the_computed_fix_blocks_it_at_the_application_layer(tmp_path):
    data = run_campaign(load([SHOPBOT]), target="lab", probes=PROBES, db=str(tmp_path / "h.sqlite"),
                        lab_controls={"retrieval-screening": True, "confirmation-gate": True, "url-allowlist": True})
    by = _by_case(data)
    assert by["doc-email-records+plain"]["outcome"] == "blocked-by-application"
    assert by["doc-image-records+plain"]["outcome"] == "blocked-by-application"
    gate = by["page-email-records+plain"]  # fetched pages are not screened: the gate is what holds
    assert gate["outcome"] == "blocked-by-application"
    assert any(link["control"] == "APP-TOOL-02" and link["held"] for link in gate["chain"])
    assert data["summary"]["controls"]["APP-TOOL-02"] == "verified"


def test_the_users_own_confirmation_stops_a_review_but_not_what_the_user_typed(tmp_path):
    """The lab's gate holds mail for the confirmation of the shopper who is chatting: a planted review's
    mail waits for a shopper who never asked for it; mail the shopper asked for waits for them."""
    data = run_campaign(load([SHOPBOT]), target="lab", probes="doc-email-records,user-email-records",
                        db=str(tmp_path / "h.sqlite"), lab_controls={"confirmation-gate": True})
    by = _by_case(data)
    planted, typed = by["doc-email-records+plain"], by["user-email-records+plain"]
    assert planted["outcome"] == "blocked-by-application"
    assert {x["control"]: x["held"] for x in planted["chain"]}["APP-TOOL-02"] is True
    gate = next(x for x in typed["chain"] if x["control"] == "APP-TOOL-02")
    assert typed["outcome"] == "unobservable" and gate["held"] is None
    assert "held for the user's confirmation" in gate["evidence"] and "who typed the attack" in gate["evidence"]
    assert {c["status"] for c in typed["evidence"]["tool_calls"] if c["name"] == "send_email"} == {"pending"}


def test_markup_in_a_review_is_escaped_by_the_chat_page(tmp_path):
    data = run_campaign(load([SHOPBOT]), target="lab", probes="doc-markup", db=str(tmp_path / "h.sqlite"),
                        lab_controls={"html-escaping": False})
    (r,) = data["results"]
    assert r["outcome"] == "succeeded" and any(link["control"] == "APP-OUT-01" and link["held"] is False
                                               for link in r["chain"])


def test_transforms_multiply_probes_and_obfuscation_gets_past_screening(tmp_path):
    data = run_campaign(load([SHOPBOT]), target="lab", probes="doc-email-records", transforms="all",
                        db=str(tmp_path / "h.sqlite"), lab_controls={"retrieval-screening": True})
    by = _by_case(data)
    assert set(by) == {"doc-email-records+" + t for t in
                       ("plain", "base64", "unicode-tags", "html-comment", "french", "german", "split",
                        "marker-escape")}
    assert by["doc-email-records+plain"]["outcome"] == "blocked-by-application"
    assert by["doc-email-records+base64"]["outcome"] == "succeeded"
    assert by["doc-email-records+unicode-tags"]["outcome"] == "succeeded"


@pytest.mark.slow  # a whole campaign, or several: CI runs it (`-m slow`)
def test_every_probe_is_judged_only_by_the_controls_it_lists(tmp_path):
    """`demarcate probes` lists, for each probe, the controls its chain can judge: a campaign of the
    whole library against the open lab and the fully hardened one never judges another."""
    from demarcate.lab.config import switches
    from demarcate.testing.attribution import exercises
    from demarcate.testing.goals import TOOL_CONTROLS
    from demarcate.testing.probes import library

    probes = {p.id: p for p in library().probes}
    judged: set[str] = set()
    for controls in ({}, dict.fromkeys(switches(), True)):
        # Forced: the whole library, the probes the shop bot cannot meet (no code tool, a chat window
        # only its user sees) included.
        data = run_campaign(load([SHOPBOT]), target="lab", db=str(tmp_path / "h.sqlite"), lab_controls=controls,
                            concurrency=8, force=True)
        assert {r["probe"] for r in data["results"]} == set(probes)
        for r in data["results"]:
            chain = [link["control"] for link in r["chain"]]
            assert set(chain) <= set(exercises(probes[r["probe"]])) | {"APP-ID-01", "INF-RATE-01"}, r["case"]
            judged.update(chain)
    listed = {c for p in probes.values() for c in exercises(p)}
    # Each listed control is judged somewhere, but for tool controls no lab switch fires (a target
    # reporting them fired gets them judged), and the lab has no tool that runs code (APP-TOOL-04).
    assert listed - judged <= {*TOOL_CONTROLS, "APP-TOOL-04"} and "APP-TOOL-02" in judged


def test_each_party_answers_for_the_controls_it_owns_here_claimed_or_not(tmp_path):
    data = run_campaign(load([SHOPBOT]), target="lab", probes=PROBES, db=str(tmp_path / "h.sqlite"))
    summary = data["summary"]
    refuted = [c for c, state in summary["controls"].items() if state == "refuted"]
    # Every refuted control is some party's to fix, whether or not that party claimed it.
    listed = {c for states in summary["parties"].values() for c in states["refuted"]}
    assert set(refuted) <= listed
    assert "APP-TOOL-02" in summary["parties"]["app-team"]["refuted"]  # nobody claims it; the app team owns it


def test_the_text_output_tallies_each_party_then_groups_cases_by_their_chain(cli, tmp_path):
    result = cli("test", SHOPBOT, "--db", tmp_path / "h.sqlite", "--probes", "doc-email-*,doc-markup*,user-say-canary*",
                 columns=400)
    assert result.exit_code == 0, result.output
    text = result.output
    tally = text.index("per party, the controls it answers for here")
    groups = text.index("cases by how their chain went")
    assert tally < groups  # who answers, before the detail
    # Every case is in exactly one group, and each group's count is its cases.
    runs = json.loads(cli("runs", "show", "last", "--db", tmp_path / "h.sqlite", "--format", "json").stdout)
    counted = re.findall(r"^ +(\d+) ([a-z-]+): (.+)$\n +(.+)$", text[groups:], re.MULTILINE)
    assert sum(int(n) for n, *_ in counted) == len(runs["results"])
    assert len(counted) < len(runs["results"])  # grouped, not one a case
    sizes = [int(n) for n, *_ in counted]
    assert sizes == sorted(sizes, reverse=True)
    by_case = {r["case"]: r for r in runs["results"]}
    for n, outcome, chain, cases in counted:  # each group holds as many cases as it says
        named = [c.strip() for c in cases.split(" and ")[0].split(",")]
        more = re.search(r" and (\d+) more$", cases)
        assert len(named) + (int(more.group(1)) if more else 0) == int(n)
        assert all(by_case[c]["outcome"] == outcome for c in named)
        assert chain.count("→") == len(by_case[named[0]]["chain"]) - 1
    verbose = cli("runs", "show", "last", "--db", tmp_path / "h.sqlite", "-v", columns=400).output
    assert "per probe: the chain through the layers" in verbose and all(c in verbose for c in by_case)
