"""A tool acts with a shared or admin credential where the user's own scope would do."""

from __future__ import annotations

from collections.abc import Iterator

from demarcate.analysis.context import Context
from demarcate.analysis.findings import Finding, Rule

RULE = Rule(
    id="over-privileged-credential",
    name="Over-privileged credential",
    title="A tool uses a shared service account or admin credential instead of the user's delegated scope",
    detects="A tool that reads private data, writes or pays, called with a service-account or "
            "admin credential in a system whose users have identities of their own, or with any credential "
            "whose `credential-reach` is everything the user can see or everything at all, with no "
            "delegated-scope control (APP-TOOL-03) in effect.",
    why="With a shared credential, a hijacked conversation reaches every customer's records, not just "
        "the requesting user's. Tool owners often assume the agent acts as the user; it does not.",
    severity="high for admin credentials, a credential that reaches everything, or when untrusted content "
             "reaches the model calling the tool; medium otherwise.",
    who_acts="Whoever chooses the tool's credential: the party that operates it (`operated-by`), else its owner.",
    false_positives="A tool whose backend enforces per-user authorisation itself; claim APP-TOOL-03 for it.",
    references=("OWASP LLM06", "OWASP ASI03", "MITRE ATLAS AML.M0026", "CSA AICM IAM-16"),
    fix="Call the backend with the end user's delegated token and scope (APP-TOOL-03).",
)

# Where the credential is already the user's own, delegating fixes nothing: its reach must shrink.
NARROW = ("Narrow the credential to what the task needs: a token for the repositories, folders or records "
          "the task is about rather than all of the user's (APP-TOOL-03).")

# Effects whose reach depends on whose authority the call carries.
SENSITIVE = {"read-private", "write", "financial"}
REACH = {"user": "everything the user can see, not just what the task needs",
         "all": "everything (an organisation-wide token, a database owner or service role)"}


def check(ctx: Context) -> Iterator[Finding]:
    per_user = any(c.kind == "user-input" and c.authenticated for c in ctx.system.components.values()) or any(  # type: ignore[attr-defined]
        c.kind == "identity" and c.per_user for c in ctx.system.components.values())  # type: ignore[attr-defined]
    graph = ctx.paths.graph
    for cid in ctx.components_of("tool"):
        comp = ctx.system.components[cid]
        effects = set(comp.effects or []) & SENSITIVE  # type: ignore[attr-defined]
        reach = comp.credential_reach  # type: ignore[attr-defined]
        # A credential scoped to the task is fine whoever's it is; one that reaches everything the
        # user can see (every repository of theirs) or everything at all is not, even if delegated.
        broad = reach in ("user", "all")
        shared = comp.credential in ("service-account", "admin") and per_user  # type: ignore[attr-defined]
        if reach == "task" or not effects or not (shared or broad):
            continue
        if ctx.effective("APP-TOOL-03", cid):
            continue
        callers = [m for m in graph.predecessors(cid) if ctx.kind(m) == "model"]
        exposed = any(ctx.untrusted_upstream.any(m) for m in callers)
        severity = "high" if comp.credential == "admin" or reach == "all" or exposed else "medium"  # type: ignore[attr-defined]
        credential = f"{'an' if comp.credential == 'admin' else 'a'} {comp.credential}"  # type: ignore[attr-defined]
        yield Finding(
            rule=RULE.id,
            key=(cid,),
            severity=severity,
            title=f"{cid} acts with {credential} credential" + (" that reaches too far" if broad and not shared else ""),
            explanation=(f"{comp.label} ({', '.join(sorted(effects))}) runs with {credential} "
                         + (f"credential that reaches {REACH[reach]}" if broad else
                            "credential although users sign in with their own identity")
                         + (", and untrusted content reaches the model that calls it." if exposed else ".")),
            recommendation=RULE.fix if shared else NARROW,
            responsible=comp.acting(("APP-TOOL-03",)),
            components=(cid,),
            controls=("APP-TOOL-03",),
        )
