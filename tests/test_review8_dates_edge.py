"""A date at the edge of datetime's range is unreadable, not a crash (review 8 R8-1): .NET's
"no date", 0001-01-01T00:00:00, is before year 1 in UTC once read in Copenhagen, and
9999-12-31T23:59:59 past year 9999 once read in a zone west of UTC. The post is kept, its
date treated as missing, and the poll goes on: feed, Atom, JSON Feed and HTML sources alike."""

from __future__ import annotations

from typing import Any

import pytest

from aggregator.page_dates import feed_date, page_date, parse_date
from aggregator.pipeline import poll
from aggregator.store import Store
from tests.conftest import Clock
from tests.dated_feeds import atom, json_feed, rss
from tests.feedserver import FeedServer, feed_route

GOOD = "2026-11-20T10:00:00"


def published(store: Store) -> dict[str, str]:
    return dict(store.db.execute("SELECT link, published FROM entries").fetchall())


EDGES = [
    ("0001-01-01T00:00:00", "Europe/Copenhagen"),
    ("0001-01-01", "Europe/Copenhagen"),
    ("0001-01-01T00:00:00.0000000", "Europe/Copenhagen"),
    ("0001-01-01T00:00:00+01:00", "Europe/Copenhagen"),
    ("9999-12-31T23:59:59", "America/Nuuk"),
    ("9999-12-31T23:59:59-01:00", "Europe/Copenhagen"),
]


@pytest.mark.parametrize(("edge", "zone"), EDGES)
@pytest.mark.parametrize("build", [rss, atom, json_feed], ids=["rss", "atom", "json"])
def test_a_feed_with_a_date_at_the_edge_is_polled_and_its_post_kept(
    build: Any,
    edge: str,
    zone: str,
    server: FeedServer,
    make_config: Any,
    store: Store,
    clock: Clock,
) -> None:
    edgy = server.route("/edge.xml", feed_route(build(edge, GOOD)))
    other = rss(GOOD).replace(b"kommune.example", b"region.example")  # a post of its own
    good = server.route("/good.xml", feed_route(other))
    config = make_config(
        [{"name": "Kanten", "url": edgy}, {"name": "Anden", "url": good}], site={"timezone": zone}
    )
    result = poll(config, store, clock=clock)
    assert (result.new, result.failed) == (3, ())
    # Kept with no date of its own: first seen, held back as a post of unknown age is.
    assert published(store)["https://kommune.example/0"] == "2026-11-27T12:00:00.000000Z"
    status = {s.name: s for s in store.feed_statuses()}["Kanten"]
    assert status.state == "ok"
    assert "published" in (status.last_warning or "")


def test_an_rfc822_date_in_year_one_with_a_european_zone_is_unreadable(
    server: FeedServer, make_config: Any, store: Store, clock: Clock
) -> None:
    """feedparser reads CET as UTC; taking its hour off year 1 left the range."""
    url = server.route("/feed.xml", feed_route(rss("Mon, 01 Jan 0001 00:00:00 CET", GOOD)))
    result = poll(make_config([{"name": "K", "url": url}]), store, clock=clock)
    assert (result.new, result.failed) == (2, ())


def test_an_html_source_with_a_date_at_the_edge_is_polled(
    server: FeedServer, make_config: Any, store: Store, clock: Clock
) -> None:
    page = (
        '<html lang="da"><body>'
        '<article><h3><a href="/n/1">Ny borgerservice</a></h3>'
        '<p class="meta">0001-01-01T00:00:00</p></article>'
        '<article><h3><a href="/n/2">Høring om affald</a></h3>'
        '<p class="meta">30. november 2026</p></article>'
        "</body></html>"
    ).encode()
    url = server.route("/nyheder/", feed_route(page, content_type="text/html; charset=utf-8"))
    source = {"name": "K", "url": url, "type": "html", "items": "article"}
    config = make_config([{**source, "fields": {"date": ".meta"}}])
    result = poll(config, store, clock=clock)
    assert (result.new, result.failed) == (2, ())
    assert published(store)[f"{server.base_url}/n/1"] == "2026-11-27T12:00:00.000000Z"


@pytest.mark.parametrize(("edge", "zone"), EDGES)
def test_every_date_reader_gives_none_at_the_edge(edge: str, zone: str) -> None:
    assert parse_date(edge, zone) is None
    assert feed_date(edge, zone) is None
    meta = f'<html><head><meta property="article:published_time" content="{edge}"></head></html>'
    assert page_date(meta, zone) is None
