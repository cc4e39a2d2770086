"""The default install is what the demo needs; each optional part missing is an error that names
the extra to install."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest

from demarcate.model.errors import ManifestError

PYPROJECT = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8"))


def test_the_default_install_has_no_optional_part_and_the_tests_have_them_all():
    default = " ".join(PYPROJECT["project"]["dependencies"])
    extras = PYPROJECT["project"]["optional-dependencies"]
    for extra, package in (("browser", "playwright"), ("fast-yaml", "yaml-rs"), ("openai", "openai"), ("pdf", "fpdf2"),
                           ("postgres", "psycopg")):
        assert package not in default and any(package in d for d in extras[extra])
    assert "demarcate[browser,fast-yaml,openai,pdf,postgres]" in extras["test"]
    documented = (Path(__file__).resolve().parents[1] / "docs/dependencies.md").read_text(encoding="utf-8")
    for requirement in PYPROJECT["project"]["dependencies"]:
        name = requirement.split(">")[0].split("[")[0].split("<")[0].strip()
        assert name in documented or name.split("-")[-1] in documented, name


def test_a_postgresql_history_without_its_driver_names_the_extra(monkeypatch):
    from demarcate.store import Store

    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if the extra were not installed
    with pytest.raises(ManifestError) as caught:
        Store("postgresql+psycopg://demarcate@127.0.0.1:1/history")
    (problem,) = caught.value.problems
    assert "needs the optional 'postgres' part of demarcate" in str(problem)
    assert "pip install 'demarcate[postgres]'" in str(problem)


def test_a_lab_on_a_real_model_without_the_sdk_names_the_extra(cli, tmp_path, monkeypatch):
    config = tmp_path / "lab.yaml"
    config.write_text("model: {kind: openai, base_url: 'http://127.0.0.1:9/v1', name: m}\n", encoding="utf-8")
    monkeypatch.setitem(sys.modules, "openai", None)
    from demarcate.lab.config import load_config
    from demarcate.lab.models import make_model

    with pytest.raises(ManifestError) as caught:
        make_model(load_config(config).model)
    assert "pip install 'demarcate[openai]'" in str(caught.value.problems[0])


def test_a_target_spec_that_plants_pdfs_without_the_pdf_writer_names_the_extra(tmp_path, monkeypatch):
    from demarcate.testing.targets.http import HttpTarget

    spec = tmp_path / "target.yaml"
    spec.write_text("url: http://127.0.0.1:9/ask\nbody: {q: '{message}'}\nplant:\n  url: http://127.0.0.1:9/up\n"
                    "  files: {file: {content: '{document}', filename: a.pdf, type: application/pdf}}\n")
    monkeypatch.setitem(sys.modules, "fpdf", None)
    with pytest.raises(ManifestError) as caught:  # up front, before any case plants anything
        HttpTarget(spec)
    assert "pip install 'demarcate[pdf]'" in str(caught.value.problems[0])


def test_a_target_spec_that_types_into_a_page_without_playwright_names_the_extra(tmp_path, monkeypatch):
    from demarcate.testing.targets.http import HttpTarget

    spec = tmp_path / "target.yaml"
    spec.write_text("url: http://127.0.0.1:9/chat\nbrowser: {input: '#q', answer: .bot}\n")
    monkeypatch.setitem(sys.modules, "playwright", None)
    with pytest.raises(ManifestError) as caught:  # up front, before any case is sent
        HttpTarget(spec)
    assert "pip install 'demarcate[browser]'" in str(caught.value.problems[0])
