"""Manifest text that talks to the terminal or to people: escape sequences never reach an output,
and a Markdown report posted as a comment links, mentions and references nothing."""

from __future__ import annotations

import json
import re

from tests.conftest import SHOPBOT, copy_example

NASTY = ("\x1b[2J\x1b]8;;https://evil.example/\x07click\x1b]8;;\x07 \x1b]52;c;ZXZpbA==\x07 "
         "ping @octocat and @acme/security-team, see GH-12 and https://evil.example or www.evil.example")


def _nasty(tmp_path):
    folder = copy_example(SHOPBOT, tmp_path / "bot")
    for f in folder.glob("*.yaml"):
        text = f.read_text()
        text = text.replace("    description: Builds the bot, its retrieval and its tools; ships weekly.\n",
                            f"    description: {json.dumps(NASTY)}\n")
        text = text.replace("name: Fetch web page\n", f"name: {json.dumps('Fetch web page ' + NASTY)}\n")
        if "id: app-team" in text:
            text += ("\ncustom-controls:\n  - id: ACME-AI-01\n    layer: application\n"
                     f"    title: {json.dumps('Screen mail ' + NASTY)}\n")
        f.write_text(text)
    return folder


def test_escape_sequences_reach_no_output(tmp_path, cli):
    bot = _nasty(tmp_path)
    outputs = {
        "github": cli("check", bot, "--format", "github").stdout,
        "csv": cli("matrix", bot, "--format", "csv").stdout,
        "markdown": cli("check", bot, "--format", "markdown").stdout,
        "matrix-markdown": cli("matrix", bot, "--format", "markdown").stdout,
        "text": cli("check", bot).stdout,
    }
    # The text itself is kept, less its control characters.
    assert "Fetch web page" in outputs["github"] and "ping @octocat" in outputs["github"]
    assert "Screen mail" in outputs["csv"] and "ping @octocat" in outputs["csv"]
    for name, out in outputs.items():
        assert "\x1b" not in out and "\x07" not in out, name


def test_a_markdown_report_notifies_and_links_nobody(tmp_path, cli):
    bot = _nasty(tmp_path)
    for out in (cli("check", bot, "--format", "markdown").stdout, cli("matrix", bot, "--format", "markdown").stdout):
        # Outside code blocks (a Mermaid diagram's labels are code: nothing in them links or mentions).
        prose = re.sub(r"```.*?```", "", out, flags=re.S)
        assert "Screen mail" in prose or "Fetch web page" in prose
        for live in ("@octocat", "@acme/security-team", "GH-12", "https://evil", "www.evil"):
            assert live not in prose, live


def test_parentheses_read_as_written(tmp_path, cli):
    folder = copy_example(SHOPBOT, tmp_path / "bot")
    for f in folder.glob("*.yaml"):
        f.write_text(f.read_text().replace("name: Shop app team\n", "name: Shop app team (web)\n"))
    markdown = cli("check", folder, "--format", "markdown").stdout
    assert '["Shop app team (web) · application-developer"]' in markdown  # a Mermaid cluster title
    assert "expected (unclaimed)" in cli("matrix", folder, "--format", "markdown").stdout
