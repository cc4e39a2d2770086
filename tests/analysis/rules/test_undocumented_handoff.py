RULE = "undocumented-handoff"


def test_cross_party_flow_nobody_claims(bot, run):
    ids = {f.id for f in run(bot, RULE)}
    assert "undocumented-handoff:mail:out" in ids and "undocumented-handoff:chat:llm" in ids


def test_a_reliance_documents_the_handoff(bot, run):
    bot.relies("INF-NET-03", "app", "infra")
    assert "undocumented-handoff:mail:out" not in {f.id for f in run(bot, RULE)}


def test_same_party_flows_are_not_handoffs(bot, run):
    assert "undocumented-handoff:reviews:rag" not in {f.id for f in run(bot, RULE)}
