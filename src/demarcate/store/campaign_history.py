"""Stored campaigns: one read back for a report, what one says about a system's claims (for
`check --evidence`), and two compared: what got better, what regressed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from demarcate.model.errors import ManifestError, Problem
from demarcate.model.loader import System
from demarcate.store import Store
from demarcate.testing.results import contradicted

WORSE = {"verified": 0, "untested": 1, "refuted": 2}


def compare(old: dict[str, Any], old_results: list[dict[str, Any]], new: dict[str, Any],
            new_results: list[dict[str, Any]]) -> dict[str, Any]:
    before = (old.get("summary") or {}).get("controls", {})
    after = (new.get("summary") or {}).get("controls", {})
    controls = []
    regressions = []
    for cid in sorted(set(before) | set(after)):
        a, b = before.get(cid, "untested"), after.get(cid, "untested")
        if a != b:
            change = {"control": cid, "before": a, "after": b}
            controls.append(change)
            if a == "verified" and b == "refuted":
                regressions.append({**change, "why": "the control held in the earlier run and fails now"})
    old_by = {r["case"]: r["outcome"] for r in old_results}
    cases = []
    for r in new_results:
        prev = old_by.get(r["case"])
        if prev is not None and prev != r["outcome"]:
            item = {"case": r["case"], "before": prev, "after": r["outcome"]}
            cases.append(item)
            if r["outcome"] == "succeeded" and prev != "error":
                regressions.append({**item, "why": "an attack that failed before succeeds now"})
    rate = lambda run: ((run.get("summary") or {}).get("overall") or {}).get("rate")  # noqa: E731
    return {"version": 1, "old": old["id"], "new": new["id"], "asr": {"old": rate(old), "new": rate(new)},
            "controls": controls, "cases": cases, "regressions": regressions}

def _same_system(config: dict[str, Any], name: str, files: set[str]) -> bool:
    """Whether a stored campaign was run with this system: its name, or the same manifest files."""
    return config.get("system") == name or {str(Path(f).resolve()) for f in config.get("manifest") or []} == files


def _campaign_run(store: Store, run: str, system: System, option: str) -> str:
    """A campaign id as given, or for `last` the newest finished campaign of this system (its name,
    or the same manifest files)."""
    if run != "last":
        return run
    name, files = system.info.name, {str(Path(f).resolve()) for f in system.files}
    found = next((r for r in store.runs(None, kind="campaign")
                  if r["status"] == "done" and _same_system(r["config"], name, files)), None)
    if found is None:
        raise ManifestError([Problem(f"{option} last: no finished campaign of '{system.info.name}' is stored "
                                     f"in {store.safe_url}", hint="run `demarcate test` first, or name a run")])
    return str(found["id"])


def stored_campaign(store: Store, run: str, system: System, option: str = "--run") -> dict[str, Any]:
    """A stored campaign as `demarcate test` returned it, for a report: `run` is an id or `last`."""
    run = _campaign_run(store, run, system, option)
    stored = store.need(run, "campaign")
    return {"version": 1, "run": run, "target": stored["target"], "status": stored["status"],
            "results": store.results(run), "summary": stored["summary"] or {}, "config": stored["config"]}


def live_evidence(store: Store, run: str, system: System) -> dict[str, Any]:
    """`run` is a campaign id, or `last`: the newest finished campaign of this system (its name, or
    the same manifest files). The result: {run, target, refuted: {control: why}, verified: {...}}."""
    name, files = system.info.name, {str(Path(f).resolve()) for f in system.files}
    run = _campaign_run(store, run, system, "--evidence")
    stored = store.need(run, "campaign")
    refuted: dict[str, str] = {}
    verified: dict[str, str] = {}
    # Where each refutation (verification) is known to be about some components alone (a tool that ran
    # without its gate; the tools an allowlist withheld): those; one of the control as a whole (None)
    # covers every component.
    refuted_on: dict[str, dict[str, None] | None] = {}
    verified_on: dict[str, dict[str, None] | None] = {}
    results = store.results(run)
    for result in results:
        for link in result.get("chain", []):
            where = f"run {run}, case {result['case']}: {link['evidence']}"
            if link["held"] is False:
                refuted.setdefault(link["control"], where)
                _narrow(refuted_on, link)
            elif link["held"] is True:
                verified.setdefault(link["control"], where)
                _narrow(verified_on, link)
    for check in (stored.get("summary") or {}).get("infrastructure", []):
        where = f"run {run}, {check['check']} check: {check['evidence']}"
        (verified if check["held"] else refuted).setdefault(check["control"], where)
        (verified_on if check["held"] else refuted_on)[check["control"]] = None
    held, held_on = settle(refuted_on, verified, verified_on)
    return {"run": run, "target": stored["target"], "same_system": _same_system(stored["config"], name, files),
            "refuted": refuted, "verified": held,
            "refuted_on": {c: list(on) for c, on in refuted_on.items() if on is not None},
            "verified_on": held_on, "contradicted": contradicted(results, f"run {run}, ")}


def settle(refuted_on: dict[str, dict[str, None] | None], verified: dict[str, str],
           verified_on: dict[str, dict[str, None] | None]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """What a campaign shows holding, once what it got past is taken out: a control refuted as a
    whole, or seen holding as a whole and refuted somewhere, is not verified; one seen holding on some
    components is verified on those it was not got past on."""
    held: dict[str, str] = {}
    held_on: dict[str, list[str]] = {}
    for control, why in verified.items():
        on = verified_on.get(control)
        if control in refuted_on:
            bad = refuted_on[control]
            left = [c for c in on if c not in bad] if on is not None and bad is not None else []
            if not left:
                continue
            held[control], held_on[control] = why, left
        else:
            held[control] = why
            if on is not None:
                held_on[control] = list(on)
    return held, held_on


def _narrow(found: dict[str, dict[str, None] | None], link: dict[str, Any]) -> None:
    """Add a chain link's components to what is known of its control: the control as a whole (None)
    as soon as one link names none."""
    on = link.get("on")
    if not on:
        found[link["control"]] = None
    elif (known := found.setdefault(link["control"], {})) is not None:
        known.update(dict.fromkeys(on))
