"""The system as a Mermaid flowchart: parties as swimlanes, untrusted sources marked, open attack
paths in red. Every label is escaped: manifest text never becomes Mermaid syntax or markup."""

from __future__ import annotations

import re

from demarcate.analysis.check import Result
from demarcate.report.untrusted import clean

# Inside a quoted Mermaid label parentheses are plain text (encoded, a cluster title shows `#40;` as is).
_SAFE = re.compile(r"[A-Za-z0-9 _.,:/+()-]")


def label(text: object) -> str:
    """Mermaid entity-encode everything outside a small safe set (`#60;` for `<`, and so on)."""
    return "".join(ch if _SAFE.fullmatch(ch) else f"#{ord(ch)};" for ch in clean(text))[:200]


# What would end a quoted label, start a Markdown string, open a tag where a renderer reads titles
# as HTML, or read as an entity code (`#39;`).
_TITLE_UNSAFE = re.compile(r'["`<>]|#(?=\w+;)')
_TITLE_STANDIN = {'"': "\u201d", "`": "'", "<": "\u2039", ">": "\u203a", "#": "#\u200b"}


def title(text: object) -> str:
    """A swimlane's title. Mermaid shows a cluster title as text, entity codes and all (`L&#39;équipe`),
    so it is written as it reads: what could end the label or read as markup or as an entity code
    gets a look-alike stand-in (a curly quote for `"`, ‹ › for `< >`, an invisible break after a
    `#`), and the rest is plain text."""
    return _TITLE_UNSAFE.sub(lambda m: _TITLE_STANDIN[m.group()[0]], clean(text).replace("\n", " "))[:200]


# A diagram of more components than this is unreadable, and Mermaid takes seconds to lay it out.
MAX_DRAWN = 120


def drawn(result: Result, highlight: str | None = None) -> list[str] | None:
    """The components a diagram shows, or None for all of them. Past MAX_DRAWN components it shows
    the selected path's, or, for the overview, those of the first open paths up to MAX_DRAWN."""
    if len(result.system.components) <= MAX_DRAWN:
        return None
    paths = result.paths.open_paths
    if highlight is not None:
        paths = [p for p in paths if p.id == highlight]
    chosen: dict[str, None] = {}
    for p in paths:
        if chosen and len(chosen.keys() | set(p.steps)) > MAX_DRAWN:
            break
        chosen.update(dict.fromkeys(p.steps))
    return list(chosen)


def scope_note(result: Result) -> str | None:
    """A sentence saying what the overview diagram leaves out, if anything."""
    keep = drawn(result)
    if keep is None:
        return None
    return (f"The diagram shows {len(keep):,} of {len(result.system.components):,} components: those on the first "
            "open attack paths. A system this size does not fit one readable diagram; the findings, the "
            "matrix and the JSON and SARIF reports cover all of it.")


def mermaid(result: Result, *, highlight: str | None = None) -> str:
    """A flowchart; `highlight` names one path id to draw alone in red (for selection). The
    overview leaves out what each flow carries: a model is the hub most flows meet at, and their
    labels piled onto it; a selected path's diagram labels its own flows."""
    system = result.system
    ctx = result.context
    keep = drawn(result, highlight)
    shown = system.components if keep is None else {cid: system.components[cid] for cid in keep}
    ids = {cid: f"c{i}" for i, cid in enumerate(shown)}
    lanes: dict[str, list[str]] = {}
    for cid, comp in shown.items():
        lanes.setdefault(comp.owner, []).append(cid)
    lines = ["flowchart LR"]
    for pi, (pid, party) in enumerate(system.parties.items()):
        if keep is not None and pid not in lanes:
            continue
        lines.append(f'  subgraph p{pi}["{title(party.label)} · {title(party.role)}"]')
        if not lanes.get(pid):  # a lane of its own all the same, rather than a caption floating free
            runs = [cid for cid, comp in shown.items() if comp.operated_by == pid]
            empty = f"operates {label(', '.join(runs))}" if runs else "no components in this manifest"
            lines.append(f'    e{pi}["{empty}"]:::empty')
        for cid in lanes.get(pid, []):
            comp = shown[cid]
            kind = comp.kind + (f", operated by {comp.operated_by}" if comp.operated_by else "")  # type: ignore[attr-defined]
            text = f"{label(comp.label)}<br/><small>{label(kind)}</small>"
            shape = ('[("', '")]') if comp.kind == "data-source" else ('["', '"]')  # type: ignore[attr-defined]
            lines.append(f"    {ids[cid]}{shape[0]}{text}{shape[1]}")
        lines.append("  end")
    open_edges: set[tuple[str, str]] = set()
    for path in result.paths.open_paths:
        if highlight is None or path.id == highlight:
            open_edges |= set(zip(path.steps, path.steps[1:], strict=False))
    red = []
    flows = system.flows if keep is None else [f for f in system.flows if f.source in ids and f.target in ids]
    for i, flow in enumerate(flows):
        crosses = system.components[flow.source].owner != system.components[flow.target].owner
        arrow = "==>" if (flow.source, flow.target) in open_edges else ("-.->" if crosses else "-->")
        on_path = highlight is not None and (flow.source, flow.target) in open_edges
        text = f'|"{label(flow.data)}"|' if flow.data and on_path else ""
        lines.append(f"  {ids[flow.source]} {arrow}{text} {ids[flow.target]}")
        if (flow.source, flow.target) in open_edges:
            red.append(str(i))
    untrusted = [ids[c] for c in shown if ctx.is_untrusted_source(c)]
    impacts = sorted({ids[p.impact] for p in result.paths.open_paths if p.impact in ids})
    lines.append("  classDef untrusted fill:#fde2e1,stroke:#c0392b,stroke-width:2px,color:#000")
    lines.append("  classDef impact fill:#fff3cd,stroke:#b7791f,stroke-width:2px,color:#000")
    lines.append("  classDef empty fill:#fff,stroke:#bbb,stroke-dasharray:4 3,color:#777")
    if untrusted:
        lines.append(f"  class {','.join(untrusted)} untrusted")
    if impacts:
        lines.append(f"  class {','.join(impacts)} impact")
    if red:
        lines.append(f"  linkStyle {','.join(red)} stroke:#d62728,stroke-width:3px")
    return "\n".join(lines) + "\n"
