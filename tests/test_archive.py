"""RFC 5005 monthly archives, sealed once a month is over, and WebSub pings for changed feeds."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import feedparser
import pytest

from aggregator.export import export_feeds
from aggregator.pipeline import poll
from tests.conftest import FIXTURES
from tests.test_export import NOW, sources

BASE = "https://planet.example.dk/"


def links(path) -> dict[str, str]:
    parsed = feedparser.parse(path.read_bytes())
    return {link.rel: link.href for link in parsed.feed.links}


@pytest.fixture
def archived(server, make_config, store):
    config = make_config(sources(server))
    poll(config, store, clock=lambda: NOW)
    export_feeds(config, store, NOW)
    return config, store


def test_three_months_make_three_linked_archives(archived):
    config, _ = archived
    out = config.output_dir
    september, october, november = (
        links(out / f"archive/2026-{m}.atom") for m in ("09", "10", "11")
    )
    assert "prev-archive" not in september
    assert september["next-archive"] == BASE + "archive/2026-10.atom"
    assert october["prev-archive"] == BASE + "archive/2026-09.atom"
    assert october["next-archive"] == BASE + "archive/2026-11.atom"
    assert november["prev-archive"] == BASE + "archive/2026-10.atom"
    assert "next-archive" not in november
    assert {september["current"], november["current"]} == {BASE + "atom.xml"}
    assert links(out / "atom.xml")["prev-archive"] == BASE + "archive/2026-11.atom"
    rss = (out / "archive/2026-10.rss").read_text(encoding="utf-8")
    assert f'rel="prev-archive" type="application/rss+xml" href="{BASE}archive/2026-09.rss"' in rss
    assert "<fh:archive/>" in rss
    assert "<fh:archive/>" in (out / "archive/2026-10.atom").read_text(encoding="utf-8")
    october_atom = feedparser.parse((out / "archive/2026-10.atom").read_bytes())
    titles = [e.title for e in october_atom.entries]
    assert titles == ["Digital government in Japan: notes from a study trip"]
    feed = json.loads((out / "feed.json").read_text(encoding="utf-8"))
    assert feed["next_url"] == BASE + "archive/2026-11.json"
    october_json = json.loads((out / "archive/2026-10.json").read_text(encoding="utf-8"))
    assert october_json["next_url"] == BASE + "archive/2026-09.json"
    page = (out / "archive/2026-10/index.html").read_text(encoding="utf-8")
    assert "Arkiv: Oktober 2026" in page
    assert 'href="../../archive/2026-09/"' in page
    assert 'href="../../archive/2026-11/"' in page
    assert "health" not in page  # a sealed page shows nothing that changes


def test_finished_months_change_only_for_a_post_dated_into_them(archived, server):
    """A sealed month is rendered again only for a post stored later and dated into it:
    the other sealed months' files are not touched."""
    config, store = archived
    out = config.output_dir
    december = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    export_feeds(config, store, december)  # November is over: sealed now, with its next link
    assert links(out / "archive/2026-11.atom")["next-archive"] == BASE + "archive/2026-12.atom"

    def finished() -> dict[str, tuple[bytes, int]]:
        return {
            p.as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in (out / "archive").rglob("*")
            if p.is_file() and "2026-12" not in p.as_posix()
        }

    sealed = finished()
    assert len(sealed) == 12
    # The Ærø feed now also has a post published in November, found in December.
    body = (
        (FIXTURES / "iri-atom.xml")
        .read_text(encoding="utf-8")
        .replace(
            "  <entry>",
            """  <entry>
    <id>tag:example.dk,2026:sen</id>
    <title>Et sent fund fra november</title>
    <link rel="alternate" href="https://example.dk/nyheder/sen"/>
    <updated>2026-11-25T10:00:00Z</updated>
    <content type="html">&lt;p&gt;Fundet i december.&lt;/p&gt;</content>
  </entry>
  <entry>""",
            1,
        )
    )
    server.static_feed("/aeroe", body.encode("utf-8"))
    poll(config, store, clock=lambda: december + timedelta(hours=1))
    report = export_feeds(config, store, december + timedelta(hours=1))
    assert "Et sent fund fra november" in (out / "atom.xml").read_text(encoding="utf-8")
    assert "Et sent fund fra november" in (out / "archive/2026-11.atom").read_text("utf-8")
    now = finished()
    moved = {p for p in sealed if now[p] != sealed[p]}
    assert moved == {(out / f"archive/2026-11{s}").as_posix()
                     for s in (".atom", ".rss", ".json", "/index.html")}  # fmt: skip
    assert {p.relative_to(out).as_posix() for p in report.changed
            if "archive" in p.parts and "2026-12" not in p.as_posix()} == {
        p.removeprefix(out.as_posix() + "/") for p in moved
    }  # fmt: skip


def test_finished_months_are_byte_identical_on_re_export(archived):
    config, store = archived
    out = config.output_dir
    before = {p: p.read_bytes() for p in (out / "archive").rglob("*.atom")}
    export_feeds(config, store, NOW + timedelta(hours=3))
    assert {p: p.read_bytes() for p in (out / "archive").rglob("*.atom")} == before


class Hub:
    """A WebSub hub on loopback that records publish pings."""

    def __init__(self) -> None:
        self.pings: list[dict[str, list[str]]] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                hub.pings.append(parse_qs(self.rfile.read(length).decode()))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def urls(self) -> list[str]:
        return [p["hub.url"][0] for p in self.pings if p["hub.mode"] == ["publish"]]


@pytest.fixture
def hub() -> Iterator[Hub]:
    running = Hub()
    yield running
    running.server.shutdown()
    running.server.server_close()


def test_websub_hub_is_pinged_once_per_changed_feed(server, make_config, store, hub):
    feeds = sources(server)
    config = make_config(feeds[:2], site={"websub_hub": hub.url})
    poll(config, store, clock=lambda: NOW)
    first = export_feeds(config, store, NOW)
    feed_files = [p for p in first.changed if p.suffix in (".xml", ".json", ".atom", ".rss")
                  and not p.name.startswith(".")]  # fmt: skip
    expected = sorted(BASE + p.relative_to(config.output_dir).as_posix() for p in feed_files)
    assert sorted(hub.urls()) == expected
    assert len(hub.urls()) == len(set(hub.urls()))
    assert first.pinged == len(expected)
    atom = (config.output_dir / "atom.xml").read_text(encoding="utf-8")
    assert f'<link rel="hub" href="{hub.url}"/>' in atom

    hub.pings.clear()
    export_feeds(config, store, NOW + timedelta(minutes=10))
    assert hub.pings == []  # nothing changed, nobody told

    more = make_config(feeds[:3], site={"websub_hub": hub.url})
    poll(more, store, clock=lambda: NOW + timedelta(minutes=20))
    export_feeds(more, store, NOW + timedelta(minutes=20))
    pinged = hub.urls()
    assert len(pinged) == len(set(pinged))
    assert BASE + "atom.xml" in pinged
    assert BASE + "source/evil/feed.json" in pinged
    assert BASE + "tag/stat/atom.xml" not in pinged  # the stat tag's feeds did not change


def test_a_hub_that_is_down_costs_a_log_line_not_the_export(server, make_config, store, caplog):
    from tests.conftest import free_port

    config = make_config(sources(server)[:1],
                         site={"websub_hub": f"http://127.0.0.1:{free_port()}/"})  # fmt: skip
    poll(config, store, clock=lambda: NOW)
    report = export_feeds(config, store, NOW)
    assert report.pinged == 0
    assert (config.output_dir / "atom.xml").exists()
    assert "websub ping" in caplog.text
