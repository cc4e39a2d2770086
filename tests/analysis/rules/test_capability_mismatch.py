RULE = "capability-mismatch"


def test_untrained_infrastructure_team_owning_egress_filtering(bot, run):
    bot.party("infra", ai_security_training=False)
    (f,) = run(bot, RULE)
    assert f.id == "capability-mismatch:infra" and "INF-NET-03" in f.controls
    assert f.severity == "high"


def test_trained_team_is_fine(bot, run):
    bot.party("infra", ai_security_training=True)
    assert run(bot, RULE) == []
