RULE = "unsafe-rendering"


def _ui(bot, **attrs):
    bot.add({"id": "ui", "kind": "output-renderer", "owner": "app", **attrs}, ("llm", "ui"))
    return bot


def test_markdown_images_for_any_host(bot, run):
    (f,) = run(_ui(bot, images=True), RULE)
    assert f.severity == "high" and "renders images from model output for any host" in f.explanation


def test_relaying_allowlist_counts_as_open(bot, run):
    (f,) = run(_ui(bot, images=True, **{"url-allowlist": [{"host": "camo.example", "relays": True}]}), RULE)
    assert "camo.example" in f.explanation


def test_raw_html_without_encoding(bot, run):
    (f,) = run(_ui(bot, **{"raw-html": True}), RULE)
    assert "APP-OUT-01" in f.controls


def test_allowlist_without_relays_is_safe(bot, run):
    assert run(_ui(bot, images=True, **{"url-allowlist": ["cdn.shop.example"]}), RULE) == []


def test_plain_text_is_safe(bot, run):
    assert run(_ui(bot, format="text"), RULE) == []


def test_markup_only_its_own_user_types_says_how_to_mark_a_shared_view(bot, run):
    """Lena's agent console written without `publishes`: the finding says why no path ends there
    and what to set if others see it; once set, the hint is gone (the path: test_verdicts)."""
    bot.drop("reviews", "rag", "mail", "out").set("chat", trust="untrusted")
    (f,) = run(_ui(bot, **{"raw-html": True}), RULE)
    assert "so no attack path ends here; if others see this output" in f.explanation
    bot.set("ui", publishes=True)
    (f,) = run(bot, RULE)
    assert "no attack path ends here" not in f.explanation
