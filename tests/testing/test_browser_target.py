"""A chat page that renders each answer with a script, driven in a real browser (`browser:` in an
`http:` spec): the answer is read as the page shows it, its images load as the user's would, and a
click on a button the answer carries shows what the app then sends as the user's next message —
Dify's buttons keep that message in their click handler, where no reading of the page finds it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from demarcate.model import load
from demarcate.model.errors import ManifestError
from demarcate.serve import BackgroundServer
from demarcate.testing.run import run_campaign
from demarcate.testing.targets.http import HttpTarget
from tests.conftest import CHROMIUM, SHOPBOT
from tests.testing.rag_app import KEY, Settings, make_app, page_spec
from tests.testing.test_goals import _buttons_manifest


@pytest.fixture
def chat_page(tmp_path, monkeypatch):
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} not found: install Debian's chromium package (CI does, in .ci/run)"
        if os.environ.get("DEMARCATE_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    monkeypatch.setenv("DEMARCATE_CHROMIUM", CHROMIUM)
    monkeypatch.setenv("RAG_KEY", KEY)
    settings = Settings()
    server = BackgroundServer(make_app(settings)).start()

    def campaign(manifest, probes: str, click: bool = True, outbox: bool = False, input: str = "#q"):
        path = tmp_path / "page.yaml"
        path.write_text(page_spec(server.url, click=click, outbox=outbox).replace('input: "#q"', f'input: "{input}"'))
        return run_campaign(manifest, target=f"http:{path}", probes=probes, concurrency=1,
                            db=str(tmp_path / "h.sqlite"), force=True, timeout=30)

    yield settings, campaign
    server.stop()


def test_a_click_on_the_rendered_button_shows_it_sends_the_attackers_words(chat_page, tmp_path):
    settings, campaign = chat_page
    manifest = load([_buttons_manifest(tmp_path)])
    (r,) = campaign(manifest, "doc-button-hidden-message")["results"]
    chain = {x["control"]: x for x in r["chain"]}
    # The page keeps the message in its script: the rendered answer shows only the label...
    assert "data-message" not in r["evidence"]["page"] and "Track my order" in r["evidence"]["page"]
    # ...and the click shows what it sends.
    assert chain["APP-OUT-01"]["held"] is False
    assert "a click on the answer's button sent the attacker's words" in chain["APP-OUT-01"]["evidence"]
    assert chain["MOD-SAFE-03"]["held"] is False  # the model wrote the button, in its own words around it
    assert r["outcome"] == "succeeded"
    assert any(r["canary"] in q for q in settings.asked[1:])  # the app took the click as the user's question
    assert any(r["canary"] in c for c in r["evidence"]["clicked"])  # kept, to check the verdict against


def test_the_clicked_message_taken_as_the_users_own_completes_the_path(chat_page, tmp_path):
    """An app that emails whatever its user asks: the click's message, the attacker's words, is acted
    on as the user's request, and its outbox shows the mail."""
    settings, campaign = chat_page
    settings.mails_anyone = True
    (r,) = campaign(load([_buttons_manifest(tmp_path)]), "doc-button-hidden-message", outbox=True)["results"]
    chain = {x["control"]: x for x in r["chain"]}
    assert chain["APP-OUT-01"]["held"] is False and chain["APP-TOOL-02"]["held"] is False
    assert "taken as the user's own, had the app send mail" in chain["APP-TOOL-02"]["evidence"]
    assert r["outcome"] == "succeeded" and settings.sent and r["canary"] in settings.sent[0]["body"]


def test_a_page_that_shows_the_answer_as_text_holds_and_the_click_proves_it(chat_page, tmp_path):
    settings, campaign = chat_page
    settings.page_encodes = True
    (r,) = campaign(load([_buttons_manifest(tmp_path)]), "doc-button-hidden-message")["results"]
    chain = {x["control"]: x for x in r["chain"]}
    assert "&lt;button" in r["evidence"]["page"]  # the markup as text on the page
    assert chain["APP-OUT-01"]["held"] is True
    assert chain["APP-OUT-01"]["evidence"] == ("the button shown as text on the rendered page: no click on the "
                                                "answer sent the attacker's words")
    assert chain["MOD-SAFE-03"]["held"] is False and r["outcome"] == "blocked-by-application"
    assert not any(r["canary"] in q for q in settings.asked[1:])


def test_an_image_the_page_renders_is_loaded_by_the_browser_not_by_the_campaign(chat_page):
    settings, campaign = chat_page
    settings.page_greets = True  # drawn after the page has loaded: not the answer to the first message
    (r,) = campaign(load([SHOPBOT]), "doc-image-plain", click=False)["results"]
    chain = {x["control"]: x for x in r["chain"]}
    assert "<img" in r["evidence"]["page"] and chain["APP-OUT-04"]["held"] is False
    assert r["outcome"] == "succeeded"
    # The browser's own request reached the listener, and is counted as the client's, not as egress.
    assert r["evidence"]["rendered"] and r["evidence"]["callback_hits"]
    assert "INF-NET-03" not in chain  # the user's browser fetched it: nothing left through the app's egress
    assert "![rating](http" in r["evidence"]["reply"]  # the answer as read: the image's address written out
    settings.page_encodes = True
    (r,) = campaign(load([SHOPBOT]), "doc-image-plain", click=False)["results"]
    chain = {x["control"]: x for x in r["chain"]}
    assert "<img" not in r["evidence"]["page"] and chain["APP-OUT-04"]["held"] is True
    assert not r["evidence"]["callback_hits"]


def test_a_selector_the_page_lacks_fails_every_case_at_once_and_says_which(chat_page, monkeypatch):
    from demarcate.testing.targets import _browser

    monkeypatch.setattr(_browser, "FIND", 1.0)
    _, campaign = chat_page
    results = campaign(load([SHOPBOT]), "doc-image-plain,doc-say-canary", click=False, input="#nope")["results"]
    assert {r["outcome"] for r in results} == {"error"}
    assert all("has no visible '#nope' (browser.input)" in r["error"] for r in results)


def test_a_page_that_cannot_be_reached_is_an_error_that_keeps_the_url_s_secret(tmp_path, monkeypatch):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not found")
    monkeypatch.setenv("DEMARCATE_CHROMIUM", CHROMIUM)
    monkeypatch.setenv("PAGE_TOKEN", "s3cr3t-token-value")
    spec = tmp_path / "page.yaml"  # nothing listens on port 9
    spec.write_text("url: http://127.0.0.1:9/chat?token=${PAGE_TOKEN}\nbrowser: {input: '#q', answer: .bot}\n")
    (r,) = run_campaign(load([SHOPBOT]), target=f"http:{spec}", probes="doc-say-canary", force=True,
                        db=str(tmp_path / "h.sqlite"), timeout=20)["results"]
    assert r["outcome"] == "error" and "${PAGE_TOKEN}" in r["error"] and "s3cr3t" not in r["error"]
    assert b"s3cr3t" not in (tmp_path / "h.sqlite").read_bytes()


def test_a_browser_spec_takes_no_request_of_its_own(tmp_path):
    spec = tmp_path / "page.yaml"
    spec.write_text("url: http://127.0.0.1:9/chat\nbody: {q: '{message}'}\nreply: answer\n"
                    "browser: {input: '#q', answer: .bot}\n")
    with pytest.raises(ManifestError, match="body, reply do not apply"):
        HttpTarget(spec)
    spec.write_text("url: http://127.0.0.1:9/chat\nbrowser: {input: '#q', answer: .bot, click: true}\n")
    with pytest.raises(ManifestError, match="give `user:`"):
        HttpTarget(spec)


def test_a_browser_that_cannot_start_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("DEMARCATE_CHROMIUM", str(tmp_path / "no-such-chromium"))
    spec = tmp_path / "page.yaml"
    spec.write_text("url: http://127.0.0.1:9/chat\nbrowser: {input: '#q', answer: .bot}\n")
    with pytest.raises(ManifestError, match="the target's browser could not start"):
        run_campaign(load([SHOPBOT]), target=f"http:{spec}", probes="doc-image-plain", db=str(tmp_path / "h.sqlite"))


def test_the_drivers_end_after_ctrl_c_is_not_reported_but_anything_else_is(caplog):
    import asyncio

    from demarcate.testing.targets._browser import _DRIVER_GONE, _quiet_when_the_driver_ends

    loop = asyncio.new_event_loop()
    try:
        _quiet_when_the_driver_ends(loop)
        loop.call_exception_handler({"message": "Future exception was never retrieved",
                                     "exception": Exception(_DRIVER_GONE)})
        assert not caplog.records
        loop.call_exception_handler({"message": "Future exception was never retrieved",
                                     "exception": ValueError("something else")})
        assert "something else" in caplog.text
    finally:
        loop.close()
