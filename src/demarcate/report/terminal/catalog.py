"""The catalog and its kin: controls, presets, rules, probes, the lab's switches."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from demarcate.catalog import Catalog
from demarcate.model.schema import OPERATED_BY, OPERATED_LAYERS, Control, Preset
from demarcate.report.terminal.check import ASSURANCE_NOTE
from demarcate.report.terminal.common import field_grid, fits_width, t

if TYPE_CHECKING:
    from demarcate.testing.probes import Probe, Transform



WIDE_CATALOG = 110  # narrower than this, the catalog leaves its references to `explain`


def catalog_table(controls: Iterable[Control], title: str, width: int | None = None) -> Table:
    refs = width is None or width >= WIDE_CATALOG
    table = Table(title=t(title), caption=None if refs else t("references: `demarcate explain ID`", "dim"),
                  caption_justify="left")
    table.add_column("id", no_wrap=True)
    table.add_column("layer", no_wrap=True)
    table.add_column("function", no_wrap=True)
    table.add_column("assurance", no_wrap=True)
    table.add_column("title", min_width=30)
    if refs:
        table.add_column("references", max_width=30)
    for c in controls:
        row = [t(c.id, "bold"), t(c.layer), t(c.function), t(c.assurance or ""), t(c.title)]
        if refs:
            row.append(t(" ".join([*c.references.owasp_llm, *c.references.owasp_agentic, *c.references.atlas,
                                   *c.references.aicm]), "dim"))
        table.add_row(*row)
    return table


def print_control(console: Console, control: Control, catalog: Catalog) -> None:
    console.print(t(f"{control.id} — {control.title}", "bold"))
    if control.id in catalog.custom:
        console.print(t("(custom control from the manifest)", "dim"))
    layer = control.layer + (f" / {control.plane}" if control.plane else "")
    console.print(t(f"layer: {layer}   function: {control.function}   assurance: {control.assurance}"))
    console.print()
    console.print(t(control.description))
    console.print()
    rows = [
        ("applies to", ", ".join(control.applies_to) or "the system as a whole"),
        ("mitigates", ", ".join(control.mitigates)),
        ("OWASP LLM 2025", ", ".join(control.references.owasp_llm)),
        ("OWASP Agentic", ", ".join(control.references.owasp_agentic)),
        ("MITRE ATLAS", ", ".join(control.references.atlas)),
        ("CSA AICM", ", ".join(control.references.aicm)),
        ("NIST AI 600-1", ", ".join(control.references.nist_ai_600_1)),
        ("evidence", ", ".join(control.verify.evidence)),
        ("probes", ", ".join(control.verify.probes)),
        ("shown by", "; ".join(
            f"{c.kind}.{c.attribute} " + (f"in [{', '.join(str(v).lower() for v in c.in_)}]" if c.in_ is not None
                                          else f"hosts {c.hosts}")
            for c in control.configured_by)),
    ]
    console.print(field_grid(rows, justify="right"))
    if not control.closes_paths:
        console.print()
        console.print(t(ASSURANCE_NOTE.get(control.assurance or "", ASSURANCE_NOTE["procedural"]), "italic"))


def print_presets(console: Console, presets: Iterable[Preset]) -> None:
    """Which role operates each layer in each deployment model, and who that is: a table where it
    fits the terminal, else one block per preset."""
    presets = list(presets)
    table = Table(title="Deployment presets", caption=t("each layer: the role that operates it, and who that is",
                                                         "dim"), caption_justify="left")
    table.add_column("preset", no_wrap=True)
    for layer in OPERATED_LAYERS:
        table.add_column(layer, no_wrap=True)
    for p in presets:
        table.add_row(t(p.id, "bold") + t(f"\n{p.title}", "dim"),
                      *(t(p.operators[layer].role) + t(f"\n{OPERATED_BY[p.operators[layer].by]}", "dim")
                        for layer in OPERATED_LAYERS))
    if fits_width(console, table):
        console.print(table)
        return
    console.print(t("Deployment presets", "bold"), t("(each layer: the role that operates it, and who that is)", "dim"))
    for p in presets:
        console.print()
        console.print(t(p.id, "bold"), t(f"— {p.title}", "dim"))
        grid = Table.grid(padding=(0, 2))
        grid.add_column(no_wrap=True)
        grid.add_column()
        for layer in OPERATED_LAYERS:
            op = p.operators[layer]
            grid.add_row(t(f"  {layer}"), t(op.role) + t(f" ({OPERATED_BY[op.by]})", "dim"))
        console.print(grid)


WIDE_RULES = 120  # narrower than this, the rules leave who acts to `explain RULE`


def rules_table(rules: Iterable[object], width: int | None = None) -> Table:
    wide = width is None or width >= WIDE_RULES
    table = Table(title="demarcate rules", caption=None if wide else t("who acts: `demarcate explain RULE`", "dim"),
                  caption_justify="left")
    table.add_column("id", no_wrap=True)
    table.add_column("title")
    if wide:
        table.add_column("who acts")
    for r in rules:
        cells = [t(r.id, "bold"), t(r.title)] + ([t(r.who_acts)] if wide else [])  # type: ignore[attr-defined]
        table.add_row(*cells)
    return table


def print_probes(console: Console, probes: list[Probe], exercises: Callable[[Probe], tuple[str, ...]],
                 transforms: dict[str, Transform]) -> None:
    """The probes, with the controls each one's chain judges where the terminal is wide enough;
    narrower, grouped under a heading row per category."""
    for wide in (True, False):
        notes = [f"transforms (--transforms): {', '.join(transforms)}", "one probe's payload: `demarcate probes ID`"]
        if not wide:
            notes.append("the controls each judges: a wider terminal, or --format json")
        table = Table(title=f"demarcate probes — {len(probes)}",
                      caption=t(" · ".join(notes), "dim"), caption_justify="left")
        names = ("id", "category", "entry", "goal") if wide else ("id", "entry", "goal")
        for name in names:
            table.add_column(name, no_wrap=True)
        if wide:
            table.add_column("controls judged", min_width=35)
            for p in probes:
                table.add_row(t(p.id, "bold"), t(p.category), t(p.entry), t(p.goal), t(" ".join(exercises(p)), "dim"))
            if not fits_width(console, table):
                continue
        else:
            by_category: dict[str, list[Probe]] = {}
            for p in probes:
                by_category.setdefault(p.category, []).append(p)
            for i, (category, members) in enumerate(sorted(by_category.items())):
                table.add_row(t(category, "bold italic"), end_section=True)
                for j, p in enumerate(members):
                    table.add_row(t(p.id, "bold"), t(p.entry), t(p.goal),
                                  end_section=j == len(members) - 1 and i < len(by_category) - 1)
        console.print(table)
        return


def print_probe(console: Console, probe: Probe, controls: tuple[str, ...], transforms: list[str]) -> None:
    console.print(t(probe.id, "bold"), t(f"— {probe.category}", "dim"))
    console.print(t(f"entry: {probe.entry}   goal: {probe.goal}"))
    console.print(t("controls judged: ") + t(" ".join(controls)))
    console.print()
    console.print(t("payload (placeholders filled per run and case):", "underline"))
    console.print(t(probe.payload), soft_wrap=True)
    console.print()
    console.print(t(f"transforms that apply: {', '.join(transforms)}", "dim"))


def print_rule(console: Console, rule: object) -> None:
    r = rule
    console.print(t(f"{r.id} — {r.title}", "bold"))  # type: ignore[attr-defined]
    console.print(field_grid((("detects", r.detects), ("why it matters", r.why), ("severity", r.severity),  # type: ignore[attr-defined]
                           ("who acts", r.who_acts), ("false positives", r.false_positives),  # type: ignore[attr-defined]
                           ("fix", r.fix), ("references", ", ".join(r.references)))))  # type: ignore[attr-defined]


def print_switches(console: Console, switches: dict, state: dict[str, bool]) -> None:
    """The lab's switches: a table where it fits, else one block per switch."""
    def now(name: str) -> Text:
        return t("on" if state[name] else "off", "green" if state[name] else "red")

    table = Table(title="demarcate lab: control switches")
    table.add_column("switch", no_wrap=True)
    table.add_column("now", no_wrap=True)
    table.add_column("control", no_wrap=True)
    table.add_column("party", no_wrap=True)
    table.add_column("what it does", min_width=30)
    for name, sw in switches.items():
        table.add_row(t(name, "bold"), now(name), t(sw.control), t(sw.party), t(sw.does))
    if fits_width(console, table):
        console.print(table)
        return
    console.print(t("demarcate lab: control switches", "bold"))
    for name, sw in switches.items():
        console.print()
        console.print(t(name, "bold"), now(name), t(f"{sw.control} · {sw.party}", "dim"))
        console.print(Padding(t(sw.does), (0, 0, 0, 2)))
