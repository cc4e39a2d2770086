RULE = "self-approvable-action"


def test_agent_that_edits_its_own_tool_config(bot, run):
    bot.add({"id": "cfg", "kind": "tool", "owner": "app", "effects": ["configure"], "self-configurable": True},
            ("llm", "cfg"))
    (f,) = run(bot, RULE)
    assert f.id == "self-approvable-action:cfg" and f.severity == "critical"


def test_runtime_config_writable_by_the_agent(bot, run):
    bot.add({"id": "box", "kind": "runtime", "owner": "infra", "agent-writable-config": True})
    (f,) = run(bot, RULE)
    assert f.id == "self-approvable-action:box" and f.responsible == ("infra",)


def test_nothing_self_configurable_is_fine(bot, run):
    bot.add({"id": "box", "kind": "runtime", "owner": "infra"})
    assert run(bot, RULE) == []


def test_a_settings_change_a_person_must_approve_is_the_medium_case(bot, run):
    bot.add({"id": "cfg", "kind": "tool", "owner": "app", "effects": ["configure"], "self-configurable": True,
             "confirmation": "user"}, ("llm", "cfg"))
    (f,) = run(bot, RULE)
    assert f.severity == "medium" and "waits for approval (user)" in f.explanation
