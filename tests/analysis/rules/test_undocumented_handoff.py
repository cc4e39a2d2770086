RULE = "undocumented-handoff"


def test_cross_party_flow_nobody_claims(bot, run):
    ids = {f.id for f in run(bot, RULE)}
    assert "undocumented-handoff:mail:out" in ids and "undocumented-handoff:chat:llm" in ids


def test_a_reliance_documents_the_handoff(bot, run):
    bot.relies("INF-NET-03", "app", "infra")
    assert "undocumented-handoff:mail:out" not in {f.id for f in run(bot, RULE)}


def test_same_party_flows_are_not_handoffs(bot, run):
    assert "undocumented-handoff:reviews:rag" not in {f.id for f in run(bot, RULE)}


def test_a_handoff_is_between_the_parties_that_run_each_side(bot, run):
    """A remote agent the bank calls as a tool: the bank runs that side of the handoff, not the
    agent's maker; a flow between two components the bank runs is no handoff at all."""
    bot.parties.append({"id": "remote-co", "role": "application-developer"})
    bot.add({"id": "agent", "kind": "tool", "owner": "remote-co", "operated-by": "app", "effects": ["read-public"],
             "credential": "none", "output-trust": "untrusted"}, ("llm", "agent"), ("agent", "lookup"))
    found = {f.id: f for f in run(bot, RULE)}
    assert found["undocumented-handoff:llm:agent"].responsible == ("app", "vendor")
    assert "llm (vendor) hands content to agent (app)" in found["undocumented-handoff:llm:agent"].explanation
    assert "undocumented-handoff:agent:lookup" not in found
