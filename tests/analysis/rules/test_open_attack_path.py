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


def test_a_user_who_is_answered_leaks_nothing_by_sending_what_the_model_reaches(bot, run):
    """The user who types the attack is shown whatever the model that answers them reaches: sending it
    out leaks nothing more, so that path is graded by the mail it sends in the shop's name; the
    planted review, whose writer is shown nothing, still takes the private data out."""
    bot.add({"id": "window", "kind": "output-renderer", "owner": "app", "format": "text"}, ("llm", "window"))
    found = {f.id: f for f in run(bot, RULE)}
    by_user = found["open-attack-path:chat>llm>mail>out"]
    assert by_user.severity == "medium"  # high for the mail tool's misuse, one lower for a signed-in user
    assert "The attacker here is chat's own user, and llm answers them" in by_user.explanation
    planted = found["open-attack-path:reviews>rag>llm>mail>out"]
    assert planted.severity == "critical" and "own user" not in planted.explanation


def test_a_model_whose_answers_go_to_others_can_leak_to_the_user_who_attacks_it(bot, run):
    # Shown on a published page rather than to the asker: the data the model reaches is not theirs to see.
    bot.add({"id": "page", "kind": "output-renderer", "owner": "app", "format": "text", "publishes": True},
            ("llm", "page"))
    f = {f.id: f for f in run(bot, RULE)}["open-attack-path:chat>llm>mail>out"]
    assert f.severity == "high" and "own user" not in f.explanation


def test_egress_reached_by_the_user_who_is_answered_is_the_lowest_harm(bot, run):
    # A fetch the user directs, carrying what they could read anyway: the user's own traffic, from the server.
    bot.add({"id": "window", "kind": "output-renderer", "owner": "app", "format": "text"}, ("llm", "window"))
    bot.add({"id": "fetch", "kind": "tool", "owner": "app", "effects": ["read-public"], "output-trust": "untrusted"},
            ("llm", "fetch"), ("fetch", "llm"), ("fetch", "out"))
    found = {f.id: f for f in run(bot, RULE)}
    assert found["open-attack-path:chat>llm>fetch>out"].severity == "low"  # medium, one lower: signed in
    assert found["open-attack-path:fetch>llm>mail>out"].severity == "critical"


def test_confirmation_gate_on_the_tool_closes_the_path(bot, run):
    bot.set("mail", confirmation="admin")
    assert run(bot, RULE) == []


def test_the_users_own_approval_does_not_close_the_path_the_user_attacks_through(bot, run):
    # The shopper who plants a review never sees the approval; the one who types the attack approves it.
    bot.set("mail", confirmation="user")
    (f,) = run(bot, RULE)
    assert f.id == "open-attack-path:chat>llm>mail>out"
    assert "the person who approves is the user who sent the input" in f.explanation


def test_model_layer_training_never_closes_a_path(bot, run):
    bot.provides("MOD-SAFE-03", party="vendor").provides("MOD-SAFE-01", party="vendor")
    found = {f.id: f for f in run(bot, RULE)}
    assert "open-attack-path:reviews>rag>llm>mail>out" in found
    f = found["open-attack-path:reviews>rag>llm>mail>out"]
    assert "The model's own training, the baseline this severity assumes: MOD-SAFE-03" in f.explanation
    assert "reduced" not in f.explanation


def test_scoped_claim_covers_only_its_components(bot, run):
    bot.provides("APP-TOOL-01", scope=["lookup"])
    assert any(f.id == "open-attack-path:reviews>rag>llm>mail>out" for f in run(bot, RULE))
    bot.controls.clear()
    bot.provides("APP-TOOL-01", scope=["mail"])
    assert not any(f.id == "open-attack-path:reviews>rag>llm>mail>out" for f in run(bot, RULE))


def test_screening_retrieved_content_reduces_the_path_and_never_closes_it(bot, run):
    path = "open-attack-path:reviews>rag>llm>mail>out"
    before = {f.id: f for f in run(bot, RULE)}[path]
    bot.provides("APP-IN-03", scope=["rag"])
    after = {f.id: f for f in run(bot, RULE)}[path]
    assert "reduced, not closed" in after.explanation and "APP-IN-03" in after.explanation
    assert after.severity == {"critical": "high", "high": "medium"}[before.severity]
    assert "APP-IN-03" not in after.controls  # nothing left to do with it: it is in effect


def test_no_model_on_the_route_means_no_path(bot, run):
    bot.flows = [f for f in bot.flows if f["to"] != "llm"] + [{"from": "rag", "to": "mail"}]
    assert run(bot, RULE) == []


def test_a_path_no_catalog_control_closes_asks_for_a_control_of_ones_own_or_a_new_design(bot, run):
    # Memory the model writes after reading a review: no enforced catalog control acts on a write to memory.
    bot.add({"id": "notes", "kind": "memory", "owner": "app", "persistent": True, "model-writable": True},
            ("llm", "notes"))
    f = {f.id: f for f in run(bot, RULE)}["open-attack-path:reviews>rag>llm>notes"]
    assert f.controls == () and "No enforced catalog control acts on this path" in f.explanation
    assert f.recommendation.startswith("No catalog control closes it: put an enforced control of your own")
    assert "so that what reviews says cannot reach notes through the model" in f.recommendation
    assert "renderer" not in f.recommendation  # nothing here renders anything
    # Read back as well, it writes itself again: what it says goes back in through the model.
    bot.flows.append({"from": "notes", "to": "llm"})
    loop = {f.id: f for f in run(bot, RULE)}["open-attack-path:notes>llm>notes"]
    assert "what the model reads from notes cannot be written back to it" in loop.recommendation
