RULE = "lethal-trifecta"


def test_private_data_untrusted_content_and_a_way_out_in_one_model(bot, run):
    (f,) = run(bot, RULE)
    assert f.id == "lethal-trifecta:llm" and f.severity == "critical"
    assert "db" in f.explanation and "reviews" in f.explanation and "mail" in f.explanation
    assert "vendor" not in f.responsible


def test_without_private_data_there_is_no_trifecta(bot, run):
    bot.drop("db", "lookup")
    assert run(bot, RULE) == []


def test_the_user_a_model_answers_is_no_leg(bot, run):
    """With the planted reviews gone, the only untrusted text is what the user types: a model that
    answers them can be made to show them whatever it reaches, so that is no third party's way in.
    A model whose answers go elsewhere (none here, or a published page) still counts them."""
    bot.drop("reviews", "rag")
    (f,) = run(bot, RULE)
    assert "untrusted content from chat" in f.explanation
    bot.add({"id": "page", "kind": "output-renderer", "owner": "app", "format": "text", "publishes": True},
            ("llm", "page"))
    (f,) = run(bot, RULE)  # a form whose writer is shown nothing back: what it sends out is a leak
    assert f.severity == "critical" and "1 open exfiltration path from outside content runs" in f.explanation
    bot.add({"id": "window", "kind": "output-renderer", "owner": "app", "format": "text"}, ("llm", "window"))
    assert run(bot, RULE) == []
    bot.add({"id": "reviews", "kind": "data-source", "owner": "app", "trust": "untrusted"}, ("reviews", "llm"))
    (f,) = run(bot, RULE)
    assert "untrusted content from reviews;" in f.explanation  # the user is not listed beside them


def test_closed_paths_leave_a_medium_structural_finding(bot, run):
    bot.set("mail", confirmation="user")
    bot.set("chat", trust="internal")
    (f,) = run(bot, RULE)
    assert f.severity == "medium"


def test_code_that_runs_and_reaches_open_egress_takes_the_data_out(bot, run):
    """A code interpreter instead of a mail tool: what the code reads leaves through egress, unless
    an allowlist holds there."""
    bot.drop("mail").add({"id": "code", "kind": "tool", "owner": "app", "effects": ["execute-code"],
                          "credential": "none"}, ("llm", "code"), ("code", "out"))
    (f,) = run(bot, RULE)
    # The review's, and the chat's: this bot shows its user no answer, so what they type is outside content.
    assert f.severity == "critical" and "2 open exfiltration paths from outside content run" in f.explanation
    bot.set("out", policy="allowlist", allow=["pypi.org"])
    (f,) = run(bot, RULE)
    assert f.severity == "medium" and "0 open exfiltration paths" in f.explanation


def test_a_renderer_that_unfurls_links_or_renders_html_is_a_way_out(bot, run):
    # The attack paths count a link preview or an HTML page as a way out; the trifecta names it too.
    bot.drop("mail")
    assert run(bot, RULE) == []
    for way in ({"link-previews": True}, {"format": "html"}):
        bot.drop("pane").add({"id": "pane", "kind": "output-renderer", "owner": "app", **way}, ("llm", "pane"))
        (f,) = run(bot, RULE)
        assert "can send data out through pane" in f.explanation, way
