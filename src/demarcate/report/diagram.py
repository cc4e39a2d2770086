"""The system as a Mermaid flowchart: parties as swimlanes, untrusted sources marked, open attack
paths in red. Every label is escaped: manifest text never becomes Mermaid syntax or markup."""

from __future__ import annotations

import re

from demarcate.analysis.check import Result

_SAFE = re.compile(r"[A-Za-z0-9 _.,:/+-]")


def label(text: object) -> str:
    """Mermaid entity-encode everything outside a small safe set (`#60;` for `<`, and so on)."""
    return "".join(ch if _SAFE.fullmatch(ch) else f"#{ord(ch)};" for ch in str(text))[:200]


def mermaid(result: Result, *, highlight: str | None = None) -> str:
    """A flowchart; `highlight` names one path id to draw alone in red (for selection)."""
    system = result.system
    ctx = result.context
    ids = {cid: f"c{i}" for i, cid in enumerate(system.components)}
    lines = ["flowchart LR"]
    for pi, (pid, party) in enumerate(system.parties.items()):
        lines.append(f'  subgraph p{pi}["{label(party.label)} · {label(party.role)}"]')
        for cid, comp in system.components.items():
            if comp.owner != pid:
                continue
            text = f"{label(comp.label)}<br/><small>{label(comp.kind)}</small>"  # type: ignore[attr-defined]
            shape = ('[("', '")]') if comp.kind == "data-source" else ('["', '"]')  # type: ignore[attr-defined]
            lines.append(f"    {ids[cid]}{shape[0]}{text}{shape[1]}")
        lines.append("  end")
    open_edges: set[tuple[str, str]] = set()
    for path in result.paths.open_paths:
        if highlight is None or path.id == highlight:
            open_edges |= set(zip(path.steps, path.steps[1:], strict=False))
    red = []
    for i, flow in enumerate(system.flows):
        crosses = system.components[flow.source].owner != system.components[flow.target].owner
        arrow = "==>" if (flow.source, flow.target) in open_edges else ("-.->" if crosses else "-->")
        text = f'|"{label(flow.data)}"|' if flow.data else ""
        lines.append(f"  {ids[flow.source]} {arrow}{text} {ids[flow.target]}")
        if (flow.source, flow.target) in open_edges:
            red.append(str(i))
    untrusted = [ids[c] for c in system.components if ctx.is_untrusted_source(c)]
    impacts = sorted({ids[p.impact] for p in result.paths.open_paths})
    lines.append("  classDef untrusted fill:#fde2e1,stroke:#c0392b,stroke-width:2px,color:#000")
    lines.append("  classDef impact fill:#fff3cd,stroke:#b7791f,stroke-width:2px,color:#000")
    if untrusted:
        lines.append(f"  class {','.join(untrusted)} untrusted")
    if impacts:
        lines.append(f"  class {','.join(impacts)} impact")
    if red:
        lines.append(f"  linkStyle {','.join(red)} stroke:#d62728,stroke-width:3px")
    return "\n".join(lines) + "\n"
