"""A database written by the first schema opens under the current one with nothing lost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlite_utils

from aggregator.config import FeedConfig
from aggregator.pipeline import poll
from aggregator.store import MIGRATIONS, SCHEMA_VERSION, Store, to_db_time
from tests.dedup_cases import CLOUD
from tests.feedgen import Item, rss

WHEN = datetime(2026, 11, 17, 9, 0, tzinfo=UTC)


def version_one(path) -> None:
    db = sqlite_utils.Database(path)
    with db.atomic():
        MIGRATIONS[0](db)
        db.execute("PRAGMA user_version = 1")
        stamp = to_db_time(WHEN)
        db.execute(
            "INSERT INTO feeds (url, name, priority, created_at, last_success_at, etag, site_url)"
            " VALUES (?, ?, 0, ?, ?, ?, ?)",
            ["http://127.0.0.1/a", "OS2", stamp, stamp, '"old"', "https://os2.eu/"],
        )
        db.execute(
            """INSERT INTO entries (id, canonical_url, link, title, author, content_html,
                   summary_text, language, published, updated, first_seen, last_changed,
                   primary_feed_url)
               VALUES ('urn:uuid:1', 'https://os2.eu/blog/cloud', 'https://os2.eu/blog/cloud',
                       'Fælles kommunal cloud', NULL, ?, 'x', 'da', ?, ?, ?, ?,
                       'http://127.0.0.1/a')""",
            [CLOUD, stamp, stamp, stamp, stamp],
        )
        db.execute(
            """INSERT INTO entry_sources (feed_url, entry_key, entry_id, link, content_hash,
                   first_seen, last_seen)
               VALUES ('http://127.0.0.1/a', 'k1', 'urn:uuid:1', 'https://os2.eu/blog/cloud',
                       'h', ?, ?)""",
            [stamp, stamp],
        )
    db.close()


def test_first_schema_migrates_to_the_current_one(tmp_path, server, make_config, clock):
    path = tmp_path / "aggregator.db"
    version_one(path)
    store = Store.open(path)
    try:
        assert store.schema_version == SCHEMA_VERSION
        [entry] = store.recent_entries(10)
        assert entry.title == "Fælles kommunal cloud"
        assert store.feed_state("http://127.0.0.1/a").etag == '"old"'
        status = next(s for s in store.feed_statuses() if s.name == "OS2")
        assert status.state == "ok"  # derived for feeds that had succeeded before
        (stored_sketch,) = store.db.execute("SELECT sketch FROM entries").fetchone()
        assert stored_sketch  # backfilled, so old posts are found as near duplicates

        # A copy at another address, in a new feed, merges with the migrated post.
        later = WHEN + timedelta(days=1)
        copy = Item("Nyhed: Fælles kommunal cloud", "https://www.kl.dk/nyhed/cloud", CLOUD, later)
        url = server.static_feed("/kl", rss("KL", "https://www.kl.dk/", [copy]))
        config = make_config([{"name": "KL", "url": url}])
        store.sync_feeds([FeedConfig(name="OS2", url="http://127.0.0.1/a"), *config.feeds], WHEN)
        poll(config, store, clock=clock)
        [merged] = store.recent_entries(10)
        assert [s.name for s in merged.sources] == ["OS2", "KL"]
    finally:
        store.close()


def test_a_digest_sent_before_the_ledger_is_not_sent_again(tmp_path, make_config, inbox):
    """The old single-row record becomes a run of ``default`` with its recipients sent."""
    from aggregator.digest import parse_week, send_digest

    path = tmp_path / "aggregator.db"
    db = sqlite_utils.Database(path)
    with db.atomic():
        for migration in MIGRATIONS[:6]:
            migration(db)
        db.execute("PRAGMA user_version = 6")
        db.execute(
            """INSERT INTO digests (period_start, period_end, sent_at, recipients, entry_count,
                   message_id) VALUES (?, ?, ?, ?, 4, '<old@x.dk>')""",
            ["2026-11-15T23:00:00.000000Z", "2026-11-22T23:00:00.000000Z",
             "2026-11-23T06:00:00.000000Z", "a@kommune.dk, b@kommune.dk"],
        )  # fmt: skip
    db.close()
    config = make_config(
        [],
        digest={"recipients": ["a@kommune.dk", "b@kommune.dk"]},
        smtp={"host": inbox.host, "port": inbox.port},
    )
    store = Store.open(path)
    try:
        week = parse_week("2026-W47", config.site.zone)
        run = store.ledger.run("default", week.start_utc)
        assert run is not None
        assert [(d.recipient, d.state) for d in store.ledger.deliveries(run.id)] == [
            ("a@kommune.dk", "sent"),
            ("b@kommune.dk", "sent"),
        ]
        outcome = send_digest(config, store, WHEN + timedelta(days=8), period=week)
        assert outcome.skipped_reason is not None
        assert "already sent" in outcome.skipped_reason
        assert not inbox.messages
    finally:
        store.close()
