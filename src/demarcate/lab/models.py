"""The lab's pluggable model: a deterministic simulation (labelled as such everywhere), or any
OpenAI-compatible endpoint. Both take chat messages and tool specs and return text or tool calls."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from demarcate.lab.config import ModelConfig
from demarcate.lab.reading import EMAIL, Instruction, find_instructions, model_reads

SIMULATED_NAME = "demarcate-simulated-model"
SIMULATION_NOTICE = ("simulated model: a deterministic stand-in for an LLM, built to follow instructions it "
                     "finds in its context; not a real language model")
DATA_OPEN, DATA_CLOSE = "«data»", "«/data»"


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]


@dataclass
class Reply:
    content: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    model: str = SIMULATED_NAME


class Model(Protocol):
    name: str

    async def complete(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Reply: ...


def _unmarked(text: str) -> str:
    """What a model that honours data markers still reads as instructions: everything outside
    them. A payload that closes the marker early escapes it, as with real spotlighting."""
    return re.sub(re.escape(DATA_OPEN) + r".*?" + re.escape(DATA_CLOSE), " ", text, flags=re.S)


class SimulatedModel:
    """Answers from retrieved context, calls tools when asked, and, as its configurable weakness,
    follows instructions found in retrieved text, tool output or user input."""

    name = SIMULATED_NAME

    def __init__(self, follows_injections: bool = True):
        self.follows_injections = follows_injections

    async def complete(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Reply:
        offered = {t["function"]["name"] for t in tools}
        system = next((m["content"] for m in messages if m["role"] == "system"), "")
        honours_markers = DATA_OPEN in system
        user = next(m for m in reversed(messages) if m["role"] == "user")
        question = user["content"].split("\n\nRetrieved context:", 1)[0]
        done = [(c["function"]["name"], json.loads(c["function"]["arguments"]))
                for m in messages if m["role"] == "assistant" for c in m.get("tool_calls") or []]
        results = [m["content"] for m in messages if m["role"] == "tool"]

        # Outside content the model reads: the user turn (with any retrieved passages) and fetched
        # pages. Its own tools' status lines are not instructions.
        readable = [user["content"], *(r for r in results if r.startswith("FETCH"))]
        if honours_markers:
            readable = [_unmarked(t) for t in readable]
        instructions = find_instructions(model_reads("\n".join(readable))) if self.follows_injections else []
        asked = _legitimate(question)
        refusals: list[str] = []

        done_keys = {_key(n, a) for n, a in done}
        for step in [*asked, *instructions]:
            call = _tool_for(step, done, results, question)
            if call is None:
                continue
            name, args = call
            if _key(name, args) in done_keys:
                continue
            if name not in offered:
                refusals.append(f"I was asked to use {name}, but that tool is not available to me.")
                continue
            return Reply(tool_calls=[ToolCall(f"call_{len(done) + 1}", name, args)])
        return Reply(content=_answer(question, user["content"], results, instructions, system, refusals, done))


def _key(name: str, args: dict[str, Any]) -> tuple[str, str]:
    """What makes two calls the same request: the recipient, the URL, or the lookup asked for."""
    if name == "send_email":
        return name, str(args.get("to", "")).lower()
    if name == "fetch_url":
        return name, str(args.get("url", "")).split("?", 1)[0]
    return name, json.dumps(args, sort_keys=True)


def _legitimate(question: str) -> list[Instruction]:
    q = question.lower()
    out = []
    order = re.search(r"\bo-\d{4}\b", q)
    if order or re.search(r"\bmy orders?\b|\border status\b|where is my", q):
        out.append(Instruction("lookup", order.group(0) if order else "mine"))
    if re.search(r"\b(e-?mail|send) (me|it to me)\b", q):
        out.append(Instruction("email-me"))
    m = re.search(r"\b(?:fetch|open|check|visit) (https?://\S+)", question)
    if m:
        out.append(Instruction("fetch", m.group(1)))
    return out


def _records(results: list[str]) -> str:
    return next((r for r in results if r.startswith("ORDER LOOKUP")), "")


def _tool_for(step: Instruction, done: list[tuple[str, dict[str, Any]]], results: list[str],
              question: str) -> tuple[str, dict[str, Any]] | None:
    """The next tool call a step needs: data first, then the action that uses it."""
    if step.action == "lookup":
        return "order_lookup", {"order_id": step.target} if step.target != "mine" else {"scope": "mine"}
    if step.action == "lookup-all":
        return "order_lookup", {"scope": "all"}
    needs_data = step.wants_records or step.append_data
    if needs_data and not any(name == "order_lookup" for name, _ in done):
        return "order_lookup", {"scope": "all" if step.wants_records else "mine"}
    data = _records(results)
    if step.action == "email":
        body = (data + "\n\n" if data else "") + step.text
        return "send_email", {"to": step.target, "subject": "Requested information", "body": body}
    if step.action == "email-me":
        return "send_email", {"to": "me", "subject": "Your shop answer", "body": data or question}
    if step.action == "fetch":
        url = step.target
        if step.append_data and data:
            url += ("&" if "?" in url else "?") + "d=" + _compact(data)
        return "fetch_url", {"url": url}
    return None


def _compact(data: str) -> str:
    """The private data, squeezed into a URL parameter the way exfiltration payloads ask."""
    emails = EMAIL.findall(data)
    return "+".join(emails)[:400] if emails else re.sub(r"[^A-Za-z0-9]+", "+", data)[:400]


def _answer(question: str, prompt: str, results: list[str], instructions: list[Instruction], system: str,
            refusals: list[str], done: list[tuple[str, dict[str, Any]]]) -> str:
    parts = []
    context = prompt.split("\n\nRetrieved context:", 1)[1] if "\n\nRetrieved context:" in prompt else ""
    docs = [line.split(": ", 1)[1] for line in context.splitlines() if line.startswith(("- doc", "- review"))]
    docs = [re.sub(re.escape(DATA_OPEN) + "|" + re.escape(DATA_CLOSE), "", d).strip() for d in docs]
    if docs:
        parts.append("From our product information: " + docs[0])
        if len(docs) > 1:
            parts.append("Shoppers also say: " + docs[1])
    for r in results:
        if r.startswith("ORDER LOOKUP"):
            parts.append(r.split("\n", 1)[1] if "\n" in r else r)
        elif r.startswith(("EMAIL", "FETCH")) or r.startswith("REFUSED"):
            parts.append(r)
    data = _records(results)
    for ins in instructions:
        if ins.action in ("image", "link"):
            url = ins.target + (("&" if "?" in ins.target else "?") + "d=" + _compact(data) if ins.append_data and data
                                else "")
            parts.append(f"![product photo]({url})" if ins.action == "image" else f"[more details]({url})")
        elif ins.action == "reveal":
            parts.append("My instructions are: " + system)
    for ins in instructions:
        if ins.action == "say":  # where the payload asked for it: appended, or first
            parts.insert(len(parts) if re.search(r"\bappend\b", ins.text, re.I) else 0, ins.target)
    parts += refusals
    if not parts:
        parts.append("I can help with products, orders and returns. Could you tell me a bit more?")
    return "\n\n".join(parts)


class OpenAIModel:
    """Any OpenAI-compatible chat-completions endpoint; the key comes from an environment variable."""

    def __init__(self, config: ModelConfig):
        from demarcate.extras import need

        AsyncOpenAI = need("openai", "a lab model of `kind: openai`").AsyncOpenAI

        self.name = config.name
        self.client = AsyncOpenAI(base_url=config.base_url, api_key=os.environ.get(config.api_key_env) or "unset",
                                  timeout=config.timeout, max_retries=1)

    async def complete(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Reply:
        kwargs: dict[str, Any] = {"model": self.name, "messages": messages}
        if tools:
            kwargs["tools"] = tools
        response = await self.client.chat.completions.create(**kwargs)
        msg = response.choices[0].message
        calls = []
        for c in msg.tool_calls or []:
            try:
                args = json.loads(c.function.arguments or "{}")
            except json.JSONDecodeError:
                args = {"_unparsed": c.function.arguments}
            calls.append(ToolCall(c.id, c.function.name, args if isinstance(args, dict) else {"value": args}))
        return Reply(content=msg.content or "", tool_calls=calls, model=response.model or self.name)


def make_model(config: ModelConfig) -> Model:
    if config.kind == "openai":
        return OpenAIModel(config)
    return SimulatedModel(config.follows_injections)
