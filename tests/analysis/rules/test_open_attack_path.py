RULE = "open-attack-path"


def test_planted_review_reaches_mail_and_open_egress(bot, run):
    found = {f.id: f for f in run(bot, RULE)}
    f = found["open-attack-path:reviews>rag>llm>mail>out"]
    assert f.severity == "critical"  # private data (db via lookup) leaves through a tool
    assert f.hops == ("reviews", "rag", "llm", "mail", "out")
    assert "APP-TOOL-02" in f.controls and "INF-NET-03" in f.controls
    assert f.responsible[0] == "app"


def test_direct_injection_by_a_signed_in_user_is_one_step_lower(bot, run):
    found = {f.id: f for f in run(bot, RULE)}
    assert found["open-attack-path:chat>llm>mail>out"].severity == "high"


def test_confirmation_gate_on_the_tool_closes_the_path(bot, run):
    bot.set("mail", confirmation="user")
    assert run(bot, RULE) == []


def test_model_layer_training_never_closes_a_path(bot, run):
    bot.provides("MOD-SAFE-03", party="vendor").provides("MOD-SAFE-01", party="vendor")
    found = {f.id: f for f in run(bot, RULE)}
    assert "open-attack-path:reviews>rag>llm>mail>out" in found
    assert "Lowering likelihood only: MOD-SAFE-03" in found["open-attack-path:reviews>rag>llm>mail>out"].explanation


def test_scoped_claim_covers_only_its_components(bot, run):
    bot.provides("APP-IN-03", scope=["db"])
    assert any(f.id == "open-attack-path:reviews>rag>llm>mail>out" for f in run(bot, RULE))
    bot.controls.clear()
    bot.provides("APP-IN-03", scope=["rag"])
    assert not any(f.id == "open-attack-path:reviews>rag>llm>mail>out" for f in run(bot, RULE))


def test_no_model_on_the_route_means_no_path(bot, run):
    bot.flows = [f for f in bot.flows if f["to"] != "llm"] + [{"from": "rag", "to": "mail"}]
    assert run(bot, RULE) == []
