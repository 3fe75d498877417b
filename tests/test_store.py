from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from aggregator.config import FeedConfig
from aggregator.errors import StorageError
from aggregator.store import SCHEMA_VERSION, Store
from aggregator.store.database import PAGE_SIZE
from aggregator.types import EntryPlan, UpdatePlan
from tests.schema_history import roll_back_later_migrations

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
FEED = "https://os2.eu/feed"


def entry(key: str, title: str, url: str | None = None) -> EntryPlan:
    link = url or f"https://os2.eu/{key}"
    return EntryPlan(
        key=key,
        canonical_url=link,
        link=link,
        title=title,
        author=None,
        content_html="<p>x</p>",
        summary_text="x",
        published=NOW,
        updated=NOW,
        content_hash=title,
    )


def plan(*entries: EntryPlan, etag: str = '"v1"') -> UpdatePlan:
    return UpdatePlan(
        feed_url=FEED,
        fetched_at=NOW,
        status=200,
        etag=etag,
        last_modified=None,
        not_modified=False,
        error=None,
        feed_title="OS2",
        entries=entries,
    )


def test_new_database_is_migrated_and_in_wal_mode(tmp_path):
    store = Store.open(tmp_path / "a.db")
    assert store.schema_version == SCHEMA_VERSION
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert {"feeds", "entries", "entry_sources", "digest_runs", "digest_deliveries"} <= set(
        store.db.table_names()
    )
    store.close()
    again = Store.open(tmp_path / "a.db")  # reopening runs no migration twice
    assert again.schema_version == SCHEMA_VERSION
    again.close()


def test_new_database_has_large_pages_and_an_old_one_keeps_its_own(tmp_path):
    new = Store.open(tmp_path / "new.db")
    assert new.db.execute("PRAGMA page_size").fetchone()[0] == PAGE_SIZE
    new.close()
    # A file made with SQLite's default 4 KB pages (an older version of this program): it
    # is migrated and used as it is, its pages unchanged.
    conn = sqlite3.connect(tmp_path / "old.db")
    conn.execute("PRAGMA page_size = 4096")
    conn.execute("CREATE TABLE t (x)")
    conn.execute("DROP TABLE t")
    conn.close()
    old = Store.open(tmp_path / "old.db")
    assert old.schema_version == SCHEMA_VERSION
    assert old.db.execute("PRAGMA page_size").fetchone()[0] == 4096
    old.sync_feeds([FeedConfig(name="OS2", url=FEED)], NOW)
    assert old.apply(plan(entry("a", "Ærø og Æbeltoft")), NOW).new == 1
    old.close()
    again = Store.open(tmp_path / "old.db")
    assert again.db.execute("PRAGMA page_size").fetchone()[0] == 4096
    assert [title for (title,) in again.db.execute("SELECT title FROM entries")] == [
        "Ærø og Æbeltoft"
    ]
    assert again.problems(full=True) == []
    again.close()


def test_database_from_a_newer_version_is_refused(tmp_path):
    conn = sqlite3.connect(tmp_path / "a.db")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StorageError, match="newer than this program"):
        Store.open(tmp_path / "a.db")


def test_not_a_database_is_a_clear_error(tmp_path):
    path = tmp_path / "a.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StorageError, match="cannot open the database"):
        Store.open(path)


def test_one_feed_update_is_all_or_nothing(store):
    store.sync_feeds([FeedConfig(name="OS2", url=FEED)], NOW)
    store.apply(plan(entry("a", "Første")), NOW)
    store.db.execute(
        """CREATE TRIGGER explode BEFORE INSERT ON entries WHEN NEW.title = 'boom'
           BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"""
    )
    with pytest.raises(StorageError, match="disk on fire"):
        store.apply(plan(entry("b", "Anden"), entry("c", "boom"), etag='"v2"'), NOW)
    titles = [e.title for e in store.recent_entries(10)]
    assert titles == ["Første"]
    assert store.feed_state(FEED).etag == '"v1"'  # the fetch state rolled back too
    assert store.db.execute("SELECT count(*) FROM entry_sources").fetchone()[0] == 1


def test_apply_before_sync_is_refused(store):
    with pytest.raises(StorageError, match="sync_feeds first"):
        store.apply(plan(entry("a", "x")), NOW)


def test_text_survives_the_round_trip(store):
    store.sync_feeds([FeedConfig(name="Ærø Øst Ålborg", url=FEED)], NOW)
    store.apply(plan(entry("a", "Æble, øl og ål – “citat” € 😀")), NOW)
    [stored] = store.recent_entries(1)
    assert stored.title == "Æble, øl og ål – “citat” € 😀"
    assert stored.sources[0].name == "Ærø Øst Ålborg"
    assert stored.published == NOW
    assert stored.published.tzinfo is UTC


def test_sketch_index_follows_the_shown_copy(store):
    """New entries' sketch rows are written at the end of their update; an edit replaces
    them, so the index never points at text the entry no longer has."""
    from dataclasses import replace

    store.sync_feeds([FeedConfig(name="OS2", url=FEED)], NOW)
    first = replace(entry("a", "Titel"), sketch=(11, 22, 33))
    store.apply(plan(first), NOW)
    edited = replace(first, content_hash="edited", content_html="<p>y</p>", sketch=(22, 44))
    store.apply(plan(edited, etag='"v2"'), NOW)
    (entry_id,) = store.db.execute("SELECT id FROM entries").fetchone()
    rows = store.db.execute(
        "SELECT k.hash, e.id FROM entry_sketches k JOIN entries e ON e.rowid = k.entry_row"
        " ORDER BY k.hash"
    ).fetchall()
    assert rows == [(22, entry_id), (44, entry_id)]


def test_a_batch_writes_the_sketch_rows_of_the_updates_it_kept_only(store):
    """In a batch an update's sketch rows wait for its savepoint to be released (they are
    written outside it, before the next update): a rollback, even after its last flush,
    leaves none, and a later update of the batch finds the earlier one's."""
    other = "https://kl.dk/feed"
    store.sync_feeds([FeedConfig(name="OS2", url=FEED), FeedConfig(name="KL", url=other)], NOW)

    def sketches() -> list[tuple[int, str]]:
        rows = store.db.execute(
            "SELECT k.hash, s.feed_url FROM entry_sketches k JOIN entries e"
            " ON e.rowid = k.entry_row JOIN entry_sources s ON s.entry_id = e.id ORDER BY k.hash"
        )
        return [tuple(row) for row in rows]

    with store.batch(max_updates=100):
        store.apply(plan(replace(entry("a", "Første"), sketch=(1, 2, 3))), NOW)
        # Fails at the update's very end, after its sketch rows were handed over.
        store.db.execute(
            "CREATE TEMP TRIGGER fail BEFORE DELETE ON versions_deferred"
            " BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
        )
        failing = replace(plan(replace(entry("b", "Anden"), sketch=(4, 5))), feed_url=other)
        with pytest.raises(StorageError, match="disk on fire"):
            store.apply(failing, NOW)
        store.db.execute("DROP TRIGGER fail")
        later = replace(plan(replace(entry("c", "Tredje"), sketch=(6, 7))), feed_url=other)
        store.apply(later, NOW)
        assert sketches() == [(1, FEED), (2, FEED), (3, FEED)]  # written before "c" began
    assert sketches() == [(1, FEED), (2, FEED), (3, FEED), (6, other), (7, other)]


def test_syncing_feeds_writes_only_what_changed(store):
    """A command of 100,000 feeds syncs them at start-up: unchanged ones cost no write."""
    feeds = [FeedConfig(name=f"Kommune {i}", url=f"https://k{i}.dk/feed") for i in range(50)]
    store.sync_feeds(feeds, NOW)
    created = store.db.execute("SELECT url, created_at FROM feeds ORDER BY url").fetchall()
    before = store.conn.total_changes
    store.sync_feeds(feeds, datetime(2026, 11, 28, tzinfo=UTC))
    assert store.conn.total_changes == before
    feeds[3] = FeedConfig(name="Ærø Kommune", url=feeds[3].url, priority=2, merge=False)
    store.sync_feeds([*feeds, FeedConfig(name="Ny", url="https://ny.dk/feed")], NOW)
    assert store.conn.total_changes == before + 2
    row = store.db.execute(
        "SELECT name, priority, merge FROM feeds WHERE url = ?", [feeds[3].url]
    ).fetchone()
    assert tuple(row) == ("Ærø Kommune", 2, 0)
    after = store.db.execute("SELECT url, created_at FROM feeds ORDER BY url").fetchall()
    assert [r for r in after if r[0] != "https://ny.dk/feed"] == created  # kept its first date


def test_the_state_of_some_feeds_is_read_without_the_others(store):
    feeds = [FeedConfig(name=f"Kommune {i}", url=f"https://k{i}.dk/feed") for i in range(5)]
    store.sync_feeds(feeds, NOW)
    wanted = {feeds[4].url, feeds[1].url, "https://not-stored.dk/feed"}
    statuses = store.feed_statuses_of(wanted)
    assert [s.name for s in statuses] == ["Kommune 1", "Kommune 4"]
    everyone = {s.url: s for s in store.feed_statuses(count_entries=False)}
    assert statuses == [everyone[feeds[1].url], everyone[feeds[4].url]]
    assert store.feed_statuses_of(()) == []


def _versions(store: Store) -> dict[str, int]:
    return store.feed_versions()


def test_a_feed_update_raises_each_counter_once_and_other_writers_by_trigger(tmp_path):
    other = "https://digst.dk/feed"
    store = Store.open(tmp_path / "a.db")
    store.sync_feeds([FeedConfig(name="OS2", url=FEED), FeedConfig(name="Digst", url=other)], NOW)
    tagged = [replace(entry(k, f"Indlæg {k}"), categories=("økonomi", "it")) for k in "abc"]
    assert store.apply(plan(*tagged), NOW).new == 3
    # Three sources and six tags written, the feed's row raised once; the other feed untouched.
    assert _versions(store) == {FEED: 2, other: 1}
    assert store.db.execute("SELECT count(*) FROM versions_deferred").fetchone()[0] == 0
    # A merge: the post's page on both feeds changes, so both counters move.
    merged = replace(plan(entry("x", "Indlæg a", url="https://os2.eu/a")), feed_url=other)
    assert store.apply(merged, NOW).new == 0
    after = _versions(store)
    assert after[FEED] > 2
    assert after[other] > 1
    # Any other writer (an admin's sqlite3 shell) still has the triggers.
    store.db.execute(
        "INSERT INTO entry_categories (entry_id, position, term) "
        "SELECT entry_id, 9, 'æble' FROM entry_sources WHERE feed_url = ? AND entry_key = 'b'",
        [FEED],
    )
    assert _versions(store)[FEED] == after[FEED] + 1
    store.close()


def test_a_failed_update_leaves_no_marker_and_no_counter_moved(tmp_path):
    store = Store.open(tmp_path / "a.db")
    store.sync_feeds([FeedConfig(name="OS2", url=FEED)], NOW)
    good, bad = entry("a", "Første"), replace(entry("b", "Anden"), author=object())  # type: ignore[arg-type]
    with pytest.raises(StorageError):
        store.apply(plan(good, bad), NOW)
    assert _versions(store) == {FEED: 1}
    assert store.db.execute("SELECT count(*) FROM versions_deferred").fetchone()[0] == 0
    assert store.db.execute("SELECT count(*) FROM entries").fetchone()[0] == 0
    assert store.apply(plan(good), NOW).new == 1
    assert _versions(store) == {FEED: 2}
    store.close()


def test_migration_14_keeps_the_data_and_counts_as_before(tmp_path):
    store = Store.open(tmp_path / "a.db")
    store.sync_feeds([FeedConfig(name="OS2", url=FEED)], NOW)
    store.apply(plan(entry("a", "Ærlig talt")), NOW)
    roll_back_later_migrations(store.db, 13)
    store.db.execute("PRAGMA user_version = 13")
    store.close()
    old = sqlite3.connect(tmp_path / "a.db")
    old.execute(  # a version 13 writer: every inserted row raises the counter
        "INSERT INTO entry_categories (entry_id, position, term) SELECT id, 0, 'x' FROM entries"
    )
    old.commit()
    old.close()
    again = Store.open(tmp_path / "a.db")
    assert again.schema_version == SCHEMA_VERSION
    assert _versions(again) == {FEED: 3}
    assert [t for (t,) in again.db.execute("SELECT title FROM entries")] == ["Ærlig talt"]
    assert again.apply(plan(entry("b", "Øjeblik")), NOW).new == 1
    assert _versions(again) == {FEED: 4}
    again.close()
