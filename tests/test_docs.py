"""The manifest reference documents every kind and attribute the package ships."""

from pathlib import Path

from demarcate.catalog import load_catalog

DOC = (Path(__file__).resolve().parents[1] / "docs" / "manifest.md").read_text(encoding="utf-8")


def test_every_kind_and_attribute_is_documented():
    for name, kind in load_catalog().kinds.items():
        assert f"### `{name}`" in DOC, name
        for attr in kind.attributes:
            assert f"| `{attr}` |" in DOC, f"{name}.{attr}"


def test_rule_reference_is_generated_from_the_rules(cli):
    doc = (Path(__file__).resolve().parents[1] / "docs" / "rules.md").read_text(encoding="utf-8")
    assert cli("rules", "--format", "markdown").output == doc, "regenerate: demarcate rules --format markdown > docs/rules.md"


def test_every_rule_has_complete_metadata():
    from demarcate.analysis.rules import RULES

    for rid, registered in RULES.items():
        rule = registered.rule
        assert rule.id == rid
        for field in ("name", "title", "detects", "why", "severity", "who_acts", "false_positives", "fix"):
            assert getattr(rule, field), (rid, field)
