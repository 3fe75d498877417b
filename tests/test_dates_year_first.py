"""A date written year first with the month in words ("2026 Nov 18", the shape of Hugo's
"2006 Jan 02" and of Hungarian-style templates) was misread by feedparser as 1 December
(and a post polled before then took the poll's time, the future being clamped): it is
refused there and read by the worded-date reader, in the site's zone unless it names one
(left over from review 8). Both parsing roads, RSS and Atom, alike."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from aggregator.parse import parse_with_feedparser
from aggregator.parse_fast import parse_fast
from aggregator.parse_rules import refused_date
from aggregator.pipeline import poll
from aggregator.store import Store
from tests import dated_feeds
from tests.feedserver import FeedServer

URL = "https://kommune.example/feed"
POLLED = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
MIDNIGHT_CPH = "2026-11-17T23:00:00"  # 18 November, 00:00 in Copenhagen
WRITTEN = {
    "2026 Nov 18": MIDNIGHT_CPH,
    "2026 November 18": MIDNIGHT_CPH,
    "2026 nov. 18": MIDNIGHT_CPH,
    "Wed, 2026 Nov 18": MIDNIGHT_CPH,
    "2026 Nov 18 10:00": "2026-11-18T09:00:00",  # the site's time
    "2026 Nov 18 10:00:00 +0000": "2026-11-18T10:00:00",  # its own zone
    "2026 Nov 18 10:00:00 GMT": "2026-11-18T10:00:00",
}


def _stored(store: Store) -> list[str]:
    rows = store.db.execute("SELECT title, published FROM entries ORDER BY title").fetchall()
    return [published[:19] for _, published in sorted(rows, key=lambda r: int(r[0].split()[1]))]


@pytest.mark.parametrize("build", [dated_feeds.rss, dated_feeds.atom])
def test_a_year_first_worded_date_is_read_right(
    server: FeedServer, make_config: Any, store: Store, build: Any
) -> None:
    url = server.static_feed("/feed", build(*WRITTEN))
    config = make_config([{"name": "K", "url": url}])
    report = poll(config, store, clock=lambda: POLLED)
    assert report.failed == ()
    assert _stored(store) == list(WRITTEN.values())


@pytest.mark.parametrize("build", [dated_feeds.rss, dated_feeds.atom])
def test_the_fast_path_and_feedparser_leave_it_alike(build: Any) -> None:
    body = build(*WRITTEN)
    fast = parse_fast(body, URL, {})
    assert fast is not None  # read, not declined
    assert fast == parse_with_feedparser(body, URL, {})
    assert [e.published for e in fast.entries] == [None] * len(WRITTEN)  # not 1 December
    assert [dict(e.unread_dates)["published"] for e in fast.entries] == list(WRITTEN)


def test_other_shapes_are_left_to_feedparser() -> None:
    for text in ("Wed, 18 Nov 2026 10:00:00 +0100", "2026-11-18T10:00:00Z", "2026 11 18"):
        assert not refused_date(text)
