"""Commands that test a running application: test, probes, and the demo that runs it end to end."""

from __future__ import annotations

import json
import shlex
import signal
from pathlib import Path
from typing import Annotated, Any

import typer

from demarcate.analysis.responsibility import Responsibilities
from demarcate.analysis.who import who as who_answer
from demarcate.builtin import example
from demarcate.cli.analysis import store_analysis
from demarcate.cli.core import (
    EXIT_INVALID,
    HistoryDb,
    ListFormat,
    Paths,
    TestFormat,
    Verbose,
    app,
    emit_json,
    err,
    load_manifest,
    not_a_manifest,
    open_history,
    out,
    reports_errors,
    terminal,
    warn_if_exposed,
    write_file,
)
from demarcate.model.errors import ManifestError, Problem


def _params(pairs: list[str] | None) -> dict[str, Any]:
    """`--param KEY=VALUE` pairs as request fields: JSON values where they parse (64, 0.2, true), text else."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ManifestError([Problem(f"--param: expected KEY=VALUE, got '{pair}'", hint="for example max_tokens=64")])
        if key.strip() in ("model", "messages"):
            raise ManifestError([Problem(f"--param: '{key.strip()}' is set by the campaign itself",
                                         hint="give the model with --model")])
        try:
            out[key.strip()] = json.loads(value)
        except ValueError:
            out[key.strip()] = value
    return out


@app.command()
@reports_errors
def demo(
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the HTML report.")] = Path("demarcate-demo.html"),
    db: HistoryDb = None,
) -> None:
    """The main job on the built-in example: analyse the shop bot, attack the live lab, report, then
    switch on the computed fix and attack again."""
    from demarcate.analysis.assume import assume
    from demarcate.analysis.check import analyse
    from demarcate.analysis.gate import Gate
    from demarcate.lab import switches
    from demarcate.report.html import render_html
    from demarcate.report.verdict import after_the_fix
    from demarcate.testing.run import run_campaign

    history = open_history(db)
    path, hardened_path = example("shopbot"), example("shopbot-hardened")
    system = load_manifest([path], batch=False)
    out.rule(terminal.t(f"demarcate demo — {system.info.name}"))
    out.print(terminal.t(f"manifest: {path} ({len(system.files)} files, one per party)", "dim"))
    resp = Responsibilities(system)
    out.rule(terminal.t("1. The source document's challenge: who must screen the reviews?"))
    terminal.print_answer(out, who_answer(system, "APP-IN-03", resp))
    out.rule(terminal.t("2. Where it breaks: findings, attack paths, and the highest-leverage fix"))
    result = analyse(system)
    terminal.print_check(out, result, limit=6, each_rule=True)  # the story, not the whole list
    out.rule(terminal.t("3. Proof on the live lab (simulated model): the default bot, attacked"))
    before = run_campaign(system, target="lab", db=db, concurrency=4)
    terminal.print_campaign_short(out, before, focus="doc-email-records+plain")
    by_control = {sw.control: name for name, sw in switches().items()}
    fix = {by_control[c]: True for c in result.leverage.fix if c in by_control}
    out.rule(terminal.t(f"4. The computed fix switched on in the lab: {', '.join(result.leverage.fix)}"))
    after = run_campaign(system, target="lab", db=db, concurrency=4, lab_controls=fix)
    terminal.print_campaign_short(out, after, focus="doc-email-records+plain")
    hardened = analyse(load_manifest([hardened_path], batch=False))
    fixed = analyse(assume(system, [(c, None) for c in result.leverage.fix])[0])
    b, a = before["summary"]["overall"], after["summary"]["overall"]
    out.print(terminal.t(f"attack success rate: {b['rate']:.0%} → {a['rate']:.0%}; open attack paths: "
                         f"{len(result.paths.open_paths)} → {len(fixed.paths.open_paths)} with "
                         f"{', '.join(result.leverage.fix)} in effect", "bold green"))
    for line in after_the_fix(after, fixed):
        out.print(terminal.t(line), soft_wrap=True)
    out.print(terminal.t(f"examples/shopbot-hardened, every application-layer fix claimed: "
                         f"{len(hardened.paths.open_paths)} open attack paths", "dim"))
    output.write_text(render_html(result, campaigns=[
        ("As described (the lab's defaults)", before),
        (f"With the fix switched on ({', '.join(result.leverage.fix)})", after)]), encoding="utf-8")
    out.print(terminal.t(f"HTML report: {output.resolve()}", "bold"))
    out.print(terminal.t(f"runs stored: {before['run']}, {after['run']} — compare with "
                         f"`demarcate runs diff {before['run']} {after['run']}`", "dim"))
    seed_run, hardened_run = (store_analysis(history, Gate(r), None, [p]) for r, p in ((result, path), (hardened, hardened_path)))
    out.print(terminal.t(f"analyses stored: {seed_run} (as written), {hardened_run} (hardened) — compare with "
                         f"`demarcate runs diff {seed_run} {hardened_run}`", "dim"))


@app.command()
@reports_errors
def probes(
    select: Annotated[str | None, typer.Argument(
        help="Probe ids, categories, entries or goals (globs, comma-separated), as for `test --probes`.")] = None,
    probe_file: Annotated[list[Path] | None, typer.Option(
        help="Also list probes of your own, as for `test --probe-file` (repeatable).")] = None,
    format: Annotated[ListFormat, typer.Option("--format", "-f")] = ListFormat.table,
) -> None:
    """List the probe library: each probe's entry point, goal and the controls its chain judges
    (one probe: its payload too)."""
    from demarcate.testing.attribution import exercises
    from demarcate.testing.probes import expand, library, load_probes
    from demarcate.testing.probes import select as select_cases

    lib = library()
    chosen = list({c.probe.id: c.probe for c in select_cases(select, extra=load_probes(probe_file or []))}.values())
    if format is ListFormat.json:
        emit_json({"version": lib.version,
                   "probes": [{**p.model_dump(), "controls": list(exercises(p))} for p in chosen],
                   "transforms": {name: tr.model_dump() for name, tr in lib.transforms.items()}})
    elif len(chosen) == 1:
        terminal.print_probe(out, chosen[0], exercises(chosen[0]),
                             [name for name in lib.transforms if expand(chosen[0], name)])
    else:
        terminal.print_probes(out, chosen, exercises, lib.transforms)


@app.command("test")
@reports_errors
def test_cmd(
    paths: Paths,
    target: Annotated[str, typer.Option("--target", "-t", help="lab, openai:BASE_URL, http:SPEC.yaml or python:module:function")] = "lab",
    probes: Annotated[str | None, typer.Option(help="Probe ids, categories, entries or goals (globs, comma-separated).")] = None,
    probe_file: Annotated[list[Path] | None, typer.Option(
        help="Probes of your own, beside the library (repeatable; see docs/testing.md).")] = None,
    transforms: Annotated[str | None, typer.Option(help="Transforms: plain (default), a list, or all.")] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=256, help="Cases in flight at once.")] = 4,
    repeat: Annotated[int, typer.Option(min=1, max=1000, help="Run each case this many times (models are not deterministic).")] = 1,
    timeout: Annotated[float, typer.Option(min=1, max=86_400, help="Seconds one case may take; past it, that case is "
                                                                   "recorded as an error and --resume runs it again.")] = 120.0,
    resume: Annotated[str | None, typer.Option(help="Resume an interrupted run by its id, with every option it was started with.")] = None,
    db: Annotated[str | None, typer.Option(help="History: a SQLite path or database URL (default .demarcate/history.sqlite, or $DEMARCATE_DB).")] = None,
    lab_controls: Annotated[str | None, typer.Option(help="For --target lab: switches, as for `demarcate lab --controls`.")] = None,
    lab_config: Annotated[Path | None, typer.Option(
        help="For --target lab: a lab configuration (docs/lab.md) — a real model through `model: {kind: openai}`, "
             "allowlists, switches.")] = None,
    python: Annotated[str | None, typer.Option(
        help="For python: targets: the interpreter (a virtualenv's bin/python) to run the app in, with its own "
             "packages.")] = None,
    prompt_marker: Annotated[str | None, typer.Option(
        help="A string only the target's system prompt contains: prompt extraction becomes observable.")] = None,
    ask: Annotated[str | None, typer.Option(
        help="The user's turn that makes the target read a planted document, naming {product}, what the document "
             "is filed under (default: 'Tell me about the {product}.'; a mail agent: 'Summarise my mail about "
             "{product}.').")] = None,
    model: Annotated[str | None, typer.Option(help="For openai targets: the model name.")] = None,
    verbose: Verbose = False,
    param: Annotated[list[str] | None, typer.Option(
        "--param", metavar="KEY=VALUE",
        help="For openai targets: a field of every request, e.g. max_tokens=64 or temperature=0 (repeatable; "
             "the value is read as JSON where it is JSON, else as text).")] = None,
    key_env: Annotated[str, typer.Option(help="For openai targets: the environment variable holding the key.")] = "OPENAI_API_KEY",
    callback_url: Annotated[str | None, typer.Option(help="A public URL that reaches the callback listener.")] = None,
    listen: Annotated[str, typer.Option(help="Interface for the callback listener and the trace receiver.")] = "127.0.0.1",
    otlp_port: Annotated[int, typer.Option(
        min=0, max=65535, help="Port for the OTLP/HTTP trace receiver (0: any free port). Point the application's "
                               "exporter at http://LISTEN:PORT (spans at /v1/traces, GenAI content events at "
                               "/v1/logs) to have its tool calls judged.")] = 0,
    span_wait: Annotated[float, typer.Option(
        min=0, max=600, help="Seconds a case waits, at most, for the application's spans when it exports them "
                             "(--otlp-port): a batching exporter sends every 5 s by default.")] = 6.0,
    report: Annotated[Path | None, typer.Option(help="Also write the HTML report with the results.")] = None,
    format: Annotated[TestFormat, typer.Option("--format", "-f")] = TestFormat.text,
    fail_on_success: Annotated[bool, typer.Option(help="Exit 1 if any probe succeeded.")] = False,
    max_errors: Annotated[float, typer.Option(
        min=0, max=1, help="The share of cases that may fail to run before the campaign counts as untested "
                           "(exit 2), whatever else it found.")] = 0.1,
    force: Annotated[bool, typer.Option(
        "--force", help="Test even with a manifest that does not describe the target (its parties would be "
                        "blamed for what the target does).")] = False,
) -> None:
    """Test a running application: plant, trigger and observe probes; attribute each result to a party."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from demarcate.lab.config import parse_controls
    from demarcate.testing.run import run_campaign

    system = load_manifest(paths, batch=False)
    if report:
        not_a_manifest(report, system)  # before the campaign, not after it
    warn_if_exposed(listen, "the callback listener")
    controls = parse_controls(lab_controls) if lab_controls else {}
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=err.real, transient=format is TestFormat.json, disable=not err.is_terminal)
    task: dict[str, Any] = {"id": None, "run": None, "total": 0, "done": 0}

    def started(run_id: str, total: int, done: int) -> None:
        if otlp_port:
            err.print(terminal.t(f"receiving traces (OTLP/HTTP) at http://{listen}:{otlp_port}/v1/traces "
                                 "and /v1/logs"), soft_wrap=True)
        task.update(id=progress.add_task(f"run {run_id}", total=total, completed=done), run=run_id, total=total,
                    done=done)

    def one(result: dict[str, Any]) -> None:
        task["done"] += 1
        progress.advance(task["id"])

    try:
        with progress:
            data = run_campaign(system, target=target, probes=probes, transforms=transforms, concurrency=concurrency,
                                resume=resume, db=db, lab_controls=controls, model=model, key_env=key_env,
                                callback_url=callback_url, listen_host=listen, on_start=started, on_result=one,
                                otlp_port=otlp_port, probe_files=[str(f) for f in probe_file or []],
                                repeat=repeat, timeout=timeout, force=force, params=_params(param),
                                lab_config=str(lab_config) if lab_config else None, python=python,
                                prompt_marker=prompt_marker, ask=ask, span_wait=span_wait)
    except KeyboardInterrupt:
        # The run is stopped and saved: a Ctrl-C pressed again now would only cut this message short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if task["run"] is None:
            err.print(terminal.t("interrupted before the run started: nothing to resume", "yellow"))
        else:
            # Not the --db value itself: a database URL may hold a password.
            again = " and the same --db" if db else ""
            err.print(terminal.t(f"interrupted: {task['done']} of {task['total']} cases of run {task['run']} are saved; "
                                 f"resume with: demarcate test {shlex.join(map(str, paths))} --resume {task['run']}"
                                 f"{again}", "yellow"), soft_wrap=True)
        raise typer.Exit(130) from None
    if report:
        from demarcate.analysis.check import analyse
        from demarcate.report.html import render_html

        write_file(report, render_html(analyse(system), campaign=data), system)
        err.print(terminal.t(f"wrote {report}"))
    if format is TestFormat.json:
        emit_json(data)
    else:
        terminal.print_campaign(out, data, verbose=verbose)
    errors = sum(r["outcome"] == "error" for r in data["results"])
    if data["results"] and errors > max_errors * len(data["results"]):
        # Too little reached the target: a gate must not pass on a campaign that tested (almost) nothing.
        if format is TestFormat.json:
            for line in terminal.campaign_errors(data):
                err.print(terminal.t(line, "yellow"), soft_wrap=True)
        what = "no case reached the target: nothing was tested" if errors == len(data["results"]) else \
            (f"untested: {errors} of {len(data['results'])} cases could not run (more than --max-errors "
             f"{max_errors:.0%}); `--resume {data['run']}` runs them again")
        err.print(terminal.t(what, "red"), soft_wrap=True)
        raise typer.Exit(EXIT_INVALID)
    if fail_on_success and any(r["outcome"] == "succeeded" for r in data["results"]):
        raise typer.Exit(1)
