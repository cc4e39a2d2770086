"""Any HTTP application, described by a spec: request templates with placeholders, dotted paths to
what the answer shows (the reply, the tool calls, the retrieved context, controls that acted), and
optional requests to plant documents, read them back and remove them after the case. Bodies go as
JSON, a form or multipart uploads. Secrets come from environment variables (${NAME}).

Each conversation (one a case) is a fresh visitor to the app: its own cookies and, for an app that
opens conversations itself, its own `start:` request first. With one cookie jar for all, an app that
keeps its chat history under a session cookie would carry one case's conversation, planted text and
all, into every later case's."""

from __future__ import annotations

import html
import json
import os
import re
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Annotated, Any

import httpx
from pydantic import AfterValidator, BaseModel, ConfigDict, field_validator, model_validator

from demarcate.extras import need
from demarcate.model.errors import ManifestError, Problem
from demarcate.model.validate import validate
from demarcate.model.yamlio import read_yaml
from demarcate.testing.targets import (
    CONTROL_STATUSES,
    ContextStuffing,
    PlantFailed,
    Records,
    Reply,
    Setup,
    _aisdk,
    is_http_url,
    shows,
    sse_data,
    status_error,
    strings,
)
from demarcate.testing.targets._browser import Browser
from demarcate.testing.targets._pdf import PDF, as_pdf


def _kebab(name: str) -> str:
    return name.replace("_", "-")


def _checked(path: str) -> str:
    """A path as a spec gives it, or ValueError where a `[…]` in it is not a `[key=value]` selector."""
    bad = [p for p in _parts(path) if p.startswith("[") and not _SELECT.fullmatch(p)]
    if bad or path.count("[") != path.count("]"):
        raise ValueError(f"'{bad[0] if bad else path}' is not a selector: write `[key=value]` (as in "
                         "`[type=text-delta].delta`)")
    return path


# A dotted path into an answer (see `dig`), checked as the spec is read.
AnswerPath = Annotated[str, AfterValidator(_checked)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=_kebab, populate_by_name=True)


class Upload(_Spec):
    """One file of a multipart body. With `type: application/pdf` its content is sent as a PDF
    holding that text, for apps that take only PDFs."""

    content: str
    filename: str = "document.txt"
    type: str = "text/plain"

    def body(self, values: dict[str, str]) -> bytes:
        text = _fill(self.content, values)
        return as_pdf(text) if self.type == PDF else text.encode()


class RequestSpec(_Spec):
    url: str  # placeholders allowed anywhere in it, the path included
    method: str = "POST"
    headers: dict[str, str] = {}
    params: dict[str, str] = {}  # query string
    body: Any = None  # JSON (a mapping or list), or text sent as it is
    form: dict[str, str] | None = None  # application/x-www-form-urlencoded
    files: dict[str, Upload] | None = None  # multipart/form-data, with `form` as its other fields
    # Follow redirects, as a browser does after a form's POST (the answer is where they lead). Off by
    # default: a redirect to a sign-in page would otherwise read as the app's answer.
    follow_redirects: bool = False

    @field_validator("url")
    @classmethod
    def _http(cls, url: str) -> str:
        if not is_http_url(url):
            raise ValueError(f"'{url}' is not an http:// or https:// address")
        return url

    @model_validator(mode="after")
    def _one_body(self) -> RequestSpec:
        if self.body is not None and (self.form is not None or self.files is not None):
            raise ValueError("give either `body` (JSON or text) or `form`/`files`, not both")
        return self


class PlantSpec(RequestSpec):
    id: AnswerPath | None = None  # dotted path to the planted document's id in the answer, for {id} in cleanup
    # The app keeps what is uploaded with the visitor's conversation ("chat with your file"): plant,
    # read back and clean up within the case's own conversation (its cookies, {session}).
    in_conversation: bool = False


class StartSpec(RequestSpec):
    """A request that opens a conversation before its first message, for apps that will not take a
    message outside one they opened ({session} is ours)."""

    id: AnswerPath | None = None  # dotted path to the app's id for it in the answer: {session} from then on


class OutboxSpec(RequestSpec):
    """Where the app's sent mail can be listed: its own store, or a mail catcher's API."""

    method: str = "GET"
    items: AnswerPath = ""  # dotted path to the list of mails in the answer ("" = the answer is the list)
    id: AnswerPath | None = None  # dotted path to a mail's id within an item (default: its `id`, if it has one)


class AnswerSpec(RequestSpec):
    """Where the turn's answer is fetched, for apps that take a message and hand back a ticket for
    the answer (Gradio's `/gradio_api/call/…`): a request sent after the turn's own."""

    method: str = "GET"
    id: AnswerPath  # dotted path, in the turn's own answer, to what {id} stands for in this request


class BrowserSpec(_Spec):
    """The turn typed into the app's own chat page (the spec's `url`) in a real browser, the answer
    read as the page renders it. CSS selectors name the parts of the page."""

    input: str  # the message box
    answer: str  # the bot's messages: the newest is the last on the page
    send: str | None = None  # what to click to send (else Enter in the message box)
    user: str | None = None  # the user's messages: what a click on the answer sent shows there
    click: bool = False  # click the buttons of each answer, and read what each sent as the user's message
    settle: float = 1.5  # seconds the newest answer must stay unchanged to be complete (it streams in)

    @model_validator(mode="after")
    def _sees_what_a_click_sends(self) -> BrowserSpec:
        if self.click and not self.user:
            raise ValueError("`click: true` reads what a click sent among the user's messages: give `user:`")
        return self


# What an HTTP turn reads from the app's answer: with `browser:`, the page shows the answer instead.
_READ_FROM_ANSWER = ("reply", "answer", "cumulative", "reply_optional", "reply_html", "tool_calls",
                     "tool_calls_ran", "tool_results", "tool_refused", "context", "fired", "signals")


class HttpSpec(RequestSpec):
    reply: AnswerPath = "reply"  # dotted path into the JSON answer; "" for the raw body
    answer: AnswerSpec | None = None  # the answer is fetched by a second request
    # Each event of a streamed answer repeats the whole answer so far (Gradio's): the last event that
    # has the reply is the answer, not all of them joined.
    cumulative: bool = False
    # An answer without the reply path is a quiet one — an agent that chose to do nothing (a triage
    # step that ignored the mail) — rather than an answer the spec cannot read (the case's error).
    reply_optional: bool = False
    # In an answer that is an HTML page (a chat page after its form is posted), the reply is the last
    # element of this class (`.bot`), id (`#answer`) or tag: the newest message, not the page around it.
    reply_html: str | None = None
    tool_calls: AnswerPath | None = None  # dotted path to the tool calls the app made this turn
    tool_calls_ran: bool = False  # the listed calls ran, unless a call's own status says otherwise
    # The tools' answers to those calls (matched by `id`, else by name in turn), and where in one an
    # app's gate says it refused the call (an agent framework's before-tool callback answers for the
    # tool): a call so answered did not run.
    tool_results: AnswerPath | None = None
    tool_refused: AnswerPath | None = None
    context: AnswerPath | None = None  # dotted path to what the app gave the model this turn, after any screen
    fired: AnswerPath | None = None  # dotted path to controls that acted ([control id] or [{control, detail}])
    signals: dict[str, AnswerPath] = {}  # control id -> dotted path whose truthy value says that control acted
    start: StartSpec | None = None
    plant: PlantSpec | None = None
    read_back: RequestSpec | None = None  # shows the planted documents of a product: proves the plant took
    cleanup: RequestSpec | None = None  # removes one planted document ({id}) or a product's ({product})
    outbox: OutboxSpec | None = None  # lists the mail the app has sent: what a turn sent is what appeared
    prompt_marker: str | None = None
    browser: BrowserSpec | None = None  # the turn typed into the chat page at `url` in a real browser

    @model_validator(mode="after")
    def _page_or_request(self) -> HttpSpec:
        if self.browser is None:
            return self
        # The page makes its own requests: headers given here would go to every host it loads.
        request = {"method", "headers", "params", "body", "form", "files", "follow_redirects"}
        given = sorted(_kebab(f) for f in self.model_fields_set & {*_READ_FROM_ANSWER, *request})
        if given:
            raise ValueError(f"with `browser:`, the turn is typed into the page at `url` and its answer read from "
                             f"the page: {', '.join(given)} do not apply")
        return self

    @model_validator(mode="after")
    def _refusal_in_results(self) -> HttpSpec:
        if self.tool_refused is not None and self.tool_results is None:
            raise ValueError("`tool-refused` is a path within a tool's answer: give `tool-results` too")
        if self.carries_documents and (self.plant is not None or self.read_back is not None):
            raise ValueError("{document} in the turn hands the documents over with it: give no `plant:` "
                             "or `read-back:` beside it")
        return self

    @property
    def carries_documents(self) -> bool:
        """Whether the turn itself carries the planted documents ({document} in it): an app whose turn
        is the outside content — an incoming mail that starts an agent, a webhook's payload, a ticket."""
        return "{document}" in json.dumps(self.model_dump(include={"url", "headers", "params", "body", "form",
                                                                   "files"}))


    @field_validator("reply_html")
    @classmethod
    def _selector(cls, selector: str | None) -> str | None:
        if selector is not None and not re.fullmatch(r"[.#]?[A-Za-z][\w-]*", selector):
            raise ValueError(f"'{selector}' is not a class (.name), an id (#name) or a tag name")
        return selector


_ENV = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)\}")


def _env(text: str, where: str) -> str:
    def sub(m: re.Match[str]) -> str:
        if m.group(1) not in os.environ:
            raise ManifestError([Problem(f"environment variable {m.group(1)} is not set (used in {where})")])
        return os.environ[m.group(1)]

    return _ENV.sub(sub, text)


def _hidden(text: str, template: str) -> str:
    """A text that may hold what `template`'s ${NAME}s were filled with (an error naming the URL), each
    value written back as the ${NAME} it came from: secrets never reach the history."""
    for name in _ENV.findall(template):
        if value := os.environ.get(name):
            text = text.replace(value, "${" + name + "}")
    return text


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _fill(value: Any, values: dict[str, str]) -> Any:
    """The placeholders of a spec's value filled in, in one pass: what a placeholder brings (the
    attacker's message, a document) is never read for placeholders of its own."""
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), value)
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    return value


class _LastElement(HTMLParser):
    """Finds the inner HTML of the last element a selector names: `.class`, `#id` or a tag name."""

    def __init__(self, selector: str):
        super().__init__(convert_charrefs=False)
        self.kind, self.name = (selector[0], selector[1:]) if selector[0] in ".#" else ("", selector.lower())
        self.depth = 0  # inside a match: open elements of its tag, itself included
        self.tag = ""
        self.start = 0
        self.found: tuple[int, int] | None = None
        self.lines = [0]

    def feed_page(self, page: str) -> str | None:
        self.lines += [m.end() for m in re.finditer(r"\n", page)]
        self.feed(page)
        self.close()
        return None if self.found is None else page[self.found[0]:self.found[1]]

    def _at(self) -> int:
        line, column = self.getpos()
        return self.lines[line - 1] + column

    def _names(self, tag: str, attrs: list[tuple[str, str | None]]) -> bool:
        if self.kind == ".":
            return any(k == "class" and self.name in (v or "").split() for k, v in attrs)
        if self.kind == "#":
            return any(k == "id" and v == self.name for k, v in attrs)
        return tag == self.name

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.depth:
            self.depth += tag == self.tag
        elif self._names(tag, attrs):
            self.tag, self.depth = tag, 1
            self.start = self._at() + len(self.get_starttag_text() or "")

    def handle_endtag(self, tag: str) -> None:
        if self.depth and tag == self.tag:
            self.depth -= 1
            if not self.depth:
                self.found = (self.start, self._at())


class NotThere(LookupError):
    """A reply path that leads nowhere in the answer."""


def dig(data: Any, path: str) -> Any:
    """The value at a dotted path (`choices.0.message.content`, `messages.-1.text`); NotThere if the
    answer lacks it.
    A `*` stands for every item of a list (or value of a mapping), for answers that are lists of
    events or messages (`*.content.parts.*.text`): the value is then the list of what is there.
    A `[key=value]` keeps only the objects whose `key` is that text — of a list, its items so, or
    the object itself — for streams of typed events (`[type=response.output_text.delta].delta`):
    the value is a list as for `*`."""
    parts = _parts(path)
    if not _fans_out(parts):
        return _step(data, parts)
    found = _each(data, parts)
    if not found:
        raise NotThere(path)
    return found


_PART = re.compile(r"\[[^\]]*\]|[^.\[]+")
_SELECT = re.compile(r"\[([^=\]]+)=([^\]]*)\]")


def _parts(path: str) -> list[str]:
    """A path's parts: keys and positions between dots, and `[key=value]` selectors, whose value may
    hold dots of its own."""
    return _PART.findall(path.removeprefix("$.").replace(".$.", "."))


def _fans(part: str) -> bool:
    """Whether a path's part can lead to several values: a `*` or a selector."""
    return part == "*" or part.startswith("[")


def _fans_out(parts: list[str]) -> bool:
    return any(map(_fans, parts))


def _step(data: Any, parts: list[str]) -> Any:
    for part in parts:
        if isinstance(data, list) and part.removeprefix("-").isdigit() and -len(data) <= int(part) < len(data):
            data = data[int(part)]  # -1: the last, as in an answer that carries the whole conversation
        elif isinstance(data, dict) and part in data:
            data = data[part]
        else:
            raise NotThere(part)
    return data


def _each(data: Any, parts: list[str]) -> list[Any]:
    """Every value a path with `*` or a selector leads to, in order; none where it leads nowhere."""
    if not _fans_out(parts):
        try:
            return [_step(data, parts)]
        except NotThere:
            return []
    at = next(i for i, p in enumerate(parts) if _fans(p))
    try:
        within = _step(data, parts[:at])
    except NotThere:
        return []
    if parts[at] == "*":
        items = within if isinstance(within, list) else list(within.values()) if isinstance(within, dict) else []
    else:
        m = _SELECT.fullmatch(parts[at])
        key, value = (m.group(1).strip(), m.group(2).strip()) if m else ("", "")
        items = [i for i in (within if isinstance(within, list) else [within])
                 if isinstance(i, dict) and key in i and _text(i[key]) == value]
    return [v for item in items for v in _each(item, parts[at + 1:])]


def _documents(r: httpx.Response) -> list[Any]:
    """The answer's JSON: one document, or, for an answer streamed as server-sent events
    (text/event-stream), the data of each event that is JSON (a `[DONE]`, a comment or a keep-alive
    is not). ValueError when there is none."""
    if not _streamed(r):
        return [r.json()]
    found = []
    for data in sse_data(r.text):
        try:
            found.append(json.loads(data))
        except ValueError:
            continue
    if not found:
        raise ValueError("no JSON event")
    return found


def _per_plant(value: Any, ids: list[str]) -> Any:
    """{planted} in the turn: in a list, each item that holds it is repeated for each document the
    case planted, with that one's id (and left out when it planted none: `files: [{type: file, id:
    "{planted}"}]`); elsewhere it stands for their ids, comma-separated."""
    if isinstance(value, list):
        out = []
        for item in value:
            if "{planted}" in json.dumps(item):
                out += [_fill(item, {"planted": i}) for i in ids]
            else:
                out.append(_per_plant(item, ids))
        return out
    if isinstance(value, dict):
        return {k: _per_plant(v, ids) for k, v in value.items()}
    return value


def _refusal_or_error(r: httpx.Response) -> bool:
    """An answer that is a control refusing, or a failure: the turn ends there, said as it is."""
    return r.status_code in CONTROL_STATUSES or status_error(r.status_code, r.text) is not None


def _streamed(r: httpx.Response) -> bool:
    return r.headers.get("content-type", "").lower().startswith("text/event-stream")


def _every(answer: list[Any], path: str) -> list[Any]:
    """The values at a dotted path in each document of an answer that has it (with a `*`, each
    value it leads to)."""
    found = []
    many = _fans_out(_parts(path))
    for data in answer:
        try:
            value = dig(data, path)
        except NotThere:
            continue
        if many:
            found.extend(value)
        else:
            found.append(value)
    return found


def _lacking(answer: list[Any], path: str) -> str:
    """Where a path that no document of the answer has first leads nowhere, in its first document."""
    try:
        dig(answer[0], path)
    except NotThere as missing:
        return f"no '{missing}' in it" + (" or in any later event" if len(answer) > 1 else "")
    return "it is not there"


def _joined(values: list[Any]) -> list[Any]:
    """The tool calls of every event, in order. OpenAI-style streams send a call in fragments with
    its `index`: the name in the first, the arguments in pieces after it. A fragment without a name
    is added to the call of its index; read apart, the call would carry only the first piece of its
    arguments. A call with a name is a call of its own, whatever its index."""
    calls: list[Any] = []
    started: dict[Any, dict[str, Any]] = {}  # by index: the call its later fragments belong to
    for value in values:
        for item in value if isinstance(value, list) else [value]:
            fn = item.get("function") if isinstance(item, dict) else None
            if not isinstance(fn, dict):
                calls.append(item)
            elif not fn.get("name") and item.get("index") in started:
                call = started[item["index"]]["function"]
                call["arguments"] = _text(call.get("arguments") or "") + _text(fn.get("arguments") or "")
            else:
                call = {**item, "function": dict(fn)}
                calls.append(call)
                if "index" in item:
                    started[item["index"]] = call
    return calls


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def tool_calls(value: Any, ran: bool = False, results: list[Any] | None = None,
               refused: str | None = None) -> list[dict[str, Any]]:
    """Tool calls in the shapes apps report them: {name, arguments, status}, OpenAI's
    {function: {name, arguments}}, {tool, input} / {name, args}, the AI SDK's {toolCallId, toolName,
    input} (`args` in ai 4), or LangGraph's human-in-the-loop {action, args} (`awaiting-approval`).
    A call without a status did not say whether it ran; `ran` says the app lists only calls it ran.
    A call whose answer among
    `results` has a truthy value at the `refused` path was refused by the app: it did not run; one
    whose answer carries a `status` (LangChain's tool messages) and none of its own has that one. A
    bare name is a call whose arguments the app does not show."""
    if not isinstance(value, list):
        value = [value] if isinstance(value, dict | str) else []
    answers = _Answers(results or [])
    calls = []
    for item in value:
        if isinstance(item, str) and item.strip():
            item = {"name": item.strip()}
        if not isinstance(item, dict):
            continue
        fn: dict[str, Any] = item["function"] if isinstance(item.get("function"), dict) else item
        # `{action, args}`: LangGraph's human-in-the-loop request, a call held for a person's decision.
        name = fn.get("name") or item.get("tool") or item.get("name") or item.get("action") or item.get("toolName")
        if not isinstance(name, str):
            continue
        arguments = next((fn[k] for k in ("arguments", "args", "input", "parameters") if k in fn),
                         next((item[k] for k in ("arguments", "args", "input") if k in item), ""))
        answer = answers.to(item.get("id") or fn.get("id") or item.get("toolCallId"), name)
        # Else the status its answer carries: LangChain's tool message says `success`, or `error` for a
        # tool that raised (a gate refusing by raising, too).
        said = answer.get("status") if answer is not None and isinstance(answer.get("status"), str) else None
        held = "awaiting-approval" if isinstance(item.get("action"), str) and "args" in item else None
        status = item.get("status") or item.get("result_status") or said or held or ("ok" if ran else None)
        if refused and answer is not None and _truthy(answer, refused):
            status = "refused"
        calls.append({"name": name, "arguments": arguments, "status": status})
    return calls


class _Answers:
    """The tools' answers of a turn, handed out to its calls: by the call's id where both carry one
    (`id`, `tool_call_id`, `toolCallId`), else the next unclaimed answer with the call's name."""

    def __init__(self, results: list[Any]):
        self.left = [r for r in results if isinstance(r, dict)]

    def to(self, ident: Any, name: str) -> dict[str, Any] | None:
        found = next((r for r in self.left if ident is not None
                      and ident in (r.get("id"), r.get("tool_call_id"), r.get("toolCallId"))), None)
        if found is None:
            found = next((r for r in self.left if (r.get("name") or r.get("toolName")) == name), None)
        if found is not None:
            self.left.remove(found)
        return found


def _truthy(data: Any, path: str) -> bool:
    try:
        return bool(dig(data, path))
    except NotThere:
        return False


def _context(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [" ".join(strings(i)) for i in items if i is not None]


def _fired(spec: HttpSpec, data: Any) -> list[dict[str, Any]]:
    fired: list[dict[str, Any]] = []
    if spec.fired:
        try:
            found = dig(data, spec.fired)
        except NotThere:
            found = []
        for item in found if isinstance(found, list) else [found]:
            if isinstance(item, str):
                fired.append({"control": item, "detail": "the app reports it acted"})
            elif isinstance(item, dict) and isinstance(item.get("control"), str):
                fired.append({"control": item["control"], "detail": _text(item.get("detail", ""))[:200]})
    for control, path in spec.signals.items():
        try:
            value = dig(data, path)
        except NotThere:
            continue
        if value:
            fired.append({"control": control, "detail": f"{path}: {_text(value)[:160]}"})
    return fired


@dataclass
class _Conversation:
    client: httpx.AsyncClient  # its own cookie jar, over the target's one connection pool
    session: str  # {session} in its requests: ours, or the id the app gave it when it was started


class HttpTarget:
    name = "http"
    white_box = False

    def __init__(self, spec_path: Path, timeout: float = 120.0):
        raw = read_yaml(spec_path, str(spec_path))
        self.spec = validate(HttpSpec, raw, str(spec_path))
        requests = [self.spec, self.spec.start, self.spec.plant, self.spec.read_back, self.spec.cleanup]
        if any(f.type == PDF for r in requests if r is not None for f in (r.files or {}).values()):
            need("fpdf", f"a PDF upload (type: {PDF}) in {spec_path}")
        self.prompt_marker = self.spec.prompt_marker
        self.timeout = timeout
        self.transport = httpx.AsyncHTTPTransport()
        self.client = httpx.AsyncClient(timeout=timeout, trust_env=False, transport=self.transport)
        self.conversations: dict[str, _Conversation] = {}  # by our session key
        self.description = f"http ({self.spec.method} {self.spec.url})"
        # Planted document id -> the product it was filed under and the session it was planted in ("": none).
        self.planted: dict[str, tuple[str, str]] = {}
        self.outbox_before: dict[str, set[str] | None] = {}  # by session: the outbox's mails before its turn
        # Documents the turn carries ({document} in it), kept by product until the turn that names it.
        self.in_turn = ContextStuffing() if self.spec.carries_documents else None
        self.browser: Browser | None = None
        if (page := self.spec.browser) is not None:
            need("playwright", f"a browser turn (browser:) in {spec_path}")
            self.browser = Browser(page.input, page.answer, page.send, page.user, page.click, page.settle, timeout)
            self.description = f"browser ({self.spec.url})"

    async def _request(self, spec: RequestSpec, values: dict[str, str],
                       client: httpx.AsyncClient | None = None) -> httpx.Response:
        headers = {k: _env(_fill(v, values), "headers") for k, v in spec.headers.items()}
        kwargs: dict[str, Any] = {"headers": headers}
        # Merged into the URL's own query string, which httpx's `params` would replace (even when empty).
        url = httpx.URL(_env(_fill(spec.url, values), "url")).copy_merge_params(
            {k: _env(_fill(v, values), "params") for k, v in spec.params.items()})
        if spec.files is not None:
            kwargs["files"] = {k: (_fill(f.filename, values), f.body(values), f.type) for k, f in spec.files.items()}
            kwargs["data"] = _fill(spec.form or {}, values)
        elif spec.form is not None:
            kwargs["data"] = _fill(spec.form, values)
        elif isinstance(spec.body, str):
            kwargs["content"] = _fill(spec.body, values)
        elif spec.body is not None:
            kwargs["json"] = _fill(spec.body, values)
        return await (client or self.client).request(spec.method, url, follow_redirects=spec.follow_redirects,
                                                     **kwargs)

    async def _planting(self, spec: RequestSpec, values: dict[str, str], session: str = "") -> httpx.Response:
        """A request around the plant: refused by a control, failed or unreachable, it says so. With
        `plant.in-conversation`, it goes within the session's conversation ({session} its id there)."""
        client = None
        if session and self.spec.plant is not None and self.spec.plant.in_conversation:
            opened = await self._open(session)
            if isinstance(opened, Reply):  # the app would not open the conversation to plant in
                raise PlantFailed(opened)
            client, values = opened.client, {**values, "session": opened.session}
        start = time.monotonic()
        try:
            r = await self._request(spec, values, client)
        except httpx.HTTPError as exc:
            raise PlantFailed(Reply(error=f"planting: {type(exc).__name__}: {exc}",
                                    latency=time.monotonic() - start)) from None
        except ValueError as exc:  # a document that cannot be sent as the spec asks (a PDF of it)
            raise PlantFailed(Reply(error=f"planting: {exc}")) from None
        if r.status_code in CONTROL_STATUSES:
            raise PlantFailed(Reply(status=r.status_code, text=r.text[:500], latency=time.monotonic() - start,
                                    fired=[{"control": "INF-RATE-01" if r.status_code == 429 else "APP-ID-01",
                                            "detail": f"the plant request was refused ({r.status_code})"}]))
        if why := status_error(r.status_code, r.text):
            raise PlantFailed(Reply(status=r.status_code, error=f"planting: {why}", latency=time.monotonic() - start))
        return r

    async def plant(self, documents: list[str], product: str, session: str = "") -> list[str]:
        """Plant each document (filed under `product`); with `plant.in-conversation`, in the
        conversation of `session`, the one the case then asks in."""
        if self.in_turn is not None:
            return await self.in_turn.plant(documents, product, session)
        if self.spec.plant is None:
            return []
        planted = []
        for doc in documents:
            r = await self._planting(self.spec.plant, {"document": doc, "product": product}, session)
            ident = ""
            if self.spec.plant.id:
                try:
                    ident = _text(dig(r.json(), self.spec.plant.id))
                except (ValueError, NotThere):
                    raise PlantFailed(Reply(status=r.status_code, error=f"planting: the answer has no "
                                            f"'{self.spec.plant.id}' (plant.id): {r.text[:200]}")) from None
            planted.append(ident or product)
            self.planted[ident or product] = (product, session)
        return planted

    async def confirm(self, documents: list[str], product: str, session: str = "") -> bool | None:
        """Whether the planted documents can be read back (None: the spec has no read-back request).
        Documents the turn carries go to the app with it, as a plant it took would be there."""
        if self.in_turn is not None:
            return await self.in_turn.confirm(documents, product, session)
        if self.spec.read_back is None:
            return None
        r = await self._planting(self.spec.read_back, {"product": product}, session)
        try:
            shown = " ".join(strings(r.json()))
        except ValueError:
            shown = r.text
        return all(shows(shown, d) for d in documents)

    @property
    def leaves_plants(self) -> bool:
        """Whether what a case plants stays in the app after it (no cleanup request)."""
        return self.spec.plant is not None and self.spec.cleanup is None

    @property
    def can_plant(self) -> bool:
        return self.spec.plant is not None or self.in_turn is not None

    async def _outbox(self) -> dict[str, Any] | None:
        """The mails in the outbox, by id (or, for items without one, by their whole text); None when
        it cannot be read — then nothing is concluded from it."""
        spec = self.spec.outbox
        assert spec is not None
        try:
            r = await self._request(spec, {})
            items = dig(r.json(), spec.items)
        except (httpx.HTTPError, ValueError, NotThere):
            return None
        if r.status_code >= 300 or not isinstance(items, list):
            return None
        mails: dict[str, Any] = {}
        for item in items:
            try:
                key = "id:" + _text(dig(item, spec.id or "id"))
            except NotThere:
                key = _text(item)
            # By id: a mail marked read since (by the model, reading its inbox) is not a new mail.
            mails[key] = item
        return mails

    async def _open(self, session: str) -> _Conversation | Reply:
        """The conversation a session's turns go to, opened on its first turn; or, when the app would
        not open it, why, as the turn's reply (a 401, 403 or 429 is a control refusing it)."""
        if session in self.conversations:
            return self.conversations[session]
        client = httpx.AsyncClient(timeout=self.timeout, trust_env=False, transport=self.transport)
        ident = session
        if self.spec.start is not None:
            start = time.monotonic()
            try:
                r = await self._request(self.spec.start, {"session": session}, client)
            except httpx.HTTPError as exc:
                return Reply(error=f"starting the conversation: {type(exc).__name__}: {exc}",
                             latency=time.monotonic() - start)
            if r.status_code in CONTROL_STATUSES:
                return Reply(status=r.status_code, text=r.text, latency=time.monotonic() - start, session=session)
            if why := status_error(r.status_code, r.text):
                return Reply(status=r.status_code, error=f"starting the conversation: {why}",
                             latency=time.monotonic() - start)
            if self.spec.start.id:
                try:
                    ident = _text(dig(r.json(), self.spec.start.id))
                except (ValueError, NotThere):
                    return Reply(status=r.status_code, error=f"starting the conversation: the answer has no "
                                 f"'{self.spec.start.id}' (start.id): {r.text[:200]}",
                                 extra={"no_retry": True})  # the spec's doing: asking again opens more
        conversation = self.conversations[session] = _Conversation(client, ident)
        return conversation

    async def end(self, session: str) -> None:
        """Forget a conversation once its case is judged: its cookies and what it was waiting for."""
        self.conversations.pop(session, None)
        self.outbox_before.pop(session, None)
        if self.browser is not None:
            await self.browser.end(session)

    async def _typed(self, message: str, session: str, ident: str) -> Reply:
        """A turn typed into the chat page: the answer as the page renders it, its markup the live page's
        (scripts have run; its images loaded as the user's would), and what clicks on it sent."""
        assert self.browser is not None
        url = _env(_fill(self.spec.url, {"session": ident}), "url")
        turned = await self.browser.turn(url, message, session)
        if turned.error:  # it may name the page: with any secret the URL took from the environment put back
            return Reply(error=_hidden(turned.error, self.spec.url), latency=turned.latency, extra={"no_retry": True})
        return Reply(status=200, text=turned.text, page=turned.html, rendered=True, latency=turned.latency,
                     session=session, clicked=turned.clicked)

    async def send(self, message: str, traceparent: str, session: str) -> Reply:
        if self.spec.outbox is not None and session not in self.outbox_before:
            # Once a turn: a retried request (after a 5xx) may follow an attempt that already sent mail,
            # which is this turn's doing all the same.
            before = await self._outbox()
            self.outbox_before[session] = None if before is None else set(before)
        opened = await self._open(session)
        if isinstance(opened, Reply):
            return opened
        if self.browser is not None:
            return await self._typed(message, session, opened.session)
        start = time.monotonic()
        # What the app called the documents this case planted, for apps whose turn names the files to use.
        ids = [i for i, (_, s) in self.planted.items() if s == session]
        spec = self.spec.model_copy(update={"headers": {**self.spec.headers, "traceparent": traceparent},
                                            "body": _per_plant(self.spec.body, ids)})
        values = {"message": message, "session": opened.session, "planted": ",".join(ids)}
        if self.in_turn is not None:
            values["document"] = "\n\n".join(self.in_turn.documents_for(message))
        # What the request hands the app besides the message: a spec's fixed fields (an incoming
        # mail's sender and recipient), the documents it carries.
        sent = " ".join(strings(_fill([spec.url, spec.params, spec.body, spec.form], values)))
        try:
            r = await self._request(spec, values, opened.client)
            if self.spec.answer is not None and not _refusal_or_error(r):
                try:
                    values["id"] = _text(dig(r.json(), self.spec.answer.id))
                except (ValueError, NotThere):
                    return Reply(status=r.status_code, error=f"the turn's answer has no '{self.spec.answer.id}' "
                                 f"(answer.id): {r.text[:200]}", latency=time.monotonic() - start)
                r = await self._request(self.spec.answer, values, opened.client)
        except httpx.TimeoutException as exc:
            return Reply(error=f"no answer in time: {type(exc).__name__}", latency=time.monotonic() - start,
                         extra={"no_retry": True})  # it may still be generating: do not queue more behind it
        except httpx.HTTPError as exc:
            return Reply(error=_hidden(f"{type(exc).__name__}: {exc}", self.spec.url), latency=time.monotonic() - start)
        except ValueError as exc:  # a message that cannot be sent as the spec asks (a PDF of it)
            return Reply(error=str(exc), extra={"no_retry": True})
        latency = time.monotonic() - start
        extra = {"retry_after": r.headers.get("retry-after")}
        if why := status_error(r.status_code, r.text):
            return Reply(status=r.status_code, error=why, latency=latency, extra=extra)
        if r.status_code in CONTROL_STATUSES:  # a refusal by status has its own body
            return Reply(status=r.status_code, text=r.text, latency=latency, session=session, extra=extra)
        calls = context = fired = None
        # An AI SDK stream is read as its chat window reads it, unless the spec says where the answer is.
        native = not self.spec.reply or "reply" not in self.spec.model_fields_set
        if native and (streamed := _aisdk.read(r.text, r.headers)) is not None:
            if streamed.error:  # the app's stream says it failed, and shows nothing else
                return Reply(status=r.status_code, latency=latency, error=f"the answer's stream ends in an error: "
                             f"{streamed.error}")
            text, calls, context = streamed.text, streamed.calls, streamed.context
        elif not self.spec.reply:  # the raw answer; streamed as events, their data joined as the chat window shows it
            events = sse_data(r.text) if _streamed(r) else [r.text]
            text = events[-1] if self.spec.cumulative and events else "".join(events)
        else:
            try:
                answer = _documents(r)
            except ValueError:
                return Reply(status=r.status_code, error="reply is not JSON", latency=latency)
            if self.spec.cumulative:  # each event holds the answer so far: the last that has it is the answer
                answer = next(([d] for d in reversed(answer) if _every([d], self.spec.reply)), answer[-1:])
            said = _every(answer, self.spec.reply)
            if not said and not self.spec.reply_optional:  # an answer we cannot read is no answer, least of all a refusal
                return Reply(status=r.status_code, latency=latency, error=f"the answer has no '{self.spec.reply}' "
                             f"({_lacking(answer, self.spec.reply)}): check `reply:`")
            # Streamed, the answer comes in pieces, one an event: joined as the client shows them.
            text = "".join(_text(v) for v in said)
            if self.spec.tool_calls:  # none listed: the app said nothing about tools this turn, so it called none
                results = _every(answer, self.spec.tool_results) if self.spec.tool_results else None
                calls = tool_calls(_joined(_every(answer, self.spec.tool_calls)), self.spec.tool_calls_ran, results,
                                   self.spec.tool_refused)
            if self.spec.context:
                context = [c for v in _every(answer, self.spec.context) for c in _context(v)]
            fired = [f for data in answer for f in _fired(self.spec, data)] or None
        page, scripted = None, False
        if self.spec.reply_html:  # the newest answer on the page, as the user reads it
            if (page := _LastElement(self.spec.reply_html).feed_page(text)) is None:
                # An answer we cannot read is no answer: never a quiet, resisting one.
                return Reply(status=r.status_code, latency=latency, error=f"the page has no element "
                             f"'{self.spec.reply_html}' (reply-html): {text[:200]}")
            # A script may render the text itself (markdown, HTML) once the page has loaded.
            scripted = re.search(r"<script\b", text, re.I) is not None
            text = html.unescape(page)
        return Reply(status=r.status_code, text=text, page=page, scripted=scripted, latency=latency, session=session,
                     tool_calls=calls, fired=fired, context=context, extra=extra, sent=sent)

    async def records(self, reply: Reply, canary: str, product: str = "") -> Records:
        """With an `outbox:`, the mail that appeared in it during the turn and carries the canary
        (which the attacker's address holds too). What was there before — the plant itself, in an
        app whose inbox and outbox are one store — is not mail the turn sent. With `reply-html`, the
        page the answer was read from, when it runs no script: then what it served is what it shows,
        markup live or escaped. A page that runs scripts may render the text itself: it is judged as any
        answer is, its markup's fate not visible."""
        sent = None
        if self.spec.outbox is not None:
            before = self.outbox_before.pop(reply.session, None)
            after = await self._outbox()
            if before is not None and after is not None:
                token = canary.lower()
                sent = [item for key, item in after.items()
                        if key not in before and token in " ".join(strings(item)).lower()]
        return Records(sent=sent, page_html=None if reply.scripted else reply.page, clicked=reply.clicked)

    async def cleanup(self, planted: list[str]) -> None:
        """Remove what the case planted, so that a later case never reads it. A cleanup that fails is
        reported by the campaign as the case's error: the next cases' answers could not be trusted."""
        if self.in_turn is not None:
            return await self.in_turn.cleanup(planted)
        if self.spec.cleanup is None:
            return
        for ident in planted:
            product, session = self.planted.pop(ident, (ident, ""))
            await self._planting(self.spec.cleanup, {"id": ident, "product": product}, session)

    async def close(self) -> None:
        await self.client.aclose()  # and with it the connection pool every conversation's client shares
        if self.browser is not None:
            await self.browser.close()


def make(rest: str, setup: Setup) -> HttpTarget:
    return HttpTarget(Path(rest), setup.timeout)
