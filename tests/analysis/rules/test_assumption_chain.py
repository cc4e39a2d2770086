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
