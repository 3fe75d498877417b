"""The aggregator's SQLite file through sqlite-utils: feeds, fetch state, reading entries.
Entry writes are in entries.py, the digest ledger in digests.py, the schema in migrations.py."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aggregator.bulk import no_collector_passes
from aggregator.errors import FeedNotStored, StorageError
from aggregator.feed_status import FeedStatus
from aggregator.store.migrations import MIGRATIONS, SCHEMA_VERSION
from aggregator.store.safety import backup, damaged, problems
from aggregator.store.times import from_db_time, maybe_time, to_db_time

if TYPE_CHECKING:  # imported where used: reading feed states (status) needs none of them
    import asyncio

    import sqlite_utils

    from aggregator.config import FeedConfig
    from aggregator.policy import FeedHistory
    from aggregator.store.digests import Delivery, DigestLedger, DigestRun
    from aggregator.store.entries import EntryWriter, FeedRow, MergeRules
    from aggregator.store.prune import PruneReport
    from aggregator.store.search import IndexFilter, IndexHit, Order
    from aggregator.types import (
        FeedState,
        FeedUpdateResult,
        RobotsAnswer,
        SourceRef,
        StoredEntry,
        UpdatePlan,
        WindowPost,
    )

# A permanent redirect must be seen on this many polls in a row before the feed moves.
REDIRECT_CONFIRMATIONS = 2


@dataclass(slots=True)
class _Batch:
    max_updates: int
    max_seconds: float
    started: float = 0.0
    updates: int = 0
    timer: asyncio.TimerHandle | None = None


@dataclass(frozen=True, slots=True)
class GroupMember:
    name: str
    feed_url: str
    entry_key: str
    link: str | None
    reason: str | None
    primary: bool


@dataclass(frozen=True, slots=True)
class MergedGroup:
    entry_id: str
    title: str
    published: datetime
    members: tuple[GroupMember, ...]


CACHE_KIB = 4 * 1024
# Page size of a new database file (an existing one keeps its own; only VACUUM outside WAL
# mode could change it). An entry's row and its search document are about 2-3 KB each, and
# two of those do not fit a 4 KB page: at 4 KB half of those tables' pages were empty space,
# and a cold poll spent about a fifth more CPU writing and checkpointing them.
PAGE_SIZE = 16 * 1024
# How long a writer waits for another process's write transaction: a poll holds the lock
# for at most a batch (about a second) at a time, so a second poll waits its turn.
BUSY_SECONDS = 120
_NOT_SYNCED = "feed {} is not in the database; sync_feeds first"
# Outcomes of an entry this feed had stored already (not "new" or "merged").
SEEN_BEFORE = ("unchanged", "updated")
# entry_sources.page_unread of a followed item to read again: the source's settings changed.
REREAD = "settings changed"


class Store:
    """The aggregator's SQLite file. One instance per thread; open with ``Store.open``."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._batch: _Batch | None = None
        self._idle_error: StorageError | None = None

    @cached_property
    def db(self) -> sqlite_utils.Database:
        """sqlite-utils over the connection, at first use: reading feed states (status) goes
        through the connection alone and does not import it."""
        import sqlite_utils

        return sqlite_utils.Database(self.conn)

    @cached_property
    def ledger(self) -> DigestLedger:
        from aggregator.store.digests import DigestLedger

        return DigestLedger(self.db, self._writing)

    @cached_property
    def _entries(self) -> EntryWriter:
        """Entry writes, dedup and search: made at first use, as they import the normaliser."""
        from aggregator.store.entries import EntryWriter

        return EntryWriter(self.db, deferred=lambda: self._batch is not None)

    @classmethod
    def open(cls, path: Path, *, read_only: bool = False) -> Store:
        """Open (creating and migrating as needed) the database at ``path``.

        The schema version is read before anything is written, so a newer database is
        refused untouched. ``read_only`` opens it for reading only (status, export, digest
        files, dupes), which also works in a directory the process cannot write to.
        """
        try:
            if read_only:
                store = cls(_connect_read_only(path))
                store._refuse_other_version(path, read_only=True)
                return store
            path.parent.mkdir(parents=True, exist_ok=True)
            store = cls(sqlite3.connect(path, timeout=BUSY_SECONDS))
            db = store.db
            db.execute(f"PRAGMA busy_timeout = {BUSY_SECONDS * 1000}")
            store._refuse_other_version(path)
            db.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # before the first write; else a no-op
            db.execute("PRAGMA foreign_keys = ON")
            if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                db.enable_wal()
            # In WAL mode NORMAL still survives a crash of the process intact; it skips the
            # fsync at every commit, which would otherwise dominate a poll's writes.
            db.execute("PRAGMA synchronous = NORMAL")
            # More room than the 2 MiB default for the hot index pages of a large poll (the
            # sketch, id and URL indexes are written in random order). 16 MiB took a fifth off
            # the store time of a first poll of 1,000 feeds, but those writes now overlap with
            # parsing in the workers: the wall time did not change, and the memory did by 12 MiB.
            db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            store.migrate()
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"{path}: cannot open the database: {_plain(exc)}") from exc
        except OSError as exc:
            raise StorageError(f"{path}: {exc}") from exc
        return store

    @classmethod
    def open_for_reading(cls, path: Path) -> Store:
        """Read-only when the file exists at this program's schema; otherwise opened as a
        writer, which creates or upgrades it."""
        if path.exists():
            try:
                return cls.open(path, read_only=True)
            except _OlderSchema:
                pass
        return cls.open(path)

    def close(self) -> None:
        self.conn.close()

    @property
    def path(self) -> Path:
        """The database file, for other processes to open read-only."""
        rows = self.conn.execute("PRAGMA database_list").fetchall()
        return Path(next(row[2] for row in rows if row[1] == "main"))

    @property
    def in_transaction(self) -> bool:
        return self.conn.in_transaction

    @property
    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def _refuse_other_version(self, path: Path, read_only: bool = False) -> None:
        """Before anything is written: a newer schema is refused with the file untouched."""
        version = self.schema_version
        if version > SCHEMA_VERSION:
            raise StorageError(
                f"{path}: the database has schema version {version}, newer than this "
                f"program's {SCHEMA_VERSION}: upgrade aggregator (the file was not changed)"
            )
        if read_only and version < SCHEMA_VERSION:
            raise _OlderSchema(
                f"{path}: the database has schema version {version}, older than this "
                f"program's {SCHEMA_VERSION}: run aggregator poll once to upgrade it"
            )

    def migrate(self) -> None:
        """Each migration in a transaction with its version bump, under the write lock and
        with the version read again inside it: two processes opening a new file at once
        migrate it once."""
        conn = self.db.conn
        while self.schema_version < SCHEMA_VERSION:
            conn.execute("BEGIN EXCLUSIVE")
            try:
                version = self.schema_version
                if version < SCHEMA_VERSION:
                    MIGRATIONS[version](self.db)
                    conn.execute(f"PRAGMA user_version = {version + 1}")
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        if self.schema_version > SCHEMA_VERSION:
            self._refuse_other_version(self.path)

    # -----------------------------------------------------------------------------------------
    # Health and copies

    def problems(self, full: bool = False) -> list[str]:
        """``PRAGMA quick_check`` (``full``: ``integrity_check``) findings; empty when sound."""
        return problems(self.conn, full)

    def check(self, full: bool = False) -> None:
        """Raise StorageError, one line pointing to recovery, if the file is damaged."""
        if found := self.problems(full):
            raise damaged(self.path, found)

    def backup(self, target: Path) -> None:
        """A consistent copy of the database at ``target``, also while others write."""
        backup(self.conn, target)

    # -----------------------------------------------------------------------------------------
    # Transactions

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """A write transaction that takes the write lock up front (BEGIN IMMEDIATE): a
        deferred one upgraded to a write fails at once when another process wrote
        meanwhile, where this waits its turn."""
        conn = self.db.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    @contextmanager
    def _writing(self, single_statement: bool = False) -> Iterator[None]:
        """One unit of writes: a transaction, or a savepoint inside a batch; nothing more
        inside a batch for a unit that is one statement, atomic on its own."""
        self._raise_idle_error()
        try:
            if self._batch is not None:
                self._open_batch(self._batch)
                self._settle_entries(None)  # outside the savepoint (see EntryWriter)
                if single_statement:
                    yield
                else:
                    try:
                        with self._savepoint():
                            yield
                    except BaseException:
                        self._settle_entries(kept=False)
                        raise
                    self._settle_entries(kept=True)
            elif self.db.conn.in_transaction:
                with self._savepoint():
                    yield
            else:
                with self._transaction():
                    yield
            self._after_write()
        except sqlite3.DatabaseError as exc:
            raise write_error(exc) from exc

    def _settle_entries(self, kept: bool | None) -> None:
        """Tell the entry writer, if one was made (at the first entry write), that a batch's
        update was kept or rolled back (``kept``), or (None) that one is about to begin."""
        entries: EntryWriter | None = self.__dict__.get("_entries")
        if entries is None:
            return
        if kept is None:
            entries.write_settled()
        else:
            entries.settle(kept)

    @contextmanager
    def _savepoint(self) -> Iterator[None]:
        # sqlite-utils names each savepoint from os.urandom: a system call per feed update.
        # One fixed name is enough, as SQLite resolves a name to the innermost savepoint.
        conn = self.db.conn
        conn.execute("SAVEPOINT feed_update")
        try:
            yield
        except BaseException:
            if conn.in_transaction:  # an error may have ended the whole transaction
                conn.execute("ROLLBACK TO SAVEPOINT feed_update")
                conn.execute("RELEASE SAVEPOINT feed_update")
            raise
        conn.execute("RELEASE SAVEPOINT feed_update")

    @contextmanager
    def batch(self, max_updates: int = 100, max_seconds: float = 1.0) -> Iterator[None]:
        """Group many feed updates into few commits.

        Each update stays all-or-nothing (a savepoint). The batch's transaction begins at
        its first write and commits after ``max_updates`` updates or ``max_seconds``, and at
        the end, also when it ends with an error, so a crash loses at most the last second
        of polling, never half an update. Under an event loop it also commits after
        ``max_seconds`` without writes, so a poll waiting for a slow feed does not keep
        other writers waiting.
        """
        if self._batch is not None or self.in_transaction:
            yield
            return
        batch = self._batch = _Batch(max_updates, max_seconds)
        try:
            yield
        finally:
            self._batch = None
            self._close_batch(batch)
            self._raise_idle_error()

    def _open_batch(self, batch: _Batch) -> None:
        if not self.db.conn.in_transaction:
            self.db.conn.execute("BEGIN IMMEDIATE")
            batch.started, batch.updates = time.monotonic(), 0

    def _close_batch(self, batch: _Batch) -> None:
        if batch.timer is not None:
            batch.timer.cancel()
            batch.timer = None
        conn = self.db.conn
        if conn.in_transaction:
            try:
                if "_entries" in self.__dict__:  # made by the first entry write
                    self._entries.index_pending()
                conn.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise write_error(exc) from exc

    def _after_write(self) -> None:
        batch = self._batch
        if batch is None or not self.db.conn.in_transaction:
            return
        batch.updates += 1
        if batch.updates >= batch.max_updates or (
            time.monotonic() - batch.started >= batch.max_seconds
        ):
            self._close_batch(batch)
        elif batch.timer is None:
            try:
                import asyncio  # a batch under an event loop has imported it already

                loop = asyncio.get_running_loop()
            except RuntimeError:
                return
            batch.timer = loop.call_later(batch.max_seconds, self._commit_idle, batch)

    def _commit_idle(self, batch: _Batch) -> None:
        batch.timer = None
        if self._batch is batch:
            try:
                self._close_batch(batch)
            except StorageError as exc:
                # Not raised in the event loop's callback: the next write, or the batch's
                # end, raises it, once.
                self._idle_error = exc

    def _raise_idle_error(self) -> None:
        error, self._idle_error = self._idle_error, None
        if error is not None:
            raise error

    # -----------------------------------------------------------------------------------------
    # Feeds

    def sync_feeds(self, feeds: Iterable[FeedConfig], now: datetime) -> None:
        """Make the feeds table know every configured feed and its settings. Only the rows
        that differ are written: at 100,000 feeds, a statement each was seconds a command."""
        stored: dict[str, tuple[str, int, int]] = {}
        present: set[str] = set()
        for url, name, priority, merge, removed_at in self.conn.execute(
            "SELECT url, name, priority, merge, removed_at FROM feeds"
        ):
            stored[url] = (name, priority, merge)
            if removed_at is None:
                present.add(url)
        created = to_db_time(now)
        feeds = list(feeds)
        changed = [
            (feed.url, feed.name, feed.priority, int(feed.merge), created)
            for feed in feeds
            if stored.get(feed.url) != (feed.name, feed.priority, int(feed.merge))
        ]
        # A feed left out is marked, so that if it is put back its next poll is a first
        # poll: what it published meanwhile is its back catalogue, not this week's news.
        removed = sorted(present - {feed.url for feed in feeds})
        if not changed and not removed:
            return
        with self._writing():
            self.conn.executemany(
                "UPDATE feeds SET removed_at = ? WHERE url = ?", [(created, u) for u in removed]
            )
            self.conn.executemany(
                """INSERT INTO feeds (url, name, priority, merge, created_at)
                   VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT(url) DO UPDATE SET name = excluded.name,
                       priority = excluded.priority, merge = excluded.merge""",
                changed,
            )
            added = [url for url, *_ in changed if url not in stored]
            if added:
                self._take_over_moved(added, feeds)

    def _take_over_moved(self, added: Sequence[str], feeds: Sequence[FeedConfig]) -> None:
        """A URL just configured is a feed no longer configured under a new address when that
        feed moved there (as `status` advised writing it, in whatever canonical form), or when
        it is the URL edited under the same name: it takes the feed's posts now, in this
        transaction, so no export runs in between without the posts the new address no longer
        lists (what ``prune`` does for the moved feeds, and only for them)."""
        import logging  # here: `status` starts without it (tests/test_startup.py)

        from aggregator.normalise import canonical_url
        from aggregator.store.prune import apply_prune, plan_prune

        configured = {feed.url for feed in feeds}
        new = set(added)
        # Two lists of one page (``…#nyheder``, ``…#presse``) share a canonical URL: such a
        # URL names no one feed, so a feed that moved there goes by its name or nowhere.
        holders: dict[str | None, list[str]] = {}
        for each in feeds:
            holders.setdefault(canonical_url(each.url), []).append(each.url)
        by_canonical = {
            key: urls[0] for key, urls in holders.items() if len(urls) == 1 and urls[0] in new
        }
        by_name = {feed.name: feed.url for feed in feeds if feed.url in new}
        moves = {}
        for url, name, target in self.conn.execute(
            "SELECT url, name, coalesce(moved_to, redirect_target) FROM feeds"
        ):
            if url in configured:
                continue
            to = by_canonical.get(canonical_url(target)) if target else None
            if to := to or by_name.get(name):
                moves[url] = to
        if not moves:
            return
        self.conn.executemany(
            "UPDATE feeds SET moved_to = ? WHERE url = ?", [(to, url) for url, to in moves.items()]
        )
        found = plan_prune(self.db, configured, None, only=moves)
        self._entries.search.reindex(apply_prune(self.db, found))
        for feed in found.feeds:
            logging.getLogger(__name__).info(
                "%s moved to %s: %d posts carried over", feed.url, feed.moved_to, feed.carried
            )

    def feed_state(self, url: str) -> FeedState:
        from aggregator.types import FeedState

        row = self.db.execute(
            """SELECT etag, last_modified, moved_to, body_hash, parse_settings
               FROM feeds WHERE url = ?""",
            [url],
        ).fetchone()
        if row is None:
            return FeedState(url=url)
        return FeedState(url=url, etag=row[0], last_modified=row[1], moved_to=row[2],
                         body_hash=row[3], parse_settings=row[4])  # fmt: skip

    def poll_snapshot(
        self, urls: Sequence[str], now: datetime, window: timedelta
    ) -> dict[str, tuple[FeedState, FeedHistory]]:
        """State and history of many feeds in two queries, instead of two per feed."""
        from aggregator.policy import FeedHistory, Hint
        from aggregator.types import FeedState

        wanted = set(urls)
        published: dict[str, dict[str, datetime]] = {url: {} for url in wanted}
        # Each source's own date: how often this feed publishes, not when a copy appeared.
        for url, key, value in self.db.execute(
            "SELECT feed_url, entry_key, published FROM entry_sources WHERE published >= ?",
            [to_db_time(now - window)],
        ):
            if url in published:
                published[url][key] = from_db_time(value)
        snapshot = {}
        for row in self.db.execute(
            """SELECT url, etag, last_modified, moved_to, body_hash, error_count, hint_seconds,
                      hint_reason, last_success_at IS NOT NULL, parse_settings FROM feeds"""
        ):
            url = row[0]
            if url not in wanted:
                continue
            hint = Hint(timedelta(seconds=row[6]), row[7]) if row[6] else None
            snapshot[url] = (
                FeedState(url, row[1], row[2], row[3], row[4], parse_settings=row[9]),
                FeedHistory(
                    error_count=row[5],
                    recent_published=tuple(published[url].values()),
                    publisher_hint=hint,
                    recent_keys=tuple(published[url]),
                    ever_succeeded=bool(row[8]),
                ),
            )
        for url in wanted - snapshot.keys():
            snapshot[url] = (FeedState(url=url), FeedHistory())
        return snapshot

    def entry_digests(self, feed_url: str) -> frozenset[str]:
        """Raw digests of the feed's stored entries, for skipping those it repeats."""
        rows = self.db.execute(
            "SELECT raw_digest FROM entry_sources WHERE feed_url = ? AND raw_digest IS NOT NULL",
            [feed_url],
        )
        return frozenset(digest for (digest,) in rows)

    def entry_keys(self, feed_url: str) -> frozenset[str]:
        """Keys of the feed's stored entries (an HTML source's are canonical item URLs), but
        not those whose own page is still to be read."""
        rows = self.db.execute(
            "SELECT entry_key FROM entry_sources WHERE feed_url = ? AND page_unread IS NULL",
            [feed_url],
        )
        return frozenset(key for (key,) in rows)

    def reread_keys(self, feed_url: str) -> frozenset[str]:
        """Keys of the feed's stored entries whose pages are to be read again because its
        settings changed (REREAD)."""
        rows = self.db.execute(
            "SELECT entry_key FROM entry_sources WHERE feed_url = ? AND page_unread = ?",
            [feed_url, REREAD],
        )
        return frozenset(key for (key,) in rows)

    def kept_robots(self, now: datetime) -> tuple[RobotsAnswer, ...]:
        """The robots.txt answers still live at ``now``, for a poll's fetchers (robots.py)."""
        from aggregator.store.robots import live_answers

        return live_answers(self.db.conn, now)

    def keep_robots(self, answers: Sequence[RobotsAnswer], now: datetime) -> None:
        """Keep robots.txt answers a fetch read: in the batch of the poll that fetched them."""
        if not answers:
            return
        from aggregator.store.robots import write_answers

        with self._writing():
            write_answers(self.db.conn, answers, now)

    def due_feeds(self, now: datetime) -> list[str]:
        """Feeds whose next poll has come, or that were never scheduled; never gone ones."""
        rows = self.db.execute(
            """SELECT url FROM feeds WHERE state != 'gone'
               AND (next_poll_at IS NULL OR next_poll_at <= ?) ORDER BY next_poll_at""",
            [to_db_time(now)],
        )
        return [url for (url,) in rows]

    def pollable_feeds(self) -> set[str]:
        """Every stored feed but the gone ones: what a plain ``poll`` polls."""
        return {url for (url,) in self.conn.execute("SELECT url FROM feeds WHERE state != 'gone'")}

    def unscheduled_feeds(self) -> list[str]:
        rows = self.db.execute(
            "SELECT url FROM feeds WHERE next_poll_at IS NULL AND state != 'gone'"
        )
        return [url for (url,) in rows]

    def schedule(self, url: str, when: datetime) -> None:
        with self._writing():
            self.db.execute(
                "UPDATE feeds SET next_poll_at = ? WHERE url = ?", [to_db_time(when), url]
            )

    def schedule_many(self, times: Iterable[tuple[str, datetime]]) -> None:
        """Many feeds' next polls in one transaction (a startup spreads thousands)."""
        with self._writing():
            self.db.conn.executemany(
                "UPDATE feeds SET next_poll_at = ? WHERE url = ?",
                [(to_db_time(when), url) for url, when in times],
            )

    def reset_feed(self, url: str) -> bool:
        """The admin's word: poll again now, forgetting gone, backoff and a pending move."""
        with self._writing():
            cursor = self.db.execute(
                """UPDATE feeds SET state = CASE WHEN last_success_at IS NULL THEN 'new'
                                                 ELSE 'ok' END,
                          error_count = 0, failing_since = NULL, next_poll_at = NULL,
                          last_error = NULL, redirect_target = NULL, redirect_seen = 0
                   WHERE url = ?""",
                [url],
            )
        return cursor.rowcount > 0

    def feed_statuses(self, *, count_entries: bool = True) -> list[FeedStatus]:
        """Every stored feed's state. ``count_entries=False`` for readers that do not show
        the counts (the export, the digest, the scheduler): counting reads an index entry
        per stored copy, seconds at ten million; their ``entry_count`` is then 0."""
        return self._statuses("", [], count_entries)

    def feed_statuses_of(self, urls: Collection[str]) -> list[FeedStatus]:
        """The state of the feeds in ``urls`` (those stored), without entry counts: what a
        poll's advice on its failures reads, instead of every feed's (100,000 of them)."""
        where = "WHERE f.url IN (SELECT value FROM json_each(?))"
        return self._statuses(where, [json.dumps(list(urls))], count_entries=False)

    def _statuses(self, where: str, params: list[object], count_entries: bool) -> list[FeedStatus]:
        count = "(SELECT count(*) FROM entry_sources s WHERE s.feed_url = f.url)"
        rows = self.conn.execute(
            f"""SELECT f.url, f.name, f.title, f.last_fetched_at, f.last_success_at,
                      f.last_status, f.last_error, f.error_count,
                      {count if count_entries else 0},
                      f.state, f.failing_since, f.next_poll_at, f.interval_seconds,
                      f.interval_reason, f.moved_to, f.last_warning, f.site_url
               FROM feeds f {where} ORDER BY f.name COLLATE NOCASE""",
            params,
        ).fetchall()
        return [
            FeedStatus(
                url=r[0],
                name=r[1],
                title=r[2],
                last_fetched_at=maybe_time(r[3]),
                last_success_at=maybe_time(r[4]),
                last_status=r[5],
                last_error=r[6],
                error_count=r[7],
                entry_count=r[8],
                state=r[9],
                failing_since=maybe_time(r[10]),
                next_poll_at=maybe_time(r[11]),
                interval_seconds=r[12],
                interval_reason=r[13],
                moved_to=r[14],
                last_warning=r[15],
                site_url=r[16],
            )
            for r in rows
        ]

    def unsent_digests(self) -> list[tuple[DigestRun, Delivery]]:
        """Recipients each digest's latest run has not reached, for status."""
        from aggregator.store.digests import unsent_in_latest_runs

        return unsent_in_latest_runs(self.conn)

    # -----------------------------------------------------------------------------------------
    # One feed's update: one transaction

    def apply(
        self, plan: UpdatePlan, now: datetime, rules: MergeRules | None = None
    ) -> FeedUpdateResult:
        """Write one poll of one feed, fetch state and entries, in one transaction."""
        from aggregator.store.entries import MergeRules
        from aggregator.types import FeedUpdateResult

        rules = rules or MergeRules()
        if not plan.entries and not plan.unchanged_keys and not plan.reread_rest:
            # Only the fetch to record (a 304, most polls): one UPDATE, no feed row to read.
            with self._writing(single_statement=True):
                if not self._record_fetch(plan, now):
                    raise FeedNotStored(_NOT_SYNCED.format(plan.feed_url))
            return FeedUpdateResult(plan.feed_url, not_modified=plan.not_modified, error=plan.error)
        new = updated = 0
        with self._writing():
            feed = self._feed_row(plan.feed_url)
            self._record_fetch(plan, now)
            first_poll = feed.first_poll
            site_url = plan.site_url or feed.site_url
            known = self._entries.known_sources(feed.url) if plan.entries else None
            if known is not None:
                known.in_document.update(entry.key for entry in plan.entries)
                known.in_document.update(plan.unchanged_keys)
            if plan.unchanged_keys:
                self._entries.mark_unchanged(feed.url, plan.unchanged_keys, now, known)
            if known is not None:
                known.pair_moved(plan.entries)
                lookup = self._entries.merge_lookup(feed.url, plan.entries, known)
                try:
                    with self._entries.versions_bumped_once():
                        for entry in plan.entries:
                            outcome = self._entries.apply_entry(
                                feed, site_url, entry, now, first_poll, rules, known, lookup
                            )
                            again = plan.reparse or entry.key in plan.reread
                            if again and entry.dated and outcome in SEEN_BEFORE:
                                # Read again with new settings: the dates found now count.
                                redated = self._entries.redate(feed.url, entry)
                                outcome = "updated" if redated else outcome
                            new += outcome == "new"
                            updated += outcome == "updated"
                finally:
                    self._entries.discard()
            if plan.reread_rest:
                # Followed items this poll did not read (follow_limit): read at the next polls
                # with the new settings, as items not yet read are (entry_keys).
                self.db.execute(
                    """UPDATE entry_sources SET page_unread = ?
                       WHERE feed_url = ? AND page_unread IS NULL
                       AND entry_key NOT IN (SELECT value FROM json_each(?))""",
                    [REREAD, feed.url, json.dumps([e.key for e in plan.entries])],
                )
        return FeedUpdateResult(
            feed_url=plan.feed_url,
            new=new,
            updated=updated,
            not_modified=plan.not_modified,
            error=plan.error,
        )

    def _feed_row(self, feed_url: str) -> FeedRow:
        from aggregator.store.entries import FeedRow

        row = self.db.execute(
            """SELECT url, priority, merge, site_url, last_success_at, removed_at
               FROM feeds WHERE url = ?""",
            [feed_url],
        ).fetchone()
        if row is None:
            raise FeedNotStored(_NOT_SYNCED.format(feed_url))
        return FeedRow(row[0], row[1], bool(row[2]), row[3], row[4], row[5])

    def _record_fetch(self, plan: UpdatePlan, now: datetime) -> int:
        """Write the fetch's outcome and schedule; the number of feed rows written."""
        fetched = to_db_time(plan.fetched_at)
        schedule = [
            to_db_time(plan.next_poll_at) if plan.next_poll_at else None,
            plan.interval_seconds,
            plan.interval_reason,
        ]
        if plan.error is None:
            target, seen, moved = self._redirect_progress(plan)
            parsed_new_body = plan.body_hash is not None
            return self.db.execute(
                """UPDATE feeds SET etag = ?, last_modified = ?, last_fetched_at = ?,
                          last_success_at = ?, last_status = ?, last_error = NULL,
                          error_count = 0, state = 'ok', failing_since = NULL,
                          removed_at = NULL, title = coalesce(?, title),
                          site_url = coalesce(?, site_url),
                          body_hash = coalesce(?, body_hash),
                          hint_seconds = CASE WHEN ? THEN ? ELSE hint_seconds END,
                          hint_reason = CASE WHEN ? THEN ? ELSE hint_reason END,
                          last_warning = CASE WHEN ? THEN ? ELSE last_warning END,
                          redirect_target = ?, redirect_seen = ?,
                          moved_to = coalesce(?, moved_to),
                          parse_settings = coalesce(?, parse_settings),
                          next_poll_at = ?, interval_seconds = ?, interval_reason = ?
                   WHERE url = ?""",
                [
                    plan.etag,
                    plan.last_modified,
                    fetched,
                    fetched,
                    plan.status,
                    plan.feed_title,
                    plan.site_url,
                    plan.body_hash,
                    parsed_new_body,
                    plan.publisher_hint_seconds,
                    parsed_new_body,
                    plan.publisher_hint_reason,
                    # A poll that left pages for the next one parsed too (its body_hash is
                    # kept from it): what went wrong is said at once.
                    parsed_new_body or plan.warning is not None,
                    plan.warning,
                    target,
                    seen,
                    moved,
                    plan.parse_settings,
                    *schedule,
                    plan.feed_url,
                ],
            ).rowcount
        else:
            forget = "" if plan.keep_validators else "etag = NULL, last_modified = NULL,"
            return self.db.execute(
                f"""UPDATE feeds SET {forget} body_hash = CASE WHEN ? THEN body_hash END,
                           last_fetched_at = ?, last_status = ?, last_error = ?,
                           error_count = error_count + 1, state = ?,
                           failing_since = coalesce(failing_since, ?),
                           next_poll_at = ?, interval_seconds = ?, interval_reason = ?
                    WHERE url = ?""",
                [
                    plan.keep_validators,
                    fetched,
                    plan.status,
                    plan.error,
                    "gone" if plan.gone else "failing",
                    fetched,
                    *schedule,
                    plan.feed_url,
                ],
            ).rowcount

    def _redirect_progress(self, plan: UpdatePlan) -> tuple[str | None, int, str | None]:
        """(pending target, times seen, new URL to move to once confirmed)."""
        if plan.permanent_redirect is None:
            return None, 0, None
        row = self.db.execute(
            "SELECT redirect_target, redirect_seen FROM feeds WHERE url = ?", [plan.feed_url]
        ).fetchone()
        seen = row[1] + 1 if row and row[0] == plan.permanent_redirect else 1
        moved = plan.permanent_redirect if seen >= REDIRECT_CONFIRMATIONS else None
        return plan.permanent_redirect, seen, moved

    # Pruning, for the admin

    def prune(
        self, keep: Collection[str], before: datetime | None = None, *, dry_run: bool = True
    ) -> PruneReport:
        """Delete the posts of feeds not in ``keep`` (the configured URLs), and with
        ``before`` the posts published before it that no configured feed still carries; one
        transaction. ``dry_run`` only counts."""
        from aggregator.store.prune import PruneReport, apply_prune, plan_prune

        cutoff = to_db_time(before) if before is not None else None
        if dry_run:
            found = plan_prune(self.db, keep, cutoff)
        else:
            with self._writing():
                found = plan_prune(self.db, keep, cutoff)  # again, under the write lock
                self._entries.search.reindex(apply_prune(self.db, found))
        return PruneReport(
            feeds=found.feeds,
            entries=len(found.gone) + len(found.old),
            by_age=len(found.old),
            copies_kept=len(set(found.kept) - found.carried_ids),
            applied=not dry_run,
            carried=len(found.carried),
        )

    # Merged groups, for the admin

    def merged_groups(self, limit: int) -> list[MergedGroup]:
        rows = self.db.execute(
            """SELECT e.id, e.title, e.published, e.primary_feed_url FROM entries e
               WHERE (SELECT count(*) FROM entry_sources s WHERE s.entry_id = e.id) > 1
               ORDER BY e.published DESC LIMIT ?""",
            [limit],
        ).fetchall()
        groups = []
        for entry, title, published, primary in rows:
            members = self.db.execute(
                """SELECT f.name, s.feed_url, s.entry_key, s.link, s.merge_reason
                   FROM entry_sources s JOIN feeds f ON f.url = s.feed_url
                   WHERE s.entry_id = ?
                   ORDER BY s.feed_url != ?, s.first_seen, s.feed_url""",
                [entry, primary],
            ).fetchall()
            groups.append(
                MergedGroup(
                    entry_id=entry,
                    title=title,
                    published=from_db_time(published),
                    members=tuple(
                        GroupMember(name, url, key, link, reason, url == primary)
                        for name, url, key, link, reason in members
                    ),
                )
            )
        return groups

    def split_source(self, target: str, feed_url: str, now: datetime) -> int:
        """Take a feed's copy out of a merged post for good; returns how many copies moved.

        The copy reappears as its own entry at that feed's next poll. Only the primary copy's
        content is stored, so the feeds involved are refetched in full to rebuild both."""
        with self._writing():
            keys = [
                key
                for (key,) in self.db.execute(
                    "SELECT entry_key FROM entry_sources WHERE entry_id = ? AND feed_url = ?",
                    [target, feed_url],
                )
            ]
            remaining = self.db.execute(
                """SELECT feed_url FROM entry_sources WHERE entry_id = ? AND feed_url != ?
                   ORDER BY first_seen LIMIT 1""",
                [target, feed_url],
            ).fetchone()
            if not keys or remaining is None:
                return 0
            for key in keys:
                self.db.execute(
                    """INSERT OR IGNORE INTO merge_exclusions (feed_url, entry_key, created_at)
                       VALUES (?, ?, ?)""",
                    [feed_url, key, to_db_time(now)],
                )
            self.db.execute(
                "DELETE FROM entry_sources WHERE entry_id = ? AND feed_url = ?",
                [target, feed_url],
            )
            primary = self.db.execute(
                "SELECT primary_feed_url FROM entries WHERE id = ?", [target]
            ).fetchone()[0]
            if primary == feed_url:
                # The remaining copy's content is not stored: mark it changed so that its
                # feed's next poll writes it.
                self.db.execute(
                    "UPDATE entries SET primary_feed_url = ? WHERE id = ?", [remaining[0], target]
                )
                self.db.execute(
                    "UPDATE entry_sources SET content_hash = '' WHERE entry_id = ?", [target]
                )
            self.db.execute(
                """UPDATE feeds SET etag = NULL, last_modified = NULL, body_hash = NULL,
                          next_poll_at = NULL
                   WHERE url IN (?, ?)""",
                [feed_url, remaining[0]],
            )
            self._entries.search.reindex([target])  # its sources changed
        return len(keys)

    # -----------------------------------------------------------------------------------------
    # Reading entries for export and digest

    def recent_entries(
        self, limit: int, feeds: Collection[str] | None = None, *, few: bool = False
    ) -> list[StoredEntry]:
        """The newest ``limit`` entries; with ``feeds``, only entries found in one of them.
        ``few``: those feeds hold a small share of all entries, so their entries are found
        through entry_sources and sorted (ms), not by walking every entry newest first (at
        100,000 entries, seconds for a feed whose posts are old)."""
        if few and feeds is not None:
            columns = ", ".join(f"e.{c.strip()}" for c in _ENTRY_COLUMNS.split(","))
            rows = self.db.execute(
                f"""SELECT DISTINCT {columns} FROM entry_sources s
                    CROSS JOIN entries e ON e.id = s.entry_id
                    WHERE s.feed_url IN (SELECT value FROM json_each(?)) AND e.backfill = 0
                    ORDER BY e.published DESC, e.id LIMIT ?""",
                [json.dumps(sorted(feeds)), limit],
            ).fetchall()
            return self._with_sources(rows)
        where, params = _found_in(feeds)
        rows = self.db.execute(
            f"""SELECT {_ENTRY_COLUMNS} FROM entries WHERE backfill = 0 {where}
                ORDER BY published DESC, id LIMIT ?""",
            [*params, limit],
        ).fetchall()
        return self._with_sources(rows)

    def entries_matching(
        self, limit: int, feed_urls: Iterable[str] | None = None, since: datetime | None = None
    ) -> list[StoredEntry]:
        """What is stored, newest first (archive posts too): for ``aggregator entries``.
        ``feed_urls``: only posts with a copy from one of them; ``since``: published since."""
        where, params = ["1 = 1"], []
        if since is not None:
            where.append("published >= ?")
            params.append(to_db_time(since))
        if feed_urls is not None:
            urls = list(feed_urls)
            marks = ", ".join("?" * len(urls)) or "NULL"
            where.append(f"id IN (SELECT entry_id FROM entry_sources WHERE feed_url IN ({marks}))")
            params.extend(urls)
        rows = self.db.execute(
            f"""SELECT {_ENTRY_COLUMNS} FROM entries WHERE {" AND ".join(where)}
                ORDER BY published DESC, id LIMIT ?""",
            [*params, limit],
        ).fetchall()
        return self._with_sources(rows)

    def entries_published_between(
        self,
        start: datetime,
        end: datetime,
        feeds: Collection[str] | None = None,
        *,
        after: tuple[datetime, str] | None = None,
        through: tuple[datetime, str] | None = None,
    ) -> list[StoredEntry]:
        """Oldest first. ``after`` and ``through`` (published, id: exclusive, inclusive) read
        one page of a long period without an OFFSET that would walk every earlier row, nor
        a walk of every later one: the index range ends at ``through``'s date, not the
        period's (a row value bounds no index range, so each page of a month walked to the
        month's end: 200 pages of 100 posts looked up 2M rows, not 20,000)."""
        where, params = _found_in(feeds)
        low, pages, bounds = to_db_time(start), "", list[str]()
        high, upper = to_db_time(end), "published < ?"
        if after is not None:
            low = max(low, to_db_time(after[0]))
            pages += " AND (published, id) > (?, ?)"
            bounds += [to_db_time(after[0]), after[1]]
        if through is not None:
            pages += " AND (published, id) <= (?, ?)"
            bounds += [to_db_time(through[0]), through[1]]
            if to_db_time(through[0]) < high:  # then it implies published < end
                high, upper = to_db_time(through[0]), "published <= ?"
        rows = self.db.execute(
            f"""SELECT {_ENTRY_COLUMNS} FROM entries
                WHERE backfill = 0 AND published >= ? AND {upper} {pages} {where}
                ORDER BY published, id""",
            [low, high, *bounds, *params],
        ).fetchall()
        return self._with_sources(rows)

    def count_published_between(
        self, start: datetime, end: datetime, feeds: Collection[str] | None = None
    ) -> int:
        where, params = _found_in(feeds)
        row = self.db.execute(
            f"""SELECT count(*) FROM entries
                WHERE backfill = 0 AND published >= ? AND published < ? {where}""",
            [to_db_time(start), to_db_time(end), *params],
        ).fetchone()
        return int(row[0])

    def last_entry_row(self) -> int:
        """The newest post's rowid: a post stored later gets a higher one, so
        ``dates_stored_after`` finds every post stored since it was read. A rowid a delete
        freed can be given again; the delete is in the archive log (``dates_changed_after``)."""
        return int(self.db.execute("SELECT ifnull(max(rowid), 0) FROM entries").fetchone()[0])

    def dates_stored_after(self, row: int, through: int, before: datetime) -> set[datetime]:
        """The dates before ``before`` of archive posts stored after rowid ``row`` (up to
        ``through``): a range of rowids, so it costs the posts stored since, not the archive
        (the ``+`` keeps the planner off the (backfill, published) index)."""
        rows = self.db.execute(
            """SELECT DISTINCT published FROM entries
               WHERE rowid > ? AND rowid <= ? AND +backfill = 0 AND +published < ?""",
            [row, through, to_db_time(before)],
        ).fetchall()
        return {from_db_time(published) for (published,) in rows}

    def last_archive_change(self) -> int:
        """The number of the newest change in the archive log (migration 15): read with
        ``last_entry_row`` before any month is planned, and asked about next time."""
        row = self.db.execute(
            "SELECT seq FROM sqlite_sequence WHERE name = 'archive_changes'"
        ).fetchone()
        return int(row[0]) if row else 0

    def dates_changed_after(self, change: int, through: int) -> set[datetime] | None:
        """The archive dates of the posts changed, moved or deleted after log number
        ``change`` (up to ``through``): each one's date before and after, and the date of
        the post holding its rowid now (a rowid freed by a delete is given to the next post
        stored). A range of the log, so it costs the changes, not the archive. None when the
        log no longer keeps them all: the caller renders every month once more."""
        if through <= change:
            return set()
        oldest = self.db.execute("SELECT min(seq) FROM archive_changes").fetchone()[0]
        if oldest is None or oldest > change + 1:
            return None
        rows = self.db.execute(
            """SELECT c.old_published, c.new_published,
                      CASE WHEN e.backfill = 0 THEN e.published END
               FROM archive_changes c LEFT JOIN entries e ON e.rowid = c.entry_row
               WHERE c.seq > ? AND c.seq <= ?""",
            [change, through],
        ).fetchall()
        return {from_db_time(date) for row in rows for date in row if date is not None}

    def changes_published_between(
        self, start: datetime, end: datetime, feeds: Collection[str] | None = None
    ) -> Iterator[tuple[datetime, str, str]]:
        """(published, id, mark) of each entry, oldest first, streamed: the mark changes
        whenever anything an output shows of the entry does (an edit moves ``updated``; a
        copy, category or file added or removed changes the lists). The export compares
        archive pages by it without reading their posts."""
        where, params = _found_in(feeds)
        cursor = self.db.execute(
            f"""SELECT published, id, updated || ' ' || last_changed || ' ' || primary_feed_url
                       || ' ' || ifnull(link, '') || ' ' || title
                       || ' ' || ifnull((SELECT group_concat(s.feed_url || ' '
                                         || ifnull(s.link, ''), ' ')
                                  FROM entry_sources s WHERE s.entry_id = entries.id), '')
                       || ' ' || ifnull((SELECT group_concat(c.term, ' ')
                                  FROM entry_categories c WHERE c.entry_id = entries.id), '')
                       || ' ' || ifnull((SELECT group_concat(f.url, ' ')
                                  FROM entry_enclosures f WHERE f.entry_id = entries.id), '')
                FROM entries
                WHERE backfill = 0 AND published >= ? AND published < ? {where}
                ORDER BY published, id""",
            [to_db_time(start), to_db_time(end), *params],
        )
        for published, entry_id, mark in cursor:
            yield from_db_time(published), entry_id, mark

    def entries_first_seen_between(
        self, start: datetime, end: datetime, *, content: bool = True
    ) -> list[StoredEntry]:
        """A digest's window: posts first stored in it, whatever their date. ``+backfill``
        keeps the planner off the (backfill, published) index, which serves the ORDER BY
        but walks every post of the archive: the window is a range of entries_first_seen.
        ``content=False`` leaves ``content_html`` empty: a digest shows summaries, and a
        week of a large archive's whole posts would be hundreds of MB."""
        columns = _ENTRY_COLUMNS if content else _ENTRY_COLUMNS.replace("content_html", "''")
        rows = self.db.execute(
            f"""SELECT {columns} FROM entries
                WHERE +backfill = 0 AND first_seen >= ? AND first_seen < ?
                ORDER BY published, id""",
            [to_db_time(start), to_db_time(end)],
        ).fetchall()
        return self._with_sources(rows)

    def window_posts(
        self, start: datetime, end: datetime, *, with_feeds: bool = False
    ) -> list[WindowPost]:
        """The posts of a digest's window (as ``entries_first_seen_between``) with only what
        choosing and grouping them needs: the dates and the primary source; ``with_feeds``
        adds every feed that carried each (a filtered digest matches on any of them)."""
        from aggregator.types import SourceRef, WindowPost

        feeds = (
            "(SELECT group_concat(s.feed_url, char(10)) FROM entry_sources s"
            " WHERE s.entry_id = e.id)"
            if with_feeds
            else "NULL"
        )
        rows = self.db.execute(
            f"""SELECT e.id, e.published, e.first_seen, f.url, f.name, f.title, f.site_url,
                       {feeds}, e.news_from
                FROM entries e JOIN feeds f ON f.url = e.primary_feed_url
                WHERE +e.backfill = 0 AND e.first_seen >= ? AND e.first_seen < ?""",
            [to_db_time(start), to_db_time(end)],
        )
        refs: dict[str, SourceRef] = {}
        with no_collector_passes():
            return [
                WindowPost(
                    id=eid,
                    published=from_db_time(published),
                    first_seen=from_db_time(first_seen),
                    primary=refs.get(url)
                    or refs.setdefault(url, SourceRef(url, name, title, site, None)),
                    feeds=tuple(carried.split("\n")) if carried else (),
                    news_from=from_db_time(news_from) if news_from else None,
                )
                for eid, published, first_seen, url, name, title, site, carried, news_from in rows
            ]

    def entries_by_id(self, ids: Sequence[str], *, content: bool = True) -> list[StoredEntry]:
        """Entries in the order of ``ids``; ids not stored are left out. ``content=False``
        leaves ``content_html`` empty (see ``entries_first_seen_between``)."""
        columns = _ENTRY_COLUMNS if content else _ENTRY_COLUMNS.replace("content_html", "''")
        rows: dict[str, Any] = {}
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            for row in self.db.execute(
                f"SELECT {columns} FROM entries WHERE id IN ({','.join('?' * len(chunk))})",
                chunk,
            ):
                rows[row[0]] = row
        return self._with_sources([rows[i] for i in ids if i in rows])

    # Search (the SQL is in search.py)

    def search(
        self, wanted: IndexFilter, now: datetime, order: Order, limit: int, offset: int = 0
    ) -> list[IndexHit]:
        try:
            return self._entries.search.search(wanted, now, order, limit, offset)
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"search failed: {exc}") from exc

    def rebuild_search_index(self, progress: Callable[[int, int], None] | None = None) -> int:
        with self._writing():
            return self._entries.search.rebuild(progress)

    def search_index_bytes(self) -> int:
        return self._entries.search.size_bytes()

    def oldest_published(self, feeds: Collection[str] | None = None) -> datetime | None:
        where, params = _found_in(feeds)
        row = self.db.execute(
            f"""SELECT published FROM entries WHERE backfill = 0 {where}
                ORDER BY published LIMIT 1""",
            params,
        ).fetchone()
        return from_db_time(row[0]) if row else None

    def feed_urls(self) -> set[str]:
        return set(map(itemgetter(0), self.db.execute("SELECT url FROM feeds")))

    def feeds_signature(self) -> tuple[int, int, str | None]:
        """(count, rowid and URL of the newest row): moves when a feed is added to the table
        or removed from it, read in microseconds where every URL takes 20 ms at 20,000
        feeds. A new row's rowid is above every other's, so an addition moves the newest
        row (or, taking a removed newest row's rowid, its URL); a removal moves the count."""
        (count,) = self.db.execute("SELECT count(*) FROM feeds").fetchone()
        newest = self.db.execute("SELECT rowid, url FROM feeds ORDER BY rowid DESC LIMIT 1")
        row = newest.fetchone()
        return (int(count), int(row[0]), str(row[1])) if row else (0, 0, None)

    def feed_versions(self) -> dict[str, int]:
        """Each feed's counter of changes to what the outputs show of its entries."""
        return dict(self.db.execute("SELECT url, entries_version FROM feeds").fetchall())

    def feeds_shown(self, urls: Collection[str] | None = None) -> list[tuple[Any, ...]]:
        """Everything the outputs show of the stored feeds (or of these), a row a feed: the
        counter of changes to its entries and its health. The same rows: no output can
        have moved."""
        columns = "url, entries_version, title, site_url, state, failing_since, moved_to"
        if urls is None:
            return self.db.execute(f"SELECT {columns} FROM feeds ORDER BY url").fetchall()
        return self.db.execute(
            f"SELECT {columns} FROM feeds WHERE url IN (SELECT value FROM json_each(?))",
            [json.dumps(list(urls))],
        ).fetchall()

    def feed_titles(self) -> dict[str, str | None]:
        """Each stored feed's title by URL (None until it has one)."""
        return dict(self.db.execute("SELECT url, title FROM feeds").fetchall())

    def entry_count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM entries").fetchone()[0])

    def _with_sources(self, rows: list[Any]) -> list[StoredEntry]:
        if not rows:
            return []
        with no_collector_passes():
            return self._stored_entries(rows)

    def _stored_entries(self, rows: list[Any]) -> list[StoredEntry]:
        from aggregator.types import Enclosure, SourceRef, StoredEntry

        ids = [r[0] for r in rows]
        primary = {r[0]: r[10] for r in rows}
        sources: dict[str, list[tuple[bool, str, SourceRef]]] = {i: [] for i in ids}
        categories: dict[str, list[str]] = {i: [] for i in ids}
        enclosures: dict[str, list[Enclosure]] = {i: [] for i in ids}
        # All ids as one JSON parameter: a third of the time of chunks of ``IN (?, ...)``,
        # each prepared and built into a temporary index of its own (a digest of a large
        # archive reads tens of thousands).
        wanted = [json.dumps(ids)]
        for eid, first_seen, url, name, title, site, link in self.db.execute(
            """SELECT s.entry_id, s.first_seen, f.url, f.name, f.title, f.site_url, s.link
               FROM entry_sources s JOIN feeds f ON f.url = s.feed_url
               WHERE s.entry_id IN (SELECT value FROM json_each(?))""",
            wanted,
        ):
            ref = SourceRef(feed_url=url, name=name, title=title, site_url=site, link=link)
            sources[eid].append((url != primary[eid], first_seen, ref))
        for eid, term in self.db.execute(
            """SELECT entry_id, term FROM entry_categories
               WHERE entry_id IN (SELECT value FROM json_each(?)) ORDER BY entry_id, position""",
            wanted,
        ):
            categories[eid].append(term)
        for eid, url, kind, length in self.db.execute(
            """SELECT entry_id, url, type, length FROM entry_enclosures
               WHERE entry_id IN (SELECT value FROM json_each(?)) ORDER BY entry_id, position""",
            wanted,
        ):
            enclosures[eid].append(Enclosure(url, kind, length))
        return [
            StoredEntry(
                id=r[0],
                title=r[1],
                link=r[2],
                author=r[3],
                content_html=r[4],
                summary_text=r[5],
                language=r[6],
                published=from_db_time(r[7]),
                updated=from_db_time(r[8]),
                first_seen=from_db_time(r[9]),
                sources=_primary_first(sources[r[0]]),
                categories=tuple(categories[r[0]]),
                enclosures=tuple(enclosures[r[0]]),
            )
            for r in rows
        ]


def _primary_first(sources: list[tuple[bool, str, SourceRef]]) -> tuple[SourceRef, ...]:
    """The primary source, then the others in the order they were found."""
    if len(sources) == 1:  # most posts: no sort
        return (sources[0][2],)
    return tuple(ref for *_, ref in sorted(sources, key=lambda s: s[:2]))


def _connect_read_only(path: Path) -> sqlite3.Connection:
    """Opened for reading only, which works in a directory the process cannot write to."""
    if not path.exists():
        raise StorageError(f"{path}: no database yet; run aggregator poll first")
    uri = path.resolve().as_uri()
    conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=BUSY_SECONDS)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError:
        conn.close()
        if os.access(path.parent, os.W_OK):
            raise
        # WAL needs a -shm file beside the database, which a read-only directory cannot
        # hold; nothing can write there either, so the file may be read as immutable.
        conn = sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_SECONDS * 1000}")
    return conn


class _OlderSchema(StorageError):
    """A read-only open found a schema to upgrade, which only a writer can."""


_PLAIN = {
    "database or disk is full": "disk is full",
    "disk I/O error": "disk I/O error (is the disk full, or failing?)",
    "attempt to write a readonly database": "the database is read-only",
    "database is locked": f"the database stayed locked by another process for {BUSY_SECONDS} s",
}


def _plain(exc: sqlite3.Error) -> str:
    return _PLAIN.get(str(exc), str(exc))


def write_error(exc: sqlite3.Error) -> StorageError:
    """One line for the admin: ``database write failed: disk is full``."""
    return StorageError(f"database write failed: {_plain(exc)}")


_ENTRY_COLUMNS = (
    "id, title, link, author, content_html, summary_text, language, published, updated,"
    " first_seen, primary_feed_url"
)


def _found_in(feeds: Collection[str] | None) -> tuple[str, list[Any]]:
    """SQL limiting entries to those found in one of ``feeds`` (one JSON parameter, so any
    number of feeds fits)."""
    if feeds is None:
        return "", []
    return (
        """AND EXISTS (SELECT 1 FROM entry_sources s WHERE s.entry_id = entries.id
                      AND s.feed_url IN (SELECT value FROM json_each(?)))""",
        [json.dumps(sorted(feeds))],
    )
