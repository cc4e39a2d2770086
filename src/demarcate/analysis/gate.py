"""One `check` as a CI gate judges it: the analysis, narrowed to some parties (`--party`), run on
the system as it would be with some controls in effect (`--assume`), and compared with a saved
result (`--baseline`). Every output of the run — standard output and each `--report` — is made
from this one object, so they all tell the story the exit code tells."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from demarcate.analysis.check import Result, analyse, finding_json, for_parties, result_json
from demarcate.analysis.diff import Diff, Findings, diff, naming, other_system
from demarcate.analysis.findings import listing
from demarcate.model.loader import System


@dataclass
class Gate:
    result: Result
    changes: Diff | None = None  # against the baseline, if there is one
    assumed: list[tuple[str, str]] = field(default_factory=list)  # (control, party) in effect by assumption
    before: tuple[int, int] = (0, 0)  # with assumptions: open findings and open paths without them
    warnings: list[str] = field(default_factory=list)

    @property
    def what_if(self) -> str | None:
        """The one line that says what was assumed and what it changes."""
        if not self.assumed:
            return None
        findings, paths = self.before
        return (f"What if {listing(f'{c} ({p})' for c, p in self.assumed)} were in effect: open findings "
                f"{findings:,} → {len(self.result.open_findings()):,}, open attack paths {paths:,} → "
                f"{len(self.result.paths.open_paths):,}")

    @property
    def new(self) -> set[str] | None:
        """The ids of the findings new against the baseline (None without one): what the gate judges."""
        return None if self.changes is None else self.changes.new_ids

    def fails(self, level: str) -> bool:
        """Whether the gate fails at this level: on an open finding, or with a baseline a new one."""
        return self.changes.fails(level) if self.changes is not None else self.result.fails(level)

    def json(self) -> dict[str, Any]:
        """The JSON contract, with what was assumed and what changed against the baseline."""
        data = result_json(self.result)
        if self.assumed:
            data["assumed"] = {"controls": [{"control": c, "party": p} for c, p in self.assumed],
                               "before": {"open_findings": self.before[0], "open_paths": self.before[1]}}
        if self.changes is not None:
            data["baseline"] = {k: [f["id"] for f in v] for k, v in (
                ("new", self.changes.new), ("fixed", self.changes.fixed), ("changed", self.changes.changed),
                ("unchanged", self.changes.unchanged))}
        return data


def judge(system: System, *, rules: list[str] | None = None, parties: list[str] | None = None,
          baseline: Findings | None = None, assume: list[tuple[str, str | None]] | None = None) -> Gate:
    """Analyse the system — with the controls in `assume` in effect, if any — for the parties."""
    gate = Gate(analyse(system, rules=rules))  # replaced below if something is assumed
    if assume:
        from demarcate.analysis.assume import assume as assuming

        actual = for_parties(gate.result, parties) if parties else gate.result
        before = (len(actual.open_findings()), len(actual.paths.open_paths))
        system, assumed = assuming(system, assume)
        gate = Gate(analyse(system, rules=rules), assumed=assumed, before=before)
    if baseline is not None:
        current = Findings(system.info.name, [finding_json(f) for f in gate.result.findings])
        if warning := other_system(baseline, current):
            gate.warnings.append(warning)
        old, new = baseline.items, current.items
        if parties:
            old, new = naming(old, parties), naming(new, parties)
        gate.changes = diff(old, new)
    if parties:
        gate.result = for_parties(gate.result, parties)
    return gate
