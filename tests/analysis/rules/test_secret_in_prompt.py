RULE = "secret-in-prompt"


def test_prompt_with_secrets(bot, run):
    bot.add({"id": "sp", "kind": "system-prompt", "owner": "app", "contains-secrets": True}, ("sp", "llm"))
    (f,) = run(bot, RULE)
    assert f.id == "secret-in-prompt:sp" and f.severity == "high"


def test_clean_prompt(bot, run):
    bot.add({"id": "sp", "kind": "system-prompt", "owner": "app"}, ("sp", "llm"))
    assert run(bot, RULE) == []
