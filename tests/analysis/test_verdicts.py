"""A path is closed only by what is enforced outside the model, at a hop where it can still stop the
attack, and by a claim that holds; everything else leaves it open, at most reduced."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
import pytest
import yaml

from demarcate.analysis.check import Result, analyse, for_parties, result_json
from demarcate.analysis.findings import severity_rank
from demarcate.analysis.who import who
from demarcate.model import load
from demarcate.model.errors import ManifestError
from demarcate.model.yamlio import dump_yaml
from tests.analysis.test_check import SCHEMA

# The repro from the field: a mail-reading assistant whose answers render as markdown.
REPRO = yaml.safe_load("""
version: 1
system: {name: repro, preset: enterprise-saas}
parties:
  - {id: app, role: application-developer}
  - {id: mp, role: model-provider}
components:
  - {id: chat, kind: user-input, owner: app, trust: internal, authenticated: true, audience: employees}
  - {id: llm, kind: model, owner: mp}
  - {id: inbox, kind: data-source, owner: app, trust: untrusted, content: email, writable-by: [anyone], sensitivity: internal}
  - {id: files, kind: data-source, owner: app, trust: internal, writable-by: [staff], sensitivity: confidential}
  - {id: rag, kind: retriever, owner: app, per-user-filtering: true}
  - {id: pane, kind: output-renderer, owner: app, format: markdown, images: true}
flows:
  - {from: chat, to: llm}
  - {from: inbox, to: rag}
  - {from: files, to: rag}
  - {from: rag, to: llm}
  - {from: llm, to: pane}
""")
EXFIL = "inbox>rag>llm>pane"


def _check(doc: dict[str, Any], tmp_path) -> Result:
    path = tmp_path / "m.yaml"
    path.write_text(dump_yaml(doc), encoding="utf-8")
    return analyse(load([path]))


def _component(doc: dict[str, Any], cid: str) -> dict[str, Any]:
    return next(c for c in doc["components"] if c["id"] == cid)


def _path(result: Result, pid: str):
    return next(p for p in result.paths.paths if p.id == pid)


@pytest.mark.parametrize("raw_html", [True, False])
def test_a_renderer_that_loads_images_is_a_way_out_whatever_its_html_setting(raw_html, tmp_path):
    doc = copy.deepcopy(REPRO)
    _component(doc, "pane")["raw-html"] = raw_html
    path = _path(_check(doc, tmp_path), EXFIL)
    assert path.open and path.impact_kind == "exfiltration" and path.state == "open"
    # A content filter on the model's output does not stop a browser fetching an image.
    doc["controls"] = [{"control": "APP-OUT-01", "party": "app", "provides": "implemented"}]
    assert _path(_check(doc, tmp_path), EXFIL).open


def test_html_without_images_is_closed_by_encoding_the_output(tmp_path):
    doc = copy.deepcopy(REPRO)
    _component(doc, "pane").update({"images": False, "raw-html": True})
    assert _path(_check(doc, tmp_path), EXFIL).open
    doc["controls"] = [{"control": "APP-OUT-01", "party": "app", "provides": "implemented"}]
    assert _path(_check(doc, tmp_path), EXFIL).closed_by == ("APP-OUT-01",)


def test_the_fix_says_what_each_control_closes_whole_and_what_by_one_way_out():
    from demarcate.analysis.leverage import Leverage

    lev = Leverage(fix=["APP-OUT-04", "INF-NET-03"], closes=4, open_paths=4, by_layer={}, exact=True,
                   paths_closed={"APP-OUT-04": 3, "INF-NET-03": 2}, paths_partly={"APP-OUT-04": 1})
    assert lev.closing("APP-OUT-04") == "closes 2 paths, and one way out of 1 more path"
    assert lev.closing("INF-NET-03") == "closes 2 paths"


def test_raw_html_that_also_loads_images_needs_both_ways_out_closed(tmp_path):
    """DeepSeek's chat (2024): model output rendered as HTML ran script in the user's page. A host
    allowlist for images stops the URLs, not a script, which reaches any host; encoding stops the
    script, not a markdown image. Either alone leaves the path open; the fix is the pair."""
    doc = copy.deepcopy(REPRO)
    _component(doc, "pane")["raw-html"] = True
    result = _check(doc, tmp_path)
    path = _path(result, EXFIL)
    assert path.open and path.needs == (("APP-OUT-01",), ("APP-OUT-04",))
    assert result.leverage.fix == ["APP-OUT-01", "APP-OUT-04"] and result.leverage.closes == 1
    # Neither closes the path alone, and the fix says so of each.
    assert [result.leverage.closing(c) for c in result.leverage.fix] == ["closes one way out of 1 path"] * 2
    finding = {f.id: f for f in result.open_findings()}[f"open-attack-path:{EXFIL}"]
    assert finding.recommendation.startswith("Close both ways out: APP-OUT-01 on pane")
    assert "for the markup it runs; and APP-OUT-04 on pane" in finding.recommendation
    data = result_json(result)
    jsonschema.validate(data, SCHEMA)  # `part` is in the contract
    parts = {c["id"]: c.get("part") for c in next(p for p in data["paths"] if p["id"] == EXFIL)["controls"]}
    assert parts["APP-OUT-01"] == "markup" and parts["APP-OUT-04"] == "urls"

    _component(doc, "pane")["url-allowlist"] = ["cdn.example.com"]
    allowlisted = _check(doc, tmp_path)
    path = _path(allowlisted, EXFIL)
    assert path.open and path.needs == (("APP-OUT-01",),) and allowlisted.leverage.fix == ["APP-OUT-01"]
    finding = {f.id: f for f in allowlisted.open_findings()}[f"open-attack-path:{EXFIL}"]
    assert "in effect, closing one only: APP-OUT-04" in finding.explanation

    doc["controls"] = [{"control": "APP-OUT-01", "party": "app", "provides": "implemented"}]
    assert _path(_check(doc, tmp_path), EXFIL).closed_by == ("APP-OUT-01", "APP-OUT-04")
    del _component(doc, "pane")["url-allowlist"]
    assert _path(_check(doc, tmp_path), EXFIL).open  # encoded, but images still load from anywhere


def test_a_host_allowlist_does_not_close_markup_that_runs(tmp_path):
    doc = copy.deepcopy(REPRO)
    _component(doc, "pane").update({"images": False, "raw-html": True, "url-allowlist": ["cdn.example.com"]})
    result = _check(doc, tmp_path)
    path = _path(result, EXFIL)
    assert path.open and result.leverage.fix == ["APP-OUT-01"]
    allowlist = next(c for c in path.controls if c.id == "APP-OUT-04")
    assert allowlist.status == "configured" and not allowlist.could_close and "runs markup" in allowlist.void
    finding = {f.id: f for f in result.open_findings()}[f"open-attack-path:{EXFIL}"]
    assert "Does not count here: APP-OUT-04 on pane (the renderer runs markup" in finding.explanation


def test_markup_that_runs_is_high_without_private_data_to_carry(tmp_path):
    doc = copy.deepcopy(REPRO)
    doc["components"] = [c for c in doc["components"] if c["id"] != "files"]
    doc["flows"] = [f for f in doc["flows"] if f["from"] != "files"]
    severity = {}
    for raw in (False, True):
        _component(doc, "pane")["raw-html"] = raw
        severity[raw] = {f.id: f.severity for f in _check(doc, tmp_path).open_findings()}[f"open-attack-path:{EXFIL}"]
    # An image carries out only what the model holds; a script acts with the viewer's session.
    assert severity == {False: "medium", True: "high"}


MAIL = yaml.safe_load("""
version: 1
system: {name: mail, preset: enterprise-saas}
parties:
  - {id: app, role: application-developer}
  - {id: ops, role: infrastructure-operator}
  - {id: mp, role: model-provider}
components:
  - {id: inbox, kind: data-source, owner: app, trust: untrusted, content: email, writable-by: [anyone]}
  - {id: crm, kind: data-source, owner: app, trust: internal, sensitivity: personal}
  - {id: llm, kind: model, owner: mp}
  - {id: mail, kind: tool, owner: app, effects: [send-external], sends-through: [smtp.corp.example]}
  - {id: fetch, kind: tool, owner: app, effects: [read-public]}
  - {id: out, kind: network-egress, owner: ops, policy: allowlist, allow: [corp.example, api.partner.example]}
flows:
  - {from: inbox, to: llm}
  - {from: crm, to: llm}
  - {from: llm, to: mail}
  - {from: llm, to: fetch}
  - {from: mail, to: out}
  - {from: fetch, to: out}
""")


def test_an_egress_allowlist_that_lets_the_mail_server_through_stops_no_recipient(tmp_path):
    """The seed's email tool: the cloud team's allowlist must let the mail server through, and the
    server delivers to any address the call names. Only the fetch, which connects to the host in its
    URL, is stopped by it."""
    result = _check(copy.deepcopy(MAIL), tmp_path)
    mail, fetch = _path(result, "inbox>llm>mail>out"), _path(result, "inbox>llm>fetch>out")
    assert fetch.closed_by == ("INF-NET-03",) and mail.open
    egress = next(c for c in mail.controls if c.id == "INF-NET-03")
    assert egress.status == "configured" and not egress.could_close
    assert egress.void == ("mail hands what it sends to smtp.corp.example, which delivers it to whatever recipient "
                           "the call names: an egress that lets smtp.corp.example through stops no recipient")
    assert "INF-NET-03" not in mail.candidates and result.leverage.fix != ["INF-NET-03"]
    finding = {f.id: f for f in result.open_findings()}["open-attack-path:inbox>llm>mail>out"]
    assert "ops" not in finding.responsible and "Does not count here: INF-NET-03 on out (mail hands" in finding.explanation


def test_an_egress_allowlist_that_leaves_the_mail_server_out_closes_the_mail_too(tmp_path):
    doc = copy.deepcopy(MAIL)
    _component(doc, "out")["allow"] = ["api.partner.example"]  # the tool can reach no mail server at all
    assert _path(_check(doc, tmp_path), "inbox>llm>mail>out").closed_by == ("INF-NET-03",)
    # Without `sends-through` the manifest says nothing of a service between: the egress closes it, as before.
    doc = copy.deepcopy(MAIL)
    del _component(doc, "mail")["sends-through"]
    assert _path(_check(doc, tmp_path), "inbox>llm>mail>out").closed_by == ("INF-NET-03",)


def test_an_egress_that_lets_a_mail_api_through_stops_no_recipient_of_a_tool_that_names_none(tmp_path):
    """A reply tool whose manifest says neither where it sends nor through what, behind an egress that
    lets Microsoft Graph through: Graph delivers to whatever recipient the call names, so the list
    closes nothing the tool sends (the enterprise assistant, as its vendor runs it). The same list with
    only the company's own hosts closes it, as before."""
    doc = copy.deepcopy(MAIL)
    del _component(doc, "mail")["sends-through"]
    _component(doc, "out")["allow"] = ["graph.microsoft.com", "corp.example"]
    result = _check(doc, tmp_path)
    mail = _path(result, "inbox>llm>mail>out")
    egress = next(c for c in mail.controls if c.id == "INF-NET-03")
    assert mail.open and not egress.closes
    assert egress.reason.startswith("allow includes graph.microsoft.com, which takes data into whatever "
                                    "account or recipient the request names (Microsoft Graph sends mail")
    assert {f.id: f for f in result.open_findings()}["open-egress:out"].severity == "high"
    # Fixed by configuration to the company's own tenant, as the author says, the list holds again.
    _component(doc, "out")["allow"] = [{"host": "graph.microsoft.com", "uploads": False}, "corp.example"]
    assert _path(_check(doc, tmp_path), "inbox>llm>mail>out").closed_by == ("INF-NET-03",)
    # A model API on the same list is no way out for it: the tool calls with its own key.
    _component(doc, "out")["allow"] = ["api.openai.com", "corp.example"]
    assert _path(_check(doc, tmp_path), "inbox>llm>mail>out").closed_by == ("INF-NET-03",)


def test_a_mail_api_among_a_sending_tools_destinations_passes_on_what_it_sends(tmp_path):
    # Written as the tool's fixed host, a mail API is no fixed recipient: the tool is a way out.
    doc = _open_egress()
    _component(doc, "mail").update({"destinations": ["api.sendgrid.com"], "sends-through": []})
    mail = _path(_check(doc, tmp_path), "inbox>llm>mail>out")
    assert mail.open and mail.impact_kind == "exfiltration"
    # A model API there is the company's own account: the tool is misused at worst.
    _component(doc, "mail")["destinations"] = ["api.openai.com"]
    assert _path(_check(doc, tmp_path), "inbox>llm>mail").impact_kind == "side-effect"


@pytest.mark.parametrize("by, closed", [("prompt", False), ("classifier", False), ("code", True), (None, True)])
def test_an_enforced_control_provided_by_asking_a_model_closes_nothing(by, closed, tmp_path):
    """The mail tool's recipients checked (APP-OUT-02): in code, the path closes; by the system prompt
    or a guard model, which the model or the attacker's text can talk past, it stays open and reduced,
    and the finding says what the check rests on."""
    doc = copy.deepcopy(MAIL)
    doc["controls"] = [{"control": "APP-OUT-02", "party": "app", "provides": "implemented", "scope": ["mail"],
                        **({"by": by} if by else {})}]
    result = _check(doc, tmp_path)
    mail = _path(result, "inbox>llm>mail>out")
    check = next(c for c in mail.controls if c.id == "APP-OUT-02")
    assert (mail.closed_by == ("APP-OUT-02",)) is closed and check.closes is closed
    if not closed:
        assert mail.state == "reduced" and check.could_close and check.reduces
        assert f"provided by a {by}, which asks a model" in check.reason
        assert not result.context.effective("APP-OUT-02", "mail")
        finding = {f.id: f for f in result.open_findings()}["open-attack-path:inbox>llm>mail>out"]
        assert f"APP-OUT-02 on mail (implemented: provided by a {by}" in finding.explanation
        assert "APP-OUT-02 (implemented by a model's judgement, app)" in finding.explanation
        assert f"app provides it by a {by}, which asks a model" in " ".join(who(result.system, "APP-OUT-02").warnings)


def test_a_configuration_that_shows_the_control_outweighs_a_claim_of_asking_a_model(tmp_path):
    # The tool's own setting says a person confirms each call: that is the control, whatever the claim
    # says does the work.
    doc = copy.deepcopy(MAIL)
    _component(doc, "mail")["confirmation"] = "user"
    doc["controls"] = [{"control": "APP-TOOL-02", "party": "app", "provides": "implemented", "scope": ["mail"],
                        "by": "prompt"}]
    assert _path(_check(doc, tmp_path), "inbox>llm>mail>out").closed_by == ("APP-TOOL-02",)


def test_by_is_for_what_a_party_provides(tmp_path):
    doc = copy.deepcopy(MAIL)
    doc["controls"] = [{"control": "APP-OUT-02", "party": "app", "relies-on": "ops", "by": "prompt"}]
    with pytest.raises(ManifestError) as e:
        _check(doc, tmp_path)
    assert "'by' says what does the work of a 'provides' claim" in str(e.value)
    doc["controls"] = [{"control": "APP-OUT-02", "party": "app", "provides": "implemented", "by": "magic"}]
    with pytest.raises(ManifestError) as e:
        _check(doc, tmp_path)
    assert "m.yaml:" in str(e.value) and "expected one of: code, configuration, person, prompt, classifier" in str(e.value)


def test_a_service_named_by_wildcard_is_let_through_by_an_entry_for_any_of_its_hosts(tmp_path):
    # A chat API written as `*.slack.com`: an egress that allows hooks.slack.com lets the service
    # through, and it posts wherever the call says; one that allows only another domain does not.
    doc = copy.deepcopy(MAIL)
    _component(doc, "mail")["sends-through"] = ["*.slack.com"]
    _component(doc, "out")["allow"] = ["hooks.slack.com", "api.partner.example"]
    assert _path(_check(doc, tmp_path), "inbox>llm>mail>out").open
    _component(doc, "out")["allow"] = ["api.partner.example"]
    assert _path(_check(doc, tmp_path), "inbox>llm>mail>out").closed_by == ("INF-NET-03",)


def _open_egress() -> dict[str, Any]:
    doc = copy.deepcopy(MAIL)
    _component(doc, "out").update(policy="open", allow=[])
    return doc


def test_a_tool_that_reaches_only_its_own_fixed_hosts_is_no_way_out(tmp_path):
    """A search tool whose code calls one search API (`destinations`): what the model puts in the query
    reaches that API and no host an attacker chose, so its route through an open egress is no path;
    the fetch beside it, which goes wherever its URL says, still is."""
    doc = _open_egress()
    before = _check(doc, tmp_path)
    assert _path(before, "inbox>llm>fetch>out").open
    _component(doc, "fetch")["destinations"] = ["api.search.example"]
    result = _check(doc, tmp_path)
    assert "inbox>llm>fetch>out" not in {p.id for p in result.paths.paths}
    assert _path(result, "inbox>llm>mail>out").open  # the mail server still delivers anywhere
    findings = {f.id: f for f in result.open_findings()}
    assert "open-attack-path:inbox>llm>fetch>out" not in findings
    # The egress is still open, and says what it carries; the trifecta still has the mail as a way out.
    assert "fetch" in findings["open-egress:out"].explanation and "lethal-trifecta:llm" in findings
    # A mail tool that delivers only to the owner's own domain is misused at worst, not a way out.
    _component(doc, "mail").update({"destinations": ["corp.example"], "sends-through": []})
    result = _check(doc, tmp_path)
    mail = _path(result, "inbox>llm>mail")
    assert mail.impact_kind == "side-effect" and not [p for p in result.paths.paths if p.impact_kind == "exfiltration"]
    findings = {f.id: f for f in result.open_findings()}
    assert "lethal-trifecta:llm" not in findings and findings["open-egress:out"].severity == "medium"


@pytest.mark.parametrize("change", [
    {"destinations": [{"host": "api.search.example", "relays": True}]},   # it fetches what it is given
    {"destinations": [{"host": "partner.example", "owned": False}]},      # someone else holds it
    {"destinations": ["smtp.corp.example"], "sends-through": ["smtp.corp.example"]},  # it delivers on
    {"destinations": ["api.search.example"], "effects": ["execute-code"]},  # code builds its own requests
    {"destinations": []},
    {"destinations": ["*"]},                                               # anywhere at all
    {"destinations": ["r.jina.ai"]},                                       # a reader API: fetches any URL
], ids=["relays", "not-owned", "delivers-on", "runs-code", "empty", "any-host", "reader-api"])
def test_destinations_that_pass_data_on_keep_the_way_out(change, tmp_path):
    doc = _open_egress()
    _component(doc, "fetch").update(change)
    result = _check(doc, tmp_path)
    assert any(p.open and p.steps[-2:] == ("fetch", "out") for p in result.paths.paths)


def test_a_search_tool_that_scrapes_only_its_own_results_can_say_so(tmp_path):
    # Through a scraping API the tool would fetch what the call names; LibreChat's search hands it only
    # the result pages its own code picked, and its manifest says so on the entry.
    doc = _open_egress()
    _component(doc, "fetch")["destinations"] = ["google.serper.dev", "api.firecrawl.dev"]
    assert _path(_check(doc, tmp_path), "inbox>llm>fetch>out").open
    _component(doc, "fetch")["destinations"] = ["google.serper.dev", {"host": "api.firecrawl.dev", "relays": False}]
    assert "inbox>llm>fetch>out" not in {p.id for p in _check(doc, tmp_path).paths.paths}


def test_a_sending_tool_whose_destination_takes_anyones_uploads_keeps_the_way_out(tmp_path):
    """The GitHub MCP server written with `destinations: [api.github.com]`: the call names the
    repository, and an issue in the attacker's public one publishes what it carries. A fetch tool with
    the same destination only reads there; a webhook the author fixed in configuration, written
    `uploads: false`, is taken at the author's word."""
    doc = _open_egress()
    _component(doc, "mail").update({"destinations": ["api.github.com"], "sends-through": []})
    result = _check(doc, tmp_path)
    path = _path(result, "inbox>llm>mail>out")
    assert path.open and path.impact_kind == "exfiltration"
    assert "lethal-trifecta:llm" in {f.id for f in result.open_findings()}
    _component(doc, "mail")["destinations"] = [{"host": "hooks.slack.com", "uploads": False}]
    assert _path(_check(doc, tmp_path), "inbox>llm>mail").impact_kind == "side-effect"
    doc = _open_egress()
    _component(doc, "fetch")["destinations"] = ["api.github.com"]
    assert "inbox>llm>fetch>out" not in {p.id for p in _check(doc, tmp_path).paths.paths}


def test_an_egress_that_must_let_a_sending_tools_platform_through_stops_nothing_it_sends(tmp_path):
    # The allowlist has to let api.github.com through for the tool to work at all; the fetch beside it,
    # which goes where its URL says, is still stopped by the same list.
    doc = copy.deepcopy(MAIL)
    _component(doc, "mail").update({"destinations": ["api.github.com"], "sends-through": []})
    _component(doc, "out")["allow"] = ["api.github.com", "corp.example"]
    result = _check(doc, tmp_path)
    mail, fetch = _path(result, "inbox>llm>mail>out"), _path(result, "inbox>llm>fetch>out")
    assert mail.open and fetch.closed_by == ("INF-NET-03",)
    egress = next(c for c in mail.controls if c.id == "INF-NET-03")
    assert egress.void.startswith("mail hands what it sends to api.github.com, which takes data into whatever account or recipient the request names")
    # Open instead, the egress is no worse for it than an allowlist would be: its finding is medium.
    _component(doc, "out").update(policy="open", allow=[])
    _component(doc, "fetch")["effects"] = ["read-private"]  # and no tool beside it that goes anywhere
    found = {f.id: f for f in _check(doc, tmp_path).open_findings()}
    assert found["open-egress:out"].severity == "medium"


def _custom(doc: dict[str, Any], cid: str, applies_to: str, mitigates: str, on: str) -> None:
    """A custom enforced control of the organisation's own, claimed in effect on one component."""
    doc.setdefault("custom-controls", []).append({
        "id": cid, "title": cid, "description": cid, "layer": "application", "function": "prevent",
        "assurance": "enforced", "applies-to": [applies_to], "mitigates": [mitigates]})
    doc.setdefault("controls", []).append({"control": cid, "party": "app", "provides": "implemented", "scope": [on]})


def test_only_a_host_allowlist_on_the_egress_is_set_aside_for_a_relaying_tool(tmp_path):
    # A DLP gateway on the same egress reads the mail that leaves: the mail server does not pass it by.
    doc = copy.deepcopy(MAIL)
    _custom(doc, "ACME-DLP-01", "network-egress", "data-exfiltration", "out")
    assert _path(_check(doc, tmp_path), "inbox>llm>mail>out").closed_by == ("ACME-DLP-01",)
    # A tool that sends through a service and also reads what outsiders write: the model after it
    # is no egress, and a control there is not set aside for the tool's mail server.
    doc = copy.deepcopy(MAIL)
    _component(doc, "mail").update({"effects": ["read-public", "send-external"], "output-trust": "untrusted"})
    doc["flows"].append({"from": "mail", "to": "llm"})
    _custom(doc, "ACME-ISO-01", "model", "indirect-injection", "llm")
    path = _path(_check(doc, tmp_path), "mail>llm>fetch>out")
    assert "ACME-ISO-01" in path.closed_by and not any("hands what it sends" in c.void for c in path.controls)


def test_markup_a_user_types_into_a_page_others_see_is_one_way_out(tmp_path):
    doc = copy.deepcopy(REPRO)
    doc["flows"] = [f for f in doc["flows"] if f["from"] != "rag"]
    _component(doc, "chat")["trust"] = "untrusted"
    _component(doc, "pane").update({"images": False, "links": True, "raw-html": True, "publishes": True})
    result = _check(doc, tmp_path)
    path = _path(result, "chat>llm>pane")
    assert path.impact_kind == "output" and path.parts == () and path.needs == (("APP-OUT-01",),)
    finding = {f.id: f for f in result.open_findings()}["open-attack-path:chat>llm>pane"]
    assert "two ways out" not in finding.explanation and finding.recommendation.startswith("Close one hop: APP-OUT-01")
    assert not any("part" in c for p in result_json(result)["paths"] for c in p["controls"])


def test_markup_a_user_types_is_a_path_only_where_someone_else_sees_it(tmp_path):
    """Lenovo's Lena (2025): a customer's chat made the bot answer in HTML that ran in the support
    agent's console, with the agent's session. The same HTML in the customer's own window harms
    no one else."""
    doc = copy.deepcopy(REPRO)
    doc["flows"] = [f for f in doc["flows"] if f["from"] != "rag"]  # only what the user types
    _component(doc, "chat")["trust"] = "untrusted"
    doc["components"].append({"id": "console", "kind": "output-renderer", "owner": "app", "format": "html"})
    doc["flows"].append({"from": "llm", "to": "console"})
    assert [p.id for p in _check(doc, tmp_path).paths.paths] == []
    _component(doc, "console")["publishes"] = True
    result = _check(doc, tmp_path)
    (path,) = result.paths.paths
    assert path.id == "chat>llm>console" and path.impact_kind == "output" and path.open
    assert result.leverage.fix == ["APP-OUT-01"]


def test_a_guard_that_only_flags_closes_nothing_and_the_finding_says_why(tmp_path):
    doc = copy.deepcopy(REPRO)
    doc["components"].append({"id": "shield", "kind": "guard", "owner": "app", "mode": "flag",
                              "screens": ["retrieved-content"]})
    doc["flows"] = [f for f in doc["flows"] if f != {"from": "rag", "to": "llm"}]
    doc["flows"] += [{"from": "rag", "to": "shield"}, {"from": "shield", "to": "llm"}]
    doc["controls"] = [{"control": "APP-GRD-01", "party": "app", "provides": "implemented"},
                       {"control": "APP-IN-03", "party": "app", "provides": "implemented", "scope": ["shield"]}]
    result = _check(doc, tmp_path)
    path = _path(result, "inbox>rag>shield>llm>pane")
    assert path.open and path.state == "open", "a guard in flag mode does not even lower the odds"
    contradicted = {f.id: f for f in result.open_findings() if f.rule == "claim-contradicted"}
    assert "mode: flag" in contradicted["claim-contradicted:APP-IN-03:shield"].explanation
    # The same guard blocking lowers the odds, and still closes nothing.
    _component(doc, "shield")["mode"] = "block"
    path = _path(_check(doc, tmp_path), "inbox>rag>shield>llm>pane")
    assert path.open and path.state == "reduced" and "APP-IN-03" in path.reduced_by


def test_screening_retrieved_content_never_closes_a_path(tmp_path):
    doc = copy.deepcopy(REPRO)
    doc["controls"] = [{"control": "APP-IN-03", "party": "app", "provides": "implemented"}]
    result = _check(doc, tmp_path)
    assert all(p.open for p in result.paths.paths)
    assert _path(result, EXFIL).state == "reduced"
    data = result_json(result)
    (path,) = [p for p in data["paths"] if p["id"] == EXFIL]
    assert path["state"] == "reduced" and path["reduced_by"] == ["APP-IN-03"]
    screen = next(c for c in path["controls"] if c["id"] == "APP-IN-03")
    assert screen["assurance"] == "probabilistic" and screen["reduces"] and not screen["closes"]
    assert data["leverage"]["fix"] == ["APP-OUT-04"]


def test_html_whose_scripts_never_run_is_a_way_out_only_its_urls_take(tmp_path):
    """Dify renders the HTML in an answer through React, which never runs a script or an onerror
    written in the text; Open WebUI passes it through DOMPurify. Their <img> tags still load from any
    host: a list of hosts closes that, and encoding is not asked for."""
    doc = copy.deepcopy(REPRO)
    _component(doc, "pane").update({"images": False, "raw-html": True})
    scripted = _path(_check(doc, tmp_path), EXFIL)
    assert scripted.open and "APP-OUT-01" in scripted.candidates
    _component(doc, "pane")["scripts"] = False
    result = _check(doc, tmp_path)
    path = _path(result, EXFIL)
    assert path.open and path.impact_kind == "exfiltration" and "APP-OUT-01" not in path.candidates
    said = {f.id: f.explanation for f in result.open_findings()}["unsafe-rendering:pane"]
    assert "renders images from model output for any host" in said and "raw HTML" not in said
    _component(doc, "pane")["url-allowlist"] = ["static.corp.example"]
    assert _path(_check(doc, tmp_path), EXFIL).closed_by == ("APP-OUT-04",)


def test_an_allowlist_of_owned_hosts_closes_the_rendering_path(tmp_path):
    doc = copy.deepcopy(REPRO)
    _component(doc, "pane")["url-allowlist"] = ["static.corp.example"]
    assert _path(_check(doc, tmp_path), EXFIL).closed_by == ("APP-OUT-04",)


@pytest.mark.parametrize("host, why", [
    ("raw.githubusercontent.com", "serves any file of any public GitHub repository"),
    ("*.githubusercontent.com", "image proxy"),
    ("*.github.io", "GitHub Pages"),
    ("script.google.com", "Apps Script"),
    ("s3.amazonaws.com", "S3"),
    ("eu-prod.asyncgw.teams.microsoft.com", "URL-preview"),
])
def test_a_well_known_relaying_host_leaves_the_allowlist_open(host, why, tmp_path):
    doc = copy.deepcopy(REPRO)
    _component(doc, "pane")["url-allowlist"] = ["static.corp.example", host]
    result = _check(doc, tmp_path)
    assert _path(result, EXFIL).open
    finding = next(f for f in result.open_findings() if f.id == "unsafe-rendering:pane")
    assert host in finding.explanation and why in finding.explanation


@pytest.mark.parametrize("entry", ["*", "*.*", ".", "*.com", ".io", "*corp.example", "https://*"])
def test_an_allowlist_entry_that_matches_anyones_host_leaves_it_open(entry, tmp_path):
    doc = copy.deepcopy(REPRO)
    _component(doc, "pane")["url-allowlist"] = ["static.corp.example", entry]
    result = _check(doc, tmp_path)
    assert _path(result, EXFIL).open
    finding = next(f for f in result.open_findings() if f.id == "unsafe-rendering:pane")
    assert f"{entry}, which matches hosts anyone can register" in finding.explanation
    # The same on an egress: `allow: ["*"]` is no allowlist.
    doc = copy.deepcopy(MAIL)
    _component(doc, "out")["allow"] = [entry]
    assert _path(_check(doc, tmp_path), "inbox>llm>fetch>out").open
    # A wildcard over the owner's own domain is a list.
    for own in ("*.corp.example", "cdn*.corp.example", ".corp.example"):
        _component(doc, "out")["allow"] = [own]
        assert not _path(_check(doc, tmp_path), "inbox>llm>fetch>out").open, own


def test_an_entry_that_says_relays_false_outright_is_taken_at_its_word(tmp_path):
    # The company's own deployment of an image proxy, set up to fetch only its hosts.
    doc = copy.deepcopy(REPRO)
    _component(doc, "pane")["url-allowlist"] = [{"host": "camo.githubusercontent.com", "relays": False}]
    assert _path(_check(doc, tmp_path), EXFIL).closed_by == ("APP-OUT-04",)


def test_a_named_tenant_of_a_shared_host_is_the_owners_own(tmp_path):
    doc = copy.deepcopy(REPRO)
    _component(doc, "pane")["url-allowlist"] = ["corp-docs.github.io", "corp-assets.s3.amazonaws.com"]
    assert not _path(_check(doc, tmp_path), EXFIL).open


def test_a_manifest_adds_relaying_hosts_and_marks_hosts_it_does_not_hold(tmp_path):
    doc = copy.deepcopy(REPRO)
    _component(doc, "pane")["url-allowlist"] = ["img.partner.example"]
    doc["relaying-hosts"] = [{"host": "partner.example", "match": "subdomains",
                              "reason": "the partner's CDN fetches any URL on request"}]
    result = _check(doc, tmp_path)
    assert _path(result, EXFIL).open
    assert "the partner's CDN fetches any URL" in next(
        f for f in result.open_findings() if f.id == "unsafe-rendering:pane").explanation
    # A lapsed domain still on the list: whoever registers it receives the data.
    doc.pop("relaying-hosts")
    _component(doc, "pane")["url-allowlist"] = [{"host": "cms.partner.example", "owned": False,
                                                 "note": "registration lapsed"}]
    result = _check(doc, tmp_path)
    assert _path(result, EXFIL).open
    assert "not under the owner's control" in next(
        f for f in result.open_findings() if f.id == "unsafe-rendering:pane").explanation


def test_a_source_the_manifest_calls_internal_says_why_it_counts_as_untrusted(tmp_path):
    doc = copy.deepcopy(REPRO)
    said = {f.id: f.explanation for f in _check(doc, tmp_path).findings}[f"open-attack-path:{EXFIL}"]
    assert said.startswith("inbox (email, untrusted) reaches")  # as the manifest says: nothing to add
    _component(doc, "inbox")["trust"] = "internal"  # but anyone can still write to it
    said = {f.id: f.explanation for f in _check(doc, tmp_path).findings}[f"open-attack-path:{EXFIL}"]
    assert said.startswith("inbox (email, untrusted: anyone can write it) reaches")


def test_a_link_that_needs_a_click_is_a_way_out_one_step_less_severe(tmp_path):
    doc = copy.deepcopy(REPRO)
    _component(doc, "files")["sensitivity"] = "confidential"
    images = {f.id: f.severity for f in _check(doc, tmp_path).open_findings()}
    _component(doc, "pane").update({"images": False, "raw-html": False, "links": True})
    result = _check(doc, tmp_path)
    path = _path(result, EXFIL)
    assert path.open and path.needs_click
    links = {f.id: f.severity for f in result.open_findings()}
    assert (images[f"open-attack-path:{EXFIL}"], links[f"open-attack-path:{EXFIL}"]) == ("critical", "high")
    # With only a link left as the way out, the trifecta is one step less severe too.
    assert (images["lethal-trifecta:llm"], links["lethal-trifecta:llm"]) == ("critical", "high")


def test_private_data_out_through_an_image_is_as_severe_whatever_brought_the_injection_in(tmp_path):
    # The way out decides, not the way in: a browsing tool carrying the page in used to make the
    # image critical while a document store made the same image high.
    doc = copy.deepcopy(REPRO)
    _component(doc, "files")["sensitivity"] = "confidential"
    doc["components"].append({"id": "browse", "kind": "tool", "owner": "app", "effects": ["read-public"],
                              "output-trust": "untrusted"})
    doc["flows"] += [{"from": "llm", "to": "browse"}, {"from": "browse", "to": "llm"}]
    found = {f.id: f.severity for f in _check(doc, tmp_path).open_findings()}
    assert found[f"open-attack-path:{EXFIL}"] == found["open-attack-path:browse>llm>pane"] == "critical"


# --- one tool that reads attacker data and also writes or sends ------------------------------

AGENT = yaml.safe_load("""
version: 1
system: {name: agent, preset: managed-model-api}
parties:
  - {id: dev, role: application-developer}
  - {id: vendor, role: model-provider}
components:
  - {id: ide, kind: user-input, owner: dev, trust: trusted, authenticated: true, audience: employees}
  - {id: llm, kind: model, owner: vendor}
  - {id: db, kind: tool, owner: dev, effects: [read-private, write], output-trust: untrusted, credential: admin}
flows:
  - {from: ide, to: llm}
  - {from: llm, to: db}
  - {from: db, to: llm}
""")


def test_a_tool_that_reads_attacker_data_and_writes_is_a_path_back_to_itself(tmp_path):
    result = _check(copy.deepcopy(AGENT), tmp_path)
    (path,) = result.paths.paths
    assert path.id == "db>llm>db" and path.open and path.impact_kind == "side-effect"
    assert "open-attack-path:db>llm>db" in {f.id for f in result.open_findings()}


# --- one agent handing work to another ---------------------------------------------------------

AGENTS = yaml.safe_load("""
version: 1
system: {name: agents, preset: enterprise-saas}
parties:
  - {id: vendor, role: application-developer}
  - {id: mp, role: model-provider}
  - {id: admin, role: deployer}
components:
  - {id: tickets, kind: data-source, owner: vendor, trust: mixed, content: tickets,
     writable-by: [authenticated-users], sensitivity: confidential}
  - {id: reader, kind: model, owner: mp}
  - {id: delegate, kind: tool, owner: vendor, effects: [write], credential: user-delegated}
  - {id: worker, kind: model, owner: mp}
  - {id: email, kind: tool, owner: vendor, effects: [send-external], credential: user-delegated}
flows:
  - {from: tickets, to: reader}
  - {from: reader, to: delegate}
  - {from: delegate, to: worker}
  - {from: worker, to: email}
""")


def test_a_task_handed_to_another_agent_carries_the_injection_on_to_that_agents_tools(tmp_path):
    # The second-order injection of the Now Assist write-up: the first agent's own tool call is an
    # impact, and what it hands over reaches a second agent that can send mail.
    doc = copy.deepcopy(AGENTS)
    result = _check(doc, tmp_path)
    assert {p.id: p.impact_kind for p in result.paths.paths} == {
        "tickets>reader>delegate": "side-effect",
        "tickets>reader>delegate>worker>email": "exfiltration",
    }
    handed = _path(result, "tickets>reader>delegate>worker>email")
    assert handed.acted_on == "email" and handed.open
    # A confirmation on the hand-over, where the route starts, closes both; one on the mail only the longer.
    gate = next(c for c in handed.controls if c.id == "APP-TOOL-02")
    assert gate.could_close and gate.components == ("delegate", "email")
    assert result.leverage.fix == ["APP-TOOL-02"] and result.leverage.closes == 2
    _component(doc, "email")["confirmation"] = "user"
    after = _check(doc, tmp_path)
    assert [p.id for p in after.paths.open_paths] == ["tickets>reader>delegate"]


# --- code execution --------------------------------------------------------------------------

RUNNER = yaml.safe_load("""
version: 1
system: {name: runner, preset: managed-model-api}
parties:
  - {id: dev, role: application-developer}
  - {id: ops, role: infrastructure-operator}
  - {id: vendor, role: model-provider}
components:
  - {id: form, kind: user-input, owner: dev, trust: untrusted}
  - {id: llm, kind: model, owner: vendor}
  - {id: exec, kind: tool, owner: dev, effects: [execute-code]}
  - {id: net, kind: network-egress, owner: ops, policy: allowlist, allow: [api.corp.example]}
flows:
  - {from: form, to: llm}
  - {from: llm, to: exec}
  - {from: exec, to: net}
""")


def test_anyones_input_reaching_code_execution_is_critical(tmp_path):
    result = _check(copy.deepcopy(RUNNER), tmp_path)
    finding = next(f for f in result.open_findings() if f.id == "open-attack-path:form>llm>exec")
    assert finding.severity == "critical"
    doc = copy.deepcopy(RUNNER)
    _component(doc, "form")["authenticated"] = True
    finding = next(f for f in _check(doc, tmp_path).open_findings() if f.id == "open-attack-path:form>llm>exec")
    assert finding.severity == "high", "one step lower when the attacker must sign in"


def test_an_egress_allowlist_after_the_code_ran_does_not_close_it(tmp_path):
    """The code runs before anything of it reaches the egress: the allowlist stops what the code would
    send, a path of its own, and not the running."""
    result = _check(copy.deepcopy(RUNNER), tmp_path)
    ran = _path(result, "form>llm>exec")
    assert ran.open and ran.impact_kind == "code-execution" and "INF-NET-03" not in {c.id for c in ran.controls}
    sent = _path(result, "form>llm>exec>net")
    assert sent.impact_kind == "exfiltration" and sent.closed_by == ("INF-NET-03",)
    assert "INF-NET-03" not in result.leverage.fix


def test_a_sandbox_stops_the_code_and_not_what_the_code_sends(tmp_path):
    """Code run in a sandbox harms no host, but the model can still write code that sends what it knows
    to any host the sandbox reaches: only what stops data leaving closes that."""
    doc = copy.deepcopy(RUNNER)
    doc["components"][-1].update({"policy": "open"})
    del doc["components"][-1]["allow"]
    doc["controls"] = [{"control": "APP-TOOL-04", "party": "dev", "provides": "implemented", "scope": ["exec"]}]
    result = _check(doc, tmp_path)
    assert _path(result, "form>llm>exec").closed_by == ("APP-TOOL-04",)
    sent = _path(result, "form>llm>exec>net")
    assert sent.open and sent.impact_kind == "exfiltration" and "APP-TOOL-04" not in {c.id for c in sent.controls}
    # A person approving each run stops both: nothing runs, so nothing is sent.
    _component(doc, "exec")["confirmation"] = "admin"
    result = _check(doc, tmp_path)
    assert not _path(result, "form>llm>exec").open and _path(result, "form>llm>exec>net").closed_by == ("APP-TOOL-02",)


def test_a_control_past_what_the_path_has_done_is_too_late(tmp_path):
    # A record written through an API beyond the egress: the allowlist comes after the write.
    doc = copy.deepcopy(RUNNER)
    _component(doc, "exec")["effects"] = ["write"]
    result = _check(doc, tmp_path)
    path = _path(result, "form>llm>exec>net")
    late = next(c for c in path.controls if c.id == "INF-NET-03")
    assert path.open and late.status == "configured" and not late.could_close and not late.closes
    assert "Too late to close it" in next(
        f for f in result.open_findings() if f.id == "open-attack-path:form>llm>exec>net").explanation


def test_an_approval_by_the_attacker_closes_nothing(tmp_path):
    doc = copy.deepcopy(RUNNER)
    _component(doc, "exec")["confirmation"] = "user"
    path = _path(_check(doc, tmp_path), "form>llm>exec")
    assert path.open
    gate = next(c for c in path.controls if c.id == "APP-TOOL-02")
    assert gate.status == "contradicted" and "user who sent the input" in gate.void
    _component(doc, "exec")["confirmation"] = "admin"
    assert _path(_check(doc, tmp_path), "form>llm>exec").closed_by == ("APP-TOOL-02",)


# --- approvals that do not hold ---------------------------------------------------------------

def _reviewing_agent() -> dict[str, Any]:
    doc = copy.deepcopy(RUNNER)
    _component(doc, "form").update({"trust": "trusted", "authenticated": True})
    doc["components"].append({"id": "issues", "kind": "data-source", "owner": "dev", "trust": "untrusted",
                              "content": "tickets", "writable-by": ["anyone"]})
    doc["flows"].append({"from": "issues", "to": "llm"})
    _component(doc, "exec")["confirmation"] = "user"
    return doc


def test_a_confirmation_the_user_set_to_always_allow_closes_nothing(tmp_path):
    doc = _reviewing_agent()
    assert not _path(_check(doc, tmp_path), "issues>llm>exec").open
    _component(doc, "exec")["always-allow"] = True
    path = _path(_check(doc, tmp_path), "issues>llm>exec")
    assert path.open and "always-allow: true" in next(c for c in path.controls if c.id == "APP-TOOL-02").reason


def test_a_confirmation_that_shows_a_summary_closes_nothing_and_names_whose_dialog_it_is(tmp_path):
    # MCP tool poisoning: the approval dialog folded the arguments away, and the key left in one.
    doc = _reviewing_agent()
    doc["parties"].append({"id": "client", "role": "application-developer"})
    _component(doc, "exec")["confirmation-shows"] = "summary"
    doc["controls"] = [{"control": "APP-TOOL-02", "party": "client", "provides": "implemented", "scope": ["exec"]}]
    path = _path(_check(doc, tmp_path), "issues>llm>exec")
    gate = next(c for c in path.controls if c.id == "APP-TOOL-02")
    assert path.open and gate.status == "contradicted" and gate.parties == ("client",)
    assert "confirmation-shows: summary" in gate.reason
    _component(doc, "exec")["confirmation-shows"] = "full"
    assert _path(_check(doc, tmp_path), "issues>llm>exec").closed_by == ("APP-TOOL-02",)


def test_a_confirmation_the_agent_can_switch_off_through_another_tool_closes_nothing(tmp_path):
    # The agent edits the workspace settings file that holds the approval rules, unasked.
    doc = _reviewing_agent()
    doc["components"].append({"id": "edit-settings", "kind": "tool", "owner": "dev", "effects": ["write", "configure"],
                              "self-configurable": True})
    doc["flows"].append({"from": "llm", "to": "edit-settings"})
    result = _check(doc, tmp_path)
    path = _path(result, "issues>llm>exec")
    gate = next(c for c in path.controls if c.id == "APP-TOOL-02")
    assert path.open and "switch approvals off through edit-settings" in gate.reason
    # Changing the settings itself waits for a person: the approval holds again.
    _component(doc, "edit-settings")["confirmation"] = "user"
    assert not _path(_check(doc, tmp_path), "issues>llm>exec").open


def test_a_settings_tool_switches_off_only_the_approvals_it_reaches(tmp_path):
    # Cline's editor writes its settings files, but the approvals are read once and kept in memory: the
    # agent changes what starts and what runs, and switches off no approval it runs under.
    doc = _reviewing_agent()
    doc["components"].append({"id": "edit-settings", "kind": "tool", "owner": "dev", "effects": ["write", "configure"],
                              "self-configurable": True, "switches-approvals": []})
    doc["flows"].append({"from": "llm", "to": "edit-settings"})
    assert _path(_check(doc, tmp_path), "issues>llm>exec").closed_by == ("APP-TOOL-02",)
    _component(doc, "edit-settings")["switches-approvals"] = ["exec"]
    gate = next(c for c in _path(_check(doc, tmp_path), "issues>llm>exec").controls if c.id == "APP-TOOL-02")
    assert gate.status == "contradicted" and "switch approvals off through edit-settings" in gate.reason
    # A tool it does not exist as is a positioned error, not a silent nothing.
    _component(doc, "edit-settings")["switches-approvals"] = ["exce"]
    with pytest.raises(ManifestError, match="unknown component 'exce'"):
        _check(doc, tmp_path)


# --- the party able to act --------------------------------------------------------------------

def test_the_fix_names_the_party_that_operates_the_component_not_its_author(tmp_path):
    # A vendor's database server, run by the deployer with the credential the deployer chose.
    doc = copy.deepcopy(AGENT)
    doc["parties"].append({"id": "maintainers", "role": "application-developer", "name": "server maintainers"})
    doc["parties"].append({"id": "deployer", "role": "deployer"})
    _component(doc, "db").update({"owner": "maintainers", "operated-by": "deployer"})
    result = _check(doc, tmp_path)
    assert result.leverage.fix
    assert all(parties == ["deployer"] for parties in result.leverage.responsible.values())


def test_findings_on_a_component_name_its_operator_and_its_operator_sees_them(tmp_path):
    # The GitHub MCP case: the maintainers wrote the server, the deployer chose its token, its
    # settings, the chat it answers in and the network it runs on. Each fix is the deployer's.
    doc = copy.deepcopy(AGENT)
    doc["parties"] += [{"id": "maintainers", "role": "application-developer"}, {"id": "deployer", "role": "deployer"}]
    _component(doc, "db").update({"owner": "maintainers", "operated-by": "deployer", "credential": "user-delegated",
                                  "credential-reach": "user", "self-configurable": True, "effects": ["read-private",
                                  "write", "send-external"]})
    doc["components"] += [
        {"id": "pane", "kind": "output-renderer", "owner": "maintainers", "operated-by": "deployer", "images": True},
        {"id": "net", "kind": "network-egress", "owner": "maintainers", "operated-by": "deployer", "policy": "open"},
        {"id": "log", "kind": "logging", "owner": "maintainers", "operated-by": "deployer", "captures": ["requests"]},
    ]
    doc["flows"] += [{"from": "llm", "to": "pane"}, {"from": "db", "to": "net"}]
    result = _check(doc, tmp_path)
    found = {f.rule: f for f in result.open_findings()}
    for rule in ("over-privileged-credential", "self-approvable-action", "unsafe-rendering", "open-egress"):
        assert found[rule].responsible == ("deployer",), rule
    assert found["visibility-gap"].responsible[0] == "deployer"  # the logs' operator, then the responders
    assert "maintainers" not in found["lethal-trifecta"].responsible
    # Narrowed to the deployer, who owns no component here, every path through what it runs is shown.
    mine = for_parties(result, ["deployer"])
    assert {p.id for p in mine.paths.paths} == {p.id for p in result.paths.paths} != set()
    assert {f.rule for f in mine.findings} >= set(found) - {"undocumented-handoff"}


# An open-source chat application a company runs for its staff: the project wrote every part of it;
# the company's IT team runs and configures each one (`operated-by`) and runs the network.
DEPLOYED = yaml.safe_load("""
version: 1
system: {name: deployed, preset: self-hosted-open-weights}
parties:
  - {id: weights, role: model-provider}
  - {id: project, role: application-developer, name: the open-source project}
  - {id: it, role: infrastructure-operator}
components:
  - {id: chat, kind: user-input, owner: project, operated-by: it, trust: internal, authenticated: true}
  - {id: llm, kind: model, owner: it, hosting: self-hosted}
  - {id: uploads, kind: data-source, owner: project, operated-by: it, trust: untrusted, content: documents,
     writable-by: [authenticated-users], sensitivity: confidential}
  - {id: view, kind: output-renderer, owner: project, operated-by: it, images: true}
flows:
  - {from: chat, to: llm}
  - {from: uploads, to: llm}
  - {from: llm, to: view}
""")


def test_an_application_no_developer_runs_here_falls_to_the_party_that_runs_it(tmp_path):
    result = _check(copy.deepcopy(DEPLOYED), tmp_path)
    resp = result.context.resp
    assert resp.idle_developers == {"project"} and resp.stand_ins == ("it",)
    out = resp["APP-OUT-04"]
    assert [p.id for p in out.default_parties] == ["it"]
    assert "here it runs the components of project (operated-by)" in out.default_reason
    assert resp.system_owners[0] == "it"
    found = {f.id: f for f in result.open_findings()}
    assert "project" not in {p for f in found.values() for p in f.responsible}
    assert found["visibility-gap:logging"].responsible == ("it",)
    # Where the project runs a part itself (a hosted search it offers), the application's controls are its own.
    doc = copy.deepcopy(DEPLOYED)
    del _component(doc, "uploads")["operated-by"]
    resp = _check(doc, tmp_path).context.resp
    assert not resp.idle_developers and not resp.stand_ins
    assert [p.id for p in resp["APP-OUT-04"].default_parties] == ["project"]


def test_a_control_the_product_has_no_setting_for_falls_to_its_maker(tmp_path):
    """The deployed app's chat view loads images from any host. Its settings can list the hosts it
    loads from (`configurable: [APP-OUT-04]`) but it has no switch to escape markup: the company's IT can
    provide the one; the other needs the project to change its code, so a fix asking for it names
    the project."""
    doc = copy.deepcopy(DEPLOYED)
    path = "uploads>llm>view"
    before = {c.id: c for c in _path(_check(doc, tmp_path), path).controls}
    assert before["APP-OUT-04"].parties == ("it",)
    _component(doc, "view")["configurable"] = ["APP-OUT-04"]
    _component(doc, "view")["raw-html"] = True
    result = _check(doc, tmp_path)
    controls = {c.id: c for c in _path(result, path).controls}
    assert controls["APP-OUT-04"].parties == ("it",) and controls["APP-OUT-01"].parties == ("project",)
    assert "view has no setting for it (configurable): a change to project's code" in controls["APP-OUT-01"].reason
    finding = {f.id: f for f in result.open_findings()}[f"open-attack-path:{path}"]
    assert set(finding.responsible) == {"it", "project"}
    answer = who(result.system, "APP-OUT-01")
    assert "on view is project (the open-source project), which makes it" in " ".join(answer.reasons)


def test_a_finding_on_a_component_names_whoever_its_settings_let_act(tmp_path):
    """AnythingLLM as IT runs it: the chat view loads images from any host and has no setting that
    limits them. The rendering finding and the trifecta's renderer leg fall to the project, which must
    change its code; IT, which can only withhold a tool, is named for the tool leg."""
    doc = copy.deepcopy(DEPLOYED)
    doc["components"].append({"id": "scrape", "kind": "tool", "owner": "project", "operated-by": "it",
                              "effects": ["read-public"], "output-trust": "untrusted", "configurable": ["APP-TOOL-01"]})
    doc["components"].append({"id": "crm", "kind": "data-source", "owner": "it", "trust": "internal",
                              "sensitivity": "personal"})
    doc["flows"] += [{"from": "llm", "to": "scrape"}, {"from": "scrape", "to": "llm"}, {"from": "crm", "to": "llm"}]
    found = {f.id: f for f in _check(doc, tmp_path).open_findings()}
    assert found["unsafe-rendering:view"].responsible == ("it",)
    assert found["lethal-trifecta:llm"].responsible == ("it",)
    _component(doc, "view")["configurable"] = []
    found = {f.id: f for f in _check(doc, tmp_path).open_findings()}
    assert found["unsafe-rendering:view"].responsible == ("project",)
    assert found["lethal-trifecta:llm"].responsible == ("it", "project")


def test_the_fix_says_what_each_party_could_close_on_its_own(tmp_path, cli):
    """IT runs the project's app: the chat view has no setting for the hosts it loads images from, the
    scraping tool can be withheld. IT alone can close the scraper's path to the network; the project
    alone, all three. Said beside what each layer could close, in the JSON, the terminal and Markdown."""
    doc = copy.deepcopy(DEPLOYED)
    doc["components"] += [{"id": "scrape", "kind": "tool", "owner": "project", "operated-by": "it",
                           "effects": ["read-public"], "output-trust": "untrusted", "configurable": ["APP-TOOL-01"]},
                          {"id": "net", "kind": "network-egress", "owner": "it", "policy": "open"}]
    doc["flows"] += [{"from": "llm", "to": "scrape"}, {"from": "scrape", "to": "llm"}, {"from": "scrape", "to": "net"}]
    _component(doc, "view")["configurable"] = []
    result = _check(doc, tmp_path)
    assert result.leverage.open_paths == 3 and result.leverage.by_party == {"project": 3, "it": 1}
    assert result_json(result)["leverage"]["by_party"] == {"project": 3, "it": 1}
    out = cli("check", tmp_path / "m.yaml").output
    assert "each party alone could close: project 3/3, it 1/3" in out
    assert "| it | 1 / 3 |" in cli("report", tmp_path / "m.yaml", "--format", "markdown").output
    # Narrowed to IT (`--party it`): its own smallest step, beside the system's fix, which is the project's.
    own = for_parties(result, ["it"]).own
    assert own is not None and (own.fix, own.closes, own.open_paths) == (["APP-TOOL-01"], 1, 3)
    # ... with where: withholding which tool.
    assert own.on == {"APP-TOOL-01": ["scrape"]}
    assert "what it can do alone: APP-TOOL-01 on scrape closes 1 of 3 open paths" in cli(
        "check", tmp_path / "m.yaml", "--party", "it").output
    data = json.loads(cli("check", tmp_path / "m.yaml", "--party", "it", "--format", "json").output)
    assert data["own"] == {"parties": ["it"], "fix": ["APP-TOOL-01"], "closes": 1, "exact": True,
                           "on": {"APP-TOOL-01": ["scrape"]}}
    jsonschema.validate(data, SCHEMA)
    assert "own" not in result_json(result) and "own" not in data["leverage"]
    assert "nothing weights can do alone closes an open path" in cli("check", tmp_path / "m.yaml",
                                                                     "--party", "weights").output


@pytest.mark.parametrize("configurable, said", [
    (["APP-OUT-99"], "unknown control 'APP-OUT-99'"),
    (["INF-NET-03"], "INF-NET-03 in configurable of component 'view' does not act on its kind (output-renderer)"),
])
def test_configurable_names_controls_that_act_on_the_component(configurable, said, tmp_path):
    doc = copy.deepcopy(DEPLOYED)
    _component(doc, "view")["configurable"] = configurable
    with pytest.raises(ManifestError) as e:
        _check(doc, tmp_path)
    assert said in str(e.value)


# --- what real systems need to say -------------------------------------------------------------

def test_a_token_that_reaches_every_repository_of_the_user_is_over_privileged(tmp_path):
    doc = copy.deepcopy(AGENT)
    _component(doc, "db").update({"credential": "user-delegated", "credential-reach": "user"})
    found = {f.id: f for f in _check(doc, tmp_path).open_findings()}
    assert "everything the user can see" in found["over-privileged-credential:db"].explanation
    _component(doc, "db")["credential-reach"] = "task"
    assert "over-privileged-credential:db" not in {f.id for f in _check(doc, tmp_path).open_findings()}
    # A service role that bypasses row-level security is high whatever reaches the model.
    _component(doc, "db").update({"credential": "service-account", "credential-reach": "all",
                                  "output-trust": "internal"})
    assert {f.id: f for f in _check(doc, tmp_path).open_findings()}["over-privileged-credential:db"].severity == "high"


def test_a_source_mixing_public_and_private_channels_is_both_a_way_in_and_private_data(tmp_path):
    doc = copy.deepcopy(REPRO)
    doc["components"] = [c for c in doc["components"] if c["id"] not in ("inbox", "files")]
    doc["flows"] = [f for f in doc["flows"] if f["from"] not in ("inbox", "files")]
    doc["components"].append({"id": "channels", "kind": "data-source", "owner": "app", "trust": "mixed",
                              "content": "chat", "writable-by": ["authenticated-users"], "sensitivity": "confidential"})
    doc["flows"].append({"from": "channels", "to": "rag"})
    result = _check(doc, tmp_path)
    assert _path(result, "channels>rag>llm>pane").open
    assert "lethal-trifecta:llm" in {f.id for f in result.open_findings()}


def test_the_users_own_conversation_is_private_data_a_rendered_image_can_carry_out(tmp_path):
    doc = copy.deepcopy(REPRO)
    doc["components"] = [c for c in doc["components"] if c["id"] != "files"]
    doc["flows"] = [f for f in doc["flows"] if f["from"] != "files"]
    before = {f.id: f.severity for f in _check(doc, tmp_path).open_findings()}
    _component(doc, "chat")["sensitivity"] = "personal"
    after = {f.id: f.severity for f in _check(doc, tmp_path).open_findings()}
    assert (before[f"open-attack-path:{EXFIL}"], after[f"open-attack-path:{EXFIL}"]) == ("medium", "critical")
    assert "lethal-trifecta:llm" in after


def test_an_agent_wired_to_a_test_environment_is_one_step_less_severe(tmp_path):
    doc = copy.deepcopy(AGENT)
    _component(doc, "db")["environment"] = "production"
    prod = {f.id: f for f in _check(doc, tmp_path).open_findings()}["open-attack-path:db>llm>db"]
    assert "db acts on production" in prod.explanation
    _component(doc, "db")["environment"] = "test"
    test = {f.id: f for f in _check(doc, tmp_path).open_findings()}["open-attack-path:db>llm>db"]
    assert severity_rank(test.severity) == severity_rank(prod.severity) - 1


def test_code_run_in_a_test_environment_is_less_severe(tmp_path):
    # The code runs on the tool's environment, whatever egress its network traffic takes.
    doc = copy.deepcopy(RUNNER)
    _component(doc, "exec")["environment"] = "test"
    result = _check(doc, tmp_path)
    assert _path(result, "form>llm>exec").acted_on == "exec"
    finding = next(f for f in result.open_findings() if f.id == "open-attack-path:form>llm>exec")
    assert finding.severity == "high", "one step lower than the production runner's critical"
    assert "exec acts on test" in finding.explanation


def test_memory_the_model_writes_after_reading_a_page_carries_the_injection_into_later_sessions(tmp_path):
    doc = copy.deepcopy(REPRO)
    doc["components"].append({"id": "notes", "kind": "memory", "owner": "app", "persistent": True,
                              "model-writable": True})
    doc["flows"] += [{"from": "llm", "to": "notes"}, {"from": "notes", "to": "llm"}]
    result = _check(doc, tmp_path)
    assert _path(result, "inbox>rag>llm>notes").open  # the injection is saved...
    later = {f.id: f for f in result.open_findings()}["open-attack-path:notes>llm>pane"]  # ...and comes back
    assert "one chain across sessions" in later.explanation and "inbox>rag>llm>notes" in later.explanation
    # Memory the model writes only from trusted input is no way in.
    doc["components"] = [c for c in doc["components"] if c["id"] != "inbox"]
    doc["flows"] = [f for f in doc["flows"] if f["from"] != "inbox"]
    assert not [p for p in _check(doc, tmp_path).paths.paths if p.source == "notes"]


def test_memory_the_model_saves_through_a_tool_carries_the_injection_on_too(tmp_path):
    # A save-memory tool the model calls (Open WebUI's add_memory, ChatGPT's memory tool): the same
    # chain across sessions as memory the model writes itself, and a confirmation on the tool closes it.
    doc = copy.deepcopy(REPRO)
    doc["components"] += [{"id": "notes", "kind": "memory", "owner": "app", "persistent": True},
                          {"id": "remember", "kind": "tool", "owner": "app", "effects": ["write"]}]
    doc["flows"] += [{"from": "llm", "to": "remember"}, {"from": "remember", "to": "notes"},
                     {"from": "notes", "to": "llm"}]
    result = _check(doc, tmp_path)
    saved = _path(result, "inbox>rag>llm>remember>notes")
    assert saved.open and "APP-TOOL-02" in saved.candidates
    later = {f.id: f for f in result.open_findings()}["open-attack-path:notes>llm>pane"]
    assert "one chain across sessions" in later.explanation and "inbox>rag>llm>remember>notes" in later.explanation
    # A tool that only reads it back writes nothing: no chain.
    doc["flows"] = [f for f in doc["flows"] if f != {"from": "remember", "to": "notes"}] + [
        {"from": "notes", "to": "remember"}]
    assert not [p for p in _check(doc, tmp_path).paths.paths if p.source == "notes"]


def test_a_user_who_writes_their_own_memory_poisons_no_one_else(tmp_path):
    """A public chat whose model saves to each user's own memory: what the user types comes back only
    in their own later sessions, so it is no way in and no write to attack; memory shared across users
    carries it to the others."""
    doc = copy.deepcopy(REPRO)
    doc["components"] = [c for c in doc["components"] if c["id"] != "inbox"]
    doc["flows"] = [f for f in doc["flows"] if f["from"] != "inbox"]
    _component(doc, "chat").update({"trust": "untrusted", "audience": "public"})
    doc["components"].append({"id": "notes", "kind": "memory", "owner": "app", "persistent": True,
                              "model-writable": True})
    doc["flows"] += [{"from": "llm", "to": "notes"}, {"from": "notes", "to": "llm"}]
    result = _check(doc, tmp_path)
    assert not [p.id for p in result.paths.paths if "notes" in p.steps]
    _component(doc, "notes")["shared-across-users"] = True
    result = _check(doc, tmp_path)
    assert _path(result, "chat>llm>notes").open and _path(result, "notes>llm>pane").open


def test_a_path_no_enforced_control_closes_is_said_so_with_what_would_lower_its_odds(tmp_path, cli):
    doc = copy.deepcopy(REPRO)
    doc["components"].append({"id": "notes", "kind": "memory", "owner": "app", "persistent": True,
                              "model-writable": True})
    doc["flows"].append({"from": "llm", "to": "notes"})
    result = _check(doc, tmp_path)
    assert result.leverage.unclosable == ["inbox>rag>llm>notes"] and result.leverage.fix == ["APP-OUT-04"]
    assert "APP-AGT-02" in result.leverage.reduce_only and "APP-IN-03" in result.leverage.reduce_only
    text = cli("check", tmp_path / "m.yaml", columns=200).output
    assert "1 open path no enforced control can close: only lowering the odds is on offer, " in text
