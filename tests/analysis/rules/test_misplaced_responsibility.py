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


def _second_team(bot):
    bot.parties.append({"id": "team2", "role": "application-developer"})
    return bot.add({"id": "rag2", "kind": "retriever", "owner": "team2"}, ("rag2", "llm"))


def test_a_reliance_counts_for_the_relying_teams_components_only(bot, run):
    # team2 screens its own retriever; that does not cover app, which relies on the vendor instead.
    _second_team(bot).provides("APP-IN-03", party="team2").relies("APP-IN-03", "app", "vendor")
    (f,) = run(bot, RULE)
    assert f.severity == "high" and "rag2" not in f.components and "rag" in f.components
    assert f.responsible == ("app",) and len(f.claims) == 1
    assert "It is in effect on none of them." in f.explanation


def test_every_team_relying_on_the_vendor_is_one_finding_with_every_claim(bot, run):
    _second_team(bot).relies("APP-IN-03", "app", "vendor", "the model ignores it")
    bot.relies("APP-IN-03", "team2", "vendor", "training handles it").provides("APP-IN-03", scope=["rag"])
    (f,) = run(bot, RULE)
    assert f.responsible == ("app", "team2") and {"rag", "rag2"} <= set(f.components)
    assert len(f.claims) == 2 and f.explanation.startswith("2 claims put APP-IN-03 on vendor")
    # app's screening on its retriever leaves its other protected components, and team2's, without it.
    assert f.severity == "high" and "rag2" in f.explanation.split("It is not in effect on")[1]
    assert "rag," not in f.explanation.split("It is not in effect on")[1]


def test_a_reliance_by_a_team_owning_nothing_it_protects_is_about_all_of_it(bot, run):
    # team2 owns none of what APP-IN-03 protects (app does): its reliance is not about nothing.
    bot.parties.append({"id": "team2", "role": "application-developer"})
    bot.relies("APP-IN-03", "team2", "vendor")
    (f,) = run(bot, RULE)
    assert f.id == "misplaced-responsibility:APP-IN-03:vendor" and {"rag", "reviews"} <= set(f.components)
    assert f.responsible == ("app",) and "owned by app;" in f.explanation


def test_the_party_running_a_component_can_provide_what_its_settings_offer(bot, run):
    # The company's IT runs the project's mail tool (`operated-by`) and claims its allowlist there.
    bot.set("mail", operated_by="infra")
    bot.provides("APP-TOOL-01", party="infra", scope=["mail"])
    assert run(bot, RULE) == []
    # The tool has no such setting: only the project's code can provide it, whatever IT claims.
    bot.set("mail", configurable=["APP-TOOL-02"])
    (f,) = run(bot, RULE)
    assert f.id == "misplaced-responsibility:APP-TOOL-01:infra" and f.responsible == ("app",)
    assert "an infrastructure-operator controls none of those kinds (tool)" in f.explanation
