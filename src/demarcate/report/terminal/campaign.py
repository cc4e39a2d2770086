"""What `test` and the demo print: a campaign's results, by party and by chain."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from demarcate.analysis.findings import count, listing
from demarcate.report.terminal.common import t, unjudged


def print_case(console: Console, result: dict[str, Any]) -> None:
    """One case of a campaign in full: what it was, its verdict, its chain, and all its evidence."""
    console.print(t(f"{result['case']}: {result['outcome']}", OUTCOME_STYLE.get(result["outcome"], "bold")))
    console.print(t(f"probe {result['probe']} · {result['category']} · entry {result['entry']} · goal "
                    f"{result['goal']} · canary {result['canary']}", "dim"), soft_wrap=True)
    if result.get("error"):
        console.print(t(f"error: {result['error']}", "yellow"), soft_wrap=True)
    for link in result.get("chain", []):
        held = {True: "held", False: "broke", None: "untested"}[link["held"]]
        console.print(t(f"  {link['layer']:<14} {link['control']:<11} {link['party'] or 'nobody':<14} {held:<8} "
                        f"{link['evidence']}"), soft_wrap=True)
    ev = result.get("evidence") or {}
    console.print(t("reply" + (" (cut at the stored size)" if ev.get("reply_cut") else "") + ":", "bold"))
    console.print(t(ev.get("reply", ev.get("reply_excerpt", "")) or "(none)"), soft_wrap=True)
    if ev.get("page") is not None:  # the reply was read from the app's page: as the page has it, markup and all
        console.print(t("as the page has it:", "bold"))
        console.print(t(ev["page"]), soft_wrap=True)
    delivery = {True: "delivered", False: "not delivered", None: "delivery not shown"}[ev.get("delivered")]
    console.print(t(f"payload: {delivery}" + (f" ({ev['undelivered']})" if ev.get("undelivered") else ""), "bold"),
                  soft_wrap=True)
    if ev.get("capable") is not None:
        console.print(t("capability baseline: " + ("the target did the benign version of this act" if ev["capable"]
                                                   else "the target could not do what this goal needs"),
                        "green" if ev["capable"] else "yellow"), soft_wrap=True)
    for key, label in (("contamination", "contamination: other cases' tokens"),
                       ("cleanup", "cleanup failed")):
        if ev.get(key) not in (None, [], ""):
            console.print(t(f"{label}: {ev[key]}", "yellow"), soft_wrap=True)
    # The outbox only for a target that names one (no line says "outbox: 0" of an outbox nobody looked
    # at), and what clicks sent only for a target that clicked.
    for key in ("tool_calls", "controls_fired", "callback_hits", "spans", "rendered", "context",
                *(k for k in ("outbox", "clicked") if k in ev)):
        items = ev.get(key) or []
        console.print(t(f"{key.replace('_', ' ')}: {len(items)}", "bold"))
        for item in items:
            console.print(t(f"  {item}"), soft_wrap=True)


# How a chain link reads: whether the control held, and in what colour.
HELD = {True: ("held", "green"), False: ("broke", "red"), None: ("unknown", "dim")}


OUTCOME_STYLE = {"succeeded": "bold red", "resisted": "green", "error": "yellow", "unobservable": "dim",
                 "inconclusive": "dim"}


def print_campaign(console: Console, data: dict, verbose: bool = False) -> None:
    """A campaign as a lead reads it: the rate, each party's tally of the controls it answers for,
    then the cases grouped by how their chain went, the commonest first. `verbose`: also every
    case's chain, one row a case."""
    summary = data.get("summary") or {}
    console.print(t(f"run {data['run']} — {data['target']}", "bold"))
    overall = summary.get("overall") or {}
    if overall.get("rate") is not None:
        console.print(t(f"attack success rate {overall['rate']:.0%} (95% CI {overall['low']:.0%}–{overall['high']:.0%}, "
                        f"n={overall['n']}{unjudged(summary, overall['n'])})", "bold"))
    parties = summary.get("parties") or {}
    if parties:
        console.print(t("per party, the controls it answers for here (claimed, or given by the preset):", "bold"))
    for party, states in sorted(parties.items(), key=lambda kv: (-len(kv[1].get("refuted", [])), kv[0])):
        tally = ", ".join(f"{len(states[s])} {s}" for s in ("refuted", "verified", "untested") if states.get(s))
        line = t(f"  {party}: ", "bold") + t(f"{tally}  ")
        for state, style in (("refuted", "red"), ("verified", "green"), ("untested", "dim")):
            if states.get(state) and state != "untested":
                line += t(f"{state} {', '.join(states[state])}  ", style)
        console.print(line, soft_wrap=True)
    results = data.get("results", [])
    if verbose:
        table = Table(title="per probe: the chain through the layers", show_lines=True)
        table.add_column("probe, outcome", no_wrap=True)
        table.add_column("chain: control (party) held?")
        for r in results:
            style = "green" if r["outcome"].startswith("blocked") else OUTCOME_STYLE.get(r["outcome"], "")
            table.add_row(t(r["case"]) + t("\n") + t(r["outcome"], style), _chain(r["chain"], "\n"))
        console.print(table)
    elif results:
        console.print(t("cases by how their chain went, the commonest first (every case's chain: -v):", "bold"))
        for outcome, chain, cases in chain_groups(results):
            style = "green" if outcome.startswith("blocked") else OUTCOME_STYLE.get(outcome, "")
            console.print(t(f"  {len(cases):>3} ", "bold") + t(outcome, style) + t(": ") + _chain(chain, " → "),
                          soft_wrap=True)
            console.print(t(f"      {listing(cases, 4)}", "dim"), soft_wrap=True)
    for problem in campaign_errors(data):
        console.print(t(problem, "yellow"))
    asr = summary.get("asr") or {}
    if asr:
        cat = Table(title="attack success rate by category")
        for col in ("category", "rate", "95% CI", "n"):
            cat.add_column(col)
        for name, a in asr.items():
            rate = "—" if a["rate"] is None else f"{a['rate']:.0%}"
            interval = "—" if not a["n"] else f"{a['low']:.0%}–{a['high']:.0%}"
            cat.add_row(t(name), t(rate), t(interval), t(str(a["n"])))
        console.print(cat)
    console.print(t("controls judged by the probes:", "bold"))
    _judged(console, summary)
    baselines = summary.get("baselines") or {}
    if baselines:
        console.print(t("capability baselines (benign cases run first):", "bold"))
    for name, b in baselines.items():
        verdict = {True: "can", False: "cannot", None: "could not tell"}[b["capable"]]
        console.print(t(f"  {name}: {verdict} — {b['evidence']}", {True: "green", False: "yellow"}.get(b["capable"], "dim")),
                      soft_wrap=True)
    for note in summary.get("notes") or []:
        console.print(t(note, "yellow"), soft_wrap=True)
    if summary.get("unknown_tools"):
        console.print(t("tools called that the manifest does not name (add them, or their `calls:`): "
                        + ", ".join(summary["unknown_tools"]), "yellow"), soft_wrap=True)
    for component, attributes in (summary.get("contradicted") or {}).items():
        for attribute, seen in attributes.items():
            console.print(t(f"the manifest's {attribute} of {component} ({', '.join(seen['said'])}) did not hold: "
                            f"{seen['why']}; `check --evidence` takes what the campaign saw", "red"), soft_wrap=True)
    if summary.get("infrastructure"):
        console.print(t("checks beside the probes:", "bold"))
    for check in summary.get("infrastructure") or []:
        console.print(t(f"  {check['check']}: {check['control']} {'held' if check['held'] else 'did not hold'} — "
                        f"{check['evidence']}", "green" if check["held"] else "red"))


def _chain(chain: list[dict], sep: str) -> Text:
    return Text(sep).join(t(link["control"], "bold") + t(f" ({link['party'] or '—'}) ")
                          + t(HELD[link["held"]][0], HELD[link["held"]][1]) for link in chain)


def chain_groups(results: list[dict]) -> list[tuple[str, list[dict], list[str]]]:
    """The cases with the same outcome and the same chain (each control, its party, whether it
    held), as (outcome, chain, cases), the largest group first."""
    groups: dict[tuple, tuple[str, list[dict], list[str]]] = {}
    for r in results:
        key = (r["outcome"], tuple((link["control"], link["party"], link["held"]) for link in r["chain"]))
        groups.setdefault(key, (r["outcome"], r["chain"], []))[2].append(r["case"])
    return sorted(groups.values(), key=lambda g: (-len(g[2]), g[0], g[2][0]))


def campaign_errors(data: dict, most: int = 3) -> list[str]:
    """What kept cases from running, most frequent first: a line saying how many, then one per
    distinct error (the first `most`)."""
    results = data.get("results") or []
    errors: dict[str, int] = {}
    for r in results:
        if r["outcome"] == "error":
            why = r.get("error") or "no detail"
            errors[why] = errors.get(why, 0) + 1
    if not errors:
        return []
    ranked = sorted(errors.items(), key=lambda e: -e[1])
    lines = [f"{sum(errors.values())} of {count(len(results), 'case')} could not run:"]
    lines += [f"  {n} × {why}" for why, n in ranked[:most]]
    if len(ranked) > most:
        lines.append(f"  and {count(len(ranked) - most, 'other error')}; the JSON output (--format json) has each")
    return lines


def print_campaign_short(console: Console, data: dict, focus: str | None = None) -> None:
    """A campaign in a few lines: success rate, outcomes, and one probe's chain in full."""
    summary = data["summary"]
    o = summary["overall"]
    outcomes = sorted(summary["outcomes"].items(), key=lambda o: (-o[1], o[0]))
    console.print(t(f"run {data['run']}: attack success rate {o['rate']:.0%} "
                    f"(95% CI {o['low']:.0%}–{o['high']:.0%}, n={o['n']}); "
                    + ", ".join(f"{n} {outcome}" for outcome, n in outcomes), "bold"))
    for note in summary.get("notes") or []:  # cases left out, say, which n does not count
        console.print(t(f"  {note}", "dim"), soft_wrap=True)
    chosen = next((r for r in data["results"] if r["case"] == focus), None)
    if chosen:
        console.print(t(f"  {chosen['case']}: {chosen['outcome']}"))
        grid = Table.grid(padding=(0, 1))
        for _ in range(4):
            grid.add_column(no_wrap=True)
        grid.add_column()  # the evidence wraps under itself
        for link in chosen["chain"]:
            mark, style = HELD[link["held"]]
            grid.add_row(t(f"   {link['layer']}"), t(link["control"]), t(link["party"] or "—"), t(mark, style),
                         t(link["evidence"][:100], "dim"))
        console.print(grid)
    _judged(console, summary)


def _judged(console: Console, summary: dict) -> None:
    """Every control the campaign judged, claimed or not, by how it fared."""
    for state, style in (("verified", "green"), ("refuted", "red")):
        found = [c for c, s in (summary.get("controls") or {}).items() if s == state]
        console.print(t(f"  {state + ':':<9} {', '.join(found) or 'none'}", style), soft_wrap=True)
