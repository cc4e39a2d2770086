RULE = "over-privileged-credential"


def test_shared_account_reading_private_records(bot, run):
    bot.set("lookup", credential="service-account")
    (f,) = run(bot, RULE)
    assert f.id == "over-privileged-credential:lookup" and f.severity == "high"
    assert f.title == "lookup acts with a service-account credential"


def test_admin_credential_is_high_even_without_untrusted_input(bot, run):
    bot.drop("reviews", "rag").set("chat", trust="internal").set("lookup", credential="admin")
    (f,) = run(bot, RULE)
    assert f.severity == "high" and f.title == "lookup acts with an admin credential"


def test_delegated_scope_is_fine(bot, run):
    assert run(bot, RULE) == []


def test_without_per_user_identities_there_is_no_user_scope_to_use(bot, run):
    bot.set("lookup", credential="service-account").set("chat", authenticated=False)
    assert run(bot, RULE) == []


def test_delegated_token_that_reaches_all_the_users_data_is_told_to_narrow(bot, run):
    # Already the user's own token: "use the user's delegated scope" would be advice it already follows.
    bot.set("lookup", credential="user-delegated", **{"credential-reach": "user"})
    (f,) = run(bot, RULE)
    assert f.title == "lookup acts with a user-delegated credential that reaches too far"
    assert f.recommendation.startswith("Narrow the credential to what the task needs")


def test_shared_account_that_reaches_everything_keeps_the_delegation_fix(bot, run):
    bot.set("lookup", credential="service-account", **{"credential-reach": "all"})
    (f,) = run(bot, RULE)
    assert f.title == "lookup acts with a service-account credential"
    assert "delegated token" in f.recommendation
