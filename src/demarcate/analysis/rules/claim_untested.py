"""Attack paths that are closed only because a party says a control is in effect."""

from __future__ import annotations

from collections.abc import Iterator

from demarcate.analysis.context import Context
from demarcate.analysis.findings import Finding, Rule, count, listing, severity_rank
from demarcate.analysis.paths import AttackPath, PathControl
from demarcate.analysis.rules._shared import lower, path_severity

RULE = Rule(
    id="claim-untested",
    name="Path closed on an untested claim",
    title="Attack paths are closed only by a claimed control that nothing shows to hold",
    detects="A closed attack path whose every closing control is in effect only on a party's word: a "
            "`provides: implemented` claim with no test in its evidence, not shown by the component's "
            "configuration, and not verified by a stored campaign (`check --evidence`). One finding per "
            "control, with the paths that rest on it.",
    why="A claim is a statement. An allowlist that matches only a command's first word, a sandbox that "
        "a flag switches off, an approval that auto-approve skips: each is claimed in good faith, and "
        "the path it closes is as open as if it were missing. Only evidence that the control acted on "
        "an attack shows that it holds.",
    severity="one step below the worst path that rests on it, were that path open (high for code "
             "execution or private data leaving, medium for other side effects).",
    who_acts="The parties who claim the control.",
    false_positives="The control is tested, but the test is not named in the claim: add it as "
                    "`evidence: [test: ...]`, or run `demarcate test` and analyse with `check --evidence last`.",
    references=("OWASP LLM01", "OWASP LLM06", "NIST AI 600-1 MS-2.7"),
    fix="Show that the control holds: attack it with `demarcate test` (the probes the control's "
        "verification names) and analyse with `check --evidence last`, or name the test that does in the "
        "claim's evidence (`evidence: [test: ...]`).",
)


def check(ctx: Context) -> Iterator[Finding]:
    assumed = ctx.system.assumed
    resting: dict[str, list[AttackPath]] = {}  # by control: the closed paths that rest on its claim alone
    acting: dict[str, dict[int, PathControl]] = {}  # by control: its parts on those paths (paths share them)
    shown: dict[int, bool] = {}  # by id() of a shared PathControl: whether more than a word shows it holds
    beside: dict[str, dict[str, None]] = {}  # by control: other bare claims that close those paths with it
    for path in ctx.paths.paths:
        if path.open:
            continue
        closers = [c for c in path.controls if c.closes]
        groups = [closers]
        if path.parts:  # a renderer with two ways out: what closes it whole, or else each way's own
            whole = [c for c in closers if not c.part]
            groups = [whole] if whole else [[c for c in closers if c.part == way] for way in path.parts]
        for group in groups:
            for c in group:
                if (known := shown.get(id(c))) is None:
                    known = shown[id(c)] = c.id in assumed or any(ctx.shown(c.id, comp) for comp in c.components)
                if known:
                    break
            else:
                for c in group:
                    resting.setdefault(c.id, []).append(path)
                    acting.setdefault(c.id, {})[id(c)] = c
                    beside.setdefault(c.id, {}).update((o.id, None) for o in group if o.id != c.id)
    for control_id, paths in sorted(resting.items()):
        control = ctx.catalog.controls[control_id]
        components = tuple(dict.fromkeys(comp for c in acting[control_id].values() for comp in c.components))
        parties = tuple(dict.fromkeys(p for comp in components for p in ctx.state(control_id, comp).parties))
        example, worst = _worst(ctx, paths)
        others = beside[control_id]
        probes = control.verify.probes
        how = f"`demarcate test --probes {','.join(probes)}`" if probes else "a test of your own"
        yield Finding(
            rule=RULE.id,
            key=(control_id,),
            severity=lower(worst),
            title=f"{control_id} {'' if others else 'alone '}closes {count(len(paths), 'attack path')}, and "
                  "nothing shows it holds",
            explanation=(
                f"{listing(parties)} {'claims' if len(parties) == 1 else 'claim'} {control_id} ({control.title}) "
                f"on {listing(components)}; {count(len(paths), 'attack path')} (for example {example.id}, "
                f"{worst} if open) {'is' if len(paths) == 1 else 'are'} closed by "
                + (f"that claim and other bare claims ({listing(tuple(others))}) alone" if others else "that claim alone")
                + ", and no test in its evidence, no configuration and no stored campaign shows the control holds. "
                f"If {'none of them acts' if others else 'it does not act'} on an attack, "
                f"{'that path is' if len(paths) == 1 else 'those paths are'} open."
            ),
            recommendation=(f"Show that {control_id} holds on {listing(components)}: attack it with {how} "
                            "and analyse with `check --evidence last`, or name the test that does in the "
                            "claim's evidence (`evidence: [test: ...]`)."),
            responsible=parties,
            components=components,
            controls=(control_id,),
        )


def _worst(ctx: Context, paths: list[AttackPath]) -> tuple[AttackPath, str]:
    """The first of the paths that would be worst if open, and how bad (a critical one ends the search)."""
    found = paths[0], path_severity(ctx, paths[0])
    for path in paths[1:]:
        if found[1] == "critical":
            break
        severity = path_severity(ctx, path)
        if severity_rank(severity) > severity_rank(found[1]):
            found = path, severity
    return found
