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
    tool, which calls with its own key and builds no request of its own, carries nothing anywhere."""
    bot.set("out", policy="allowlist", allow=["api.anthropic.com", "github.com"])
    assert run(bot, RULE) == []
    bot.add({"id": "code", "kind": "tool", "owner": "app", "effects": ["execute-code"], "credential": "none"},
            ("llm", "code"), ("code", "out"))
    (f,) = run(bot, RULE)
    assert f.severity == "high" and f.title == "out lets what is sent reach anyone"
    assert "api.anthropic.com, which takes data into whatever account or recipient the request names (its Files API" in f.explanation
    assert "github.com, which takes data into whatever account or recipient the request names" in f.explanation
    # Marked by the user on a host the catalog does not know, it counts as written.
    bot.set("out", allow=[{"host": "files.partner.example", "uploads": True}])
    (f,) = run(bot, RULE)
    assert "files.partner.example, which takes data into whatever account or recipient the request names" in f.explanation


def test_a_delivering_service_is_a_way_out_for_a_tool_that_sends_where_its_call_says(bot, run):
    """A reply tool through an egress that lets Microsoft Graph through reaches any recipient its call
    names: the allowlist limits nobody. Once the manifest says which service the tool hands its mail
    to, or that the tool sends nowhere, the list is judged on what it lets other traffic reach."""
    bot.set("out", policy="allowlist", allow=["graph.microsoft.com"])
    (f,) = run(bot, RULE)
    assert f.severity == "high" and f.title == "out lets what is sent reach anyone"
    assert "graph.microsoft.com, which takes data into whatever account or recipient the request names " \
           "(Microsoft Graph sends mail" in f.explanation
    bot.set("mail", sends_through=["smtp.corp.example"])
    assert run(bot, RULE) == []
    bot.set("mail", sends_through=[], effects=["read-public"])
    assert run(bot, RULE) == []
    # The author who knows the recipient is fixed in configuration says so on the entry.
    bot.set("mail", effects=["send-external"]).set("out", allow=[{"host": "graph.microsoft.com", "uploads": False}])
    assert run(bot, RULE) == []


def test_a_tool_that_fetches_any_url_makes_open_egress_high(bot, run):
    """Open WebUI's fetch_url: the URL it is given carries data as a sent message does, and the attack
    path through the egress is as critical as the mail tool's. A lookup of private records that
    names no host is the medium case."""
    bot.drop("mail").add({"id": "fetch", "kind": "tool", "owner": "app", "effects": ["read-public"]},
                         ("llm", "fetch"), ("fetch", "out"))
    (f,) = run(bot, RULE)
    assert f.severity == "high" and "fetch can send data, fetch any URL or run code" in f.explanation
    bot.set("fetch", effects=["read-private"])
    (f,) = run(bot, RULE)
    assert f.severity == "medium"
