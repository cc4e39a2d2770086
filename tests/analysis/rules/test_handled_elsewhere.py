RULE = "handled-elsewhere"


def test_everyone_relies_and_nobody_provides(bot, run):
    bot.relies("APP-IN-03", "app", "vendor").relies("APP-IN-02", "infra", "app")
    (f,) = run(bot, RULE)
    assert f.severity == "critical"
    assert set(f.responsible) == {"app", "vendor", "infra"}
    assert len(f.claims) == 2


def test_one_application_injection_control_provided_clears_it(bot, run):
    bot.relies("APP-IN-03", "app", "vendor").provides("APP-PRM-02", status="planned")
    assert run(bot, RULE) == []


def test_nobody_relying_is_not_this_failure_mode(bot, run):
    assert run(bot, RULE) == []
