"""The digest's and the merged export's reads stay index ranges on a large archive: no
statement walks every stored post or copy. Checked on the plans SQLite makes for the very
statements the product runs (the store never runs ANALYZE, so the plans do not depend on
the number of rows and a small archive shows the plans of a large one)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest

from aggregator.digest import last_complete
from aggregator.digest.deliver import assemble, preview_window
from aggregator.export.select import Selector, build_site
from aggregator.store import Store
from aggregator.store.times import from_db_time, to_db_time
from benchmarks.archive_scale import NOW, build, config_for

FEEDS, PER_FEED = 12, 300  # one post a feed about every 12 days over ten years
ARCHIVE_TABLES = ("entries", "entry_sources", "entry_sketches")


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("archive") / "archive.db"
    build(path, FEEDS, PER_FEED)
    return path


@pytest.fixture
def store(archive: Path) -> Iterator[Store]:
    store = Store.open(archive)
    yield store
    store.close()


@contextmanager
def statements(store: Store) -> Iterator[list[str]]:
    """The SQL the store runs inside the block, with its parameters filled in."""
    seen: list[str] = []
    store.conn.set_trace_callback(seen.append)
    try:
        yield seen
    finally:
        store.conn.set_trace_callback(None)


def full_scans(conn: sqlite3.Connection, sql: list[str]) -> list[tuple[str, str]]:
    """(statement, plan step) for every step that reads a whole archive table."""
    found = []
    for statement in sql:
        if not statement.lstrip().upper().startswith(("SELECT", "WITH")):
            continue
        for *_, step in conn.execute(f"EXPLAIN QUERY PLAN {statement}"):
            words = step.split()
            if words[:1] == ["SCAN"] and words[1] in ARCHIVE_TABLES:
                found.append((statement, step))
            if "AUTOMATIC" in step:  # an index SQLite builds for the query: a walk too
                found.append((statement, step))
            # Every post not held back, in date order: a walk unless a LIMIT stops it early.
            if step.endswith("(backfill=?)") and " LIMIT " not in statement.upper():
                found.append((statement, step))
    return found


def test_the_digest_window_is_read_as_a_range_of_first_seen(store):
    start = NOW - timedelta(days=200)
    end = start + timedelta(days=7)
    with statements(store) as sql:
        found = store.entries_first_seen_between(start, end)
    expected = store.conn.execute(
        """SELECT id FROM entries WHERE backfill = 0 AND first_seen >= ? AND first_seen < ?
           ORDER BY published, id""",
        [to_db_time(start), to_db_time(end)],
    ).fetchall()
    assert [e.id for e in found] == [row[0] for row in expected]
    assert len(found) >= FEEDS // 2  # a week of a dozen feeds, each posting every 12 days
    assert all(start <= e.first_seen < end for e in found)
    assert full_scans(store.conn, sql) == []
    window_plan = " ".join(step for *_, step in store.conn.execute(f"EXPLAIN QUERY PLAN {sql[0]}"))
    assert "INDEX entries_first_seen (first_seen>? AND first_seen<?)" in window_plan


def test_a_backfilled_post_is_still_left_out_of_the_window(store):
    start = NOW - timedelta(days=200)
    end = start + timedelta(days=7)
    first = store.entries_first_seen_between(start, end)[0]
    store.conn.execute("UPDATE entries SET backfill = 1 WHERE id = ?", [first.id])
    try:
        assert first.id not in {e.id for e in store.entries_first_seen_between(start, end)}
    finally:
        store.conn.execute("UPDATE entries SET backfill = 0 WHERE id = ?", [first.id])


def _run_traced(store: Store, work: Callable[[], object]) -> list[str]:
    with statements(store) as sql:
        work()
    return sql


def test_the_digest_reads_only_its_week(store, archive):
    config = config_for(archive, FEEDS)
    settings = config.named_digest("default")
    period = last_complete(NOW, "week", config.site.zone)
    digest = None

    def work() -> None:
        nonlocal digest
        window = preview_window(store, settings, period, NOW)
        digest = assemble(config, store, settings, period, window)

    sql = _run_traced(store, work)
    assert digest is not None
    assert digest.entry_count > 0
    assert full_scans(store.conn, sql) == []
    assert not [s for s in sql if "count(*) FROM entry_sources" in s]


def test_the_merged_export_reads_the_newest_posts_without_walking_the_archive(store, archive):
    config = config_for(archive, FEEDS)
    selection = None

    def work() -> None:
        nonlocal selection
        site = build_site(config, store, NOW)
        selection = Selector(config, store, site).recent()

    sql = _run_traced(store, work)
    assert selection is not None
    newest = store.conn.execute(
        "SELECT published FROM entries ORDER BY published DESC LIMIT ?",
        [config.site.max_entries],
    ).fetchall()
    assert [e.published for e in selection.entries] == [from_db_time(r[0]) for r in newest]
    assert full_scans(store.conn, sql) == []
    assert not [s for s in sql if "count(*) FROM entry_sources" in s]


def test_status_still_counts_each_feeds_copies(store):
    counted = {s.url: s.entry_count for s in store.feed_statuses()}
    expected = dict(
        store.conn.execute("SELECT feed_url, count(*) FROM entry_sources GROUP BY feed_url")
    )
    assert counted == expected
    assert {s.entry_count for s in store.feed_statuses(count_entries=False)} == {0}
