"""Commands that read the catalog: catalog, explain, presets, and init's starter manifests."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Annotated

import typer

from demarcate.catalog import load_catalog
from demarcate.catalog import search as search_catalog
from demarcate.cli.analysis import explain_finding
from demarcate.cli.core import (
    ListFormat,
    app,
    check_choice,
    control_id,
    emit_json,
    err,
    load_manifest,
    out,
    reports_errors,
    terminal,
)
from demarcate.model.errors import ManifestError, Position, Problem, did_you_mean
from demarcate.model.scaffold import render, split, starter


@app.command()
@reports_errors
def catalog(
    layer: Annotated[str | None, typer.Option(help="model, application, infrastructure or usage.")] = None,
    search: Annotated[str | None, typer.Option(help="Words to find in id, title, references, kinds, threats or "
                                                    "description; best matches first.")] = None,
    format: Annotated[ListFormat, typer.Option("--format", "-f")] = ListFormat.table,
) -> None:
    """List the built-in control catalog."""
    cat = load_catalog()
    check_choice(layer, ("model", "application", "infrastructure", "usage"), "layer")
    controls = list(cat.controls.values())
    if layer:
        controls = [c for c in controls if c.layer == layer]
    if search:
        controls = search_catalog(controls, search)
    if format is ListFormat.json:
        emit_json({"version": cat.version,
                   "controls": [c.model_dump(by_alias=True, exclude_none=True) for c in controls]})
        return
    out.print(terminal.catalog_table(controls, f"demarcate catalog {cat.version} — {len(controls)} controls",
                                     width=out.width))


@app.command()
@reports_errors
def explain(
    control: Annotated[str, typer.Argument(help="A control id (APP-IN-03), a rule id (open-attack-path), or a "
                                                "finding id as `check` prints it.")],
    manifest: Annotated[list[Path] | None, typer.Option(
        "--manifest", "-m", help="Also look up custom controls declared in these manifests; for a finding id, "
                                 "the manifest whose finding to show in full.")] = None,
    format: Annotated[ListFormat, typer.Option("--format", "-f")] = ListFormat.table,
) -> None:
    """Describe one control (its layer, references and how to verify it), one rule, or one finding."""
    from demarcate.analysis.rules import RULES

    if ":" in control and control.split(":", 1)[0].lower() in RULES:
        explain_finding(control, manifest, format)
        return
    if control.lower() in RULES:
        rule = RULES[control.lower()].rule
        if format is ListFormat.json:
            emit_json(dataclasses.asdict(rule))
        else:
            terminal.print_rule(out, rule)
        return
    cat = load_manifest(manifest).catalog if manifest else load_catalog()
    found = cat.controls[control_id(cat.controls, control, rules=RULES)]
    if format is ListFormat.json:
        emit_json(found.model_dump(by_alias=True, exclude_none=True))
    else:
        terminal.print_control(out, found, cat)


@app.command()
@reports_errors
def presets(format: Annotated[ListFormat, typer.Option("--format", "-f")] = ListFormat.table) -> None:
    """List deployment presets: which role operates each layer in each deployment model."""
    cat = load_catalog()
    if format is ListFormat.json:
        emit_json([p.model_dump(by_alias=True, exclude_none=True) for p in cat.presets.values()])
        return
    terminal.print_presets(out, cat.presets.values())


@app.command()
@reports_errors
def init(
    preset: Annotated[str, typer.Option(help="Deployment preset; see `demarcate presets`.")] = "managed-model-api",
    output: Annotated[Path | None, typer.Option("-o", "--output",
                                                help="File to write (with --split: a folder).")] = None,
    split_files: Annotated[bool, typer.Option("--split", help="Write one file per party into the folder -o.")] = False,
    name: Annotated[str, typer.Option(help="The system's name.")] = "My AI application",
    force: Annotated[bool, typer.Option(help="Overwrite existing files.")] = False,
) -> None:
    """Write a starter manifest for a deployment preset."""
    cat = load_catalog()
    if preset not in cat.presets:
        raise ManifestError([Problem(f"unknown preset '{preset}'", None,
                                     did_you_mean(preset, cat.presets) or "see `demarcate presets`")])
    chosen = cat.presets[preset]
    data = starter(chosen, name)
    if split_files:
        if output is None:
            raise ManifestError([Problem("--split needs -o FOLDER")])
        files = split(chosen, data)
        output.mkdir(parents=True, exist_ok=True)
        targets = {output / n: text for n, text in files.items()}
    else:
        text = render(chosen, data)
        if output is None:
            sys.stdout.write(text)
            return
        targets = {output: text}
    existing = [p for p in targets if p.exists()]
    if existing and not force:
        raise ManifestError([Problem("file exists; use --force to overwrite", Position(str(p))) for p in existing])
    for path, text in targets.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        err.print(terminal.t(f"wrote {path}"))
