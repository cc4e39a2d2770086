RULE = "model-is-safe"


def test_relying_on_the_model_provider_alone(bot, run):
    bot.relies("APP-IN-03", "app", "vendor", "the model ignores planted text")
    (f,) = run(bot, RULE)
    assert f.severity == "critical" and f.responsible == ("app",)
    assert "app relies on vendor for APP-IN-03" in f.explanation


def test_model_layer_controls_provided_and_nothing_else(bot, run):
    bot.provides("MOD-SAFE-03", party="vendor", status="partial")
    (f,) = run(bot, RULE)
    assert "MOD-SAFE-03" in f.controls


def test_an_application_layer_injection_control_in_effect_clears_it(bot, run):
    bot.provides("MOD-SAFE-03", party="vendor").provides("APP-IN-03")
    assert run(bot, RULE) == []


def test_no_reliance_on_the_model_is_not_this_failure_mode(bot, run):
    assert run(bot, RULE) == []


def test_counts_read_as_english(bot, run):
    bot.relies("APP-IN-03", "app", "vendor", "the model ignores planted text")
    (f,) = run(bot, RULE)
    assert f.explanation.endswith("and 2 paths from untrusted content are open.")
    (one,) = run(bot.drop("chat"), RULE)  # the planted review's path alone
    assert one.explanation.endswith("and 1 path from untrusted content is open.")
