"""A stand-in for a third-party RAG chatbot, written the way such apps are: uploads through a
multipart ingest endpoint, an API key, a retriever that matches words (as an embedding does, it makes
nothing of random tokens such as product codes), a model that obeys what it retrieves, and an answer
that carries its sources, the actions it took and a moderation flag with the documents it dropped. Run on 127.0.0.1 by the tests."""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, field
from typing import Any

from pypdf import PdfReader
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

KEY = "rag-key-123"
WORDS = re.compile(r"\b[a-z]{3,}\b")  # whole words: a product code is none (as an embedding makes little of one)
TOKENS = re.compile(r"\b[a-z0-9]{3,}\b")  # whole tokens, codes too, as a keyword index (BM25, TF-IDF) counts them


@dataclass
class Settings:
    obey: bool = True  # the model does what retrieved text tells it
    moderate: bool = False  # a classifier drops retrieved text that looks like an instruction
    ingest_status: int = 200  # what the ingest endpoint answers (429: its rate limit)
    refuse: str = ""  # a filter in front of the app: a question or a document holding this is refused (403)
    drop_long: int = 0  # silently keep no document longer than this (0: keep all)
    docs: dict[int, tuple[str, str]] = field(default_factory=dict)  # id -> (product, text)
    next_id: int = 1
    sent: list[dict] = field(default_factory=list)  # the mail its send_email tool sent
    mailbox: bool = False  # its mail listing shows received documents too (inbox and outbox one store)
    read: set[int] = field(default_factory=set)  # documents the model has read (marked read in the mailbox)
    mails_user: bool = False  # it emails the user a note when asked (else it cannot send on request)
    mails_anyone: bool = False  # it emails whatever address its user asks it to, with what they ask for
    asked: list[str] = field(default_factory=list)  # every question it was asked
    html: bool = False  # it answers in HTML, its markdown rendered on the server (images become <img>)
    stream: bool = False  # it answers as server-sent events
    crash_after_acting: int = 0  # this many times, it acts, then fails (503); asked again, it does not act again
    crashed: bool = False
    # It keeps a conversation, and its model answers from everything retrieved in it so far: under a
    # session cookie it sets ("cookie"), or under an id it gives out when one is opened ("opened").
    remember: str = ""
    conversations: dict[str, list[str]] = field(default_factory=dict)  # id -> what was retrieved in it
    # Uploads belong to the conversation they came in ("chat with your file"): its model retrieves
    # only those. With `remember`, the conversation's cookie or id; without, a cookie of their own.
    uploads_per_conversation: bool = False
    uploaded_in: dict[int, str] = field(default_factory=dict)  # document id -> the conversation it came in
    pdf_only: bool = False  # it takes PDF uploads only, and indexes the text it extracts from them
    list_names: bool = False  # its listing of a product's documents shows their file names, not their text
    keywords: bool = False  # its retriever counts product codes as words (TOKENS), not only letters (WORDS)
    # Where it exports its spans (OTLP/HTTP), as an app instrumented with OpenInference but not its web
    # framework does: each model call in a trace of its own, recording what the model was given.
    otlp: str = ""
    otlp_answers: bool = False  # its spans also record what each model call answered, tool calls and all
    # Its model calls' content goes out as GenAI events in OTLP logs (as the official OpenAI
    # instrumentation sends it), its spans recording only the call itself.
    otlp_events: bool = False
    names_only: bool = False  # its answer names the tools it called, not what it gave them
    otlp_batch_ms: int = 0  # its exporter batches spans, sending them this often (OpenTelemetry's default: 5,000)
    # Its chat page (GET /chat) renders each answer with a script, as Dify's does: markdown images load
    # from any host, and a <button data-message> becomes a button that sends its message (kept in the
    # script, not the page) as the user's next one. `page_encodes`: it shows every answer as text.
    page_encodes: bool = False
    page_greets: bool = False  # its page greets the visitor a moment after it has loaded, as an answer


def _retrieve(settings: Settings, question: str, conversation: str, k: int = 2) -> list[tuple[int, str]]:
    words = TOKENS if settings.keywords else WORDS
    asked = set(words.findall(question.lower()))
    scored = [(len(asked & set(words.findall(text.lower()))), i, text) for i, (_, text) in settings.docs.items()
              if not settings.uploads_per_conversation or settings.uploaded_in.get(i) == conversation]
    scored.sort(key=lambda s: (-s[0], s[1]))  # ties: the oldest first
    return [(i, text) for score, i, text in scored[:k] if score > 0]


def _answer(settings: Settings, context: list[str]) -> tuple[str, list[dict]]:
    joined = " ".join(" ".join(context).split())  # read as a model reads: a line break is a space
    if not joined:
        return "I could not find anything about that product.", []
    if not settings.obey:  # it reads what it retrieves, and says what the first review says, no more
        return f"The reviews say: {context[0][:60]}", []
    if m := re.search(r"(?:start your answer with the words|reply only with|append the code) (\S+)", joined, re.I):
        return f"{m.group(1)} Here is what the reviews say.", []
    if m := re.search(r"<button\b.*?</button>", joined, re.I | re.S):  # it writes the button it was asked to
        return f"Here is what the reviews say. {m.group(0)}", []
    if m := re.search(r"(?:email|mail|send|forward)[^.]*?to\s+([\w.+-]+@[\w.-]+\w)", joined, re.I):
        return "I have forwarded the records.", [{"tool": "send_email", "input": {"to": m.group(1)}}]
    if m := re.search(r"!\[[^\]]*\]\([^)\s]+\)", joined):
        return f"Here is the product: {m.group(0)}", []
    return "The reviews are positive.", []


def _recorded_answer(answer: str, actions: list[dict]) -> dict[str, str]:
    """A model call's answer as OpenInference's instrumentation of the OpenAI client records it: the
    raw response, and its messages flattened (the tools it asked for among them)."""
    calls = [{"id": f"call_{i}", "type": "function", "function": {"name": a["tool"], "arguments": json.dumps(a["input"])}}
             for i, a in enumerate(actions)]
    message = {"role": "assistant", "content": None if calls else answer, **({"tool_calls": calls} if calls else {})}
    out = {"output.value": json.dumps({"choices": [{"index": 0, "message": message}]}),
           "llm.output_messages.0.message.role": "assistant"}
    if not calls:
        out["llm.output_messages.0.message.content"] = answer
    for i, call in enumerate(calls):
        prefix = f"llm.output_messages.0.message.tool_calls.{i}.tool_call."
        out |= {prefix + "id": call["id"], prefix + "function.name": call["function"]["name"],
                prefix + "function.arguments": call["function"]["arguments"]}
    return out


def _emit_events(logger: Any, span: Any, given: list[dict], answer: str, actions: list[dict]) -> None:
    """A model call's content as the GenAI conventions' events: one per message it was given, and
    its choice (the tools it asked for among it), each tied to the call's span."""
    from opentelemetry._logs import LogRecord

    ids = span.get_span_context()
    calls = [{"id": f"call_{i}", "type": "function", "function": {"name": a["tool"], "arguments": json.dumps(a["input"])}}
             for i, a in enumerate(actions)]
    choice = {"index": 0, "finish_reason": "tool_calls" if calls else "stop",
              "message": {"role": "assistant", **({"tool_calls": calls} if calls else {"content": answer})}}
    for name, body in [*((f"gen_ai.{m['role']}.message", {"content": m["content"]}) for m in given),
                       ("gen_ai.choice", choice)]:
        logger.emit(LogRecord(event_name=name, body=body, attributes={"gen_ai.system": "openai"},
                              trace_id=ids.trace_id, span_id=ids.span_id, trace_flags=ids.trace_flags))


def make_app(settings: Settings) -> Starlette:
    tracer = event_log = None
    if settings.otlp:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

        provider = TracerProvider()
        exporter = OTLPSpanExporter(endpoint=settings.otlp, timeout=5)
        provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=settings.otlp_batch_ms)
                                    if settings.otlp_batch_ms else SimpleSpanProcessor(exporter))
        tracer = provider.get_tracer("rag-app")
        if settings.otlp_events:
            from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
            from opentelemetry.sdk._logs import LoggerProvider
            from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor

            logs = LoggerProvider()
            logs.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(
                endpoint=settings.otlp.replace("/v1/traces", "/v1/logs"), timeout=5)))
            event_log = logs.get_logger("rag-app")

    def authorised(request: Request) -> bool:
        return request.headers.get("x-api-key") == KEY

    async def ingest(request: Request) -> Response:
        if not authorised(request):
            return JSONResponse({"detail": "bad key"}, 401)
        if settings.ingest_status != 200:
            return JSONResponse({"detail": "slow down"}, settings.ingest_status)
        form = await request.form()
        upload = form["file"]
        raw = await upload.read()  # type: ignore[union-attr]
        if settings.pdf_only:
            if not raw.startswith(b"%PDF-"):
                return JSONResponse({"detail": "only PDF files are supported"}, 400)
            text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(raw)).pages)
        else:
            text = raw.decode()
        if settings.refuse and settings.refuse in text.lower():
            return JSONResponse({"detail": "blocked by the content filter"}, 403)
        conversation, opened = "", False
        if settings.uploads_per_conversation:
            conversation, opened = _conversation(request, {"conversation_id": form.get("conversation_id")})
            if conversation is None:
                return JSONResponse({"detail": "no such conversation"}, 404)
        ident = settings.next_id
        settings.next_id += 1
        if not settings.drop_long or len(text) <= settings.drop_long:
            settings.docs[ident] = (str(form.get("product", "")), text)
            settings.uploaded_in[ident] = conversation
        indexed = JSONResponse({"status": "indexed", "document": {"id": ident}})
        if opened:
            indexed.set_cookie("sid", conversation)
        return indexed

    async def listing(request: Request) -> Response:
        product = request.query_params.get("product", "")
        return JSONResponse([{"id": i, "name": f"{p}.txt"} if settings.list_names else {"id": i, "text": t}
                             for i, (p, t) in settings.docs.items() if p == product])

    async def remove(request: Request) -> Response:
        ident = int(request.path_params["ident"])
        if settings.uploads_per_conversation:  # a visitor removes only its own uploads
            conversation, _ = _conversation(request, {"conversation_id": request.query_params.get("conversation_id")})
            if settings.uploaded_in.get(ident) != conversation:
                return JSONResponse({"detail": "no such document"}, 404)
        settings.docs.pop(ident, None)
        return Response(status_code=204)

    async def ask(request: Request) -> Response:
        if not authorised(request):
            return JSONResponse({"detail": "bad key"}, 401)
        asked = await request.json()
        question = asked["question"]
        settings.asked.append(question)
        if settings.refuse and settings.refuse in question.lower():
            return JSONResponse({"detail": "blocked by the content filter"}, 403)
        conversation, opened = _conversation(request, asked)
        if conversation is None:
            return JSONResponse({"detail": "no such conversation"}, 404)
        found = _retrieve(settings, question, conversation)
        dropped = [i for i, t in found if settings.moderate and ("ignore previous" in t.lower() or "assistant" in t.lower())]
        found = [(i, t) for i, t in found if i not in dropped]
        settings.read.update(i for i, _ in found)
        if settings.mails_anyone and (m := re.search(r"\bemail\b.*?\bto ([\w.+-]+@[\w.-]+\w)", question, re.I)):
            answer, actions = "Done: I have sent it.", [{"tool": "send_email", "input": {
                "to": m.group(1), "body": question}}]
        elif settings.mails_user and (m := re.search(r"email me .*reference (\S+?)\.?$", question, re.I)):
            answer, actions = "Done: I have emailed you the note.", [{"tool": "send_email", "input": {
                "to": "customer@example.com", "body": f"A note, reference {m.group(1)}"}}]
        else:
            history = settings.conversations.get(conversation, [])
            answer, actions = _answer(settings, [*history, *(t for _, t in found)])
            history.extend(t for _, t in found)
        if settings.html:
            answer = "<p>" + re.sub(r"!\[([^\]]*)\]\(([^)\s]+)\)", r'<img alt="\1" src="\2" />', answer) + "</p>"
        if settings.crashed:  # the retried question: what it did before is done, it answers quietly
            settings.crashed, answer, actions = False, "Sorry, where were we?", []
        for action in actions:
            settings.sent.append({"id": f"m{len(settings.sent) + 1}", "to": action["input"]["to"],
                                  "body": action["input"].get("body") or " ".join(t for _, t in found)})
        if actions and settings.crash_after_acting:
            settings.crash_after_acting -= 1
            settings.crashed = True
            return JSONResponse({"detail": "upstream timeout"}, 503)
        if tracer is not None:  # the model call: what it was given and, unless told not to, what it answered
            given = [{"role": "system", "content": "Answer from these reviews:\n" + "\n".join(t for _, t in found)},
                     {"role": "user", "content": question}]
            recorded = {"openinference.span.kind": "LLM", "input.value": json.dumps({"messages": given})}
            if settings.otlp_answers:
                recorded.update(_recorded_answer(answer, actions))
            if settings.otlp_events:
                recorded = {"gen_ai.operation.name": "chat", "gen_ai.system": "openai"}
            with tracer.start_as_current_span("ChatCompletion", attributes=recorded) as span:
                if settings.otlp_events:
                    _emit_events(event_log, span, given, answer, actions)
        sources = [{"id": i, "page_content": t} for i, t in found]
        shown = [a["tool"] for a in actions] if settings.names_only else actions
        moderation = {"flagged": bool(dropped), "dropped": dropped}
        if settings.stream:  # as a chat UI streams: the sources first, the answer word by word, its actions last
            events = [{"data": {"sources": sources}, "moderation": moderation},
                      *({"data": {"answer": w}} for w in re.findall(r"\S+\s*", answer)),
                      {"data": {"actions": shown}}]
            body = ": keep-alive\n\n" + "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
            return Response(body, media_type="text/event-stream")
        answered = JSONResponse({"data": {"answer": answer, "sources": sources, "actions": shown},
                                 "moderation": moderation})
        if opened:
            answered.set_cookie("sid", conversation)
        return answered

    def _conversation(request: Request, asked: dict) -> tuple[str | None, bool]:
        """The conversation a question belongs to, and whether it began with it."""
        if settings.remember == "opened":
            ident = str(asked.get("conversation_id"))
            return (ident if ident in settings.conversations else None), False
        keeps = settings.remember == "cookie" or settings.uploads_per_conversation
        if keeps and request.cookies.get("sid") in settings.conversations:
            return request.cookies["sid"], False
        ident = f"c{len(settings.conversations) + 1}"
        settings.conversations[ident] = []
        return ident, keeps

    async def open_conversation(request: Request) -> Response:
        ident = f"c{len(settings.conversations) + 1}"
        settings.conversations[ident] = []
        return JSONResponse({"conversation": {"id": ident}}, 201)

    async def mail(request: Request) -> Response:
        received = [{"id": f"d{i}", "to": "support@shop.example", "body": t, "read": i in settings.read}
                    for i, (_, t) in settings.docs.items()] if settings.mailbox else []
        return JSONResponse({"messages": [*received, *settings.sent]})

    async def chat_page(request: Request) -> Response:
        return HTMLResponse(CHAT_PAGE.replace("__KEY__", KEY).replace("__ENCODES__", json.dumps(settings.page_encodes))
                            .replace("__GREETS__", json.dumps(settings.page_greets)))

    return Starlette(routes=[Route("/chat", chat_page, methods=["GET"]),
                             Route("/api/v1/conversations", open_conversation, methods=["POST"]),
                             Route("/api/v1/mail", mail, methods=["GET"]),
                             Route("/api/v1/documents", ingest, methods=["POST"]),
                             Route("/api/v1/documents", listing, methods=["GET"]),
                             Route("/api/v1/documents/{ident}", remove, methods=["DELETE"]),
                             Route("/api/v1/ask", ask, methods=["POST"])])


CHAT_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Help chat</title></head><body>
<div id="log"></div>
<textarea id="q"></textarea><button id="go">Send</button>
<script>
const ENCODES = __ENCODES__;
const log = document.getElementById("log"), box = document.getElementById("q");
const escape = t => t.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
function render(md) {
  const held = [];
  let text = ENCODES ? md : md.replace(/<button\\b[^>]*data-message="([^"]*)"[^>]*>([\\s\\S]*?)<\\/button>/gi,
    (all, message, label) => { held.push([message, label]); return "\\u0000" + (held.length - 1) + "\\u0000"; });
  text = escape(text);
  if (!ENCODES) {
    text = text.replace(/!\\[([^\\]]*)\\]\\(([^)\\s]+)\\)/g, (all, alt, url) => '<img alt="' + alt + '" src="' + url + '">');
    text = text.replace(/\\u0000(\\d+)\\u0000/g, (all, i) => '<button class="act" data-i="' + i + '">' + escape(held[i][1]) + "</button>");
  }
  const md_box = document.createElement("div");
  md_box.className = "md";
  md_box.innerHTML = text;
  for (const b of md_box.querySelectorAll("button.act")) {  // the message stays in the script
    const message = held[Number(b.dataset.i)][0];
    b.removeAttribute("data-i");
    b.addEventListener("click", () => send(message));
  }
  return md_box;
}
async function send(text) {
  const me = document.createElement("div");
  me.className = "me";
  me.textContent = text;
  log.appendChild(me);
  const r = await fetch("/api/v1/ask", {method: "POST", headers: {"content-type": "application/json", "x-api-key": "__KEY__"},
                                         body: JSON.stringify({question: text})});
  const answer = (await r.json()).data.answer;
  const bot = document.createElement("div");
  bot.className = "bot";
  log.appendChild(bot);
  let shown = "";
  for (const piece of answer.split(/(\\s+)/)) {  // streamed in, as chat pages show an answer
    shown += piece;
    bot.replaceChildren(render(shown));
    await new Promise(done => setTimeout(done, 15));
  }
}
document.getElementById("go").addEventListener("click", () => { const t = box.value; box.value = ""; send(t); });
if (__GREETS__) setTimeout(() => {
  const hello = document.createElement("div");
  hello.className = "bot";
  hello.textContent = "Hello! Ask me about any product.";
  log.appendChild(hello);
}, 400);
</script></body></html>
"""


def page_spec(url: str, *, click: bool = True, outbox: bool = False) -> str:
    """The spec for this app's chat page driven in a browser: planting, cleanup and its mail as over HTTP."""
    mail = f"outbox: {{url: {url}/api/v1/mail, items: messages}}\n" if outbox else ""
    return mail + f"""\
url: {url}/chat
browser:
  input: "#q"
  send: "#go"
  answer: ".bot"
  user: ".me"
  click: {str(click).lower()}
  settle: 0.5
plant:
  url: {url}/api/v1/documents
  headers: {{X-Api-Key: "${{RAG_KEY}}"}}
  form: {{product: "{{product}}"}}
  files: {{file: {{content: "{{document}}", filename: "{{product}}.txt"}}}}
  id: document.id
cleanup:
  url: {url}/api/v1/documents/{{id}}
  method: DELETE
"""


def spec(url: str, *, cleanup: bool = True, read_back: bool = False, signal: str = "flagged", ran: bool = False,
         tools: bool = True, outbox: bool = False, start: bool = False, in_conversation: bool = False,
         pdf: bool = False, context: bool = True) -> str:
    """The `http:` target spec a user would write for this app (as docs/testing.md shows)."""
    text = f"""\
url: {url}/api/v1/ask
headers: {{X-Api-Key: "${{RAG_KEY}}"}}
body: {{question: "{{message}}"{', conversation_id: "{session}"' if start else ''}}}
reply: data.answer
signals: {{APP-IN-03: moderation.{signal}}}
plant:
  url: {url}/api/v1/documents
  headers: {{X-Api-Key: "${{RAG_KEY}}"}}
  form: {{product: "{{product}}"{', conversation_id: "{session}"' if start and in_conversation else ''}}}
  files: {{file: {{content: "{{document}}", filename: "{{product}}.{'pdf", type: "application/pdf' if pdf else 'txt'}"}}}}
  id: document.id
"""
    if in_conversation:
        text += "  in-conversation: true\n"
    if context:
        text += "context: data.sources\n"
    if tools:
        text += "tool-calls: data.actions\n"
    if ran:
        text += "tool-calls-ran: true\n"
    if start:
        text += f"""\
start:
  url: {url}/api/v1/conversations
  id: conversation.id
"""
    if outbox:
        text += f"""\
outbox:
  url: {url}/api/v1/mail
  items: messages
"""
    if cleanup:
        text += f"""\
cleanup:
  url: {url}/api/v1/documents/{{id}}
  method: DELETE
"""
        if start and in_conversation:
            text += '  params: {conversation_id: "{session}"}\n'
    if read_back:
        text += f"""\
read-back:
  url: {url}/api/v1/documents
  method: GET
  params: {{product: "{{product}}"}}
"""
    return text
