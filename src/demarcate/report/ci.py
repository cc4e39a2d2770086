"""Findings in the forms CI systems show beside the code, at the manifest line each concerns.

GitHub Actions workflow commands: each open finding becomes an annotation, shown in the pull
request's changed files and on the run's page, with nothing to upload and no code-scanning licence
needed. Manifest text is untrusted here too: a workflow command is one line, so a line break in a
component's name or an assumption could start a command of its own (masking a value, setting an
output). Line breaks and the characters that end a property are percent-encoded, which is the
escaping the runner decodes.

GitLab Code Quality: the JSON report a merge request's widget reads (`artifacts: reports:
codequality`), each finding with a fingerprint derived from its stable id, so that GitLab can say
which findings a merge request introduces and which it resolves.

JUnit XML: the test report Jenkins, Azure Pipelines, CircleCI, Bitbucket and GitLab (`artifacts:
reports: junit`) show for a build. Each rule that ran is a suite and each finding a test case: an
open finding fails, a decided one (or with a baseline, one already in it) is skipped, and a rule
that found nothing passes, so the report also says what was checked."""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any

from demarcate.analysis.check import Result, finding_position
from demarcate.analysis.findings import Finding
from demarcate.model.errors import Position, Problem
from demarcate.report.sarif import manifest_path
from demarcate.report.untrusted import clean

# GitHub has three annotation levels.
LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "notice"}


def _data(text: str) -> str:
    return clean(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def _command(level: str, message: str, **properties: object) -> str:
    props = ",".join(f"{k}={_property(str(v))}" for k, v in properties.items() if v not in (None, "", 0))
    return f"::{level}{' ' + props if props else ''}::{_data(message)}"


class _Places:
    """Where findings and problems point, as CI systems want it: the manifest file relative to
    `base` (the repository's root when run from it), line and column."""

    def __init__(self, base: Path):
        self.base = base
        self.names: dict[str, str] = {}

    def of(self, pos: Position | None) -> dict[str, Any]:
        if pos is None or not pos.file:
            return {}
        if pos.file not in self.names:
            self.names[pos.file] = manifest_path(pos.file, self.base)
        return {"file": self.names[pos.file], "line": pos.line, "col": pos.column}

    def of_finding(self, result: Result, finding: Finding) -> dict[str, Any]:
        return self.of(finding_position(result.system, finding) or Position(result.system.files[0]))


def github_annotations(result: Result, base: Path, only: Collection[str] | None = None) -> str:
    """One workflow command per open finding (most severe first; with `only`, those of these ids,
    such as the findings new against a baseline), then one per warning."""
    places = _Places(base)
    lines = [_command(LEVEL[f.severity], f"{f.message} [{f.id}]", **places.of_finding(result, f),
                      title=f"demarcate {f.severity}: {f.rule}")
             for f in result.open_findings() if only is None or f.id in only]
    return "".join(line + "\n" for line in lines) + problem_annotations(result.warnings, base, places)


def problem_annotations(problems: Iterable[Problem], base: Path, places: _Places | None = None) -> str:
    """Manifest problems (errors and warnings) as workflow commands at their positions."""
    places = places or _Places(base)
    return "".join(_command("error" if p.level == "error" else "warning",
                            p.text, **places.of(p.position),
                            title="demarcate") + "\n" for p in problems)


# GitLab's five severities.
GITLAB_SEVERITY = {"critical": "critical", "high": "major", "medium": "minor", "low": "info"}


def gitlab_code_quality(result: Result, base: Path) -> list[dict[str, Any]]:
    """The open findings as a GitLab Code Quality report."""
    places = _Places(base)
    report = []
    for f in result.open_findings():
        where = places.of_finding(result, f)
        report.append({
            "description": f"{f.message} [{f.id}]",
            "check_name": f.rule,
            "fingerprint": hashlib.sha256(f"demarcate/{f.id}".encode()).hexdigest(),
            "severity": GITLAB_SEVERITY[f.severity],
            "categories": ["Security"],
            "location": {"path": where.get("file", ""), "lines": {"begin": max(1, where.get("line") or 1)}},
        })
    return report


# What XML 1.0 cannot hold at all, even escaped: most control characters, lone surrogates, U+FFFE/F.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def junit_xml(result: Result, base: Path, new: Collection[str] | None = None) -> str:
    """The findings as a JUnit XML test report, one suite per rule that ran. With `new` (the ids new
    against a baseline), only those fail; the others are skipped as known."""
    places = _Places(base)
    by_rule: dict[str, list[Finding]] = {r: [] for r in result.rules}
    for f in result.findings:
        by_rule.setdefault(f.rule, []).append(f)
    root = ET.Element("testsuites", name=_xml(f"demarcate: {result.system.info.name}"))
    totals = dict.fromkeys(("tests", "failures", "skipped"), 0)
    for rule, findings in by_rule.items():
        suite = ET.SubElement(root, "testsuite", name=rule)
        counts = dict.fromkeys(totals, 0)
        if not findings:
            ET.SubElement(suite, "testcase", classname=f"demarcate.{rule}", name=f"{rule}: nothing found")
            counts["tests"] = 1
        for f in findings:
            where = places.of_finding(result, f)
            case = ET.SubElement(suite, "testcase", classname=f"demarcate.{rule}", name=_xml(f.id))
            if where.get("file"):
                case.set("file", _xml(where["file"]))
            if where.get("line"):
                case.set("line", str(where["line"]))
            counts["tests"] += 1
            if not f.is_open:
                ET.SubElement(case, "skipped", message=_xml(f"{f.status}: {f.decision_note}"))
                counts["skipped"] += 1
            elif new is not None and f.id not in new:
                ET.SubElement(case, "skipped", message="in the baseline: not new")
                counts["skipped"] += 1
            else:
                failure = ET.SubElement(case, "failure", type=f.severity, message=_xml(f"{f.severity}: {f.title}"))
                failure.text = _xml(f.message)
                counts["failures"] += 1
        for key, n in counts.items():
            suite.set(key, str(n))
            totals[key] += n
        suite.set("errors", "0")
    for key, n in totals.items():
        root.set(key, str(n))
    root.set("errors", "0")
    return _xml_document(root)


def problem_junit(problems: Iterable[Problem], base: Path) -> str:
    """A manifest that cannot be read, as a JUnit report: one errored case per problem at its place,
    so that the CI system shows why nothing was checked rather than an empty report."""
    places = _Places(base)
    problems = list(problems)
    root = ET.Element("testsuites", name="demarcate", tests=str(len(problems)), failures="0", skipped="0",
                      errors=str(len(problems)))
    suite = ET.SubElement(root, "testsuite", name="manifest", tests=str(len(problems)), failures="0", skipped="0",
                          errors=str(len(problems)))
    for i, problem in enumerate(problems, 1):
        where = places.of(problem.position)
        case = ET.SubElement(suite, "testcase", classname="demarcate.manifest", name=f"problem {i}")
        if where.get("file"):
            case.set("file", _xml(where["file"]))
        if where.get("line"):
            case.set("line", str(where["line"]))
        error = ET.SubElement(case, "error", type="manifest", message=_xml(problem.text))
        error.text = _xml(str(problem))
    return _xml_document(root)


def _xml_document(root: ET.Element) -> str:
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
