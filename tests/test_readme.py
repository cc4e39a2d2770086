"""The README's examples run as written, in order, from a folder holding the examples: each ends
with the exit code it promises (1 where a gate is set and the shop bot fails it, 0 otherwise)."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest

from demarcate.builtin import examples_dir

README = Path(__file__).resolve().parents[1] / "README.md"
# Commands that serve until stopped: the lab's own tests start and stop it (tests/lab).
SERVING = ("demarcate lab",)


def _examples() -> list[str]:
    use = README.read_text(encoding="utf-8").split("## Use", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    return [re.split(r"\s{2,}#", line)[0].strip() for line in use.splitlines() if line.startswith("demarcate ")]


def test_the_readme_lists_the_examples_it_should():
    lines = _examples()
    assert len(lines) > 30 and any(line.startswith("demarcate test ") for line in lines)


@pytest.mark.slow  # a whole campaign among them
def test_every_readme_example_runs_as_written(cli, tmp_path, monkeypatch):
    shutil.copytree(examples_dir(), tmp_path / "examples")
    (tmp_path / "demarcate.toml").write_text('manifest = ["examples/shopbot"]\n', encoding="utf-8")  # for `check` alone
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DEMARCATE_DB", raising=False)
    ran = 0
    for line in _examples():
        if line.startswith(SERVING):
            continue
        args = shlex.split(line)[1:]
        target = None
        if ">" in args:
            at = args.index(">")
            args, target = args[:at], args[at + 1]
        result = cli(*args)
        expected = 1 if "--fail-on" in args else 0
        assert result.exit_code == expected, f"{line}\n{result.output}"
        assert "Traceback" not in result.output
        if target:
            Path(target).write_text(result.stdout, encoding="utf-8")
        ran += 1
    assert ran == len(_examples()) - 2
    assert (tmp_path / "report.html").is_file() and (tmp_path / "demarcate.sarif").is_file()
    assert "visibility-gap:logs" in (tmp_path / "tracking.yaml").read_text(encoding="utf-8")
