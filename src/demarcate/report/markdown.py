"""Markdown for pull requests: the diagram as Mermaid (GitHub and GitLab render it), the fix, and
the top findings. Manifest text is escaped so it cannot inject links, images or HTML."""

from __future__ import annotations

from demarcate.analysis.check import Result
from demarcate.report.diagram import mermaid
from demarcate.report.tabular import md_escape

ICON = {"critical": "🟥", "high": "🟧", "medium": "🟨", "low": "🟦"}


def check_markdown(result: Result, top: int = 10) -> str:
    system = result.system
    lev = result.leverage
    out = [f"## demarcate: {md_escape(system.info.name)}", ""]
    counts = {s: 0 for s in ICON}
    for f in result.open_findings():
        counts[f.severity] += 1
    out.append(" · ".join(f"{ICON[s]} {counts[s]} {s}" for s in ("critical", "high", "medium", "low"))
               + f" · {len(result.paths.open_paths)} open attack path(s)")
    out += ["", "```mermaid", mermaid(result).rstrip("\n"), "```", ""]
    if lev.fix:
        out.append(f"**Highest-leverage fix** ({'exact' if lev.exact else 'approximate'}): "
                   + ", ".join(f"`{md_escape(c)}` ({md_escape(', '.join(lev.responsible.get(c, [])))})" for c in lev.fix)
                   + f" closes {lev.closes} of {lev.open_paths} open paths.")
        out.append("")
        out.append("| layer | open paths it could close alone |")
        out.append("|---|---|")
        for layer, n in lev.by_layer.items():
            out.append(f"| {layer} | {n} / {lev.open_paths} |")
        out.append("")
    findings = result.open_findings()
    out.append(f"### Top findings ({min(top, len(findings))} of {len(findings)})")
    out.append("")
    out.append("| severity | finding | who must act |")
    out.append("|---|---|---|")
    for f in findings[:top]:
        out.append(f"| {ICON[f.severity]} {f.severity} | **{md_escape(f.title)}**<br>{md_escape(f.explanation)}"
                   f"<br>*Fix:* {md_escape(f.recommendation)} | {md_escape(', '.join(f.responsible))} |")
    out.append("")
    return "\n".join(out)
