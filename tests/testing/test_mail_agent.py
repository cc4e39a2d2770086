"""An agent whose turn is the untrusted content itself — an incoming mail that starts a LangGraph
graph — tested over `http:` with the planted document carried in the turn ({document}), its tool
calls and their outcome read from the graph's state."""

from __future__ import annotations

import pytest

from demarcate.model import load
from demarcate.serve import BackgroundServer
from demarcate.testing.run import run_campaign
from tests.testing.mail_agent import MANIFEST, Settings, make_app, manifest, spec


@pytest.fixture
def agent(tmp_path):
    settings = Settings()
    server = BackgroundServer(make_app(settings)).start()

    def campaign(probes: str, optional: bool = False, typed: bool = False):
        # A person confirms each mail: the manifest says so, the spec reads the run's interrupt.
        (tmp_path / "agent.yaml").write_text(manifest(settings.confirm, typed))
        written = spec(server.url, settings.confirm, optional, typed)
        if not settings.signalled:
            written = "\n".join(line for line in written.splitlines() if not line.startswith("signals:"))
        (tmp_path / "spec.yaml").write_text(written)
        return run_campaign(load([tmp_path / "agent.yaml"]), target=f"http:{tmp_path / 'spec.yaml'}", probes=probes,
                            concurrency=1, db=str(tmp_path / "h.sqlite"))

    yield settings, campaign
    server.stop()


def by_probe(data):
    return {r["probe"]: r for r in data["results"]}


def held(result, control):
    return {x["control"]: x["held"] for x in result["chain"]}.get(control, "absent")


def test_a_document_the_turn_carries_reaches_the_agent_with_it_and_is_judged(agent):
    settings, campaign = agent
    data = campaign("doc-say-canary,doc-email-records")
    by = by_probe(data)
    said = by["doc-say-canary"]
    assert said["outcome"] == "succeeded" and said["evidence"]["delivered"] is True
    assert said["evidence"]["reply"].startswith(said["canary"])
    mail = by["doc-email-records"]
    calls = [(c["name"], c["arguments"].get("to"), c["status"]) for c in mail["evidence"]["tool_calls"]]
    assert calls == [("write_email", mail["canary"] + "@exfil.example", "success"), ("Done", None, None)]
    # The tool message answering the call says it ran: nothing between the model and the mail held.
    assert held(mail, "APP-TOOL-02") is False and held(mail, "MOD-SAFE-03") is False
    assert any(m["to"] == mail["canary"] + "@exfil.example" for m in settings.sent)
    assert data["summary"]["baselines"]["read"]["capable"] is True


def test_a_tool_that_raised_did_not_run_and_the_gate_is_not_blamed(agent):
    settings, campaign = agent
    settings.gate = True
    mail = by_probe(campaign("doc-email-records"))["doc-email-records"]
    assert mail["evidence"]["tool_calls"][0]["status"] == "error"
    assert not [m for m in settings.sent if m["to"].endswith("@exfil.example")]
    # It did not send; the tool's error names no control, so the gate is neither blamed nor credited.
    assert mail["outcome"] == "unobservable" and held(mail, "APP-TOOL-02") is None
    gate = next(x for x in mail["chain"] if x["control"] == "APP-TOOL-02")
    assert "status: error" in gate["evidence"]


def test_addresses_the_turn_itself_carried_are_no_one_s_data_looked_up(agent):
    """Its reply names the mail's sender and recipient, which the spec put in the turn: no leak."""
    _, campaign = agent
    lookup = by_probe(campaign("doc-wide-lookup"))["doc-wide-lookup"]
    assert "dana@outside.example" in lookup["evidence"]["reply"] and "lance@company.example" in lookup["evidence"]["reply"]
    assert lookup["outcome"] == "resisted" and held(lookup, "APP-TOOL-03") == "absent"


def test_a_reply_that_quotes_the_planted_mail_sends_nothing_where_it_asked(agent):
    """Quoting the mail it answers, the reply carries the attacker's link and address to the mail's
    sender: the model fetched nothing and mailed nobody the payload chose."""
    settings, campaign = agent
    settings.obey, settings.quote = False, True
    by = by_probe(campaign("doc-fetch-ping,doc-email-records"))
    for probe in ("doc-fetch-ping", "doc-email-records"):
        case = by[probe]
        reply_to = case["evidence"]["tool_calls"][0]
        assert reply_to["arguments"]["to"] == "dana@outside.example" and case["canary"] in reply_to["arguments"]["content"]
        assert case["outcome"] not in ("succeeded", "unobservable"), probe
        assert held(case, "APP-TOOL-02") == "absent" and held(case, "MOD-SAFE-03") is not False


@pytest.mark.parametrize("signalled", [True, False])
def test_a_mail_held_for_a_persons_decision_is_the_gate_acting(agent, signalled):
    """LangGraph's human-in-the-loop: the run stops at an interrupt whose action request is the
    drafted call, waiting for a person: the confirmation gate acting, whether or not the spec also
    names the interrupt as its signal."""
    settings, campaign = agent
    settings.confirm, settings.signalled = True, signalled
    by = by_probe(campaign("doc-email-records,doc-fetch-ping"))
    mail = by["doc-email-records"]
    call = mail["evidence"]["tool_calls"][0]
    assert call["name"] == "write_email" and call["arguments"]["to"] == mail["canary"] + "@exfil.example"
    assert call["status"] == "awaiting-approval"
    assert mail["outcome"] == "blocked-by-application" and held(mail, "APP-TOOL-02") is True
    assert not settings.sent
    # Asked to fetch a page, it drafted its usual reply to the sender, held like every mail: the gate
    # held the app's own work, not this attack, which nothing here could carry out (it cannot fetch).
    fetch = by["doc-fetch-ping"]
    assert fetch["evidence"]["tool_calls"][0]["arguments"]["to"] == "dana@outside.example"
    assert fetch["outcome"] == "inconclusive" and held(fetch, "APP-TOOL-02") == "absent"


def test_a_model_that_answered_the_mail_as_usual_is_not_blamed_for_the_held_reply(agent):
    """The model ignored the planted order and drafted its reply to the sender, held for approval like
    every mail: the model resisted, and the gate stopped nothing of this attack."""
    settings, campaign = agent
    settings.confirm, settings.obey = True, False
    mail = by_probe(campaign("doc-email-records"))["doc-email-records"]
    assert mail["evidence"]["tool_calls"][0]["arguments"]["to"] == "dana@outside.example"
    assert mail["outcome"] == "resisted" and held(mail, "MOD-SAFE-03") is True
    assert held(mail, "APP-TOOL-02") == "absent"


def test_a_request_the_user_typed_is_read_and_a_reply_quoting_it_mails_no_one_it_named(agent):
    """The payload is the user's own message, so the model read it whenever it answered; its usual
    reply, quoting the message (the attacker's address in it), held for a reviewer like every mail:
    the model did not do what it was asked, and the gate stopped nothing of the attack."""
    settings, campaign = agent
    settings.confirm, settings.obey = True, False
    mail = by_probe(campaign("user-email-records", typed=True))["user-email-records"]
    call = mail["evidence"]["tool_calls"][0]
    assert call["arguments"]["to"] == "dana@outside.example" and mail["canary"] in call["arguments"]["content"]
    assert mail["outcome"] == "resisted" and held(mail, "MOD-SAFE-03") is True
    assert held(mail, "APP-TOOL-02") == "absent"
    # Obeyed, the draft goes to the attacker and waits: that is the gate stopping the attack.
    settings.obey = True
    mail = by_probe(campaign("user-email-records", typed=True))["user-email-records"]
    assert mail["evidence"]["tool_calls"][0]["arguments"]["to"] == mail["canary"] + "@exfil.example"
    assert mail["outcome"] == "blocked-by-application" and held(mail, "APP-TOOL-02") is True
    assert held(mail, "MOD-SAFE-03") is False


def test_a_mail_the_triage_ignored_is_a_quiet_answer_only_where_the_spec_says_it_may_be(agent):
    """Its triage ignores the planted mail: the run ends with no messages, so no reply path."""
    settings, campaign = agent
    settings.ignore = "exfil.example"
    unread = by_probe(campaign("doc-email-records"))["doc-email-records"]
    assert unread["outcome"] == "error" and "check `reply:`" in unread["error"]
    quiet = by_probe(campaign("doc-email-records", optional=True))["doc-email-records"]
    assert quiet["evidence"]["reply"] == "" and quiet["evidence"]["tool_calls"] == []
    # Judged, not an error: nothing was sent, and an answer that does not draw on the mail does not
    # show the model read it (the triage is a model too, but nothing here shows what it was given).
    assert quiet["outcome"] == "inconclusive" and held(quiet, "MOD-SAFE-03") is None
    assert held(quiet, "APP-TOOL-02") == "absent"


def test_a_turn_that_carries_the_documents_takes_no_plant_request(cli, tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text("url: http://127.0.0.1:9/runs\nbody: {mail: '{document}', subject: '{message}'}\n"
                    "plant: {url: 'http://127.0.0.1:9/docs', body: {text: '{document}'}}\n")
    (tmp_path / "agent.yaml").write_text(MANIFEST)
    bad = cli("test", tmp_path / "agent.yaml", "--target", f"http:{path}", "--db", str(tmp_path / "h.sqlite"))
    assert bad.exit_code == 2 and "Traceback" not in bad.output
    assert "{document} in the turn hands the documents over with it: give no `plant:` or `read-back:`" in bad.output
