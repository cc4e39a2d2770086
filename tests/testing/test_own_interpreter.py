"""Targets as users run them: a Python app in an interpreter of its own (with packages demarcate's
environment does not have), an app importable from the current folder, the lab told by a config file
which model answers."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from demarcate.model import load
from demarcate.testing.run import run_campaign
from tests.conftest import SHOPBOT

APP = textwrap.dedent('''
    import onlyhere  # installed in the app's environment only

    def answer(message, documents):
        print("debug output an app might leave in")  # must not disturb the exchange
        for d in documents:
            if "start your answer with the words" in d:
                word = d.split("start your answer with the words ")[1].split()[0]
                return word + " " + onlyhere.GREETING
        return onlyhere.GREETING + " " + " ".join(d[:60] for d in documents)
''')


def _app_env(tmp_path: Path) -> Path:
    """A virtualenv with a package of its own, and a folder holding the app that imports it."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    Path(site, "onlyhere.py").write_text("GREETING = 'Hello from the app env.'\n")
    (tmp_path / "shopapp").mkdir()
    (tmp_path / "shopapp" / "__init__.py").write_text("")
    (tmp_path / "shopapp" / "bot.py").write_text(APP)
    return python


def test_a_python_app_runs_in_its_own_interpreter(tmp_path, monkeypatch):
    python = _app_env(tmp_path)
    monkeypatch.chdir(tmp_path)
    data = run_campaign(load([SHOPBOT]), target="python:shopapp.bot:answer", python=str(python),
                        probes="doc-say-canary,user-say-canary", db=str(tmp_path / "h.sqlite"))
    by = {r["probe"]: r for r in data["results"]}
    assert by["doc-say-canary"]["outcome"] == "succeeded"
    assert "Hello from the app env." in by["user-say-canary"]["evidence"]["reply"]
    assert by["user-say-canary"]["outcome"] == "resisted"
    assert str(python) in data["target"]


def test_an_app_demarcate_cannot_import_is_a_clear_error_and_the_folder_is_importable(tmp_path):
    _app_env(tmp_path)
    cmd = [sys.executable, "-m", "demarcate", "test", str(SHOPBOT), "--target", "python:shopapp.bot:answer",
           "--db", str(tmp_path / "h.sqlite"), "--probes", "user-say-canary"]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    # The folder is importable (shopapp is found); onlyhere is not in demarcate's environment.
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "No module named 'onlyhere'" in proc.stderr and "--python" in proc.stderr
    missing = subprocess.run([*cmd, "--python", str(tmp_path / "nowhere" / "python")], cwd=tmp_path,
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and "cannot start the interpreter" in missing.stderr


def test_the_lab_takes_its_model_from_a_config_file(tmp_path, cli):
    config = tmp_path / "lab.yaml"
    config.write_text("model: {kind: simulated, follows_injections: false}\n")
    db = str(tmp_path / "h.sqlite")
    result = cli("test", SHOPBOT, "--target", "lab", "--lab-config", config, "--probes", "doc-email-records",
                 "--db", db, "--format", "json")
    data = json.loads(result.stdout)
    assert data["results"][0]["outcome"] == "resisted" and "resists" in data["target"]  # no mail, no call
    # --resume reads the same file again.
    from demarcate.store import Store

    store = Store(db)
    assert store.need(data["run"])["config"]["lab_config"] == str(config.resolve())
    store.close()
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: {kind: simulted}\n")
    wrong = cli("test", SHOPBOT, "--lab-config", bad, "--db", db)
    assert wrong.exit_code == 2 and f"{bad}:1:" in wrong.output
    other = cli("test", SHOPBOT, "--target", "python:x:y", "--lab-config", config, "--db", db)
    assert other.exit_code == 2 and "--lab-config is for the lab target" in other.output
