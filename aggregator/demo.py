"""``aggregator demo``: the whole pipeline against bundled sample feeds on 127.0.0.1.

The sample posts are dated inside the last complete week and polled as if on its Sunday, so
the digest of that week has content whichever day the demo runs. The digest is really sent,
to an SMTP server on 127.0.0.1 that keeps the message, so the ledger and the archive page
are the ones a real send leaves.

It writes only into a new or empty folder, or one holding an earlier demo (the marker file
says so, with a hash of the feeds.yaml it wrote): an admin's own feeds.yaml and database are
never touched.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import yaml

from aggregator.config import Config, load_config
from aggregator.digest import DigestOutcome, last_complete_week, preview_digest, send_digest
from aggregator.errors import RefusedError
from aggregator.export import ExportReport, export_feeds
from aggregator.pipeline import PollReport, poll
from aggregator.store import Store

SAMPLES = {
    "os2.xml": ("OS2", "application/rss+xml; charset=utf-8", ["os2", "kommuner"], 1),
    "digst.atom": ("Digitaliseringsstyrelsen", "application/atom+xml", ["stat"], 0),
    "kl.rdf": ("KL", "application/rdf+xml", ["kommuner"], 0),
}
MARKER = ".aggregator-demo"
DATABASE = "aggregator.db"
_DATE = re.compile(r"%%DATE:(-?\d+):(rfc822|iso)%%")


def render_sample(text: str, anchor: datetime) -> str:
    """Fill ``%%DATE:<hours from anchor>:<format>%%`` placeholders."""

    def replace(match: re.Match[str]) -> str:
        when = (anchor + timedelta(hours=int(match.group(1)))).astimezone(UTC)
        if match.group(2) == "rfc822":
            return format_datetime(when, usegmt=True)
        return when.strftime("%Y-%m-%dT%H:%M:%SZ")

    return _DATE.sub(replace, text)


def sample_anchor(now: datetime, zone: ZoneInfo) -> datetime:
    """Wednesday noon of the last complete week: ±2 days stays inside that week."""
    week = last_complete_week(now, zone)
    wednesday = (week.start + timedelta(days=2)).date()
    return datetime.combine(wednesday, time(12, 0), tzinfo=zone)


class _SampleHandler(BaseHTTPRequestHandler):
    documents: ClassVar[dict[str, tuple[bytes, str]]] = {}

    def do_GET(self) -> None:
        document = self.documents.get(self.path.lstrip("/"))
        if document is None:
            self.send_error(404)
            return
        body, content_type = document
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", etag)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def serve_samples(now: datetime, zone: ZoneInfo) -> Iterator[str]:
    """Serve the sample feeds on 127.0.0.1 (a free port); yields the base URL."""
    anchor = sample_anchor(now, zone)
    folder = resources.files("aggregator") / "demo_feeds"
    documents = {
        name: (render_sample(folder.joinpath(name).read_text("utf-8"), anchor).encode(), ctype)
        for name, (_, ctype, _, _) in SAMPLES.items()
    }
    handler = type("Handler", (_SampleHandler,), {"documents": documents})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def demo_config_data(base_url: str, smtp_port: int = 25) -> dict[str, object]:
    return {
        "site": {
            "title": "Offentlig digitalisering (demo)",
            "base_url": "http://localhost:8080/",
            "output_dir": "output",
            "database": DATABASE,
        },
        "poll": {"timeout_seconds": 10, "allow_private_hosts": ["127.0.0.1"]},
        "digest": {
            "recipients": ["digest@example.org"],
            "failed_sources": True,
            "unsubscribe_mailto": "digest-unsubscribe@example.org",
        },
        "smtp": {"from": "aggregator@example.org", "host": "127.0.0.1", "port": smtp_port},
        "feeds": [
            {"name": name, "url": base_url + file, "tags": tags, "priority": priority}
            for file, (name, _, tags, priority) in SAMPLES.items()
        ],
    }


@dataclass(frozen=True, slots=True)
class DemoResult:
    directory: Path
    config: Config
    poll: PollReport
    export: ExportReport
    digest: DigestOutcome
    preview: DigestOutcome
    received: Path


@contextmanager
def smtp_sink(folder: Path) -> Iterator[int]:
    """An SMTP server on 127.0.0.1 that writes each message it accepts into ``folder``."""
    from aiosmtpd.controller import Controller

    class Keep:
        async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
            folder.mkdir(parents=True, exist_ok=True)
            count = len(list(folder.glob("*.eml")))
            (folder / f"received-{count + 1}.eml").write_bytes(envelope.original_content)
            return "250 Message accepted for delivery"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(Keep(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def claim_directory(directory: Path) -> None:
    """Make ``directory`` the demo's: create it, or accept it empty or holding an earlier
    demo whose feeds.yaml is as the demo wrote it (that demo's database is then removed).

    Anything else is refused before a byte is written."""
    if directory.exists() and not directory.is_dir():
        raise RefusedError(f"{directory} is a file: give the demo a new or empty folder")
    if not directory.exists():
        directory.mkdir(parents=True)
        return
    if not any(directory.iterdir()):
        return
    marker = directory / MARKER
    try:
        recorded = json.loads(marker.read_text(encoding="utf-8"))
        config_hash = recorded["feeds.yaml"]
    except (OSError, ValueError, KeyError, TypeError):
        raise RefusedError(
            f"{directory} is not empty and holds no earlier demo: "
            "give the demo a new or empty folder (nothing was written)"
        ) from None
    config = directory / "feeds.yaml"
    if config.exists() and _sha256(config.read_bytes()) != config_hash:
        raise RefusedError(
            f"{config} has changed since the demo wrote it, so it is left alone: "
            "give the demo a new or empty folder (nothing was written)"
        )
    for suffix in ("", "-wal", "-shm"):
        (directory / (DATABASE + suffix)).unlink(missing_ok=True)


def _write_config(directory: Path, base_url: str, smtp_port: int) -> Path:
    """The marker, with the hash of the feeds.yaml, is written first: a demo stopped halfway
    still leaves a folder the next demo may reuse."""
    text = (
        "# Written by `aggregator demo`; the sample server is gone when the demo ends.\n"
        + yaml.safe_dump(demo_config_data(base_url, smtp_port), allow_unicode=True, sort_keys=False)
    ).encode("utf-8")
    record = {"written_by": "aggregator demo", "feeds.yaml": _sha256(text)}
    (directory / MARKER).write_text(json.dumps(record) + "\n", encoding="utf-8")
    config_path = directory / "feeds.yaml"
    config_path.write_bytes(text)
    return config_path


def run_demo(directory: Path, now: datetime | None = None) -> DemoResult:
    """Write feeds.yaml and the database, poll the samples, export the merged feed, send the
    digest of the last complete week to the loopback sink and write its preview."""
    now = now or datetime.now(UTC)
    claim_directory(directory)
    zone = ZoneInfo("Europe/Copenhagen")
    week = last_complete_week(now, zone)
    polled_at = (week.end - timedelta(hours=12)).astimezone(UTC)  # that week's Sunday noon
    inbox = directory / "sent-mail"
    with serve_samples(now, zone) as base_url, smtp_sink(inbox) as smtp_port:
        config = load_config(_write_config(directory, base_url, smtp_port))
        store = Store.open(config.database_path)
        try:
            report = poll(config, store, clock=lambda: polled_at)
            export = export_feeds(config, store, now)
            digest = send_digest(config, store, now, period=week)
            preview = preview_digest(config, store, now, period=week)
        finally:
            store.close()
    return DemoResult(directory, config, report, export, digest, preview, inbox / "received-1.eml")
