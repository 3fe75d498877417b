"""An RFC 822 date without a time ("Wed, 18 Nov 2026") is the publisher's day: midnight in
``site.timezone``, as a zoneless ISO 8601 date is (cd5caa6), not midnight UTC, which the
digest showed as "01:00" in Copenhagen. The fast path and feedparser read it alike."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from aggregator.digest import assemble
from aggregator.digest.build import Window
from aggregator.digest.periods import week_containing
from aggregator.normalise import plan_update
from aggregator.parse import parse_feed, parse_with_feedparser
from aggregator.parse_fast import parse_fast
from aggregator.pipeline import poll
from aggregator.types import FetchResult
from tests.digest_bylines import assert_day_alone

URL = "https://vejle.example.dk/feed"
CPH = ZoneInfo("Europe/Copenhagen")
WEEK_47 = week_containing(date(2026, 11, 18), CPH)
POLLED = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
DAYS = ["Wed, 18 Nov 2026", "18 Nov 2026", "Wed 18 Nov 2026", "Wednesday, 18 November 2026",
        "Wed, 18 Nov 26", "Nov 18 2026", "Wed, Nov 18 2026"]  # fmt: skip


def rss(*dates: str) -> bytes:
    items = "".join(
        f"<item><title>Post {n}</title><link>https://vejle.example.dk/{n}/</link>"
        f"<guid>urn:post:{n}</guid><pubDate>{when}</pubDate>"
        f"<description>Tekst {n}.</description></item>"
        for n, when in enumerate(dates)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Nyheder'
        f"</title><link>https://vejle.example.dk/</link><description>x</description>{items}"
        "</channel></rss>"
    ).encode()


def published(body: bytes, zone: str) -> list[datetime]:
    fetched = FetchResult(URL, POLLED, URL, 200, body, {})
    plan = plan_update(fetched, parse_feed(body, URL, {}), POLLED, zone=zone)
    return [entry.published for entry in plan.entries]


@pytest.mark.parametrize("zone", ["Europe/Copenhagen", "America/New_York"])
def test_a_day_without_a_time_is_midnight_in_the_sites_zone(zone):
    midnight = datetime(2026, 11, 18, tzinfo=ZoneInfo(zone))
    assert published(rss(*DAYS), zone) == [midnight] * len(DAYS)
    # A day in summer time, and one that names its zone, which is its own midnight.
    assert published(rss("Sun, 28 Jun 2026"), zone) == [
        datetime(2026, 6, 28, tzinfo=ZoneInfo(zone))
    ]
    assert published(rss("Wed, 18 Nov 2026 +0100"), zone) == [
        datetime(2026, 11, 17, 23, 0, tzinfo=UTC)
    ]
    # With a time and no zone, as before.
    assert published(rss("Wed, 18 Nov 2026 10:00:00"), "Europe/Copenhagen") == [
        datetime(2026, 11, 18, 9, 0, tzinfo=UTC)
    ]


def test_the_fast_path_reads_it_as_feedparser_does():
    body = rss(*DAYS, "Wed, 18 Nov 2026 10:00:00 +0000")
    fast = parse_fast(body, URL, {})
    assert fast is not None  # read, not declined
    assert fast == parse_with_feedparser(body, URL, {})
    assert fast.entries[0].published is None
    assert fast.entries[0].unread_dates == (("published", "Wed, 18 Nov 2026"),)
    assert fast.entries[-1].published == datetime(2026, 11, 18, 10, 0, tzinfo=UTC)


def test_a_polled_day_only_post_is_its_day_alone_in_the_digest(server, make_config, store):
    body = rss("Wed, 18 Nov 2026", "Thu, 19 Nov 2026 08:30:00 +0000")
    config = make_config([{"name": "Vejle", "url": server.static_feed("/vejle", body)}])
    assert poll(config, store, clock=lambda: POLLED).new == 2
    (stored,) = store.db.execute("SELECT published FROM entries WHERE title = 'Post 0'").fetchone()
    assert stored == "2026-11-17T23:00:00.000000Z"
    window = Window(WEEK_47.start_utc, WEEK_47.end_utc)
    digest = assemble(config, store, config.named_digest("default"), WEEK_47, window)
    items = {i.title: i.published for i in digest.groups[0].items}
    assert items["Post 0"] == datetime(2026, 11, 18, tzinfo=CPH)
    assert_day_alone(digest, "01:00")
