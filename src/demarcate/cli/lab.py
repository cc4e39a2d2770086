"""lab: the reference application, live on this machine."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from demarcate.cli.core import (
    ListFormat,
    app,
    emit_json,
    is_loopback,
    out,
    reports_errors,
    terminal,
    warn_if_exposed,
)
from demarcate.model.errors import ManifestError, Problem


@app.command()
@reports_errors
def lab(
    config: Annotated[Path | None, typer.Option("--config", help="Lab configuration YAML (see docs/lab.md).")] = None,
    controls: Annotated[str | None, typer.Option(
        help="Switch controls: 'a,b,-c', 'all', 'none' or 'default'. See --list.")] = None,
    port: Annotated[int | None, typer.Option(help="Port on 127.0.0.1 (default 8765; 0 picks a free one).")] = None,
    host: Annotated[str | None, typer.Option(help="Interface to bind; 127.0.0.1 unless you mean otherwise.")] = None,
    list_switches: Annotated[bool, typer.Option("--list", help="List the control switches and exit.")] = False,
    print_manifest: Annotated[bool, typer.Option(
        "--print-manifest", help="Print the manifest of this configuration and exit.")] = False,
    expose: Annotated[bool, typer.Option(
        "--expose", help="Allow a --host other than loopback: the lab is vulnerable on purpose, and its data "
                         "(the customers' records) becomes reachable from the network.")] = False,
    format: Annotated[ListFormat, typer.Option("--format", "-f", help="For --list: table or json.")] = ListFormat.table,
) -> None:
    """Run the reference application: the source document's shop support bot, every control switchable."""
    from demarcate.lab import Lab, load_config, switches
    from demarcate.lab.manifest import manifest_yaml
    from demarcate.lab.models import SIMULATION_NOTICE

    cfg = load_config(config, controls, port)
    if host:
        cfg.host = host
    if list_switches:
        if format is ListFormat.json:
            state = cfg.state()
            emit_json({"switches": {name: {"on": state[name], "default": sw.default, "control": sw.control,
                                           "party": sw.party, "does": sw.does} for name, sw in switches().items()}})
        else:
            terminal.print_switches(out, switches(), cfg.state())
        return
    if print_manifest:
        sys.stdout.write(manifest_yaml(cfg))
        return
    if not is_loopback(cfg.host) and not expose:
        raise ManifestError([Problem(f"refusing to serve the lab on {cfg.host}: it is vulnerable on purpose, and "
                                     "its outbox holds every customer's personal data",
                                     hint="give --expose to mean it (and `allowed_host_names` in the config for the "
                                          "names clients will use)")])
    warn_if_exposed(cfg.host, "the lab, a deliberately vulnerable application,")
    running = Lab(cfg).start()
    try:  # from here Ctrl-C, even during the banner, stops the server the same way
        out.print(terminal.t(f"demarcate lab: ShopBot on {running.url}", "bold green"))
        if cfg.model.kind == "simulated":
            out.print(terminal.t(SIMULATION_NOTICE, "yellow"))
        else:
            out.print(terminal.t(f"model: {cfg.model.name} at {cfg.model.base_url} (key from ${cfg.model.api_key_env})"))
        on = [n for n, v in cfg.state().items() if v]
        out.print(terminal.t(f"controls on: {', '.join(on) or 'none'}"))
        out.print(terminal.t(f"try: curl -s -X POST {running.url}/api/login -d "
                             "'{\"email\":\"ada.park@example.com\",\"password\":\"ada-pass\"}'   (then docs/lab.md)",
                             "dim"))
        out.print(terminal.t("Ctrl-C stops it.", "dim"))
        while running.server and running.server.thread.is_alive():
            running.server.thread.join(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()
