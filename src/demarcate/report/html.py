"""The self-contained HTML report: one file, no external request, attacker-controlled text inert.

Every manifest string reaches the page through Jinja2's autoescaping or as JSON read with
`textContent`; diagram labels are entity-encoded for Mermaid as well (see diagram.py). A Content
Security Policy allows only the report's own inline scripts (by hash) and no network at all.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from demarcate import __version__
from demarcate.analysis.check import Result
from demarcate.analysis.diff import Diff
from demarcate.analysis.findings import SEVERITIES, count
from demarcate.analysis.matrix import matrix
from demarcate.report.diagram import mermaid, scope_note
from demarcate.report.verdict import verdict

MAX_SELECTABLE_PATHS = 50
# Up to this many, the closed paths and every party's findings are shown at once; a portfolio's
# thousands start folded under one line per party (with its counts), so the page can be read.
FEW_PATHS = 30
FEW_FINDINGS = 150
STATUS_CLASS = {"implemented": "ok", "partial": "partial", "planned": "planned", "nobody": "gap",
                "not-applicable": "na"}
CLAIM_CLASS = {"provides": "ok", "relies-on": "relies", "default": "gap", "not-applicable": "na", "none": ""}


@cache
def _mermaid_js() -> str:
    return (resources.files("demarcate.report") / "vendor" / "mermaid.min.js").read_text(encoding="utf-8")


def _env() -> Environment:
    env = Environment(loader=PackageLoader("demarcate.report", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["count"] = count
    env.filters["thousands"] = "{:,}".format
    return env


def script_json(data: Any) -> str:
    """JSON that is safe inside a <script> element: no `</script>`, no HTML comment openers."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e") \
        .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


APP_JS = """
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var diagram = document.getElementById("diagram");
  function draw(source) {
    diagram.removeAttribute("data-processed");
    diagram.textContent = source;
    return window.mermaid.run({nodes: [diagram]});
  }
  window.mermaid.initialize({startOnLoad: false, securityLevel: "strict", theme: "default",
                             flowchart: {htmlLabels: false, useMaxWidth: true}});
  draw(data.diagram).then(function () { document.body.setAttribute("data-diagram", "ready"); })
    .catch(function (e) { document.body.setAttribute("data-diagram", "error"); });
  var buttons = document.querySelectorAll("[data-path]");
  buttons.forEach(function (b) {
    b.addEventListener("click", function () {
      var id = b.getAttribute("data-path");
      var selected = b.classList.contains("selected");
      buttons.forEach(function (o) { o.classList.remove("selected"); });
      if (!selected) { b.classList.add("selected"); }
      document.body.setAttribute("data-diagram", "drawing");
      draw(selected ? data.diagram : data.pathDiagrams[id]).then(function () {
        document.body.setAttribute("data-diagram", "ready");
        document.body.setAttribute("data-selected-path", selected ? "" : id);
      });
    });
  });
  var filters = document.querySelectorAll("select[data-filter]");
  var everyControl = document.getElementById("show-all-controls");
  function applyFilters() {
    var want = {};
    filters.forEach(function (f) { want[f.getAttribute("data-filter")] = f.value; });
    document.querySelectorAll("#matrix tbody tr").forEach(function (row) {
      var show = everyControl.checked || !row.hasAttribute("data-extra");
      if (want.layer && row.getAttribute("data-layer") !== want.layer) { show = false; }
      if (want.status && row.getAttribute("data-status") !== want.status) { show = false; }
      if (want.party && row.getAttribute("data-parties").split(" ").indexOf(want.party) < 0) { show = false; }
      row.hidden = !show;
    });
    var shown = document.querySelectorAll("#matrix tbody tr:not([hidden])").length;
    document.getElementById("matrix-count").textContent = String(shown);
  }
  filters.forEach(function (f) { f.addEventListener("change", applyFilters); });
  everyControl.addEventListener("change", applyFilters);
})();
"""


def render_html(result: Result, campaign: dict[str, Any] | None = None, note: str | None = None,
                changes: Diff | None = None, history: list[dict[str, Any]] | None = None,
                campaigns: Sequence[tuple[str, dict[str, Any]]] = ()) -> str:
    """`note` is shown under the title (what `check --assume` assumed); `changes`, the comparison with
    a baseline, marks the new findings and lists those fixed; `history`, stored analyses of the
    system (runs as the history lists them, newest first), is shown as a trend. `campaigns` are
    (label, campaign) pairs, the one testing the manifest as written first; `campaign` is one,
    labelled by its run."""
    system = result.system
    if campaign is not None:
        campaigns = [(f"Run {campaign['run']}", campaign), *campaigns]
    answer = verdict(result, campaigns)
    rows = matrix(system, result.context.resp)
    # The matrix opens on what matters here: the controls somebody claims, relies on or must have,
    # those that would close an open path, and those the live test judged; the rest one click away.
    judged = {c for _, run in campaigns for c in (run["summary"].get("controls") or {})}
    wanted = {*result.paths.candidate_use, *result.leverage.fix, *judged}
    relevant = {row.control for row in rows
                if row.control in wanted or row.required
                or any(c.claim in ("provides", "relies-on", "not-applicable") for c in row.cells.values())}
    findings = result.findings
    groups: dict[str, list[Any]] = {}
    for f in findings:
        groups.setdefault(f.responsible[0] if f.responsible else "(no party)", []).append(f)
    party_order = [p for p in system.parties if p in groups] + [g for g in groups if g not in system.parties]
    counts = result.open_counts()
    lev = result.leverage
    # Each selectable path carries a diagram of its own; a portfolio's thousands would not fit a page.
    selectable = result.paths.open_paths[:MAX_SELECTABLE_PATHS]
    data = {
        "diagram": mermaid(result),
        "pathDiagrams": {p.id: mermaid(result, highlight=p.id) for p in selectable},
    }
    data_json = script_json(data)
    mermaid_js = _mermaid_js()
    csp = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:; "
           f"script-src {_sha256(mermaid_js)} {_sha256(APP_JS)}; connect-src 'none'; base-uri 'none'; "
           "form-action 'none'")
    return _env().get_template("report.html.j2").render(
        system=system,
        version=__version__,
        csp=csp,
        counts=counts,
        severities=list(reversed(SEVERITIES)),
        rows=rows,
        parties=list(system.parties.values()),
        layers=["model", "application", "infrastructure", "usage"],
        statuses=list(STATUS_CLASS),
        status_class=STATUS_CLASS,
        claim_class=CLAIM_CLASS,
        groups=[(g, groups[g]) for g in party_order],
        paths=result.paths,
        selectable={p.id for p in selectable},
        leverage=lev,
        catalog=system.catalog,
        mermaid_js=mermaid_js,
        app_js=APP_JS,
        data_json=data_json,
        diagram_note=scope_note(result),
        campaigns=list(campaigns),
        verdict=answer,
        relevant=relevant,
        few_paths=FEW_PATHS,
        few_findings=FEW_FINDINGS,
        findings_total=len(findings),
        scope=result.parties,
        note=note,
        changes=changes,
        new={f["id"] for f in changes.new} if changes is not None else set(),
        history=None if history is None else [
            {**run, "when": time.strftime("%Y-%m-%d %H:%M", time.localtime(run["created"]))} for run in history],
    )
