"""The manifest reference documents every kind and attribute the package ships."""

from pathlib import Path

from demarcate.catalog import load_catalog

DOC = (Path(__file__).resolve().parents[1] / "docs" / "manifest.md").read_text(encoding="utf-8")


def test_every_kind_and_attribute_is_documented():
    for name, kind in load_catalog().kinds.items():
        assert f"### `{name}`" in DOC, name
        for attr in kind.attributes:
            assert f"| `{attr}` |" in DOC, f"{name}.{attr}"
