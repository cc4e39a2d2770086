RULE = "speed-pressure"


def test_unreviewed_party_owning_tools_on_open_paths(bot, run):
    bot.party("app", security_review=False)
    (f,) = run(bot, RULE)
    assert f.id == "speed-pressure:app" and f.severity == "high"


def test_unreviewed_party_owning_no_ai_parts(bot, run):
    bot.party("infra", security_review=False)
    assert run(bot, RULE) == []


def test_unknown_review_practice_is_not_assumed_bad(bot, run):
    assert run(bot, RULE) == []
