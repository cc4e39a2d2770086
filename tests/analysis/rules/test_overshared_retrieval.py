RULE = "overshared-retrieval"


def _hr(bot, **attrs):
    """The bot's retriever also brings a store of personal records, as an HR assistant's does."""
    source = {"id": "hr", "kind": "data-source", "owner": "app", "trust": "internal", "sensitivity": "personal"}
    return bot.add({**source, **attrs}, ("hr", "rag"))


def test_personal_records_retrieved_for_whoever_asks(bot, run):
    (f,) = run(_hr(bot), RULE)
    assert f.id == "overshared-retrieval:rag" and f.severity == "high" and f.responsible == ("app",)
    assert f.components == ("rag", "hr", "chat") and f.controls == ("APP-RAG-01",)
    assert "per-user-filtering: false" in f.explanation


def test_retrieval_filtered_by_the_askers_permissions_or_partitioned_is_fine(bot, run):
    assert run(_hr(bot).set("rag", per_user_filtering=True), RULE) == []
    assert run(_hr(bot).provides("APP-RAG-03", scope=["rag"]), RULE) == []


def test_an_index_everyone_may_read_can_be_declared(bot, run):
    bot.controls.append({"control": "APP-RAG-01", "party": "app", "not-applicable": "every record is public"})
    assert run(_hr(bot), RULE) == []


def test_confidential_data_is_flagged_only_for_askers_outside_the_company(bot, run):
    bot = _hr(bot, sensitivity="confidential").set("chat", audience="employees")
    assert run(bot, RULE) == []
    bot.set("chat", audience="customers")
    assert [f.severity for f in run(bot, RULE)] == ["high"]


def test_nobody_asking_nobody_overshared(bot, run):
    assert run(_hr(bot).drop("chat"), RULE) == []


def test_the_party_running_the_retriever_acts(bot, run):
    bot.parties.append({"id": "ops", "role": "deployer"})
    (f,) = run(_hr(bot).set("rag", operated_by="ops"), RULE)
    assert f.responsible == ("ops",)


def test_items_with_their_own_readers_at_the_source_are_overshared_even_among_employees(bot, run):
    # Private channels indexed into a search every employee can ask: confidential, and asked by
    # employees only, yet each channel has its own members.
    bot = _hr(bot, sensitivity="confidential", **{"per-user-access": True}).set("chat", audience="employees")
    (f,) = run(bot, RULE)
    assert f.severity == "high" and "each item of hr has its own readers (per-user-access)" in f.explanation
    assert run(bot.set("rag", per_user_filtering=True), RULE) == []
