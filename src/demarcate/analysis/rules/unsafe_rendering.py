"""Model output rendered with images, links or HTML and nothing limiting where they point."""

from __future__ import annotations

from collections.abc import Iterator

from demarcate.analysis.context import Context
from demarcate.analysis.findings import Finding, Rule, listing
from demarcate.analysis.paths import renders_inert_html, renders_markup
from demarcate.analysis.rules._shared import model_has_private_data

RULE = Rule(
    id="unsafe-rendering",
    name="Unsafe rendering",
    title="Model output is rendered as images, links or HTML without sanitising or a URL allowlist",
    detects="An output renderer fed by a model that displays markdown images or links, or raw HTML, "
            "where no URL allowlist (APP-OUT-04) or output encoding (APP-OUT-01) is in effect. An "
            "allowlisted host that relays arbitrary URLs counts as no allowlist.",
    why="An injected instruction can make the model write an image whose URL carries private data; the "
        "browser fetches it without a click. Trusted proxies have carried such data out (the Copilot "
        "Chat image-proxy case), and raw HTML runs script in the user's session.",
    severity="high when the model feeding it sees both untrusted content and private data; medium otherwise.",
    who_acts="The application developer who runs the renderer (`operated-by`), else its owner.",
    false_positives="A renderer that never displays model output to a browser; fix its attributes.",
    references=("OWASP LLM05", "OWASP LLM02", "MITRE ATLAS AML.M0020"),
    fix="Render images and links only for allowlisted hosts that do not relay (APP-OUT-04); encode "
        "output for its destination (APP-OUT-01).",
)


def check(ctx: Context) -> Iterator[Finding]:
    for cid in ctx.components_of("output-renderer"):
        comp = ctx.system.components[cid]
        models = ctx.models_upstream(cid)
        if not models:
            continue
        problems = []
        controls = []
        html = renders_inert_html(comp)  # its <img> and CSS load, no script runs
        if (comp.images or comp.links or html) and not ctx.effective("APP-OUT-04", cid):  # type: ignore[attr-defined]
            state = ctx.state("APP-OUT-04", cid)
            shown = [w for w, on in (("images", comp.images or html), ("links", comp.links)) if on]  # type: ignore[attr-defined]
            why = f" ({state.reason})" if state.reason else ""
            problems.append(f"it renders {' and '.join(shown)} from model output for any host{why}")
            controls.append("APP-OUT-04")
        if renders_markup(comp) and not ctx.effective("APP-OUT-01", cid):
            problems.append("it renders raw HTML from model output without encoding it")
            controls.append("APP-OUT-01")
        if not problems:
            continue
        exposed = any(model_has_private_data(ctx, m) and ctx.untrusted_upstream.any(m) for m in models)
        note = ""
        if "APP-OUT-01" in controls and not comp.publishes:  # type: ignore[attr-defined]
            sources = {s for m in models for s in ctx.untrusted_upstream(m)}
            if sources and all(ctx.kind(s) == "user-input" for s in sources):
                note = (" Only what its own user types reaches it, and markup there runs in no one else's browser, "
                        "so no attack path ends here; if others see this output (staff, a shared page), set "
                        "`publishes: true`.")
        yield Finding(
            rule=RULE.id,
            key=(cid,),
            severity="high" if exposed else "medium",
            title=f"{cid} renders model output unsafely",
            explanation=f"{comp.label} shows output of {listing(models)}; " + "; ".join(problems) + "." + note,
            recommendation=RULE.fix,
            responsible=comp.acting(tuple(controls)),
            components=(cid,),
            controls=tuple(controls),
        )
