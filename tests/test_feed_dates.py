"""Dates a feed writes in Danish (or English) words that feedparser cannot read: read with
dateparser after parsing, in the site's zone when they name none, through a real poll."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aggregator.page_dates import feed_date
from aggregator.parse import parse_feed
from aggregator.pipeline import poll, worker_pool
from aggregator.store import Store, from_db_time
from tests.feedserver import feed_route

CORPUS = Path(__file__).parent / "corpus"
CPH = timedelta(hours=1)  # Copenhagen in November (CET)


FIRST_SEEN = "first seen"


def _stored(config, tmp_path, clock) -> tuple[dict[str, datetime | str], str | None]:
    """Each post's stored date, or FIRST_SEEN for one the poll's time stands in for and kept
    as archive, off the front page (an undated post on a feed's first poll); the feed's
    warning."""
    store = Store.open(tmp_path / "aggregator.db")
    try:
        with worker_pool(config) as pool:
            report = poll(config, store, clock=clock, pool=pool)
        assert report.failed == ()
        assert report.new == 7
        rows = store.db.execute("SELECT title, published, backfill FROM entries")
        posts: dict[str, datetime | str] = {}
        for title, when, backfill in rows:
            posts[title] = from_db_time(when)
            if backfill:  # in a worker, the poll's clock plus the time since
                assert abs(posts[title] - clock.now) < timedelta(minutes=1)
                posts[title] = FIRST_SEEN
        return posts, store.feed_statuses()[0].last_warning
    finally:
        store.close()


@pytest.mark.parametrize("workers", [0, 1])
def test_danish_month_names_are_read_on_a_real_poll(server, make_config, clock, tmp_path, workers):
    url = server.route("/lokalraad.xml", feed_route((CORPUS / "rss-danish-dates.xml").read_bytes()))
    config = make_config([{"name": "Lokalrådet", "url": url}], poll={"workers": workers})
    posts, warning = _stored(config, tmp_path, clock)
    assert posts == {
        "Referat af møde i november": datetime(2026, 11, 19, 18, tzinfo=UTC),  # its +0100
        "Referat af møde i oktober": datetime(2026, 10, 14, 22, tzinfo=UTC),  # CEST midnight
        "Referat af møde i maj": datetime(2026, 5, 12, 17, tzinfo=UTC),  # "Tue, 12 Maj"
        "Referat af møde den 3. november": datetime(2026, 11, 3, tzinfo=UTC) - CPH,
        "Dagsorden til tirsdagsmødet": datetime(2026, 11, 3, 10, tzinfo=UTC) - CPH,
        # ten years ahead is a misreading, before 1995 a placeholder
        "Møde langt ude i fremtiden": FIRST_SEEN,
        "Et gammelt referat": FIRST_SEEN,
    }
    assert warning == "dropped unreadable or implausible fields, entries kept: published ×2"


def test_a_date_naming_no_zone_is_read_in_the_sites(server, make_config, clock, tmp_path):
    url = server.route("/lokalraad.xml", feed_route((CORPUS / "rss-danish-dates.xml").read_bytes()))
    config = make_config([{"name": "Lokalrådet", "url": url}], site={"timezone": "America/Nuuk"})
    posts, _ = _stored(config, tmp_path, clock)
    nuuk = timedelta(hours=-2)  # Greenland in November
    assert posts["Referat af møde den 3. november"] == datetime(2026, 11, 3, tzinfo=UTC) - nuuk
    assert posts["Referat af møde i november"] == datetime(2026, 11, 19, 18, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3. november 2026", datetime(2026, 11, 2, 23, tzinfo=UTC)),
        ("tirsdag, 3. nov. 2026 10:00", datetime(2026, 11, 3, 9, tzinfo=UTC)),
        ("tor, 19 nov 2026 19:00:00 +0100", datetime(2026, 11, 19, 18, tzinfo=UTC)),
        ("Tue, 12 Maj 2026 19:00:00 +0200", datetime(2026, 5, 12, 17, tzinfo=UTC)),
        ("den 19. november 2026 kl. 10:00", datetime(2026, 11, 19, 9, tzinfo=UTC)),
        ("Thu, 19 Nov 2026 19:00:00 CET", datetime(2026, 11, 19, 18, tzinfo=UTC)),
        ("03-04-2026", datetime(2026, 4, 2, 22, tzinfo=UTC)),  # 3 April, not 4 March
        # nothing relative to whoever polls, nothing without a day, month and year
        ("i går", None),
        ("Monday", None),
        ("november 2026", None),
        ("19 nov", None),
        ("31. februar 2026", None),
        ("N/A", None),
        ("", None),
    ],
)
def test_feed_date_reads_whole_dates_only(text, expected):
    assert feed_date(text) == expected


def test_day_first_dates_and_named_zones_are_read_on_a_real_poll(
    server, make_config, clock, tmp_path
):
    """feedparser reads "15-11-2026" as 2015-11-20 and CET as UTC; both are put right after
    parsing, an impossible day is no date, and a zone's day across New Year stays read."""
    body = (CORPUS / "rss-day-first-dates.xml").read_bytes()
    config = make_config([{"name": "Kommunen", "url": server.route("/k", feed_route(body))}])
    posts, warning = _stored(config, tmp_path, clock)
    assert posts == {
        "Dag først i november": datetime(2026, 11, 15, tzinfo=UTC) - CPH,
        "Dag først i oktober": datetime(2026, 11, 1, tzinfo=UTC) - CPH,
        "Vintertid": datetime(2026, 11, 24, 9, tzinfo=UTC),
        "Sommertid": datetime(2026, 10, 24, 8, tzinfo=UTC),
        "Umulig dag": FIRST_SEEN,
        "Med punktummer": datetime(2026, 11, 20, 9, 30, tzinfo=UTC),
        "Nytårsaften i New York": datetime(2026, 1, 1, 4, 30, tzinfo=UTC),
    }
    assert warning == "dropped unreadable or implausible fields, entries kept: published ×1"


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Tue, 24 Nov 2026 10:00:00 CET", datetime(2026, 11, 24, 9, tzinfo=UTC)),
        ("Sat, 24 Oct 2026 10:00:00 CEST", datetime(2026, 10, 24, 8, tzinfo=UTC)),
        ("Mon, 23 Nov 2026 10:15:00 mez", datetime(2026, 11, 23, 9, 15, tzinfo=UTC)),
        ("Tue, 24 Nov 2026 10:00:00 UTC", datetime(2026, 11, 24, 10, tzinfo=UTC)),
        ("Tue, 24 Nov 2026 10:00:00 MET", datetime(2026, 11, 24, 9, tzinfo=UTC)),  # feedparser's
        ("Thu, 31 Dec 2026 23:30:00 -0500", datetime(2027, 1, 1, 4, 30, tzinfo=UTC)),
        ("2026-11-24T10:00:00+01:00", datetime(2026, 11, 24, 9, tzinfo=UTC)),
        # left to the worded-date reader (None here: parsing is done)
        ("15-11-2026", None),
        ("31-12-2026", None),
        ("12-11-2012", None),  # feedparser: 2012-11-20, the right year and the wrong day
        ("24.11.2026 10:00", None),
        ("2026-11-31", None),
    ],
)
def test_misread_dates_are_put_right_on_both_roads(text, expected, fast):
    body = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
        "<link>https://x.dk/</link><item><title>a</title><link>https://x.dk/a</link>"
        f"<pubDate>{text}</pubDate></item></channel></rss>"
    ).encode()
    headers = {"content-type": "application/rss+xml; charset=utf-8"}
    entry = parse_feed(body, "https://x.dk/feed", headers, fast=fast).entries[0]
    assert entry.published == expected
    assert entry.unread_dates == (() if expected else (("published", text),))
