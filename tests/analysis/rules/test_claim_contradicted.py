RULE = "claim-contradicted"


def test_gate_claimed_on_an_ungated_tool(bot, run):
    bot.provides("APP-TOOL-02", scope=["mail"])
    (f,) = run(bot, RULE)
    assert f.id == "claim-contradicted:APP-TOOL-02:mail"
    assert "confirmation: none" in f.explanation


def test_allowlist_with_a_relaying_host(bot, run):
    bot.add({"id": "ui", "kind": "output-renderer", "owner": "app", "images": True,
             "url-allowlist": [{"host": "proxy.example", "relays": True}]}, ("llm", "ui"))
    bot.provides("APP-OUT-04")
    (f,) = run(bot, RULE)
    assert "proxy.example, which relays arbitrary URLs" in f.explanation


def test_matching_configuration_is_fine(bot, run):
    bot.provides("APP-TOOL-02", scope=["mail"]).set("mail", confirmation="user")
    bot.provides("INF-NET-03", party="infra").set("out", policy="allowlist", allow=["smtp.example"])
    assert run(bot, RULE) == []
