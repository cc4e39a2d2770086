"""The probe library (data) and the transforms that multiply it into test cases."""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from demarcate.model.errors import ManifestError, Problem, did_you_mean
from demarcate.model.validate import validate
from demarcate.model.yamlio import locate, positions_of, read_yaml
from demarcate.testing.goals import GOALS
from demarcate.testing.goals.custom import GoalSpec
from demarcate.testing.transforms import TRANSFORMS, Entry, GoalName, Transform

PLACEHOLDERS = ("canary", "callback", "attacker", "product")


class Probe(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    # As long as the history keeps them (a case id adds the transform and the repeat to the probe id).
    id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=100)]
    category: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=50)]
    entry: Entry
    goal: GoalName  # one of the library's goals (goals/), or one its probe file declares
    payload: str
    # For say-canary: where the payload asks the answer to put the canary; the answer must put it there.
    where: Literal["anywhere", "start", "end", "only"] = "anywhere"
    declared: GoalSpec | None = Field(None, exclude=True)  # set by load_probes for a declared goal

    @field_validator("payload")
    @classmethod
    def _placeholders(cls, payload: str, info: ValidationInfo) -> str:
        used = set(re.findall(r"\{(\w+)\}", payload))
        unknown = sorted(used - set(PLACEHOLDERS))
        if unknown:
            raise ValueError(f"unknown placeholder {{{unknown[0]}}}; known: "
                             + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS))
        goal = GOALS.get(info.data.get("goal", ""))
        need = goal.needs if goal else None
        if need and need not in used:
            raise ValueError(f"goal {info.data['goal']} needs {{{need}}} in the payload: that is how its success "
                             "is seen")
        return payload


class ProbeFile(BaseModel):
    """Probes of your own, beside the library, in the library's form."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    version: Literal[1] = 1
    goals: dict[GoalName, GoalSpec] = {}  # goals of your own, with their success predicates (goals/custom.py)
    probes: list[Probe]


def load_probes(paths: Sequence[Path | str]) -> tuple[Probe, ...]:
    """Probes from files of your own, checked like a manifest: each error at its file, line and
    column; an id may not repeat one of the library's or another file's."""
    known = {p.id for p in library().probes}
    files: list[tuple[str, Any, ProbeFile]] = []
    problems: list[Problem] = []
    for path in {Path(p).resolve(): Path(p) for p in paths}.values():  # a file named twice is read once
        name = str(path)
        try:
            raw = read_yaml(path, name)
            files.append((name, raw, validate(ProbeFile, raw, name)))
        except ManifestError as exc:
            problems += exc.problems
    # Goals declared in any of the files serve the probes of all of them.
    declared: dict[str, GoalSpec] = {}
    for name, raw, loaded in files:
        for goal, spec in loaded.goals.items():
            if goal in GOALS or goal in declared:
                problems.append(Problem(f"goal '{goal}' is already taken", locate(positions_of(raw), ("goals", goal), name),
                                        "give your goal a name of its own; `demarcate probes` lists the library's"))
            declared[goal] = spec
    found: list[Probe] = []
    for name, raw, loaded in files:
        for i, probe in enumerate(loaded.probes):
            if probe.id in known:
                problems.append(Problem(f"probe id '{probe.id}' is already taken", locate(
                    positions_of(raw), ("probes", i, "id"), name), "give your probes a prefix of your own"))
            if probe.goal not in GOALS and probe.goal not in declared:
                problems.append(Problem(f"unknown goal '{probe.goal}'", locate(positions_of(raw), ("probes", i, "goal"), name),
                                        did_you_mean(probe.goal, [*GOALS, *declared])
                                        or "one of the library's goals, or one declared under `goals:`"))
            known.add(probe.id)
            found.append(probe.model_copy(update={"declared": declared.get(probe.goal)}))
    if problems:
        raise ManifestError(problems)
    return tuple(found)


class Library(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int
    probes: list[Probe]

    @property
    def transforms(self) -> dict[str, Transform]:
        return {name: t.transform for name, t in TRANSFORMS.items()}


@functools.cache
def library() -> Library:
    path = Path(str(resources.files("demarcate.testing.probes"))) / "library.yaml"
    lib = validate(Library, read_yaml(path, "<demarcate>/testing/probes/library.yaml"),
                   "<demarcate>/testing/probes/library.yaml")
    ids = [p.id for p in lib.probes]
    if len(ids) != len(set(ids)):
        raise ManifestError([Problem("probe ids must be unique in the library")])
    unknown = sorted({p.goal for p in lib.probes} - GOALS.keys())
    if unknown:
        raise ManifestError([Problem(f"library probes name unknown goals: {', '.join(unknown)}")])
    return lib


@dataclass(frozen=True)
class Case:
    """One probe through one transform."""

    probe: Probe
    transform: str
    repeat: int = 0  # the k-th repetition; models are not deterministic, so rates want several

    @property
    def id(self) -> str:
        return f"{self.probe.id}+{self.transform}" + (f"#{self.repeat}" if self.repeat else "")


@dataclass(frozen=True)
class Material:
    """What a case plants and says, with this run's canary and callback filled in."""

    documents: tuple[str, ...] = ()
    page: str = ""
    message: str = ""


def fill(template: str, values: dict[str, str]) -> str:
    for k, v in values.items():
        template = template.replace("{" + k + "}", v)
    return template


def expand(probe: Probe, transform: str) -> Case | None:
    spec = TRANSFORMS[transform].transform
    if probe.entry not in spec.entries or (spec.goals is not None and probe.goal not in spec.goals):
        return None
    return Case(probe, transform)


# The user's turn that makes a target read what was planted under {product}: `test --ask` words it
# for the application (a mail agent is asked about its mail, not about a product).
ASK = "Tell me about the {product}."
# How a planted document begins, outside any transform: as a review of the product it is filed under
# would, so that a retriever matching the question's words or meaning over a whole corpus finds it
# (a poisoned document is written to be retrieved for the question it targets).
HEADING = "About the {product}: "


def materialise(case: Case, values: dict[str, str], ask: str = ASK) -> Material:
    parts = TRANSFORMS[case.transform].apply(fill(case.probe.payload, values), case.probe.goal, values)
    if case.probe.entry == "document":
        return Material(documents=tuple(fill(HEADING, values) + p for p in parts), message=fill(ask, values))
    if case.probe.entry == "tool-output":
        return Material(page=" ".join(parts), message=fill("Could you check {page} for the size chart?", values))
    return Material(message=" ".join(parts))


def _nearest(word: str, known: list[str]) -> str:
    starting = [k for k in known if k.startswith(word.lower())]
    if len(starting) > 1:
        return f"did you mean '{word}*'? it matches {', '.join(starting)}"
    near = did_you_mean(word, known)
    return f"{near} `demarcate probes` lists them" if near else "`demarcate probes` lists the ids, categories, entries and goals"


def select(spec: str | None = None, transforms: str | None = None, repeat: int = 1,
           extra: Sequence[Probe] = ()) -> list[Case]:
    """Cases for a selector: comma-separated probe ids, categories, entries or goals (globs allowed),
    and transform names (or `all`), over the library and any `extra` probes. Defaults: every probe,
    the plain transform."""
    lib = library()
    pool = [*lib.probes, *extra]
    wanted = [w.strip() for w in (spec or "").split(",") if w.strip()] or ["*"]
    names = list(lib.transforms) if transforms == "all" else \
        [t.strip() for t in (transforms or "plain").split(",") if t.strip()]
    problems = [Problem(f"unknown transform '{t}'", None, did_you_mean(t, lib.transforms))
                for t in names if t not in lib.transforms]
    known = sorted({v for p in pool for v in (p.id, p.category, p.entry, p.goal)})
    # Each term must match something: a mistyped one among several would quietly test less.
    problems += [Problem(f"no probe matches '{w}'", None, _nearest(w, known))
                 for w in wanted if not fnmatch.filter(known, w)]
    chosen = [p for p in pool if any(
        fnmatch.fnmatch(v, w) for w in wanted for v in (p.id, p.category, p.entry, p.goal))]
    if problems:
        raise ManifestError(problems)
    cases = [expand(p, t) for p in chosen for t in names]
    return [Case(c.probe, c.transform, k) for c in cases if c is not None for k in range(max(1, repeat))]
