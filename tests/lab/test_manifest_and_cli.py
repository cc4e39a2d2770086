"""The lab describes itself truthfully, and `demarcate lab` starts in seconds as a real process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import httpx

from demarcate.analysis.check import analyse
from demarcate.lab import LabConfig, parse_controls, switches
from demarcate.lab.manifest import manifest_yaml
from demarcate.model import load
from tests.conftest import SHOPBOT


def _analyse(tmp_path, config: LabConfig):
    path = tmp_path / "lab.yaml"
    path.write_text(manifest_yaml(config))
    return analyse(load([path]))


def test_default_configuration_is_examples_shopbot(tmp_path):
    lab = _analyse(tmp_path, LabConfig())
    shopbot = analyse(load([SHOPBOT]))
    assert {f.id for f in lab.findings} == {f.id for f in shopbot.findings}
    assert [p.id for p in lab.paths.open_paths] == [p.id for p in shopbot.paths.open_paths]


def test_every_switch_names_a_catalog_control_and_shows_in_the_manifest(tmp_path):
    from demarcate.catalog import load_catalog

    catalog = load_catalog().controls
    for name, sw in switches().items():
        assert sw.control in catalog, name
        config = LabConfig(controls={name: not sw.default})
        path = tmp_path / f"{name}.yaml"
        path.write_text(manifest_yaml(config))
        system = load([path])
        provided = {c.control for c in system.claims if c.kind == "provides"}
        assert (sw.control in provided) is (not sw.default), name


def test_the_computed_fix_switched_on_closes_every_path(tmp_path):
    shopbot = analyse(load([SHOPBOT]))
    by_control = {sw.control: name for name, sw in switches().items()}
    fix = {by_control[c]: True for c in shopbot.leverage.fix}
    assert len(fix) == len(shopbot.leverage.fix), "every control in the fix has a lab switch"
    fixed = _analyse(tmp_path, LabConfig(controls=fix))
    assert fixed.paths.open_paths == [] and len(fixed.paths.paths) == len(shopbot.paths.paths)


def test_the_lab_names_the_mail_relay_it_hands_outside_mail_to(tmp_path):
    """The lab sends mail for outside addresses to a relay through its egress; its manifest says so,
    so that the analysis and the live egress agree on whether the allowlist stops that mail."""
    plain = _analyse(tmp_path, LabConfig(controls={"egress-allowlist": True}))
    assert plain.system.components["send-email"].get("sends-through") is None  # mail stays in its outbox
    relayed = _analyse(tmp_path, LabConfig(controls={"egress-allowlist": True}, mail_relay="http://127.0.0.1:9/relay"))
    assert relayed.system.components["send-email"].get("sends-through")[0].host == "127.0.0.1"
    # the relay is not on it: the egress refuses the delivery, as the live lab shows (delivery-denied)
    assert _mail_paths_closed_by_egress(relayed) is True


def _mail_paths_closed_by_egress(result) -> bool:
    mail = [p for p in result.paths.paths if "send-email" in p.steps and p.steps[-1] == "egress"]
    assert mail
    closes = {any(c.id == "INF-NET-03" and c.closes for c in p.controls) for p in mail}
    assert len(closes) == 1
    return closes.pop()


def test_parse_controls_spec():
    assert parse_controls("confirmation-gate,-auth") == {"confirmation-gate": True, "auth": False}
    assert set(parse_controls("all").values()) == {True}


def test_a_lab_configuration_file_is_checked_like_a_manifest(cli, write):
    path = write("lab.yaml", """
        port: abc
        controls: {confirmation-gat: true}
    """)
    bad = cli("lab", "--config", path, "--print-manifest")
    assert bad.exit_code == 2 and f"{path}:1:7: error: port: expected a whole number, got 'abc'" in bad.output
    path.write_text("controls: {confirmation-gat: true}\n")
    bad = cli("lab", "--config", path, "--print-manifest")
    assert bad.exit_code == 2
    assert f"{path}:1:12: error: unknown lab control 'confirmation-gat' (did you mean 'confirmation-gate'?)" in bad.output


def test_demarcate_lab_starts_in_seconds_and_stops_on_ctrl_c():
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "demarcate", "lab", "--port", "0", "--controls", "confirmation-gate"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "COLUMNS": "200"})
    try:
        line = proc.stdout.readline()
        assert "ShopBot on http://127.0.0.1:" in line, line
        url = line.strip().rsplit(" ", 1)[-1]
        info = httpx.get(url + "/api/info", timeout=10).json()
        assert time.monotonic() - start < 15
        assert info["model"]["simulated"] is True and "not a real language model" in info["model"]["notice"]
        assert info["controls"]["confirmation-gate"]["on"] is True
        # A browser pointed at the lab finds out what it is and how to use it.
        home = httpx.get(url + "/", timeout=10)
        assert home.status_code == 200 and "demarcate lab: ShopBot" in home.text
        assert "<td><code>confirmation-gate</code></td><td class=on>on</td>" in home.text
        assert "<td><code>egress-allowlist</code></td><td class=off>off</td>" in home.text
        assert "POST /api/reviews {product, text}" in home.text and "not a real language model" in home.text
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=15)
    assert proc.returncode == 0


def test_ctrl_c_while_the_lab_prints_its_banner_stops_it_the_same_way():
    # Interrupted the moment its address is printed (a script that only needed the URL), the lab
    # still stops its server and exits 0, not with an unhandled interrupt.
    for _ in range(3):
        proc = subprocess.Popen([sys.executable, "-m", "demarcate", "lab", "--port", "0"], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, env={**os.environ, "COLUMNS": "200"})
        try:
            assert "ShopBot on http://127.0.0.1:" in proc.stdout.readline()
        finally:
            proc.send_signal(signal.SIGINT)
            rest = proc.communicate(timeout=20)[0]
        assert proc.returncode == 0, rest
        assert "Traceback" not in rest and "Aborted" not in rest


def test_lab_lists_its_switches_at_any_width(cli):
    wide = cli("lab", "--list", "--controls", "confirmation-gate", columns=160).output
    row = next(line for line in wide.splitlines() if "│ confirmation-gate " in line)
    assert "│ on " in row and "APP-TOOL-02" in row and "app-team" in row
    narrow = cli("lab", "--list", "--controls", "confirmation-gate", columns=80).output
    assert max(map(len, narrow.splitlines())) <= 80 and "│" not in narrow
    assert "confirmation-gate on APP-TOOL-02 · app-team" in narrow
    assert "egress-allowlist off INF-NET-03 · cloud-team" in narrow


def test_a_port_in_use_or_an_address_not_here_is_a_one_line_error(cli):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        taken = cli("lab", "--port", str(port))  # a second `demarcate lab`, say
    assert taken.exit_code == 2
    assert (f"error: cannot listen on 127.0.0.1:{port}: Address already in use (another program has it: choose "
            "another port, or 0 for any free one)") in taken.output
    elsewhere = cli("lab", "--port", "0", "--host", "192.0.2.1", "--expose")  # TEST-NET-1: on no interface here
    assert elsewhere.exit_code == 2 and "error: cannot listen on 192.0.2.1:0: " in elsewhere.output


def test_the_lab_refuses_the_network_unless_told(cli):
    refused = cli("lab", "--port", "0", "--host", "0.0.0.0")
    assert refused.exit_code == 2 and "refusing to serve the lab on 0.0.0.0" in refused.output
    assert "--expose" in refused.output


def test_the_switch_list_is_json_for_scripts(cli):
    data = json.loads(cli("lab", "--list", "--format", "json", "--controls", "confirmation-gate").stdout)
    gate = data["switches"]["confirmation-gate"]
    assert gate["on"] is True and gate["default"] is False and gate["control"] == "APP-TOOL-02"
