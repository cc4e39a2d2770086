"""Set up and run a campaign: the listener, the trace receiver, the target, the history."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from demarcate.analysis.paths import build_graph, reaches_out, renders_markup
from demarcate.analysis.responsibility import Responsibilities
from demarcate.model.errors import ManifestError, Problem
from demarcate.model.loader import System
from demarcate.serve import BackgroundServer
from demarcate.store import Store
from demarcate.testing import targets
from demarcate.testing.attribution import goal_of
from demarcate.testing.campaign import Campaign, Options
from demarcate.testing.goals import ToolRoles, effects_listed, one_of
from demarcate.testing.listener import Listener
from demarcate.testing.probes import ASK, Case, Probe, load_probes, select
from demarcate.testing.targets import is_http_url
from demarcate.testing.traces import TraceStore, receiver_app

RESULT_VERSION = 1


def make_target(spec: str, listener: Listener, otlp: str | None, lab_controls: dict[str, bool], model: str | None,
                key_env: str, params: dict[str, Any] | None = None, timeout: float = 120.0,
                lab_config: str | None = None, python: str | None = None, prompt_marker: str | None = None) -> Any:
    """The target a spec names (`kind` or `kind:rest`), made by the module of that name under targets/."""
    kind, _, rest = spec.partition(":")
    if python and kind != "python":
        raise ManifestError([Problem("--python is for python: targets", hint="--target python:module:function")])
    if lab_config and kind != "lab":
        raise ManifestError([Problem("--lab-config is for the lab target", hint="--target lab")])
    target = targets.make(kind, rest, targets.Setup(listener.url, otlp, lab_controls, model, key_env, params or {},
                                                    timeout, lab_config, python))
    if prompt_marker:  # a string only the system prompt has, for any target: prompt extraction becomes visible
        target.prompt_marker = prompt_marker
    return target


# What a campaign meets, by the probes' entries and goals, and the component that must describe it.
_ENTRY_KINDS = {"user-message": ("user-input", "user-input component (where users type)"),
                "document": ("data-source", "data-source the planted documents go into"),
                "tool-output": ("tool", "tool whose output the model reads (output-trust: untrusted)")}

# What a tool with a goal's `effects` does, to say what the manifest lacks.
_EFFECT_WORDS = {"send-external": "sends out", "read-private": "reads private data", "execute-code": "runs code",
                 "write": "writes or configures", "read-public": "fetches pages"}


def _fetches(c: Any) -> bool:
    return c.kind == "output-renderer" and reaches_out(c)


def _shows_markup(c: Any) -> bool:
    # Markdown and HTML pages are where markup can run; whether it is shown as text is APP-OUT-01's part.
    return c.kind == "output-renderer" and (c.format == "markdown" or renders_markup(c))


# The renderer a goal about the answer's content needs in the manifest, and what to call it when there is none.
_RENDERER_NEEDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "render-out": (_fetches, "output-renderer that loads or links what the answer points at "
                             "(images, links, link-previews, raw-html or format: html)"),
    "markup-out": (_shows_markup, "output-renderer that shows markdown or HTML (format: markdown or html)"),
    "send-as-user": (lambda c: c.kind == "output-renderer" and c.sends_as_user == "markup",
                     "output-renderer whose buttons or forms in the answer send what they carry as the user's "
                     "next message (sends-as-user: markup)"),
}


def mismatch(system: System, target: str, cases: list[Any], lab_config: str | None = None) -> list[Problem]:
    """How the manifest fails to describe what the campaign will meet. Against the lab: the lab
    publishes its own manifest, and every component of it must be in this one, of the same kind.
    Against any target: the entry points and tools the chosen probes need must exist."""
    why = cannot_meet(system)
    cannot = [Problem(r) for r in dict.fromkeys(r for c in cases for r in why(c.probe))]
    comps = system.components
    if target == "lab":
        from demarcate.lab.config import load_config
        from demarcate.lab.manifest import manifest_data

        config = load_config(Path(lab_config) if lab_config else None)
        lab = {c["id"]: c["kind"] for c in manifest_data(config)["components"]}
        unlike = [f"{cid} ({kind})" for cid, kind in lab.items()
                  if cid not in comps or comps[cid].kind != kind]  # type: ignore[attr-defined]
        return [Problem(f"the manifest does not describe the lab: {len(unlike)} of the lab's {len(lab)} components "
                        f"are not in it as the lab has them: {', '.join(unlike)}")] if unlike else cannot
    return cannot


def cannot_meet(system: System) -> Callable[[Probe], list[str]]:
    """Why the system the manifest describes cannot meet a probe (nothing: it can): no component for
    the probe's entry, no tool able to do what its goal asks, no renderer that shows what it puts in
    the answer — to anyone but the user who typed it, for a user's own message (the analysis's rule:
    in their own chat a user attacks only their own browser)."""
    comps = system.components.values()
    kinds = {c.kind for c in comps}  # type: ignore[attr-defined]
    tools = ToolRoles.of(system)
    shown = {goal: any(map(has, comps)) for goal, (has, _) in _RENDERER_NEEDS.items()}
    # The renderers a user's message can reach: one elsewhere in the system (a dashboard fed by a
    # batch job) never shows what this user got the model to write.
    graph = build_graph(system)
    users = set().union(*(graph.descendants(cid) for cid, c in system.components.items()
                          if c.kind == "user-input"))  # type: ignore[attr-defined]
    shown_to_others = {goal: any(has(c) and c.publishes and cid in users  # type: ignore[attr-defined]
                                 for cid, c in system.components.items())
                       for goal, (has, _) in _RENDERER_NEEDS.items()}
    untrusted_tools = any(c.kind == "tool" and c.output_trust == "untrusted" for c in comps)  # type: ignore[attr-defined]

    def why(probe: Probe) -> list[str]:
        reasons = []
        kind, what = _ENTRY_KINDS[probe.entry]
        if kind not in kinds or (probe.entry == "tool-output" and not untrusted_tools):
            reasons.append(f"probes enter through {probe.entry}, but the manifest has no {what}")
        goal = goal_of(probe)
        effects = goal.effects
        if effects and not tools.any_with(*effects):
            reasons.append(f"probes aim at {probe.goal}, but the manifest has no tool that "
                           f"{one_of([_EFFECT_WORDS.get(e, e) for e in effects])} "
                           f"({effects_listed(effects)})")
        elif effects and goal.outbound and not tools.any_way_out(*effects):
            reasons.append(f"probes aim at {probe.goal}, but every tool that "
                           f"{one_of([_EFFECT_WORDS.get(e, e) for e in effects])} sends only to its own "
                           "fixed hosts (destinations): as the analysis has it, no way out")
        if not shown.get(probe.goal, True):
            reasons.append(f"probes aim at {probe.goal}, but the manifest has no {_RENDERER_NEEDS[probe.goal][1]}")
        elif probe.entry == "user-message" and not shown_to_others.get(probe.goal, True):
            reasons.append(f"probes aim at {probe.goal} from the user's own message, but no output-renderer that "
                           "could show it shows the answer to anyone else (publishes: true): in their own chat a "
                           "user attacks only their own browser")
        return reasons

    return why


def _meetable(system: System, cases: list[Case], probes: str | None) -> tuple[list[Case], list[str]]:
    """The cases the system can meet, and a note for each reason others were left out. A probe named
    by its id is kept, so that the check refuses it by name; if none is left, all are kept."""
    named = {w.strip() for w in (probes or "").split(",")}
    why = cannot_meet(system)
    keep, left, reasons = [], 0, Counter[str]()
    for case in cases:
        missing = why(case.probe)
        if missing and case.probe.id not in named:
            left += 1
            reasons.update(missing)
        else:
            keep.append(case)
    if not keep:
        return cases, []
    if not left:
        return keep, []
    # One note, each reason with how many cases it left out (a case can miss more than one thing).
    said = "; ".join(f"{n}: {reason}" for reason, n in reasons.most_common())
    return keep, [f"left out {left} of {len(cases)} cases the system cannot meet ({said}); give --force to "
                  "run them anyway"]


def configuration_notes(system: System, config: dict[str, Any], resp: Responsibilities | None = None) -> list[str]:
    """Where a stored campaign did not test the system this manifest describes, in words for the
    report: another system's manifest, or (against the lab) a control switched on or off where the
    manifest says the opposite. A result read beside the analysis must not pass for a test of it."""
    notes = []
    if config.get("system") and config["system"] != system.info.name:
        notes.append(f"The campaign was run with the manifest of '{config['system']}', not of "
                     f"'{system.info.name}'.")
    if str(config.get("target", "")).partition(":")[0] != "lab":
        return notes
    from demarcate.lab.config import load_config, switches

    try:
        lab = load_config(Path(config["lab_config"]) if config.get("lab_config") else None)
    except ManifestError:
        return [*notes, f"The lab configuration the campaign used ({config['lab_config']}) can no longer be read."]
    lab.controls.update(config.get("lab_controls") or {})
    resp = resp or Responsibilities(system)
    on, off = [], []
    for name, switch in switches().items():
        if switch.control not in system.catalog.controls:
            continue
        status = resp.of(system.catalog.controls[switch.control]).status
        if lab.on(name) and status in ("nobody", "planned"):
            on.append(f"{switch.control} ({name})")
        elif not lab.on(name) and status == "implemented":
            off.append(f"{switch.control} ({name})")
    if on:
        notes.append(f"The lab ran with {', '.join(on)} switched on, which this manifest says nobody has in effect.")
    if off:
        notes.append(f"The lab ran with {', '.join(off)} switched off, which this manifest says is implemented.")
    return notes


def run_campaign(system: System, *, target: str, probes: str | None = None, transforms: str | None = None,
                 concurrency: int = 4, resume: str | None = None, db: str | None = None,
                 lab_controls: dict[str, bool] | None = None, model: str | None = None,
                 key_env: str = "OPENAI_API_KEY", callback_url: str | None = None,
                 listen_host: str = "127.0.0.1", on_result: Any = None, on_start: Any = None,
                 repeat: int = 1, otlp_port: int = 0, probe_files: list[str] | None = None,
                 timeout: float = 120.0, force: bool = False, params: dict[str, Any] | None = None,
                 lab_config: str | None = None, python: str | None = None,
                 prompt_marker: str | None = None, ask: str | None = None,
                 span_wait: float = Options.span_wait) -> dict[str, Any]:
    ask = ask or ASK
    if "{product}" not in ask:
        # The plant is filed under the product token: a turn that does not name it may never retrieve it.
        raise ManifestError([Problem(f"--ask must name {{product}}, the token the case's documents are filed "
                                     f"under: '{ask}'", hint="for example --ask 'Summarise my mail about {product}.'")])
    if callback_url and not is_http_url(callback_url):
        # Probes would point the target at an address nothing listens on: exfiltration would go
        # unseen and count as stopped.
        raise ManifestError([Problem(f"--callback-url needs an http:// or https:// address, not '{callback_url}'")])
    config: dict[str, Any] = {
        "manifest": [str(Path(f).resolve()) for f in system.files], "system": system.info.name,
        "target": target, "probes": probes, "transforms": transforms,
        "lab_controls": lab_controls or {}, "model": model, "concurrency": concurrency, "repeat": repeat,
        "timeout": timeout, "params": params or {}, "prompt_marker": prompt_marker, "ask": ask, "span_wait": span_wait,
        "lab_config": str(Path(lab_config).resolve()) if lab_config else None,
        "python": python,
        "probe_files": [str(Path(f).resolve()) for f in probe_files or []]}
    store: Store | None = None
    if resume:
        store = Store(db)
        config = store.need(resume, "campaign")["config"]
        target, probes, transforms = config["target"], config["probes"], config["transforms"]
        lab_controls, model, repeat = config["lab_controls"], config["model"], config.get("repeat", 1)
        # Every option of the run comes back with it (runs stored before an option existed keep its default).
        concurrency, timeout = config.get("concurrency", concurrency), config.get("timeout", timeout)
        params = config.get("params", params)
        lab_config, python, prompt_marker = config.get("lab_config"), config.get("python"), config.get("prompt_marker")
        ask, span_wait = config.get("ask", ASK), config.get("span_wait", span_wait)
    # A mistyped selector or a broken probe file stops here, before a new run's history is opened;
    # a resumed run reads its probe files again, for the cases it has not done.
    cases = select(probes, transforms, repeat, extra=load_probes(config.get("probe_files") or []))
    # Probes the system cannot meet (a selector as broad as the whole library) are left out and
    # said so; a resumed run leaves out the same ones it left out when it started.
    force = config.get("force", False) if resume else force
    config["force"] = force
    left_out: list[str] = []
    if not force:
        cases, left_out = _meetable(system, cases, probes)
    # A manifest of another system would blame its parties for what this target does.
    problems = [] if force or resume else mismatch(system, target.split(":", 1)[0], cases, lab_config)
    if problems:
        raise ManifestError([*problems, Problem(
            "refusing to test: the findings would blame this manifest's parties for what the target does", None,
            "test with a manifest that describes the target (the lab's: `demarcate lab --print-manifest`), "
            "or give --force")])
    store = store or Store(db)
    traces = TraceStore()
    # On a port of the user's choosing, the application's exporter can be pointed at it (the lab
    # is told whatever port it gets).
    receiver = BackgroundServer(receiver_app(traces), host=listen_host, port=otlp_port, name="demarcate-otlp").start()
    listener = Listener(listen_host, 0, callback_url).start()
    state: dict[str, Any] = {"run_id": resume}

    async def session() -> dict[str, Any]:
        tgt = make_target(target, listener, receiver.url + "/v1/traces", lab_controls or {}, model, key_env,
                          params, timeout, lab_config, python, prompt_marker)
        try:
            if resume:
                store.set_status(resume, "running")
            else:
                state["run_id"] = store.new_run(getattr(tgt, "description", target), config)
            run_id = state["run_id"]
            if on_start:
                on_start(run_id, len(cases), len(store.done_cases(run_id)))
            campaign = Campaign(system, tgt, cases, store, run_id, listener, traces,
                                Options(concurrency=concurrency, timeout=timeout, ask=ask, span_wait=span_wait,
                                        expect_spans=bool(otlp_port) or getattr(tgt, "traced", False)), on_result)
            infra = await tgt.infrastructure() if hasattr(tgt, "infrastructure") else []
            await campaign.run()
            results = store.results(run_id)
            summed = campaign.summary(results, infra)
            summed.notes[:0] = left_out
            summary = summed.to_json()
            store.set_status(run_id, "done", summary)
            return {"version": RESULT_VERSION, "run": run_id, "target": getattr(tgt, "description", target),
                    "results": results, "summary": summary, "config": store.need(run_id)["config"]}
        finally:
            await tgt.close()

    try:
        return run_async(session)
    except KeyboardInterrupt:
        if state["run_id"]:
            store.set_status(state["run_id"], "interrupted")
        raise
    finally:
        listener.stop()
        receiver.stop()
        store.close()


def run_async(factory: Any) -> Any:
    """asyncio.run, also from a thread whose loop is already running (a notebook, a browser
    driver): then the campaign gets a thread and a loop of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()
