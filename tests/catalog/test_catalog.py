"""Catalog integrity: the shipped data is complete, consistent and uses real framework identifiers."""

from __future__ import annotations

import re

from demarcate.catalog import load_catalog
from demarcate.model.schema import LAYERS


def test_catalog_has_at_least_80_controls_over_every_layer():
    cat = load_catalog()
    assert len(cat.controls) >= 80
    assert {c.layer for c in cat.controls.values()} == set(LAYERS)


def test_control_ids_are_unique_and_well_formed():
    cat = load_catalog()
    ids = [c.id for c in cat.controls.values()]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[A-Z]+(-[A-Z0-9]+)+", i) for i in ids)


def test_every_control_applies_to_known_kinds_and_threats():
    cat = load_catalog()
    for c in cat.controls.values():
        assert set(c.applies_to) <= set(cat.kinds), c.id
        assert set(c.mitigates) <= set(cat.threats), c.id
        assert set(c.verify.probes) <= set(cat.probe_categories), c.id
        assert c.title and c.description and c.mitigates, c.id
        assert c.verify.evidence, c.id


def test_reference_ids_are_well_formed():
    cat = load_catalog()
    for c in cat.controls.values():
        r = c.references
        assert all(re.fullmatch(r"LLM(0[1-9]|10)", x) for x in r.owasp_llm), c.id
        assert all(re.fullmatch(r"ASI(0[1-9]|10)", x) for x in r.owasp_agentic), c.id
        assert all(re.fullmatch(r"AML\.M00[0-3]\d", x) and int(x[-4:]) <= 34 for x in r.atlas), c.id
        assert all(re.fullmatch(r"[A-Z&]{2,4}-\d{2}", x) for x in r.aicm), c.id


def test_injection_controls_exist_at_both_model_and_application_layers():
    """The seed's point: the model layer lowers likelihood, the application layer can stop it."""
    cat = load_catalog()
    injection = [c for c in cat.controls.values() if "indirect-injection" in c.mitigates]
    model = [c for c in injection if c.layer == "model"]
    app = [c for c in injection if c.layer == "application" and c.function == "prevent"]
    assert model and all(c.function != "prevent" for c in model)
    assert app


def test_infrastructure_controls_name_their_plane():
    cat = load_catalog()
    for c in cat.controls.values():
        if c.layer == "infrastructure":
            assert c.plane in ("model-serving", "app-hosting"), c.id
        else:
            assert c.plane is None, c.id


def test_presets_cover_the_deployment_models():
    cat = load_catalog()
    assert {"consumer-saas", "enterprise-saas", "managed-model-api", "cloud-ai-platform",
            "self-hosted-open-weights", "fine-tuned", "self-trained"} <= set(cat.presets)


def test_buy_presets_leave_only_usage_to_the_customer():
    cat = load_catalog()
    consumer = cat.presets["consumer-saas"]
    assert [layer for layer, op in consumer.operators.items() if op.by == "self"] == ["usage"]


def test_self_hosted_moves_serving_time_controls_to_self():
    cat = load_catalog()
    preset = cat.presets["self-hosted-open-weights"]
    assert preset.operators["model-serving"].by == "self"
    assert preset.overrides["MOD-MON-01"].role == "infrastructure-operator"
