"""Run an ASGI app with uvicorn in a background thread: the lab, the callback listener and the
trace receiver all use it. Binds 127.0.0.1 unless told otherwise; port 0 picks a free port."""

from __future__ import annotations

import errno
import socket
import threading
import time
from typing import Any

import uvicorn

from demarcate.model.errors import ManifestError, Problem


class BackgroundServer:
    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, name: str = "demarcate-server"):
        self.host, self.port = host, port
        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                                    access_log=False, lifespan="off"))
        self.thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self.sockets: list[socket.socket] = []
        self.url = ""

    def _serve(self) -> None:
        self.server.run(sockets=self.sockets)

    def _bind(self) -> socket.socket:
        """The listening socket, bound here so that a port in use or an address this machine does
        not have is a clear error now rather than a log line from the server's thread."""
        sock = None
        try:
            family = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)[0][0]
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
        except OSError as exc:
            if sock is not None:
                sock.close()
            hint = "another program has it: choose another port, or 0 for any free one" \
                if exc.errno == errno.EADDRINUSE else None
            raise ManifestError([Problem(f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}",
                                         hint=hint)]) from None
        return sock

    def start(self, timeout: float = 20.0) -> BackgroundServer:
        self.sockets = [self._bind()]
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise ManifestError([Problem(f"the server on {self.host}:{self.port} did not start")])
            time.sleep(0.02)
        host, port = self.server.servers[0].sockets[0].getsockname()[:2]
        self.url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        if self.thread.is_alive():
            self.thread.join(timeout=10)
