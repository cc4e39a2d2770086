"""Every preset scaffolds a manifest that validates, as one file and split per party."""

from __future__ import annotations

import pytest

from demarcate.analysis.responsibility import Responsibilities
from demarcate.catalog import load_catalog
from demarcate.model import load

PRESETS = sorted(load_catalog().presets)


@pytest.mark.parametrize("preset", PRESETS)
def test_init_writes_a_valid_manifest(preset, cli, tmp_path):
    out = tmp_path / "ai.yaml"
    result = cli("init", "--preset", preset, "-o", out)
    assert result.exit_code == 0, result.output
    system = load([out])
    assert system.info.preset == preset
    assert result.exit_code == 0 and cli("validate", out).exit_code == 0


@pytest.mark.parametrize("preset", PRESETS)
def test_init_split_writes_one_file_per_party(preset, cli, tmp_path):
    folder = tmp_path / "manifest"
    result = cli("init", "--preset", preset, "-o", folder, "--split")
    assert result.exit_code == 0, result.output
    system = load([folder])
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(["system.yaml", *(f"{p}.yaml" for p in system.parties)])
    for cid, comp in system.components.items():
        assert system.position("component", cid).file == str(folder / f"{comp.owner}.yaml")


def test_init_refuses_to_overwrite_without_force(cli, tmp_path):
    out = tmp_path / "ai.yaml"
    out.write_text("mine")
    result = cli("init", "-o", out)
    assert result.exit_code == 2
    assert "file exists; use --force to overwrite" in result.output
    assert out.read_text() == "mine"
    assert cli("init", "-o", out, "--force").exit_code == 0


def test_unknown_preset_suggests_nearest(cli):
    result = cli("init", "--preset", "self-hosted")
    assert result.exit_code == 2
    assert "unknown preset 'self-hosted' (did you mean 'self-hosted-open-weights'?)" in result.output


def test_preset_shifts_ownership_of_serving_filter(cli, tmp_path):
    """Like cloud charts shifting with IaaS/PaaS/SaaS: who owns serving-time filtering moves."""
    owners = {}
    for preset in ("managed-model-api", "self-hosted-open-weights"):
        out = tmp_path / f"{preset}.yaml"
        cli("init", "--preset", preset, "-o", out)
        resp = Responsibilities(load([out]))["INF-SRV-04"]
        owners[preset] = resp.default_roles
    assert owners["managed-model-api"] == ("model-provider",)
    assert owners["self-hosted-open-weights"] == ("infrastructure-operator",)


def test_buy_preset_marks_vendor_layers_verify_only(cli, tmp_path):
    out = tmp_path / "saas.yaml"
    cli("init", "--preset", "consumer-saas", "-o", out)
    resp = Responsibilities(load([out]))
    assert resp["APP-IN-03"].verify_only is True
    assert resp["GOV-CLS-01"].verify_only is False
