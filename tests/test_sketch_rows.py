"""The sketch index keyed by the entry's rowid (migration 21): the copies of a post are found
through it on a new database and on one migrated from the index keyed by entry id."""

from __future__ import annotations

import sqlite3

import sqlite_utils

from aggregator.pipeline import poll
from aggregator.store import SCHEMA_VERSION, Store
from tests.dedup_cases import CASES
from tests.feedgen import rss
from tests.schema_history import roll_back_later_migrations

COPY = next(c for c in CASES if c.name == "copy re-published a day later with a shorter excerpt")


def _columns(path, table: str) -> list[str]:
    with sqlite3.connect(path) as db:
        return [row[1] for row in db.execute(f"PRAGMA table_info({table})")]


def _merged(store: Store) -> list[tuple[str, str | None]]:
    rows = store.db.execute(
        """SELECT f.name, s.merge_reason FROM entry_sources s JOIN feeds f ON f.url = s.feed_url
           WHERE s.entry_id IN (SELECT entry_id FROM entry_sources GROUP BY entry_id
                                HAVING count(*) > 1)
           ORDER BY f.name"""
    ).fetchall()
    return [(name, reason) for name, reason in rows]


def _copy_is_merged(config, store: Store, clock) -> None:
    """B's copy of A's post, polled now, joins it through the sketch index."""
    poll(config, store, feeds=[config.feeds[1]], clock=clock)
    [(first, none), (copy, reason)] = _merged(store)
    assert (first, none, copy) == ("A", None, "B")
    assert str(reason).startswith("near duplicate")


def _feeds(server, make_config):
    url_a = server.static_feed("/a", rss("A", COPY.a_site, [COPY.a]))
    url_b = server.static_feed("/b", rss("B", COPY.b_site, [COPY.b]))
    return make_config([{"name": "A", "url": url_a}, {"name": "B", "url": url_b}])


def test_a_copy_is_found_through_rows_of_integers(server, make_config, tmp_path, clock):
    config = _feeds(server, make_config)
    path = tmp_path / "aggregator.db"
    store = Store.open(path)
    try:
        poll(config, store, feeds=[config.feeds[0]], clock=clock)
        rows = store.db.execute(
            "SELECT k.entry_row, e.rowid FROM entry_sketches k JOIN entries e"
            " ON e.rowid = k.entry_row"
        ).fetchall()
        assert rows
        assert all(isinstance(row, int) and row == own for row, own in rows)
        _copy_is_merged(config, store, clock)
    finally:
        store.close()
    assert _columns(path, "entry_sketches") == ["hash", "entry_row"]


def test_migration_21_keeps_every_sketch_and_finds_copies_of_older_posts(
    server, make_config, tmp_path, clock
):
    config = _feeds(server, make_config)
    path = tmp_path / "aggregator.db"
    store = Store.open(path)
    poll(config, store, feeds=[config.feeds[0]], clock=clock)
    (entry_id, sketch) = store.db.execute("SELECT id, sketch FROM entries").fetchone()
    store.close()
    with sqlite3.connect(path) as db:  # a database of schema 20: sketch rows by entry id
        roll_back_later_migrations(sqlite_utils.Database(db), 20)
        db.execute("PRAGMA user_version = 20")
    assert _columns(path, "entry_sketches") == ["hash", "entry_id"]
    with sqlite3.connect(path) as db:
        assert sorted(db.execute("SELECT hash, entry_id FROM entry_sketches")) == sorted(
            (int(value), entry_id) for value in sketch.split()
        )

    store = Store.open(path)
    try:
        assert store.schema_version == SCHEMA_VERSION
        (row,) = store.db.execute("SELECT rowid FROM entries WHERE id = ?", [entry_id]).fetchone()
        assert sorted(store.db.execute("SELECT hash, entry_row FROM entry_sketches")) == sorted(
            (int(value), row) for value in sketch.split()
        )
        _copy_is_merged(config, store, clock)
    finally:
        store.close()
