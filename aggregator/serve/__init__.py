"""`aggregator serve`: the site over HTTP, with search. Starlette app, uvicorn server."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import uvicorn

from aggregator.config import Config
from aggregator.errors import ServeError
from aggregator.serve.app import create_app

__all__ = ["BackgroundServer", "ServerOptions", "create_app", "serve_forever", "server"]


@dataclass(frozen=True, slots=True)
class ServerOptions:
    host: str
    port: int
    root_path: str = ""
    trusted_proxies: tuple[str, ...] = ("127.0.0.1",)
    access_log: bool = False


def server(config: Config, options: ServerOptions) -> uvicorn.Server:
    """A uvicorn server for the app. Forwarded headers (X-Forwarded-For, -Proto) are believed
    only from the trusted proxies, so the access log shows the client behind the proxy and
    not one a client made up; the root path is where a reverse proxy mounts the site."""
    settings = uvicorn.Config(
        create_app(config),
        host=options.host,
        port=options.port,
        root_path=options.root_path.rstrip("/"),
        proxy_headers=True,
        forwarded_allow_ips=list(options.trusted_proxies),
        server_header=False,
        access_log=options.access_log,
        log_level="warning",
        lifespan="off",
    )
    if options.access_log:  # its lines are INFO; uvicorn's own stay at warnings
        logging.getLogger("uvicorn.access").setLevel(logging.INFO)
    return uvicorn.Server(settings)


def serve_forever(config: Config, options: ServerOptions) -> None:
    """Serve until SIGINT or SIGTERM (uvicorn handles both in the main thread)."""
    server(config, options).run()


class BackgroundServer:
    """The server on a thread of its own, for `aggregator run --serve`: the poller keeps the
    main thread and its signal handling, and stops the server when it stops."""

    def __init__(self, config: Config, options: ServerOptions) -> None:
        self._server = server(config, options)
        self._where = f"{options.host}:{options.port} (is the port in use?)"
        self._thread = threading.Thread(target=self._server.run, name="http", daemon=True)

    def start(self, timeout: float = 10.0) -> None:
        self._thread.start()
        pause = threading.Event()
        deadline = time.monotonic() + timeout
        while not self._server.started and self._thread.is_alive():
            if time.monotonic() > deadline:
                break
            pause.wait(0.02)
        if not self._server.started:
            self.stop()
            raise ServeError(f"the HTTP server did not start on {self._where}")

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
