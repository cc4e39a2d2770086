"""The HTML report in a real headless Chromium: it renders offline, draws the system with its
seams and open paths, and no attacker-controlled text can run script or make a request."""

from __future__ import annotations

import json
import re

from demarcate.builtin import example
from demarcate.model.yamlio import dump_yaml
from tests.conftest import SHOPBOT, artifact, copy_example


def _open(page, path):
    page.goto(path.resolve().as_uri())
    page.wait_for_selector("body[data-diagram=ready]", timeout=60_000)


def test_shopbot_report_renders_offline_with_swimlanes_and_red_path(cli, page, tmp_path):
    out = tmp_path / "report.html"
    assert cli("report", SHOPBOT, "-o", out).exit_code == 0
    _open(page, out)
    assert page.errors == []
    assert all(u.startswith(("file:", "data:")) for u in page.requests), page.requests
    svg = page.locator("#diagram svg")
    text = svg.text_content()
    for lane in ("Shop app team", "Cloud platform team", "Model provider"):
        assert lane in text
    assert "Shopper reviews" in text and "Send email" in text and "Outbound network" in text
    red = page.locator('#diagram svg path[style*="d62728"]')
    assert red.count() >= 5  # every hop of the open paths
    assert page.locator("#open-paths").inner_text() == "7"
    assert page.locator('.by-party [data-party="cloud-team"]').inner_text() == "cloud-team: 2 / 7 open paths"
    assert page.locator('#who-acts [data-party="cloud-team"] .alone').inner_text() == "2 / 7"
    page.screenshot(path=artifact("shopbot-report.png"), full_page=True)

    # Selecting the planted-review path draws that path alone in red.
    page.locator('[data-path="reviews>retriever>model>send-email>egress"]').click()
    page.wait_for_selector('body[data-selected-path="reviews>retriever>model>send-email>egress"]')
    assert page.locator('#diagram svg path[style*="d62728"]').count() == 4
    page.locator("#system").screenshot(path=artifact("shopbot-path-selected.png"))


def test_swimlane_titles_read_as_written_in_any_language(cli, page, write, tmp_path):
    # Mermaid shows a cluster title as text: an entity-encoded apostrophe came out as "L&#39;équipe".
    manifest = write("m.yaml", """
        version: 1
        system: {name: names}
        parties:
          - {id: app, role: application-developer, name: "L'équipe R&D — Zürich"}
          - {id: mp, role: model-provider, name: 'Vendor "Q" #1; <b>x</b>'}
        components:
          - {id: chat, kind: user-input, owner: app, name: "Café's chat"}
          - {id: llm, kind: model, owner: mp}
        flows:
          - {from: chat, to: llm}
        """)
    out = tmp_path / "names.html"
    assert cli("report", manifest, "-o", out).exit_code == 0
    _open(page, out)
    titles = [t.strip() for t in page.evaluate(
        "[...document.querySelectorAll('#diagram svg .cluster-label')].map(e => e.textContent)")]
    assert "L'équipe R&D — Zürich · application-developer" in titles
    assert "Vendor \u201dQ\u201d #\u200b1; \u2039b\u203ax\u2039/b\u203a · model-provider" in titles
    assert "Café's chat" in page.locator("#diagram svg").text_content()
    assert page.locator("#diagram svg b").count() == 0


def test_a_report_against_a_baseline_marks_what_is_new_and_lists_what_was_fixed(cli, page, tmp_path):
    saved = tmp_path / "hardened.json"
    saved.write_text(cli("check", example("shopbot-hardened"), "--format", "json").stdout)
    out = tmp_path / "report.html"
    assert cli("report", SHOPBOT, "--baseline", saved, "--assume", "APP-TOOL-02", "-o", out).exit_code == 0
    _open(page, out)
    assert page.errors == []
    changes = json.loads(cli("check", SHOPBOT, "--baseline", saved, "--assume", "APP-TOOL-02",
                             "--format", "json").stdout)["baseline"]
    heading = page.locator("#baseline h3").inner_text()
    assert heading == (f"Against the baseline: {len(changes['new'])} new, {len(changes['fixed'])} fixed, "
                       f"{len(changes['unchanged'])} unchanged findings")
    marked = page.locator("#findings .finding:has(.badge.new)")
    assert sorted(marked.nth(i).get_attribute("data-finding") for i in range(marked.count())) == sorted(changes["new"])
    assert page.locator("#what-if").inner_text().startswith("What if APP-TOOL-02 (app-team) were in effect: open")
    page.locator("#summary").screenshot(path=artifact("report-against-baseline.png"))


def test_a_report_shows_the_trend_of_the_stored_analyses(cli, page, tmp_path):
    db, out = str(tmp_path / "history.sqlite"), tmp_path / "report.html"
    assert cli("report", SHOPBOT, "--trend", "5", "--db", db, "-o", out).exit_code == 0
    _open(page, out)
    assert page.locator("#history").inner_text().startswith("No analysis of this system run this way is stored yet")
    changed = tmp_path / "bot"
    copy_example(SHOPBOT, changed)
    app = changed / "app-team.yaml"  # a person confirms every email the bot sends: paths through it close
    head, tool = app.read_text().split("- id: send-email", 1)
    app.write_text(head + "- id: send-email" + tool.replace("confirmation: none", "confirmation: user", 1)
                   + "  - {control: APP-TOOL-02, party: app-team, provides: implemented}\n")
    runs = [cli("check", SHOPBOT, "--store", "--fail-on", "high", "--db", db),
            cli("check", changed, "--store", "--fail-on", "critical", "--db", db),
            cli("check", SHOPBOT, "--store", "--assume", "APP-IN-03", "--db", db)]  # a what-if: not in the trend
    ids = [r.stderr.split("stored as run ")[1].split()[0] for r in runs]
    assert cli("report", SHOPBOT, "--trend", "5", "--db", db, "-o", out).exit_code == 0
    _open(page, out)
    assert page.errors == []
    rows = page.locator("#history tbody tr")
    assert [rows.nth(i).get_attribute("data-run") for i in range(rows.count())] == [ids[1], ids[0]]
    cells = [[c.strip() for c in rows.nth(i).inner_text().split("\t")] for i in range(rows.count())]
    assert cells[1][2:] == ["8", "17", "3", "5", "7 of 7", "APP-OUT-04, APP-TOOL-01", "failed at high"]
    now = json.loads(cli("check", changed, "--format", "json").stdout)
    assert cells[0][2:7] == [*(str(now["summary"]["open"][s]) for s in ("critical", "high", "medium", "low")),
                             f"{sum(p['open'] for p in now['paths'])} of {len(now['paths'])}"]
    assert cells[0][-1] == ("failed" if now["summary"]["open"]["critical"] else "passed") + " at critical"
    assert cells[0][6] == "5 of 7"  # the two paths from outside content through send-email closed; the shopper approves their own
    assert page.locator("#history h3").inner_text() == "2 stored analyses of this system, newest first"
    page.locator("#summary").screenshot(path=artifact("report-trend.png"))
    refused = cli("report", SHOPBOT, "--trend", "5", "--db", db, "--format", "json")
    assert refused.exit_code == 2 and "--trend is shown in the HTML report only" in refused.output


def test_matrix_filters_by_party_layer_and_status(cli, page, tmp_path):
    out = tmp_path / "report.html"
    cli("report", SHOPBOT, "-o", out)
    _open(page, out)
    # It opens on what matters here: controls claimed, relied on, required, on an open path or tested.
    rows = page.locator("#matrix tbody tr")
    shown = int(page.locator("#matrix-count").inner_text())
    assert page.locator("#matrix tbody tr:not([hidden])").count() == shown < rows.count()
    visible = " ".join(page.locator("#matrix tbody tr:not([hidden]) td:first-child").all_inner_texts()).split()
    assert {"APP-IN-03", "APP-OUT-04", "INF-NET-03", "MOD-SAFE-01"} <= set(visible)  # on a path, in the fix, claimed
    assert "APP-RAG-01" not in visible  # nobody's, and on no open path of this system
    page.check("#show-all-controls")
    assert int(page.locator("#matrix-count").inner_text()) == rows.count()
    ids = page.locator("#matrix tr:not([hidden]) td code")
    assert max(ids.nth(i).bounding_box()["height"] for i in range(ids.count())) < 24  # no id broken at a hyphen
    total = int(page.locator("#matrix-count").inner_text())
    page.select_option('select[data-filter="status"]', "nobody")
    nobody = int(page.locator("#matrix-count").inner_text())
    assert 0 < nobody < total
    page.select_option('select[data-filter="party"]', "model-provider")
    assert page.locator("#matrix tbody tr:not([hidden])").count() == int(page.locator("#matrix-count").inner_text())
    page.select_option('select[data-filter="status"]', "")
    page.select_option('select[data-filter="layer"]', "model")
    rows = page.locator("#matrix tbody tr:not([hidden])")
    assert rows.count() > 0 and all("MOD-" in rows.nth(i).inner_text() for i in range(rows.count()))


PAYLOADS = [
    "<script>window.__pwned=1</script>",
    '<img src=x onerror="window.__pwned=2">',
    "javascript:window.__pwned=3",
    '"><svg onload=window.__pwned=4>',
    "[click me](javascript:window.__pwned=5)",
    "{{LEAK}}",  # replaced by a markdown image pointing at the loopback listener
    "%%{init: {'securityLevel': 'loose'}}%%",
    '"]; click c0 call alert(1) ; a["',
]


def _poisoned_manifest(tmp_path, leak_url):
    payloads = [p.replace("{{LEAK}}", f"![x]({leak_url}/leak.png) <img src='{leak_url}/img'>") for p in PAYLOADS]
    text = " | ".join(payloads)
    doc = {
        "version": 1,
        "system": {"name": "Poisoned " + payloads[0], "description": text, "preset": "managed-model-api"},
        "parties": [
            {"id": "app", "role": "application-developer", "name": payloads[1], "organisation": payloads[2],
             "description": text, "security-review": False},
            {"id": "vendor", "role": "model-provider", "name": payloads[3]},
        ],
        "components": [
            {"id": "chat", "kind": "user-input", "owner": "app", "name": payloads[4], "description": text},
            {"id": "docs", "kind": "data-source", "owner": "app", "trust": "untrusted", "name": payloads[5],
             "description": text, "sensitivity": "personal"},
            {"id": "llm", "kind": "model", "owner": "vendor", "name": payloads[6], "family": text},
            {"id": "mail", "kind": "tool", "owner": "app", "name": payloads[7], "effects": ["send-external"],
             "destinations": [{"host": payloads[0], "note": text}]},
            {"id": "ui", "kind": "output-renderer", "owner": "app", "name": payloads[5], "images": True},
        ],
        "flows": [{"from": "chat", "to": "llm", "data": payloads[7]}, {"from": "docs", "to": "llm", "data": payloads[5]},
                  {"from": "llm", "to": "mail", "data": payloads[1]}, {"from": "llm", "to": "ui", "data": payloads[0]}],
        "controls": [
            {"control": "APP-IN-03", "party": "app", "relies-on": "vendor", "assumption": text},
            {"control": "APP-OUT-01", "party": "app", "provides": "implemented", "note": text,
             "evidence": [text, {"url": "javascript:window.__pwned=9"}]},
            {"control": "ACME-X-01", "party": "app", "provides": "planned"},
        ],
        "custom-controls": [{"id": "ACME-X-01", "title": payloads[1], "description": text, "layer": "application",
                             "applies-to": ["tool"]}],
        "tracking": [{"finding": "speed-pressure:app", "decision": "accepted", "justification": text,
                      "ticket": payloads[4]}],
    }
    path = tmp_path / "poisoned.yaml"
    path.write_text(dump_yaml(doc), encoding="utf-8")
    return path


def test_attacker_text_in_every_field_stays_inert(cli, page, tmp_path, listener):
    leak_url, hits = listener
    manifest = _poisoned_manifest(tmp_path, leak_url)
    out = tmp_path / "poisoned.html"
    # A baseline is a file from elsewhere too: the titles of its fixed findings are shown as text.
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps({"version": 1, "system": PAYLOADS[0], "findings": [
        {"id": p, "rule": PAYLOADS[1], "severity": "high", "title": p} for p in PAYLOADS]}))
    result = cli("report", manifest, "-o", out, "--baseline", baseline)
    assert result.exit_code == 0, result.output
    _open(page, out)
    page.wait_for_timeout(300)
    assert page.evaluate("window.__pwned") is None
    assert page.errors == []
    assert hits == []
    assert all(u.startswith(("file:", "data:")) for u in page.requests), page.requests
    # only the report's own three scripts; no handlers, no javascript: links anywhere
    assert page.locator("script").count() == 3
    assert page.evaluate("""() => [...document.querySelectorAll('*')].filter(e =>
        [...e.attributes].some(a => a.name.startsWith('on'))).length""") == 0
    assert page.locator('a[href^="javascript"]').count() == 0
    # and the text shows, literally, where a reviewer can read it
    assert page.locator("header h1").inner_text() == "Poisoned <script>window.__pwned=1</script>"
    assert "onerror" in page.locator("#findings").inner_text()
    assert "<script>window.__pwned=1</script>" in page.locator("#fixed-findings").inner_text()
    assert page.locator("#diagram svg").count() == 1
    page.screenshot(path=artifact("poisoned-report.png"), full_page=True)
    # clicking a path redraws the diagram without running anything either
    page.locator("[data-path]").first.click()
    page.wait_for_selector("body[data-selected-path]:not([data-selected-path=''])")
    assert page.evaluate("window.__pwned") is None and hits == []


def test_markdown_and_mermaid_labels_escape_payloads(cli, tmp_path, listener):
    leak_url, _ = listener
    manifest = _poisoned_manifest(tmp_path, leak_url)
    md = cli("report", manifest, "--format", "markdown").output
    assert "<script" not in md and "<img" not in md and "](javascript" not in md and "![x](" not in md
    mermaid = md.split("```mermaid", 1)[1].split("```", 1)[0]
    assert "%%" not in mermaid
    # payload text stays inside quoted labels: no line of the diagram is a directive of its own
    for line in mermaid.strip().splitlines()[1:]:
        assert line.strip().split(" ", 1)[0] in ("subgraph", "end", "classDef", "class", "linkStyle") or \
            line.strip().startswith("c"), line
        assert '"' not in line.replace('["', "").replace('"]', "").replace('[("', "").replace('")]', "") \
            .replace('|"', "").replace('"|', ""), line


def test_a_portfolio_report_draws_a_readable_part_and_says_so(cli, page, tmp_path):
    from benchmarks.check_portfolio import portfolio

    from demarcate.report.diagram import MAX_DRAWN

    manifest = tmp_path / "portfolio.yaml"
    manifest.write_text(dump_yaml(portfolio(1000)), encoding="utf-8")
    out = tmp_path / "report.html"
    assert cli("report", manifest, "-o", out).exit_code == 0
    _open(page, out)
    assert page.errors == []
    note = page.locator("#diagram-note").inner_text()
    assert re.search(r"shows \d+ of 1,005 components", note), note
    drawn = page.locator("#diagram svg g.node").count()
    assert 0 < drawn <= MAX_DRAWN
    first = page.locator("[data-path]").first
    path_id = first.get_attribute("data-path")
    first.click()
    page.wait_for_selector(f'body[data-selected-path="{path_id}"]')
    assert page.locator("#diagram svg g.node").count() == len(path_id.split(">"))
    assert page.locator('#diagram svg path[style*="d62728"]').count() == len(path_id.split(">")) - 1
    page.locator("#system").screenshot(path=artifact("portfolio-path-selected.png"))
    # Its findings are folded under one line per party, with counts; a click unfolds one.
    groups = page.locator("details.party-findings")
    assert groups.count() > 5 and page.locator("details.party-findings[open]").count() == 0
    first_group = groups.first
    assert re.search(r"\d+ findings? · ", first_group.locator("summary").inner_text())
    assert not first_group.locator(".finding").first.is_visible()
    first_group.locator("summary").click()
    assert first_group.locator(".finding").first.is_visible()
    assert page.locator("#closed-paths").get_attribute("open") is None
    assert page.evaluate("document.body.scrollHeight") < 60_000  # a readable page, not a million pixels


def test_a_small_report_shows_every_finding_and_path_at_once(cli, page, tmp_path):
    out = tmp_path / "report.html"
    cli("report", SHOPBOT, "-o", out)
    _open(page, out)
    assert page.locator("details.party-findings").count() == page.locator("details.party-findings[open]").count() > 0
    assert page.locator(".finding").first.is_visible()
    assert page.locator("#closed-paths").count() == 0  # the shop bot's paths are all open
    assert page.locator("#more-open-paths").count() == 0
    # the hardened bot's seven closed paths are few enough to be listed open
    hardened = tmp_path / "hardened.html"
    cli("report", example("shopbot-hardened"), "-o", hardened)
    _open(page, hardened)
    assert page.locator("#closed-paths").get_attribute("open") is not None
    closed = page.locator("#closed-paths .closed")
    assert closed.count() == 7 and closed.first.is_visible() and "(by " in closed.first.inner_text()


def test_a_campaign_shows_each_chain_and_its_evidence_stays_inert(cli, page, tmp_path):
    """Boundary-test evidence is attacker text (planted reviews, the model's answers with markup and
    image URLs): the report shows it as text, and shows each probe's chain a link a line."""
    out = tmp_path / "campaign.html"
    result = cli("test", SHOPBOT, "--db", tmp_path / "h.sqlite", "--probes", "doc-markup,doc-markup-script,"
                 "doc-image-records,doc-email-records", "--lab-controls=-html-escaping", "--report", out)
    assert result.exit_code == 0, result.output
    _open(page, out)
    page.wait_for_timeout(300)
    assert page.errors == []
    assert all(u.startswith(("file:", "data:")) for u in page.requests), page.requests
    assert page.locator("script").count() == 3
    assert page.evaluate("""() => [...document.querySelectorAll('*')].filter(e =>
        [...e.attributes].some(a => a.name.startsWith('on'))).length""") == 0
    assert page.locator("#campaign img").count() == 0
    row = page.locator('#probes tr[data-outcome]', has_text="doc-markup+plain")
    assert "onerror" in row.inner_text()  # the planted markup, readable as text
    email = page.locator('#probes tr[data-outcome]', has_text="doc-email-records+plain")
    links = email.locator("span.link")
    assert links.count() >= 4 and links.nth(0).inner_text() == "application · APP-IN-03 (app-team) broke"
    box0, box1 = links.nth(0).bounding_box(), links.nth(1).bounding_box()
    assert box1["y"] > box0["y"]  # one link a line
    judged = page.locator("#judged").inner_text()
    assert "refuted" in judged and "APP-TOOL-02" in judged and "APP-OUT-04" in judged
    page.locator("#campaign").screenshot(path=artifact("campaign-report.png"))


def _two_campaigns(cli, tmp_path):
    """The shop bot attacked as described, then with its computed fix switched on in the lab."""
    db = tmp_path / "h.sqlite"
    probes = "doc-email-records,doc-image-records"
    for controls in ("default", "tool-allowlist,url-allowlist"):
        assert cli("test", SHOPBOT, "--db", db, "--probes", probes, "--lab-controls", controls).exit_code == 0
    runs = json.loads(cli("runs", "--db", db, "--kind", "campaign", "--format", "json").stdout)
    return db, runs[1]["id"], runs[0]["id"]  # oldest first


def test_the_first_screen_answers_what_is_open_who_acts_the_fix_and_what_the_live_test_found(cli, browser, tmp_path):
    db, before, after = _two_campaigns(cli, tmp_path)
    out = tmp_path / "report.html"
    result = cli("report", SHOPBOT, "--db", db, "--run", before, "--run", "last", "-o", out)
    assert result.exit_code == 0, result.output
    check = json.loads(cli("check", SHOPBOT, "--format", "json").stdout)
    fix = check["leverage"]["fix"]
    for width, height in ((1920, 1080), (1366, 768)):
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e, seen=errors: seen.append(str(e)))
        _open(page, out)
        assert errors == []
        # Everything the verdict says is on the first screen, without scrolling.
        for part in ("#headline", "#fix-box", "#live", "#who-acts"):
            box = page.locator(part).bounding_box()
            assert box is not None and box["y"] + box["height"] <= height, (width, part, box)
        headline = page.locator("#headline").inner_text()
        assert headline.startswith(f"{len([p for p in check['paths'] if p['open']])} open attack paths; "
                                   f"{', '.join(fix)} close") and "critical or high findings open" in headline
        for control in fix:
            assert control in page.locator("#fix-box").inner_text()
        live = page.locator("#live .live-run")
        assert live.count() == 2
        assert live.nth(0).get_attribute("data-run") == before and live.nth(1).get_attribute("data-run") == after
        rate = [int(re.search(r"attack success (\d+)%", live.nth(i).inner_text()).group(1)) for i in range(2)]
        assert rate[0] > rate[1]
        # The second run switched controls on that the manifest says nobody has: it says so.
        notice = page.locator("#live .notice")
        assert notice.count() == 1 and "APP-TOOL-01 (tool-allowlist)" in notice.inner_text()
        assert "different configuration" in notice.inner_text()
        # Who acts: every party with something to do, refuted claims from the run as described.
        app = page.locator('#who-acts tr[data-party="app-team"]').inner_text()
        assert "APP-TOOL-02" in app and "APP-OUT-04" in app
        cloud = page.locator('#who-acts tr[data-party="cloud-team"]').inner_text()
        # Verified by the burst check; the fix asks nothing of it, and mail its mail server delivered
        # leaves its egress unjudged.
        assert "INF-RATE-01" in cloud and "INF-NET-03" not in cloud
        page.screenshot(path=artifact(f"first-screen-{width}x{height}.png"))
        context.close()
    # Both campaigns' results are in the page, one after the other.
    html = out.read_text()
    assert html.count('class="campaign"') == 2 and html.count('id="probes"') == 1


def test_report_run_needs_html_and_a_stored_campaign(cli, tmp_path):
    db = tmp_path / "h.sqlite"
    wrong = cli("report", SHOPBOT, "--db", db, "--run", "last", "--format", "markdown")
    assert wrong.exit_code == 2 and "--run is shown in the HTML report only" in wrong.stderr
    none = cli("report", SHOPBOT, "--db", db, "--run", "last", "-o", tmp_path / "r.html")
    assert none.exit_code == 2 and "--run last: no finished campaign of 'ShopBot customer service'" in none.stderr
    unknown = cli("report", SHOPBOT, "--db", db, "--run", "20260101-000000-abcdef", "-o", tmp_path / "r.html")
    assert unknown.exit_code == 2 and "no run '20260101-000000-abcdef'" in unknown.stderr
