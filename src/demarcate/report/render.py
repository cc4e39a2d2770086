"""Every report format from one place: `render_report(format, gate)` is the text a report command
writes, whichever command asks (`report`, `check --report`, `check --format`)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

from demarcate.analysis.gate import Gate
from demarcate.analysis.matrix import filter_rows, matrix, matrix_csv_rows
from demarcate.model.errors import ManifestError, Position, Problem
from demarcate.report.jsonio import json_text
from demarcate.report.tabular import to_csv


class ReportFormat(StrEnum):
    html = "html"
    markdown = "markdown"
    json = "json"
    sarif = "sarif"
    csv = "csv"
    gitlab = "gitlab"  # GitLab Code Quality
    junit = "junit"  # JUnit XML test report


# The report format `check --report FILE` writes, by the file's name.
REPORT_SUFFIXES = {".html": ReportFormat.html, ".htm": ReportFormat.html, ".md": ReportFormat.markdown,
                   ".markdown": ReportFormat.markdown, ".json": ReportFormat.json, ".sarif": ReportFormat.sarif,
                   ".csv": ReportFormat.csv, ".xml": ReportFormat.junit}


def report_format(output: Path) -> ReportFormat:
    if output.name.lower().endswith(".sarif.json"):
        return ReportFormat.sarif
    found = REPORT_SUFFIXES.get(output.suffix.lower())
    if found is None:
        raise ManifestError([Problem(
            "cannot tell which report to write from the file's name",
            Position(str(output)), "name it " + ", ".join(REPORT_SUFFIXES) + " or .sarif.json")])
    return found


def render_report(format: ReportFormat, gate: Gate, party: list[str] | None,
                 trend: list[dict[str, Any]] | None = None,
                 campaigns: list[tuple[str, dict[str, Any]]] | None = None) -> str:
    """One report of a check: what was assumed and what is new against the baseline included (and in
    HTML, stored analyses as a trend). SARIF and GitLab name manifest files relative to the working
    directory, the repository's root in a pipeline, wherever the report is written."""
    result = gate.result
    if format is ReportFormat.html:
        from demarcate.report.html import render_html

        return render_html(result, note=gate.what_if, changes=gate.changes, history=trend, campaigns=campaigns or [])
    if format is ReportFormat.markdown:
        from demarcate.report.markdown import check_markdown, diff_markdown

        text = check_markdown(result, note=gate.what_if)
        if gate.changes is not None:
            text += "\n" + diff_markdown(gate.changes, within="Against the baseline")
        return text
    if format is ReportFormat.json:
        return json_text(gate.json())
    if format is ReportFormat.sarif:
        from demarcate.report.sarif import sarif

        changed = {f["id"] for f in gate.changes.changed} if gate.changes is not None else set()
        return json_text(sarif(result, base=Path.cwd(), new=gate.new, updated=changed))
    if format is ReportFormat.gitlab:
        from demarcate.report.ci import gitlab_code_quality

        return json_text(gitlab_code_quality(result, base=Path.cwd()))
    if format is ReportFormat.junit:
        from demarcate.report.ci import junit_xml

        return junit_xml(result, base=Path.cwd(), new=gate.new)
    return to_csv(matrix_csv_rows(result.system, filter_rows(matrix(result.system), party=party)))
