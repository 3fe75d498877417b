"""A date without a zone is the publisher's local time, ``site.timezone`` (review 7 R6):
ISO 8601 in a feed or a JSON Feed is read as an RFC 822 date with none already was, not as
UTC; the fast path and feedparser still give the same ParsedFeed."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Any

import pytest

from aggregator.normalise import plan_update
from aggregator.parse import parse_feed, parse_with_feedparser
from aggregator.parse_fast import parse_fast
from aggregator.pipeline import poll
from aggregator.store import Store
from aggregator.types import FetchResult
from tests.conftest import Clock
from tests.dated_feeds import atom, json_feed, rss
from tests.feedserver import FeedServer, feed_route

URL = "https://kommune.example/feed"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def published(body: bytes, zone: str = "Europe/Copenhagen", **headers: str) -> list[str]:
    parsed = parse_feed(body, URL, headers)
    fetched = FetchResult(URL, NOW, URL, 200, body, headers)
    plan = plan_update(fetched, parsed, NOW, zone=zone)
    return [entry.published.isoformat() for entry in plan.entries]


WINTER, SUMMER = "2026-11-20T09:00:00+00:00", "2026-07-20T08:00:00+00:00"


@pytest.mark.parametrize(
    "build", [rss, atom, partial(json_feed, modified=True)], ids=["rss", "atom", "json"]
)
def test_a_zoneless_iso_date_is_the_sites_local_time(build: Any) -> None:
    body = build("2026-11-20T10:00:00", "2026-07-20T10:00:00", "2026-11-20 10:00")
    assert published(body) == [WINTER, SUMMER, WINTER]
    # The same instant as a date that names its zone, and as an RFC 822 date with none.
    assert published(rss("2026-11-20T10:00:00+01:00", "Fri, 20 Nov 2026 10:00:00")) == [
        WINTER,
        WINTER,
    ]
    assert published(build("2026-11-20T10:00:00Z")) == ["2026-11-20T10:00:00+00:00"]
    assert published(build("2026-11-20T10:00:00"), zone="America/New_York") == [
        "2026-11-20T15:00:00+00:00"
    ]


def test_a_date_without_a_time_is_local_midnight() -> None:
    assert published(atom("2026-11-20")) == ["2026-11-19T23:00:00+00:00"]


@pytest.mark.parametrize("build", [rss, atom], ids=["rss", "atom"])
def test_the_fast_path_stays_equal_to_feedparser(build: Any) -> None:
    body = build("2026-11-20T10:00:00", "2026-11-20T10:00:00.250", "2026-11-20T10:00:00+01:00")
    fast = parse_fast(body, URL, {})
    assert fast is not None  # read, not declined
    assert fast == parse_with_feedparser(body, URL, {})
    assert fast.entries[0].published is None
    assert fast.entries[0].unread_dates[0] == ("published", "2026-11-20T10:00:00")


def test_a_poll_stores_a_zoneless_date_in_the_configured_zone(
    server: FeedServer, make_config: Any, store: Store, clock: Clock
) -> None:
    url = server.route("/feed.xml", feed_route(rss("2026-11-20T10:00:00")))
    config = make_config([{"name": "K", "url": url}], site={"timezone": "Europe/Helsinki"})
    assert poll(config, store, clock=clock).new == 1
    (value,) = store.db.execute("SELECT published FROM entries").fetchone()
    assert value == "2026-11-20T08:00:00.000000Z"
