RULE = "assumption-chain"


def test_reliance_on_a_party_that_does_not_provide(bot, run):
    bot.relies("INF-NET-03", "app", "infra", "the network is locked down")
    (f,) = run(bot, RULE)
    assert f.id == "assumption-chain:INF-NET-03" and f.severity == "high"
    assert "app → infra: infra does not provide it" in f.explanation
    assert f.responsible[0] == "infra"


def test_whole_chain_is_shown_through_a_third_party(bot, run):
    bot.parties.append({"id": "sec", "role": "deployer"})
    bot.relies("APP-TOOL-01", "infra", "app").relies("APP-TOOL-01", "app", "sec")
    (f,) = run(bot, RULE)
    assert "infra → app → sec: sec does not provide it" in f.explanation


def test_relying_back_is_a_loop(bot, run):
    bot.relies("APP-LOG-01", "infra", "app").relies("APP-LOG-01", "app", "infra")
    (f,) = run(bot, RULE)
    assert "relies back on a party already in the chain" in f.explanation
    assert f.severity == "medium"  # a detective control


def test_reliance_on_a_provider_that_delivers_is_fine(bot, run):
    bot.relies("INF-NET-03", "app", "infra").provides("INF-NET-03", party="infra")
    assert run(bot, RULE) == []


def test_partial_provision_lowers_severity(bot, run):
    bot.relies("INF-NET-03", "app", "infra").provides("INF-NET-03", party="infra", status="partial")
    (f,) = run(bot, RULE)
    assert f.severity == "medium" and "only partly" in f.explanation


def test_teams_making_the_same_assumption_are_one_line_about_their_own_components(bot, run):
    for team in ("team2", "team3", "team4", "team5"):
        bot.parties.append({"id": team, "role": "application-developer"})
        bot.add({"id": f"{team}-rag", "kind": "retriever", "owner": team}, (f"{team}-rag", "llm"))
    for team in ("app", "team2", "team3", "team4"):  # team5 relies on nobody
        bot.relies("APP-IN-03", team, "vendor", "the model ignores it")
    (f,) = run(bot, RULE)
    assert f.title == "APP-IN-03 is assumed, not provided: app, team2, team3 and 1 more → vendor"
    assert f.explanation.count("vendor does not provide it") == 1 and len(f.claims) == 4
    assert "team4-rag" in f.components and "rag" in f.components and "team5-rag" not in f.components
    assert "team5" not in f.responsible and {"vendor", "app", "team4"} <= set(f.responsible)
