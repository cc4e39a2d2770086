RULE = "infrastructure-only"


def test_hardened_infrastructure_with_open_tools(bot, run):
    bot.provides("INF-NET-02", party="infra").provides("INF-VUL-01", party="infra")
    (f,) = run(bot, RULE)
    assert f.severity == "high" and f.responsible == ("app", "infra")
    assert f.components == ("mail",)


def test_without_infrastructure_controls_it_is_another_problem(bot, run):
    assert run(bot, RULE) == []


def test_gated_tools_clear_it(bot, run):
    bot.provides("INF-NET-02", party="infra").set("mail", confirmation="admin")
    assert run(bot, RULE) == []


def test_each_team_gets_its_own_finding(bot, run):
    bot.provides("INF-NET-02", party="infra")
    bot.parties.append({"id": "shop", "role": "application-developer"})
    bot.add({"id": "shopmail", "kind": "tool", "owner": "shop", "effects": ["send-external"]},
            ("llm", "shopmail"), ("shopmail", "out"))
    found = {f.components: f.responsible for f in run(bot, RULE)}
    assert found == {("mail",): ("app", "infra"), ("shopmail",): ("shop", "infra")}
