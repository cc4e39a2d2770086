RULE = "unowned-control"


def test_controls_that_would_close_open_paths_are_reported_one_by_one(bot, run):
    found = {f.id: f for f in run(bot, RULE)}
    f = found["unowned-control:APP-TOOL-02"]
    assert f.severity == "high" and f.responsible == ("app",)
    assert "would close" in f.explanation


def test_the_rest_is_one_low_finding_per_party(bot, run):
    found = {f.id: f for f in run(bot, RULE)}
    assert found["unowned-control:app"].severity == "low"
    assert "APP-AGT-01" in found["unowned-control:app"].controls


def test_controls_of_a_role_nobody_plays_are_named_by_the_role(bot, run):
    f = {f.id: f for f in run(bot, RULE)}["unowned-control:nobody"]  # the bot has no deployer
    assert f.title.endswith("fall to the deployer role, which no party in the manifest plays, and nobody provides them")
    assert f.explanation.startswith("By the preset, the deployer role, which no party in the manifest plays, is expected")
    assert f.responsible == ("app",)  # whoever owns the system assigns the role
    assert "app, who owns the system, must assign them" in f.explanation


def test_provided_or_relied_controls_are_not_unowned(bot, run):
    bot.provides("APP-TOOL-02", status="planned").relies("APP-TOOL-01", "infra", "app")
    ids = {f.id for f in run(bot, RULE)}
    assert "unowned-control:APP-TOOL-02" not in ids and "unowned-control:APP-TOOL-01" not in ids


def test_configuration_showing_the_control_counts(bot, run):
    bot.set("mail", confirmation="user")
    assert "unowned-control:APP-TOOL-02" not in {f.id for f in run(bot, RULE)}


def test_the_teams_and_components_named_are_those_of_the_open_paths(bot, run):
    # Two application teams; the preset puts APP-TOOL-02 on both, but only app's mail tool is on
    # an open path (team2's tool takes no untrusted content).
    bot.parties.append({"id": "team2", "role": "application-developer"})
    bot.add({"id": "ledger", "kind": "tool", "owner": "team2", "effects": ["write"]})
    f = {f.id: f for f in run(bot, RULE)}["unowned-control:APP-TOOL-02"]
    assert f.responsible == ("app",) and f.components == ("mail",)


def test_one_further_control_reads_in_the_singular(bot, run):
    many = {f.id: f for f in run(bot, RULE)}["unowned-control:infra"]
    assert len(many.controls) > 1 and " further controls fall to infra, and nobody provides them" in many.title
    for control in many.controls[1:]:
        bot.provides(control, party="infra")
    one = {f.id: f for f in run(bot, RULE)}["unowned-control:infra"]
    assert one.controls == many.controls[:1]
    assert one.title == "1 further control falls to infra, and nobody provides it"
    assert "expected to own this applicable control, and no claim covers it" in one.explanation
    assert "It does not sit on an open attack path." in one.explanation


def test_an_application_developer_that_runs_nothing_here_is_not_handed_the_role(bot, run):
    """The maker of a remote agent the app runs as a tool is an application developer too, but the
    controls of this application are not theirs."""
    bot.parties.append({"id": "remote-co", "role": "application-developer"})
    bot.add({"id": "agent", "kind": "tool", "owner": "remote-co", "operated-by": "app", "effects": ["read-public"],
             "credential": "none"}, ("llm", "agent"), ("agent", "llm"))
    ids = {f.id for f in run(bot, RULE)}
    assert "unowned-control:app" in ids and "unowned-control:remote-co" not in ids
    bot.set("agent", operated_by="remote-co")  # running its part here, it answers for it
    assert "unowned-control:remote-co" in {f.id for f in run(bot, RULE)}
