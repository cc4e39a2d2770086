RULE = "claim-asks-model"


def test_a_check_on_tool_arguments_done_by_the_system_prompt_closes_nothing(bot, run):
    """"The system prompt tells it to email only the customer": an enforced control (APP-OUT-02) the
    team provides by a prompt. It is in place and lowers the odds; the paths through the mail tool stay
    open, and the team is told."""
    bot.provides("APP-OUT-02", scope=["mail"], by="prompt")
    (f,) = run(bot, RULE)
    assert f.severity == "high" and f.responsible == ("app",)
    assert f.title == "APP-OUT-02 is provided by a prompt: it lowers the odds and closes nothing"
    assert "would close with it enforced" in f.explanation


def test_the_same_check_in_code_is_no_finding(bot, run):
    bot.provides("APP-OUT-02", scope=["mail"], by="code")
    assert run(bot, RULE) == []
    bot.controls[-1].pop("by")
    assert run(bot, RULE) == []


def test_a_probabilistic_control_done_by_a_classifier_is_what_it_always_was(bot, run):
    bot.provides("APP-IN-03", by="classifier")
    assert run(bot, RULE) == []
