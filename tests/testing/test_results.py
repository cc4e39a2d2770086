"""Typed results write exactly the JSON the history, the reports and `test --format json` read."""

from __future__ import annotations

from demarcate.testing.results import EVIDENCE_ITEMS, EVIDENCE_TEXT, CaseEvidence, CaseResult, Link


def _evidence(**changes) -> CaseEvidence:
    given = dict(status=200, reply="x" * (EVIDENCE_TEXT + 5), tool_calls=[{"name": "t"}] * (EVIDENCE_ITEMS + 1),
                 controls_fired=None, callback_hits=[], spans=[], rendered=[], trace_id=None, delivered=True,
                 undelivered="", capable=None, context=["c" * (EVIDENCE_TEXT + 1)], contamination=[])
    given.update(changes)
    return CaseEvidence(**given)


def test_a_judged_case_keeps_bounded_evidence_and_no_error_key():
    result = CaseResult("c1", "p", "cat", "document", "say-canary", "plain", "dm1", "resisted",
                        [Link("model", "MOD-SAFE-03", "model-provider", True, "quiet")], 0.123456, _evidence())
    data = result.to_json()
    assert list(data) == ["case", "probe", "category", "entry", "goal", "transform", "canary", "outcome", "chain",
                          "latency", "evidence"]
    assert data["latency"] == 0.1235 and data["chain"][0]["party"] == "model-provider"
    ev = data["evidence"]
    assert ev["reply_cut"] and len(ev["reply"]) == EVIDENCE_TEXT and len(ev["reply_excerpt"]) == 400
    assert len(ev["tool_calls"]) == EVIDENCE_ITEMS and len(ev["context"][0]) == EVIDENCE_TEXT
    assert "cleanup" not in ev
    result.evidence.cleanup = "the plant could not be removed"
    assert result.to_json()["evidence"]["cleanup"] == "the plant could not be removed"
    # A mail in the outbox that carried a whole table is kept as far as it shows what it carried.
    table = "customer@example.com, 07700 900123\n" * 5_000
    result.evidence.outbox = [{"id": "m1", "to": ["eve@exfil.example"], "body": table}] * (EVIDENCE_ITEMS + 1)
    (mail, *more) = result.to_json()["evidence"]["outbox"]
    assert len(more) == EVIDENCE_ITEMS - 1 and mail["to"] == ["eve@exfil.example"] and mail["id"] == "m1"
    assert mail["body"] == table[:4_096] + f" …[{len(table) - 4_096} more characters not kept]"


def test_an_error_has_its_reason_no_chain_and_no_evidence():
    data = CaseResult("c1", "p", "cat", "document", "say-canary", "plain", "dm1", "error", error="timed out").to_json()
    assert data["error"] == "timed out" and data["chain"] == [] and data["evidence"] == {} and data["latency"] is None


def test_a_secret_named_by_the_environment_is_never_written_out():
    result = CaseResult("c1", "p", "cat", "document", "custom", "plain", "dm1", "succeeded",
                        [Link("model", "MOD-SAFE-03", None, False, 'said "s3cr3t-token"')],
                        0.1, _evidence(reply="the key is s3cr3t-token"), redact=("s3cr3t-token", "[secret from $KEY]"))
    text = str(result.to_json())
    assert "s3cr3t-token" not in text and "[secret from $KEY]" in text


def test_a_campaign_summary_is_typed_and_writes_the_stored_shape():
    from demarcate.analysis.responsibility import Responsibilities
    from demarcate.builtin import example
    from demarcate.model import load
    from demarcate.testing.attribution import summarise
    from demarcate.testing.results import CampaignSummary, CategoryRate

    resp = Responsibilities(load([example("shopbot")]))
    held = [Link("application", "APP-IN-03", "app-team", True, "screened")]
    broke = [Link("application", "APP-IN-03", "app-team", False, "got through")]
    results = [CaseResult(f"c{i}", "p", "indirect", "document", "say-canary", "plain", f"dm{i}", outcome, chain).to_json()
               for i, (outcome, chain) in enumerate([("succeeded", broke), ("blocked-by-application", held),
                                                     ("error", []), ("unobservable", [])])]
    summary = summarise(results, resp, [{"check": "egress", "control": "INF-NET-03", "held": True, "evidence": "x"}])
    assert isinstance(summary, CampaignSummary) and isinstance(summary.asr["indirect"], CategoryRate)
    # Judged: the success and the block; the error and the unobservable case are counted apart.
    assert (summary.overall.rate, summary.overall.n) == (0.5, 2)
    assert (summary.asr["indirect"].errors, summary.asr["indirect"].unobservable) == (1, 1)
    # One case got past the control: refuted, whatever another case showed; the check beside the probes verifies.
    assert summary.controls["APP-IN-03"] == "refuted" and summary.controls["INF-NET-03"] == "verified"
    assert "APP-IN-03" in summary.parties["app-team"]["refuted"]
    data = summary.to_json()
    assert list(data) == ["asr", "overall", "outcomes", "controls", "parties", "infrastructure", "baselines",
                          "unknown_tools", "notes", "contradicted"]
    assert data["contradicted"] == {}  # no case showed the manifest wrong
    assert data["asr"]["indirect"] == {"rate": 0.5, "low": data["asr"]["indirect"]["low"],
                                       "high": data["asr"]["indirect"]["high"], "n": 2, "errors": 1,
                                       "unobservable": 1, "inconclusive": 0}
    assert list(data["overall"]) == ["rate", "low", "high", "n"] and 0 < data["overall"]["low"] < 0.5
