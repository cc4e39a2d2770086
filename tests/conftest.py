from __future__ import annotations

import os
import signal
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from demarcate import cli as cli_module
from demarcate.builtin import example
from demarcate.cli import app
from demarcate.model import ManifestError, load

SHOPBOT = example("shopbot")

# Started in the background by a non-interactive shell (`pytest &` in a script), the suite begins
# with SIGINT ignored, and every `demarcate` it starts would inherit that: the tests that stop a
# process with Ctrl-C would wait for ever. A handler here is reset to the default in each child.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


@pytest.fixture
def write(tmp_path: Path):
    """Write a manifest file (dedented) under tmp_path and return its path."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dedent(text), encoding="utf-8")
        return path

    return _write


def copy_example(source: Path, to: Path) -> Path:
    """A copy of an example's manifest folder, to add a file to (decisions, say) or write beside."""
    to.mkdir()
    for p in source.glob("*.yaml"):
        (to / p.name).write_text(p.read_text())
    return to


def at(path: Path, line: int, needle: str) -> str:
    """`file:line:col` of the first `needle` on a 1-based line of a file, as errors name places."""
    text = path.read_text(encoding="utf-8").splitlines()[line - 1]
    assert needle in text, f"{needle!r} not on line {line}: {text!r}"
    return f"{path}:{line}:{text.index(needle) + 1}"


def problems_of(*paths: Path) -> list[str]:
    """Load manifests that must fail; return their problems as the CLI prints them."""
    with pytest.raises(ManifestError) as info:
        load(list(paths))
    return [str(p) for p in info.value.problems]


BASE = """\
version: 1
system: {name: Tiny bot}
parties:
  - {id: app, role: application-developer}
  - {id: vendor, role: model-provider}
components:
  - {id: chat, kind: user-input, owner: app}
  - {id: llm, kind: model, owner: vendor}
flows:
  - {from: chat, to: llm}
"""


@pytest.fixture
def cli():
    runner = CliRunner()

    def _run(*args: str, columns: int = 200):
        # Consoles are made on first use and read the width then: one per invocation, as in a process.
        cli_module.out._real = cli_module.err._real = None
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False, env={"COLUMNS": str(columns)})

    return _run


CHROMIUM = os.environ.get("DEMARCATE_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} not found: install Debian's chromium package (CI does, in .ci/run)"
        if os.environ.get("DEMARCATE_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--disable-quic"])
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.errors = []
    pg.requests = []
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.on("request", lambda r: pg.requests.append(r.url))
    yield pg
    context.close()



def artifact(name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name
