RULE = "misplaced-responsibility"


def test_model_provider_relied_on_for_rag_screening(bot, run):
    bot.relies("APP-IN-03", "app", "vendor")
    (f,) = run(bot, RULE)
    assert f.id == "misplaced-responsibility:APP-IN-03:vendor" and f.severity == "high"
    assert f.responsible == ("app",)


def test_infrastructure_operator_claiming_prompt_hygiene(bot, run):
    bot.add({"id": "sp", "kind": "system-prompt", "owner": "app"}, ("sp", "llm"))
    bot.provides("APP-PRM-01", party="infra")
    (f,) = run(bot, RULE)
    assert f.severity == "medium" and "claims to provide" in f.title


def test_the_right_party_is_not_flagged(bot, run):
    bot.relies("INF-NET-03", "app", "infra").provides("APP-IN-03")
    assert run(bot, RULE) == []


def test_a_provider_operating_the_component_is_not_misplaced(bot, run):
    bot.add({"id": "filter", "kind": "guard", "owner": "vendor"}, ("chat", "filter"))
    bot.provides("APP-IN-02", party="vendor", scope=["filter"])
    assert run(bot, RULE) == []
