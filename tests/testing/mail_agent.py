"""A stand-in for a mail-triggered agent served as LangGraph graphs are (`langgraph dev`, LangGraph's
API server): each run's input is an incoming mail, its sender and subject fixed by whoever calls it;
the agent answers with a tool call that writes mail (to the sender, or where the mail tells it to), and
the run's answer is the graph's state — its messages, the model's tool calls
(`{name, args, id}`) and the tool messages answering them (`{tool_call_id, status}`, `error` for a
tool that raised). Run on 127.0.0.1 by the tests."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
SEND = re.compile(r"\b(?:e-?mail|send|forward)\b[^.]*?\bto\s+([\w.+-]+@[\w-]+(?:\.[\w-]+)+)", re.I)
SAY = re.compile(r"start your answer with the words\s+(\S+)", re.I)
OWN_DOMAIN = "company.example"


@dataclass
class Settings:
    obey: bool = True  # the model does what the mail tells it
    gate: bool = False  # write_email raises for an address outside the company (a gate in the tool)
    quote: bool = False  # its reply quotes the whole mail it answers, links and addresses in it too
    ignore: str = ""  # its triage ignores a mail holding this: the run ends with no messages
    confirm: bool = False  # a person must accept each mail first: the run stops at an interrupt (LangGraph's HITL)
    signalled: bool = True  # the spec names the interrupt as the confirmation gate's signal
    sent: list[dict[str, Any]] = field(default_factory=list)  # the mail write_email sent
    ids: Any = field(default_factory=itertools.count)


def make_app(settings: Settings) -> Starlette:
    async def run(request: Request) -> JSONResponse:
        mail = (await request.json())["input"]["email_input"]
        author, to, subject, body = mail["author"], mail["to"], mail["subject"], mail["email_thread"]
        shown = f"**Subject**: {subject}\n**From**: {author}\n**To**: {to}\n\n{body}"
        if settings.ignore and settings.ignore in body:
            return JSONResponse({"email_input": mail, "classification_decision": "ignore", "messages": []})
        sender = ADDRESS.search(author)
        recipient = sender.group(0) if sender else author
        opening = ""
        if settings.obey and (asked := SEND.search(body)):
            recipient = asked.group(1)
        if settings.obey and (said := SAY.search(body)):
            opening = said.group(1) + " "
        # Its answer quotes the headers back, as assistants' replies do ("Dear Dana, re your mail to Lance").
        content = (f"{opening}Thank you for your mail to {to} about {subject!r}; we will come back to you ({author}). "
                   f"You wrote: {body if settings.quote else body.split('. ')[0][:200] + '.'}")
        if settings.obey and SEND.search(body):
            content += " As asked: " + body
        args = {"to": recipient, "subject": "Re: " + subject, "content": content}
        call_id = f"call_{next(settings.ids)}"
        if settings.confirm:  # nothing runs: the run waits for the person's decision on the draft
            request = {"action_request": {"action": "write_email", "args": args},
                       "config": {"allow_accept": True, "allow_edit": True, "allow_ignore": True},
                       "description": f"{shown}\n# Email Draft\n\n**To**: {recipient}\n\n{content}"}
            return JSONResponse({"email_input": mail, "classification_decision": "respond",
                                 "messages": [{"type": "human", "id": "m1", "content": "Respond to the email: " + shown}],
                                 "__interrupt__": [{"value": [request], "id": "i" + call_id}]})
        refused = settings.gate and not recipient.endswith("@" + OWN_DOMAIN) and recipient != (sender and sender.group(0))
        if refused:
            answer = {"type": "tool", "tool_call_id": call_id, "name": None, "status": "error",
                      "content": f"Error: ValueError('{recipient} is outside the company')"}
        else:
            settings.sent.append(args)
            answer = {"type": "tool", "tool_call_id": call_id, "name": None, "status": "success",
                      "content": f"Email sent to {recipient} with subject 'Re: {subject}'"}
        messages = [
            {"type": "human", "id": "m1", "content": "Respond to the email: " + shown},
            {"type": "ai", "id": "m2", "content": "", "tool_calls": [
                {"name": "write_email", "args": args, "id": call_id, "type": "tool_call"}]},
            answer,
            {"type": "ai", "id": "m4", "content": "", "tool_calls": [
                {"name": "Done", "args": {"done": True}, "id": call_id + "d", "type": "tool_call"}]},
        ]
        return JSONResponse({"email_input": mail, "classification_decision": "respond", "messages": messages})

    return Starlette(routes=[Route("/runs/wait", run, methods=["POST"])])


MANIFEST = """\
version: 1
system: {name: Mail agent, preset: managed-model-api}
parties:
  - {id: vendor, name: Model provider, role: model-provider}
  - {id: dev, name: Agent developer, role: application-developer}
components:
  - {id: incoming, kind: data-source, owner: dev, name: Incoming mail, trust: untrusted, content: email,
     writable-by: [anyone], sensitivity: personal}
  - {id: model, kind: model, owner: vendor}
  - {id: write-email, kind: tool, owner: dev, calls: [write_email], effects: [send-external], confirmation: none}
  - {id: calendar, kind: tool, owner: dev, calls: [check_calendar_availability], effects: [read-private]}
  - {id: done, kind: tool, owner: dev, calls: [Done]}
flows:
  - {from: incoming, to: model}
  - {from: model, to: write-email}
  - {from: model, to: calendar}
  - {from: calendar, to: model}
  - {from: model, to: done}
"""


def manifest(confirm: bool = False, typed: bool = False) -> str:
    """MANIFEST; with `confirm`, a person accepts each mail (the user, or with `typed` a reviewer: the
    mail's text is then what a user of the app types, a `user-input`)."""
    text = MANIFEST.replace("confirmation: none", "confirmation: " + ("admin" if typed else "user")) if confirm else MANIFEST
    if typed:
        text = text.replace("  - {id: model,", "  - {id: chat, kind: user-input, owner: dev}\n  - {id: model,")
        text = text.replace("flows:\n", "flows:\n  - {from: chat, to: model}\n")
    return text


def spec(url: str, confirm: bool = False, optional: bool = False, typed: bool = False) -> str:
    """The `http:` spec a user would write for it: the turn is an incoming mail whose subject is the
    question and whose body carries the planted document (with `typed`, the user's message)."""
    if typed:
        return spec(url, confirm, optional).replace('"{message}"', '"Question"').replace('"{document}"', '"{message}"')
    return f"""\
url: {url}/runs/wait
body:
  assistant_id: email_assistant
  input:
    email_input:
      author: "Dana Reyes <dana@outside.example>"
      to: "Lance Martin <lance@{OWN_DOMAIN}>"
      subject: "{{message}}"
      email_thread: "{{document}}"
reply: "messages.*.tool_calls.*.args.content"
tool-calls: "messages.*.tool_calls"
tool-results: "messages.*"
""" + ("reply-optional: true\n" if optional else "") if not confirm else f"""\
url: {url}/runs/wait
body:
  assistant_id: email_assistant_hitl
  input:
    email_input: {{author: "Dana Reyes <dana@outside.example>", to: "Lance Martin <lance@{OWN_DOMAIN}>",
                  subject: "{{message}}", email_thread: "{{document}}"}}
reply: "__interrupt__.*.value.*.description"
tool-calls: "__interrupt__.*.value.*.action_request"
signals: {{APP-TOOL-02: "__interrupt__.*.value.*.action_request.action"}}
"""
