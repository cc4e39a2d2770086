RULE = "open-egress"


def test_open_policy_behind_a_sending_tool(bot, run):
    (f,) = run(bot, RULE)
    assert f.id == "open-egress:out" and f.severity == "high" and f.responsible == ("infra",)


def test_allowlist_with_a_relay_is_still_open(bot, run):
    bot.set("out", policy="allowlist", allow=[{"host": "redirect.example", "relays": True}])
    (f,) = run(bot, RULE)
    assert "redirect.example" in f.explanation


def test_allowlist_closes_it(bot, run):
    bot.set("out", policy="allowlist", allow=["smtp.example"])
    assert run(bot, RULE) == []


def test_egress_nothing_flows_into_is_not_reported(bot, run):
    bot.flows = [f for f in bot.flows if f["to"] != "out"]
    assert run(bot, RULE) == []


def test_an_egress_many_tools_use_names_a_few_and_counts_the_rest(bot, run):
    for i in range(12):
        bot.add({"id": f"t{i:02}", "kind": "tool", "owner": "app", "effects": ["send-external"]},
                ("llm", f"t{i:02}"), (f"t{i:02}", "out"))
    (f,) = run(bot, RULE)
    assert len(f.components) == 14 and "and 5 more." in f.explanation and "t10" not in f.explanation


def test_a_sound_allowlist_is_not_open_whatever_a_claim_says_of_it(bot, run):
    # Found by the analysis property test: a partial claim beside a sound allowlist read as
    # "lets traffic out to any host" with an empty reason, "out ()".
    bot.set("out", policy="allowlist", allow=["mail.example"]).provides("INF-NET-03", party="infra", status="partial")
    assert run(bot, RULE) == []
    bot.set("out", allow=["mail.example", {"host": "redirect.example", "relays": True}])
    (f,) = run(bot, RULE)
    assert "(allow includes redirect.example, which relays arbitrary URLs)" in f.explanation


def test_an_upload_service_is_a_way_out_only_for_code_that_runs(bot, run):
    """Claude's sandbox (2025): with api.anthropic.com allowed, code run on a document's instructions
    uploaded the user's files with the attacker's API key. The same host on the egress of a mail
    tool that builds no request of its own carries nothing anywhere."""
    bot.set("out", policy="allowlist", allow=["api.anthropic.com", "*.github.com"])
    assert run(bot, RULE) == []
    bot.add({"id": "code", "kind": "tool", "owner": "app", "effects": ["execute-code"], "credential": "none"},
            ("llm", "code"), ("code", "out"))
    (f,) = run(bot, RULE)
    assert f.severity == "high"
    assert "api.anthropic.com, where anyone's account takes uploads (its Files API" in f.explanation
    assert "*.github.com, where anyone's account takes uploads" in f.explanation
    # Marked by the user on a host the catalog does not know, it counts as written.
    bot.set("out", allow=[{"host": "files.partner.example", "uploads": True}])
    (f,) = run(bot, RULE)
    assert "files.partner.example, where anyone's account takes uploads" in f.explanation
