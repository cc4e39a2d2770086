"""The presets beside the CSA AI Controls Matrix's shared-responsibility cells: the figures in
docs/frameworks.md are the ones the comparison computes, and they meet the issue's bar."""

from __future__ import annotations

from pathlib import Path

import pytest

from demarcate.catalog import load_catalog
from demarcate.catalog.aicm import compare, figures, load_aicm, markdown, ours, theirs

DOC = Path(__file__).parents[2] / "docs" / "frameworks.md"


@pytest.fixture(scope="module")
def comparisons():
    return compare()


def find(comparisons, preset, control):
    return next(c for c in comparisons if c.preset == preset and c.control == control)


def test_the_page_is_what_the_comparison_computes():
    assert DOC.read_text(encoding="utf-8") == markdown(), (
        "docs/frameworks.md is stale: run python -m demarcate.catalog.aicm > docs/frameworks.md")


def test_exact_or_partial_agreement_is_at_least_92_percent_and_every_difference_is_explained(comparisons):
    f = figures(comparisons)
    assert f["compared"] >= 8 * 90  # every preset, nearly every control
    assert (f["exact"] + f["partial"]) / f["compared"] >= 0.92
    unexplained = [(c.preset, c.control) for c in comparisons if c.agreement == "differs" and not c.why]
    assert unexplained == []


def test_no_explanation_is_kept_for_a_difference_that_is_gone(comparisons):
    differing = {(c.preset, c.control) for c in comparisons if c.agreement == "differs"}
    for key in load_aicm().explained():
        control, _, preset = key.partition("@")
        assert any(c == control and (not preset or p == preset) for p, c in differing), key


def test_actors_become_the_presets_organisations():
    catalog = load_catalog()
    presets, controls = catalog.presets, catalog.controls
    tool_control = controls["APP-TOOL-02"]
    # A hosted agent platform is the orchestrated service provider; without one, you are.
    assert theirs("OSP", tool_control, presets["agent-platform"]) == {"cloud"}
    assert theirs("OSP", tool_control, presets["managed-model-api"]) == {"self"}
    # The model provider is whoever operates the model layer; the customer is you.
    assert theirs("MP-OSP", tool_control, presets["managed-model-api"]) == {"model-vendor", "self"}
    assert theirs("AIC", tool_control, presets["consumer-saas"]) == {"self"}
    # The cloud service provider is the operator of the plane the control is on.
    assert theirs("CSP", controls["INF-NET-02"], presets["cloud-ai-platform"]) == {"self"}  # app hosting
    assert theirs("CSP", controls["INF-SRV-01"], presets["cloud-ai-platform"]) == {"cloud"}  # model serving
    assert theirs("supply-chain", tool_control, presets["cloud-ai-platform"]) == {"model-vendor", "cloud", "self"}


def test_demarcates_side_follows_layers_configuration_and_overrides():
    catalog = load_catalog()
    presets, controls = catalog.presets, catalog.controls
    assert ours(controls["APP-TOOL-02"], presets["managed-model-api"]) == {"self"}
    # The vendor operates the application layer and you configure it.
    assert ours(controls["APP-TOOL-02"], presets["enterprise-saas"]) == {"vendor", "self"}
    # An override shares it with the platform.
    assert ours(controls["APP-TOOL-02"], presets["agent-platform"]) == {"self", "cloud"}
    assert ours(controls["SHR-FT-01"], presets["consumer-saas"]) == {"vendor"}


def test_a_change_to_a_preset_shows_as_a_changed_figure(comparisons):
    """Move a control the matrix gives the model provider onto the deployer: the comparison says so."""
    catalog = load_catalog()
    before = find(comparisons, "managed-model-api", "MOD-EVAL-01")
    assert before.agreement == "exact" and before.ours == ("model-vendor",)
    preset = catalog.presets["managed-model-api"]
    moved = preset.model_copy(update={"overrides": {**preset.overrides,
                                                    "MOD-EVAL-01": preset.overrides["INF-SRV-04"].model_copy(
                                                        update={"role": "deployer"})}})
    changed = catalog.__class__(catalog.version, catalog.controls, catalog.threats, catalog.probe_categories,
                                catalog.kinds, {**catalog.presets, "managed-model-api": moved})
    after = find(compare(changed), "managed-model-api", "MOD-EVAL-01")
    assert after.agreement == "differs" and after.ours == ("self",)
    assert figures(compare(changed))["differs"] == figures(comparisons)["differs"] + 1


def test_every_aicm_reference_in_the_catalog_is_a_control_of_the_matrix():
    known = load_aicm().controls
    assert {r for c in load_catalog().controls.values() for r in c.references.aicm if r not in known} == set()


@pytest.mark.parametrize(("control", "counterpart", "not_this"), [
    ("APP-PRM-01", "IAM-15", "AIS-15"),  # secrets out of prompts: secrets management, not prompt differentiation
    ("MOD-IP-01", "IAM-05", "MDS-09"),  # weight theft: least access, not model signing
    ("INF-RT-01", "CCC-04", "I&S-06"),  # read-only runtime configuration: change authorisation, not tenant segregation
    ("MOD-DOC-02", "STA-10", None),  # the provider's data-use terms: service agreement first (DSP-12 is the customer's side)
])
def test_catalog_counterparts_are_the_matrix_controls_that_mean_the_same(control, counterpart, not_this):
    refs = load_catalog().controls[control].references.aicm
    assert refs[0] == counterpart and (not_this is None or not_this not in refs)


@pytest.mark.parametrize(("counterpart", "control"), [
    ("MDS-12", "GOV-OMR-01"),  # risk assessment of an open model before adoption
    ("MDS-02", "INF-SRV-05"),  # scanning model files on receipt
    ("IAM-18", "APP-OUT-06"),  # who may edit or approve AI output
    ("DSP-23", "GOV-DAT-01"),  # versioned, integrity-checked data the AI reads
    ("SEF-07", "MOD-IR-01"),  # a provider's duty to notify customers of incidents
    ("GRC-13", "GOV-EXP-01"),  # the customer's explainability requirement
    ("HRS-14", "GOV-TRN-01"),  # AI competency of the people owning controls
])
def test_the_thin_counterparts_have_a_control_of_their_own(counterpart, control):
    assert load_catalog().controls[control].references.aicm[0] == counterpart


def test_api_security_is_referenced_on_the_application_and_model_endpoints():
    controls = load_catalog().controls
    assert "AIS-10" in controls["APP-ID-01"].references.aicm
    assert "AIS-10" in controls["MOD-API-01"].references.aicm


def test_a_control_for_self_hosted_models_is_compared_only_where_the_model_is_self_hosted(comparisons):
    presets = {c.preset for c in comparisons if c.control == "INF-SRV-05"}
    assert presets == {p.id for p in load_catalog().presets.values() if p.model_hosting == "self-hosted"}
    assert presets  # the self-hosted presets exist
    fine_tuned = {c.preset for c in comparisons if c.control == "SHR-FT-01"}
    assert fine_tuned == {p.id for p in load_catalog().presets.values() if p.model_fine_tuned}


def test_open_weights_adoption_is_assessed_by_you_and_the_matrix_agrees(comparisons):
    row = find(comparisons, "self-hosted-open-weights", "GOV-OMR-01")
    assert row.ours == ("self",) and row.agreement == "exact"
