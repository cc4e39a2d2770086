"""GitHub Actions workflow commands: each open finding becomes an annotation on the manifest line
it concerns, shown in the pull request's changed files and on the run's page, with nothing to
upload and no code-scanning licence needed.

Manifest text is untrusted here too: a workflow command is one line, so a line break in a
component's name or an assumption could start a command of its own (masking a value, setting an
output). Line breaks and the characters that end a property are percent-encoded, which is the
escaping the runner decodes."""

from __future__ import annotations

from pathlib import Path

from demarcate.analysis.check import Result, finding_position
from demarcate.model.errors import Position
from demarcate.report.sarif import manifest_path

# GitHub has three annotation levels.
LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "notice"}


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def _command(level: str, message: str, **properties: object) -> str:
    props = ",".join(f"{k}={_property(str(v))}" for k, v in properties.items() if v not in (None, "", 0))
    return f"::{level}{' ' + props if props else ''}::{_data(message)}"


def github_annotations(result: Result, base: Path) -> str:
    """One workflow command per open finding (most severe first) and per warning. File names are
    relative to `base`, the repository's root when run from it, as the runner wants them."""
    paths: dict[str, str] = {}

    def located(pos: Position | None) -> dict[str, object]:
        if pos is None or not pos.file:
            return {}
        if pos.file not in paths:
            paths[pos.file] = manifest_path(pos.file, base)
        return {"file": paths[pos.file], "line": pos.line, "col": pos.column}

    lines = []
    for f in result.open_findings():
        pos = finding_position(result.system, f) or Position(result.system.files[0])
        lines.append(_command(LEVEL[f.severity], f"{f.message} [{f.id}]", **located(pos),
                              title=f"demarcate {f.severity}: {f.rule}"))
    for w in result.warnings:
        lines.append(_command("warning", w.message + (f" ({w.hint})" if w.hint else ""), **located(w.position),
                              title="demarcate"))
    return "".join(line + "\n" for line in lines)
