"""The reference application: the source document's shop support bot, runnable on 127.0.0.1.

    with Lab(LabConfig(port=0, controls={"confirmation-gate": True})) as lab:
        httpx.post(lab.url + "/api/chat", ...)
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from demarcate.lab.app import build_app
from demarcate.lab.config import LabConfig, load_config, parse_controls, switches
from demarcate.lab.shopbot import Shopbot
from demarcate.serve import BackgroundServer

__all__ = ["Lab", "LabConfig", "load_config", "parse_controls", "switches"]


class Lab:
    """Runs the lab's HTTP server in a background thread; `port=0` picks a free port."""

    def __init__(self, config: LabConfig | None = None):
        self.config = config or LabConfig()
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.bot: Shopbot | None = None
        self.server: BackgroundServer | None = None
        self.url = ""

    def start(self, timeout: float = 20.0) -> Lab:
        data_dir = self.config.data_dir
        if data_dir is None:
            # Removed by stop(), or as the process ends when stop() is cut short (a second Ctrl-C).
            self._tmp = tempfile.TemporaryDirectory(prefix="demarcate-lab-", ignore_cleanup_errors=True)
            data_dir = Path(self._tmp.name)
        data_dir.mkdir(parents=True, exist_ok=True)
        self.bot = Shopbot(self.config, data_dir)
        self.server = BackgroundServer(build_app(self.bot), self.config.host, self.config.port, "demarcate-lab")
        self.url = self.server.start(timeout).url
        return self

    def stop(self) -> None:
        try:
            if self.server is not None:
                self.server.stop()
            if self.bot is not None:
                self.bot.close()
        finally:
            if self._tmp is not None:
                self._tmp.cleanup()

    def __enter__(self) -> Lab:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
