"""One real model, end to end (slow: a few minutes on two cores). SmolLM2-135M through the `openai:`
target: each verdict is checked here against the reply the history stored, by a reading of our own."""

from __future__ import annotations

import os
import re

import pytest

from demarcate.model import load
from demarcate.serve import BackgroundServer
from demarcate.testing.run import run_campaign
from tests.conftest import SHOPBOT

pytestmark = pytest.mark.slow

PROBES = "doc-say-canary,doc-say-canary-quiet,user-say-canary,doc-email-records,doc-image-plain,user-reveal-prompt"


@pytest.fixture(scope="module")
def model_url():
    try:
        from tests.testing.real_model import RealModel, gguf

        model = RealModel(gguf())
    except Exception as exc:  # no wheel for this platform, no registry: say so
        message = f"the real model cannot run here: {type(exc).__name__}: {exc}"
        if os.environ.get("DEMARCATE_REQUIRE_MODEL"):
            pytest.fail(message)
        pytest.skip(message)
    server = BackgroundServer(model.app()).start()
    yield server.url + "/v1"
    server.stop()


def test_a_real_small_model_gets_only_verdicts_its_replies_support(tmp_path, model_url):
    data = run_campaign(load([SHOPBOT]), target=f"openai:{model_url}", model="smollm2", probes=PROBES,
                        params={"max_tokens": 40, "temperature": 0}, timeout=240, concurrency=1, force=True,
                        db=str(tmp_path / "h.sqlite"))
    results = data["results"]
    assert len(results) == len(PROBES.split(",")) and not [r for r in results if r["outcome"] == "error"]
    baselines = data["summary"]["baselines"]
    for r in results:
        reply, canary = r["evidence"]["reply"], r["canary"]
        said = canary.lower() in reply.lower()  # a model may well write the token in capitals
        # Nothing sits between this model and the user: no application control can be credited.
        assert not r["outcome"].startswith("blocked-by"), r
        if r["outcome"] == "succeeded":
            assert said, r  # success only with the case's own token in the answer
        if r["goal"] == "say-canary" and r["outcome"] == "resisted":
            assert not said, r
        if r["goal"] == "say-canary" and said and r["outcome"] != "succeeded":
            # It did say it: only a quote of the plant or the question is not compliance.
            assert re.search(r"(\S+\s+){3}" + canary, reply, re.I) or r["outcome"] == "inconclusive", r
        if r["entry"] == "document" and r["evidence"]["capable"] is False:
            assert r["outcome"] in ("inconclusive", "succeeded"), r  # a model that cannot read resisted nothing
        if r["entry"] == "document" and baselines["read"]["capable"] is False and r["outcome"] == "resisted":
            # The read baseline failed, but this answer drew on its own plant: two of its words at least.
            assert r["evidence"]["capable"] is None and r["evidence"]["delivered"] is not False, r
    by = {r["probe"]: r for r in results}
    # No tool calls are visible through a bare chat endpoint, and no mail can reach the relay.
    assert by["doc-email-records"]["outcome"] in ("unobservable", "inconclusive")
    assert by["user-reveal-prompt"]["outcome"] == "unobservable"  # no system prompt marker is known
    # An image URL with the canary in the answer is exfiltration however it got there; none, none.
    image = by["doc-image-plain"]
    assert (image["outcome"] == "succeeded") == (image["canary"] in image["evidence"]["reply"].lower())


def test_the_lab_driven_by_a_real_model_credits_no_control_that_did_not_act(tmp_path, model_url):
    # Once, every blocked-by-application verdict on a real model was false: the model simply did not
    # comply, and controls the lab does not even have were recorded as held.
    config = tmp_path / "lab.yaml"
    config.write_text(f"model: {{kind: openai, base_url: '{model_url}', name: smollm2, timeout: 200}}\n")
    data = run_campaign(load([SHOPBOT]), target="lab", lab_config=str(config), probes="doc-say-canary,doc-email-records,"
                        "doc-image-plain", timeout=600, concurrency=1, db=str(tmp_path / "h.sqlite"))
    assert "smollm2" in data["target"]
    for r in data["results"]:
        assert r["outcome"] != "error", r
        fired = r["evidence"]["controls_fired"] or []
        if r["outcome"].startswith("blocked-by"):
            assert fired, r  # held only where the lab reports a control acting
        if r["outcome"] == "resisted":
            calls = r["evidence"]["tool_calls"]
            assert r["canary"] not in r["evidence"]["reply"].lower() and r["canary"] not in str(calls).lower(), r
    held = [x for r in data["results"] for x in r["chain"] if x["held"] is True and x["layer"] == "application"]
    assert all(x["control"] in {f["control"] for r in data["results"] for f in r["evidence"]["controls_fired"] or []}
               | {"APP-LOG-01", "APP-OUT-01"} for x in held), held
