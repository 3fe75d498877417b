from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from aggregator.config import Config, load_config
from aggregator.store import Store
from tests.browser import browser  # noqa: F401  (a fixture for every page test)
from tests.feedserver import FeedServer, feed_route

FIXTURES = Path(__file__).parent / "fixtures"


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def serve_fixture(server: FeedServer, name: str, path: str) -> str:
    """Serve a fixture feed with ETag and Last-Modified; returns its URL."""
    return server.route(path, feed_route((FIXTURES / name).read_bytes()))


class Clock:
    """An injected clock: tests move time forward instead of sleeping."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture(autouse=True, scope="session")
def _own_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The commands' cache (status's validated view of feeds.yaml) goes to a temporary
    directory, inherited by every subprocess, never to the user's ~/.cache."""
    import os

    before = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))
    yield
    if before is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = before


@pytest.fixture(autouse=True)
def _logging_as_found() -> Iterator[None]:
    """A command run in-process (CliRunner) configures logging for the whole process: ``-q``
    raises the package's level to ERROR, and a later test's caplog would see nothing."""
    import logging

    root = logging.getLogger()
    names = ("aggregator", "apscheduler", "uvicorn.access", "trafilatura", "htmldate")
    handlers, level = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in names}
    yield
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)
    for name, old in levels.items():
        logging.getLogger(name).setLevel(old)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 27, 12, 0, tzinfo=UTC))


@pytest.fixture
def server() -> Iterator[FeedServer]:
    feed_server = FeedServer().start()
    yield feed_server
    feed_server.stop()


# Ports for servers a test starts later (SMTP, serve, nginx), or leaves unstarted (a refused
# connection): below the kernel's ephemeral range (32768-60999), so no connection's own port
# and no bind(0) elsewhere takes one between this choice and its use; a band of its own for
# each pytest-xdist worker, so two workers never choose the same one.
_PORT_BAND = 1000
_PORTS_FROM = 20000
_handed_out: set[int] = set()


def free_port() -> int:
    import os
    import random

    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    start = _PORTS_FROM + (int(worker) % 12) * _PORT_BAND if worker.isdigit() else _PORTS_FROM
    for port in random.sample(range(start, start + _PORT_BAND), _PORT_BAND):
        if port in _handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue  # in use (another session's test, a service)
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port in {start}-{start + _PORT_BAND - 1}")


@pytest.fixture
def make_config(tmp_path: Path) -> Any:
    """Write a feeds.yaml into tmp_path and load it the way the CLI does."""

    def make(feeds: list[dict[str, Any]], **sections: Any) -> Config:
        data: dict[str, Any] = {
            "site": {"title": "Offentlig digitalisering", "base_url": "https://planet.example.dk/"},
            "poll": {"timeout_seconds": 3, "allow_private_hosts": ["127.0.0.1"]},
        }
        for key, values in sections.items():
            data[key] = values if isinstance(values, list) else {**data.get(key, {}), **values}
        data["feeds"] = feeds
        path = tmp_path / "feeds.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        return load_config(path)

    return make


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "aggregator.db")
    yield opened
    opened.close()


@pytest.fixture
def inbox() -> Iterator[Any]:
    from tests.smtp import smtp_server

    with smtp_server() as received:
        yield received
