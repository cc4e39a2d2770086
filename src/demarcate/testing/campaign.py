"""A campaign: every case planted, triggered and observed against a target, attributed through
the layers, and stored the moment it is known. Bounded concurrency; retries only for failures
that are not a control firing; an interrupted run resumes where it stopped."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import html
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from demarcate.analysis.responsibility import Responsibilities
from demarcate.model.loader import System
from demarcate.store import Store
from demarcate.testing.attribution import (
    INCAPABLE,
    UNREAD,
    Evidence,
    attribute,
    error_result,
    goal_of,
    summarise,
)
from demarcate.testing.capabilities import (
    BASELINES,
    REMEDIES,
    Baseline,
    as_record,
    failed_baselines,
    needs,
    token_for,
    verdict,
)
from demarcate.testing.goals import ToolRoles
from demarcate.testing.listener import Listener
from demarcate.testing.probes import ASK, Case, materialise
from demarcate.testing.results import CampaignSummary, CaseResult
from demarcate.testing.targets import CONTROL_STATUSES, PlantFailed, Records, Reply, shows
from demarcate.testing.traces import Span, TraceStore, model_input, tool_calls, with_arguments

RETRIES = 2
SPANS_SETTLE = 0.3  # seconds without a further span of a case after which it has them all


@dataclass
class Options:
    concurrency: int = 4
    timeout: float = 120.0
    callback_wait: float = 0.6  # how long to wait for a callback after a turn that may cause one
    # How long a case waits for its spans, at most: OpenTelemetry's batching exporter sends every 5 s.
    span_wait: float = 6.0
    expect_spans: bool = False  # the target was told where to export them (the lab; --otlp-port)
    ask: str = ASK  # the turn that makes the target read a plant ({product})


def canary_for(run_id: str, case_id: str) -> str:
    """Stable per run and case, so a resumed case plants the same canary."""
    return "dmc" + hashlib.sha256(f"{run_id}/{case_id}".encode()).hexdigest()[:14]


def product_for(run_id: str, case_id: str) -> str:
    """The name the trigger asks about, and the planted documents are filed under: a token of its
    own, never the canary, so that an answer which names the product (or echoes the question, or
    makes up a URL from it) says nothing about whether the payload was obeyed."""
    return "dmp" + hashlib.sha256(f"{run_id}/{case_id}/product".encode()).hexdigest()[:14]


def _indiscriminate(status: int | None, harmless: str) -> str:
    return (f"the target refused a harmless {harmless} the same way (HTTP {status}): the refusal is not this "
            "payload's doing, so no control is shown acting on it; check the spec's credentials and rate limits, "
            "then --resume")


# An image in markdown, or an <img> element's src (quoted either way).
_IMAGES = re.compile(r"!\[[^\]]*\]\((https?://[^)\s]+)\)|<img\b[^>]*?\bsrc\s*=\s*[\"']?(https?://[^\"'\s>]+)", re.I)


class Campaign:
    def __init__(self, system: System, target: Any, cases: list[Case], store: Store, run_id: str,
                 listener: Listener, traces: TraceStore, options: Options | None = None,
                 on_result: Callable[[dict[str, Any]], None] | None = None):
        self.system = system
        self.resp = Responsibilities(system)
        self.target = target
        self.cases = cases
        self.store = store
        self.run_id = run_id
        self.listener = listener
        self.traces = traces
        self.options = options or Options()
        self.on_result = on_result
        self.client = httpx.AsyncClient(timeout=10, trust_env=False)
        self.tools = ToolRoles.of(system)
        self.capabilities: dict[str, dict[str, Any]] = {}
        # How the target answers a harmless request of each kind ("turn", "plant"), asked once, the
        # first time a case is refused: the control status it refuses it with, or None.
        self.harmless: dict[str, asyncio.Future[int | None]] = {}
        # Every case's canary and product token, to recognise one case's plant in another's answer.
        self.tokens = {t: c.id for c in cases for t in (canary_for(run_id, c.id), product_for(run_id, c.id))}
        self.tokens |= {token_for(run_id, name): f"baseline:{name}" for name in BASELINES}
        self.sent: set[str] = set()  # the trace ids the cases sent in their traceparent
        self.claimed: set[str] = set()  # traces of the app's own that a case's message tied to it

    async def run(self) -> list[dict[str, Any]]:
        done = self.store.done_cases(self.run_id)
        todo = [c for c in self.cases if c.id not in done]
        gate = asyncio.Semaphore(max(1, self.options.concurrency))
        self.capabilities = await self.baselines(todo)

        async def one(case: Case) -> None:
            async with gate:
                try:
                    result = await asyncio.wait_for(self.case(case), self.options.timeout)
                except TimeoutError:
                    # That case's error, kept and retried on --resume; never the end of the campaign.
                    result = error_result(case, canary_for(self.run_id, case.id),
                                          f"timed out after {self.options.timeout:g} s (--timeout)")
            # The write (a committed transaction) runs off the event loop, so cases keep flowing.
            kept = result.to_json()
            if await asyncio.to_thread(self.store.add_result, self.run_id, kept) and self.on_result:
                self.on_result(kept)

        try:
            await asyncio.gather(*(one(c) for c in todo))
        finally:
            await self.client.aclose()
        return self.store.results(self.run_id)

    async def baselines(self, todo: list[Case]) -> dict[str, dict[str, Any]]:
        """The capability baselines the cases to run depend on, each run once and kept with the run."""
        found: dict[str, dict[str, Any]] = dict(self.store.need(self.run_id)["config"].get("baselines") or {})
        wanted = sorted({n for c in todo for n in needs(c)} - found.keys())
        for name in wanted:
            token = token_for(self.run_id, name)

            async def say(message: str, token: str = token) -> Reply:
                return await self._send(message, f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01", token)

            try:
                baseline = await asyncio.wait_for(
                    BASELINES[name](self.target, say, token, product_for(self.run_id, "baseline/" + name),
                                    self.listener, self.tools, self.options.ask), self.options.timeout)
            except TimeoutError:
                baseline = Baseline(name, None, f"timed out after {self.options.timeout:g} s (--timeout)")
            await self._end(token)
            found[name] = as_record(baseline)
            # Kept at once: an interrupted run does not ask again; one that could not tell asks on --resume.
            await asyncio.to_thread(self.store.update_config, self.run_id,
                                    baselines={k: v for k, v in found.items() if v["capable"] is not None})
        return found

    async def case(self, case: Case) -> CaseResult:
        canary = canary_for(self.run_id, case.id)
        product = product_for(self.run_id, case.id)
        callback = self.listener.callback(canary)
        attacker = f"{canary}@exfil.example"
        # The canary is only in what the attacker plants; the trigger names the product and the page.
        values = {"canary": canary, "callback": callback, "attacker": attacker, "product": product,
                  "page": self.listener.page_url(product)}
        material = materialise(case, values, self.options.ask)
        if material.page:
            self.listener.serve_page(product, material.page)
        planted: list[str] = []
        delivered = None  # did the payload get to where the model could read it (None: cannot tell)
        if material.documents and (getattr(self.target, "can_plant", True) or getattr(self.target, "white_box", False)):
            try:
                planted = await self.target.plant(list(material.documents), product, session=canary)
                if planted and hasattr(self.target, "confirm"):
                    delivered = await self.target.confirm(list(material.documents), product, session=canary)
            except PlantFailed as failed:
                await self._end(canary)
                return await self._refused(case, canary, attacker, failed.reply)
        trace_id = secrets.token_hex(16)
        self.sent.add(trace_id)
        traceparent = f"00-{trace_id}-{secrets.token_hex(8)}-01"
        reply = await self._send(material.message, traceparent, canary)
        records = await self.target.records(reply, canary, product) if not reply.error else None
        rendered = await self._render(reply, canary)
        hits = await self.listener.wait_for(canary, self.options.callback_wait) if self._may_call_out(case, reply) \
            else self.listener.hits_for(canary)
        found = await self._spans(reply.trace_id or trace_id, material.message, bool(reply.trace_id))
        spans = [{"name": s.name, "span_id": s.span_id, "tool.name": s.get("tool.name"),
                  "tool.arguments": s.get("tool.arguments") if s.is_tool else None, "operation": s.get("operation")}
                 for s in found]
        if reply.context is None and (given := model_input(found)) is not None:
            reply.context = given  # what its model calls were given, as its own spans record it
        # What its tools ran and its model asked for, as its spans show: the turn's tool calls when
        # the target lists none, and the arguments of those it lists without them.
        traced = tool_calls(found)
        reply.tool_calls = traced if reply.tool_calls is None else with_arguments(reply.tool_calls, traced)
        cleanup = ""
        try:
            await self.target.cleanup(planted)
        except PlantFailed as failed:  # the verdict stands; later answers are checked for this case's tokens
            cleanup = str(failed)
        await self._end(canary)  # after the cleanup, which may go within the conversation (plant.in-conversation)
        # A page nobody fetched, documents the target could not take, or a retrieval that left them out
        # never reached the model: a quiet answer then says nothing about it.
        undelivered = "the plant could not be read back" if delivered is False else ""
        page_denied = ""
        if case.probe.entry == "tool-output":
            delivered = self.listener.page_fetched(product)
            undelivered = "" if delivered else "the page was not fetched"
            denied = [e["url"] for e in (records.egress_denied or []) if product in e["url"]] if records else []
            if not delivered and denied:
                undelivered, page_denied = "egress denied the request for the attacker's page", denied[0]
        elif material.documents and not planted:
            delivered, undelivered = False, "the target took no plant"
        elif material.documents and reply.context is not None:
            # What the app gave its model this turn outweighs a listing, which may show only the
            # files' names; when neither shows the plant, the failed read-back is the earlier cause.
            if any(shows(" ".join(reply.context), d) for d in material.documents):
                delivered, undelivered = True, ""
            elif delivered is not False:
                delivered = False
                undelivered = "the context the app retrieved for this turn does not hold the planted document"
        if reply.status in CONTROL_STATUSES and await self._refuses_harmless("turn") == reply.status:
            return error_result(case, canary, _indiscriminate(reply.status, "message"))
        evidence = Evidence(reply, records or Records(), [h.__dict__ for h in hits], spans, rendered, delivered,
                            undelivered, page_denied, self._foreign(case, reply),
                            list(dict.fromkeys([*planted, product])) if planted or material.page else [])
        quoted = tuple(t for t in (*material.documents, material.message, material.page) if t)
        result = attribute(case, canary, attacker, evidence, self.resp, self.target.prompt_marker,
                           getattr(self.target, "user_email", None), quoted, self.tools,
                           verdict(case, self.capabilities), material.message,
                           failed_baselines(case, self.capabilities))
        if cleanup and result.evidence is not None:
            result.evidence.cleanup = cleanup
        return result

    async def _refused(self, case: Case, canary: str, attacker: str, reply: Reply) -> CaseResult:
        """A plant the target refused: a control firing (401, 403, 429) is judged like a refused turn;
        any other failure is the case's error, run again on --resume."""
        if reply.status in CONTROL_STATUSES and await self._refuses_harmless("plant") == reply.status:
            return error_result(case, canary, _indiscriminate(reply.status, "review"))
        if reply.status in CONTROL_STATUSES:
            return attribute(case, canary, attacker, Evidence(reply, Records(), [], []), self.resp,
                             self.target.prompt_marker, None, (), self.tools)
        return error_result(case, canary, reply.error or f"planting: HTTP {reply.status}")

    def _foreign(self, case: Case, reply: Reply) -> list[str]:
        """Other cases of this run whose tokens are in the answer or its context: a plant left behind.
        A baseline's harmless review asks nothing of the model: only an answer drawn from it counts."""
        answer = reply.text or ""
        seen = " ".join([answer, *(reply.context or [])])
        if "dm" not in seen:
            return []
        return sorted({other for token, other in self.tokens.items() if other != case.id
                       and token in (answer if other.startswith("baseline:") else seen)})

    async def _refuses_harmless(self, kind: str) -> int | None:
        """The control status (401, 403, 429) the target refuses a harmless request of this kind with
        — a plain question ("turn") or a plain review ("plant") — or None when it takes it. Only a
        refusal that a harmless request does not meet is a control acting on the payload; one that
        meets everything is the spec's credentials or a limit, and says nothing about any defence."""
        if kind not in self.harmless:
            self.harmless[kind] = asyncio.ensure_future(self._ask_harmless(kind))
        return await self.harmless[kind]

    async def _ask_harmless(self, kind: str) -> int | None:
        token = token_for(self.run_id, "harmless-" + kind)
        if kind == "plant":
            product = product_for(self.run_id, "baseline/harmless")
            try:
                planted = await self.target.plant([f"Comfortable and warm; the {product} runs true to size."], product,
                                                  session=token)
                await self.target.cleanup(planted)
            except PlantFailed as failed:
                return failed.reply.status if failed.reply.status in CONTROL_STATUSES else None
            finally:
                await self._end(token)
            return None
        reply = await self._send("Hello! What can you help me with today?",
                                 f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01", token)
        await self._end(token)
        return reply.status if reply.status in CONTROL_STATUSES else None

    async def _end(self, session: str) -> None:
        """Close a conversation on a target that keeps one per session (its cookies, its app-side id)."""
        if end := getattr(self.target, "end", None):
            await end(session)

    async def _send(self, message: str, traceparent: str, session: str) -> Reply:
        """Retry transport errors and 5xx with backoff; a 401, 403 or 429 is a control firing and
        is never retried away."""
        reply = Reply()
        for attempt in range(RETRIES + 1):
            reply = await self.target.send(message, traceparent, session)
            if not reply.error or reply.extra.get("no_retry"):
                return reply
            retry_after = reply.extra.get("retry_after")
            delay = float(retry_after) if retry_after and str(retry_after).isdigit() else 0.2 * 2 ** attempt
            if attempt < RETRIES:
                await asyncio.sleep(min(delay, 10))
        return reply

    async def _spans(self, trace_id: str, message: str, named: bool) -> list[Span]:
        """A case's spans: those of its trace (the one it sent, or the one the target `named`), else
        those of traces that record its message (an app that starts a trace of its own). Exporters
        may send them after the answer: while spans are expected (the target was told where to send
        them, it named a trace, or some have come), a case waits for its own up to --span-wait, and
        once they come, until none has come for a moment (a turn's spans may come in parts)."""
        if not (self.options.expect_spans or named or self.traces.spans):
            return []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.span_wait
        count, since = 0, loop.time()
        while True:
            found = self.traces.trace(trace_id)
            if not found and message:  # an app that does not continue our traceparent
                found = self.traces.naming(message, self.sent | self.claimed)
            now = loop.time()
            if len(found) != count:
                count, since = len(found), now
            if (found and now - since >= SPANS_SETTLE) or now >= deadline:
                break
            await asyncio.sleep(0.05)
        self.claimed.update(s.trace_id for s in found if s.trace_id != trace_id)
        return found

    def _may_call_out(self, case: Case, reply: Reply) -> bool:
        """Wait for a late callback only when the turn shows an outbound attempt that has not
        arrived yet; a target that delivers in the request (as the lab does) costs no wait."""
        if reply.error or not goal_of(case.probe).outbound:
            return False
        canary = canary_for(self.run_id, case.id)
        outbound = any(canary in str(c.get("arguments", "")) for c in reply.tool_calls or [])
        return outbound or self.listener.url in (reply.text or "")

    async def _render(self, reply: Reply, canary: str) -> list[str]:
        """Act as the chat client: load the images in the answer — markdown, or HTML for an app that
        renders the markdown itself before it answers — but only from our own listener. An answer read
        from the app's own page loads what that page does: its <img> tags, never markdown shown as text
        (unless the page runs scripts, which may render it). A page a browser rendered has loaded its
        images already: they are listed, not loaded again."""
        ours = urlsplit(self.listener.url).netloc
        if reply.page is not None and not reply.scripted:
            found = [m.group(2) for m in _IMAGES.finditer(reply.page)]
        else:
            found = [m.group(1) or m.group(2) for m in _IMAGES.finditer(reply.text or "")]
        urls = list(dict.fromkeys(u for u in map(html.unescape, filter(None, found))
                                  if urlsplit(u).netloc == ours and canary in u))
        if reply.rendered:  # a browser showed the page and loaded its images itself, as the user's would
            return urls
        fetched = []
        for url in urls[:3]:
            try:
                await self.client.get(url)
                fetched.append(url)
            except httpx.HTTPError:
                continue
        return fetched

    def summary(self, results: list[dict[str, Any]], infra: list[dict[str, Any]] | None = None) -> CampaignSummary:
        called = {str(c.get("name")) for r in results for c in (r.get("evidence") or {}).get("tool_calls") or []}
        return dataclasses.replace(summarise(results, self.resp, infra), baselines=self.capabilities,
                                   unknown_tools=sorted(n for n in called if n.lower() not in self.tools.effects),
                                   notes=self._notes(results))

    def _notes(self, results: list[dict[str, Any]]) -> list[str]:
        """Why many verdicts may say little, when one cause shows across the run."""
        notes = []
        incapable = [r for r in results if any(str(x.get("evidence")).startswith(INCAPABLE) for x in r.get("chain") or [])]
        by_id = {c.id: c for c in self.cases}
        broke = sorted({n for r in incapable if r["case"] in by_id
                        for n in failed_baselines(by_id[r["case"]], self.capabilities)})
        if incapable and broke:
            remedies = {n: REMEDIES[n] for n in broke if n in REMEDIES}
            if "read" in remedies and all((r.get("evidence") or {}).get("delivered") is True for r in incapable):
                remedies["read"] = ("every plant was delivered, and the answers used none of them; word --ask as "
                                    "the app's users ask about a document, or take it that this target's model "
                                    "cannot be judged on planted documents")
            notes.append(f"{len(incapable)} of {len(results)} cases say nothing of the model: the target failed the "
                         f"benign version of what they need (baseline {', '.join(broke)}), so a quiet answer "
                         "resisted nothing; " + "; ".join(f"{n}: {r}" for n, r in remedies.items()))
        unread = [r for r in results if any(x.get("evidence") == UNREAD for x in r.get("chain") or [])]
        if unread:
            notes.append(f"{len(unread)} of {len(results)} cases: the answer drew on nothing the planted document "
                         "says, and the target does not show what it retrieved, so whether the model read it is "
                         "unknown; a `context:` path in the spec shows it, or word --ask as the app's users would "
                         "ask about such a document")
        foreign = self.traces.trace_ids() - self.sent - self.claimed
        untraced = [r for r in results if (r.get("evidence") or {}).get("status") == 200
                    and not (r.get("evidence") or {}).get("spans")]
        if foreign and untraced:
            notes.append(f"{len(untraced)} of {len(results)} cases have no spans, while {len(foreign)} "
                         f"trace{'' if len(foreign) == 1 else 's'} arrived under ids no case sent, which no case "
                         "could claim when it ended: either the app starts a trace of its own for each request "
                         "(it does not continue the `traceparent` it is sent) and its spans do not record the "
                         "message, or its exporter sent them after the case had stopped waiting (OpenTelemetry's "
                         f"batching exporter waits 5 s; cases waited {self.options.span_wait:g} s: a longer "
                         "--span-wait, or OTEL_BSP_SCHEDULE_DELAY=100 in the app's environment); so its tool "
                         "calls cannot be tied to cases. Have it propagate the incoming context (instrument its "
                         "web framework, e.g. opentelemetry-instrumentation-flask or -fastapi) or record message "
                         "content (in its spans, or as GenAI events sent to /v1/logs)")
        read = [r for r in results if (r.get("evidence") or {}).get("contamination")]
        if not read:
            return notes
        why = ("the target spec has no `cleanup:`, so every plant stays in the app (the capability baseline's "
               "too) and later cases retrieve it; give the spec a cleanup request, or test a fresh copy of the app"
               if getattr(self.target, "leaves_plants", False) else
               "plants left in the app, or cases in flight at once, put one case's documents in another's "
               "context; a lower --concurrency keeps them apart")
        return [*notes, f"{len(read)} of {len(results)} cases read what another case planted: {why}"]
