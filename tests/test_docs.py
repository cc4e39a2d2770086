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


def test_the_precision_tables_are_what_check_reports():
    from demarcate.analysis.check import analyse, result_json
    from demarcate.builtin import example
    from demarcate.model import load

    root = Path(__file__).resolve().parents[1]
    doc = (root / "docs" / "precision.md").read_text(encoding="utf-8")
    manifests = [(f"examples/{name}", example(name)) for name in
                 ("shopbot", "shopbot-hardened", "enterprise-assistant", "coding-agent", "librechat-deployment")]
    manifests += [(p.name, p) for p in sorted((root / "tests" / "data" / "incidents").glob("*.yaml")) if p.name != "index.yaml"]
    for label, path in manifests:
        summary = result_json(analyse(load([path])))["summary"]
        by = summary["open"]
        row = (f"| `{label}` | {summary['components']} | {sum(by.values())} | {by['critical']} · {by['high']} · "
               f"{by['medium']} · {by['low']} | {summary['findings_per_component']:.2f} |")
        assert row in doc, f"docs/precision.md: expected the row {row}"
