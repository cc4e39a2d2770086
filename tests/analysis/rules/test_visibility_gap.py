RULE = "visibility-gap"


def test_gateway_logs_without_model_interactions(bot, run):
    bot.add({"id": "logs", "kind": "logging", "owner": "infra", "captures": ["requests"], "readable-by": ["infra"]})
    (f,) = run(bot, RULE)
    assert f.severity == "high"
    assert f.explanation.startswith("The logs (logs) do not capture prompts, completions, retrievals, tool-calls, "
                                    "and no party provides AI-aware logging")


def test_no_logging_component_at_all(bot, run):
    (f,) = run(bot, RULE)
    assert f.explanation.startswith("Nothing records prompts, completions, retrievals, tool-calls: the system has "
                                    "no logging component")


def test_responders_who_cannot_read_the_logs(bot, run):
    bot.add({"id": "logs", "kind": "logging", "owner": "infra",
             "captures": ["prompts", "completions", "retrievals", "tool-calls"], "readable-by": ["infra"]})
    (f,) = run(bot, RULE)
    assert f.severity == "medium" and "Incident responders app cannot read the logs" in f.explanation


def test_application_logging_provided_and_readable(bot, run):
    bot.add({"id": "logs", "kind": "logging", "owner": "infra", "captures": ["prompts", "tool-calls"],
             "readable-by": ["infra", "app"]})
    bot.provides("APP-LOG-01")
    assert run(bot, RULE) == []


def test_a_developer_whose_component_another_party_runs_is_not_a_responder(bot, run):
    """A remote agent's maker (its agent called as a tool the bank runs) cannot read, and does not
    answer for, the bank's logs."""
    bot.parties.append({"id": "remote-co", "role": "application-developer"})
    bot.add({"id": "remote-agent", "kind": "tool", "owner": "remote-co", "operated-by": "app",
             "effects": ["read-public"], "credential": "none", "output-trust": "untrusted"},
            ("llm", "remote-agent"), ("remote-agent", "llm"))
    bot.add({"id": "logs", "kind": "logging", "owner": "infra",
             "captures": ["prompts", "completions", "retrievals", "tool-calls"], "readable-by": ["infra"]})
    (f,) = run(bot, RULE)
    assert f.responsible == ("infra", "app")
    assert "Incident responders app cannot read the logs" in f.explanation
    # Running a component of its own here, it answers too.
    bot.set("remote-agent", operated_by="remote-co")
    (f,) = run(bot, RULE)
    assert f.responsible == ("infra", "app", "remote-co")
