"""SQLite storage through sqlite-utils. All SQL of the package lives in this module.

Times are stored as ISO 8601 text in UTC with a fixed width, so text order is time order and
the indexes on dates serve range queries directly.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import sqlite_utils

from aggregator.config import FeedConfig
from aggregator.dedup import (
    COMMON_SKETCH_LIMIT,
    MIN_SHARED_SKETCH,
    DedupSettings,
    best_match,
    boilerplate,
    sketch,
    title_key,
)
from aggregator.errors import StorageError
from aggregator.normalise import canonical_url, entry_id, html_to_text
from aggregator.policy import FeedHistory, Hint
from aggregator.types import (
    EntryPlan,
    FeedState,
    FeedStatus,
    FeedUpdateResult,
    SourceRef,
    StoredEntry,
    UpdatePlan,
)


def to_db_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_db_time(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _maybe_time(value: str | None) -> datetime | None:
    return from_db_time(value) if value else None


# ---------------------------------------------------------------------------------------------
# Migrations: append only. Each runs in one transaction together with the version bump.


def _v1_initial(db: sqlite_utils.Database) -> None:
    db.execute(
        """
        CREATE TABLE feeds (
            url TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            priority INTEGER NOT NULL DEFAULT 0,
            title TEXT,
            site_url TEXT,
            etag TEXT,
            last_modified TEXT,
            last_fetched_at TEXT,
            last_success_at TEXT,
            last_status INTEGER,
            last_error TEXT,
            error_count INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL
        )"""
    )
    db.execute(
        """
        CREATE TABLE entries (
            id TEXT PRIMARY KEY,
            canonical_url TEXT,
            link TEXT,
            title TEXT NOT NULL,
            author TEXT,
            content_html TEXT NOT NULL,
            summary_text TEXT NOT NULL,
            language TEXT,
            published TEXT NOT NULL,
            updated TEXT NOT NULL,
            first_seen TEXT NOT NULL,
            last_changed TEXT NOT NULL,
            primary_feed_url TEXT NOT NULL REFERENCES feeds(url)
        )"""
    )
    db.execute("CREATE INDEX entries_published ON entries(published)")
    db.execute("CREATE INDEX entries_canonical_url ON entries(canonical_url)")
    db.execute(
        """
        CREATE TABLE entry_sources (
            feed_url TEXT NOT NULL REFERENCES feeds(url),
            entry_key TEXT NOT NULL,
            entry_id TEXT NOT NULL REFERENCES entries(id),
            link TEXT,
            content_hash TEXT NOT NULL,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            PRIMARY KEY (feed_url, entry_key)
        )"""
    )
    db.execute("CREATE INDEX entry_sources_entry ON entry_sources(entry_id)")
    db.execute(
        """
        CREATE TABLE digests (
            period_start TEXT PRIMARY KEY,
            period_end TEXT NOT NULL,
            sent_at TEXT NOT NULL,
            recipients TEXT NOT NULL,
            entry_count INTEGER NOT NULL,
            message_id TEXT NOT NULL
        )"""
    )


def _v2_polling_state(db: sqlite_utils.Database) -> None:
    """Per-feed schedule and health, kept so a restart continues where it left off."""
    for column in (
        "state TEXT NOT NULL DEFAULT 'new'",
        "failing_since TEXT",
        "next_poll_at TEXT",
        "interval_seconds INTEGER",
        "interval_reason TEXT",
        "body_hash TEXT",
        "hint_seconds INTEGER",
        "hint_reason TEXT",
        "redirect_target TEXT",
        "redirect_seen INTEGER NOT NULL DEFAULT 0",
        "moved_to TEXT",
    ):
        db.execute(f"ALTER TABLE feeds ADD COLUMN {column}")
    db.execute("UPDATE feeds SET state = 'ok' WHERE last_success_at IS NOT NULL")
    db.execute("CREATE INDEX feeds_next_poll_at ON feeds(next_poll_at)")


def _v3_identity_and_dedup(db: sqlite_utils.Database) -> None:
    """Per-source links and dates, title keys and sketches for near-duplicate lookups."""
    for statement in (
        "ALTER TABLE feeds ADD COLUMN merge INTEGER NOT NULL DEFAULT 1",
        "ALTER TABLE entries ADD COLUMN title_key TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE entries ADD COLUMN backfill INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE entries ADD COLUMN never_merge INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE entry_sources ADD COLUMN canonical_url TEXT",
        "ALTER TABLE entry_sources ADD COLUMN published TEXT",
        "ALTER TABLE entry_sources ADD COLUMN merge_reason TEXT",
        "ALTER TABLE entry_sources ADD COLUMN consecutive_changes INTEGER NOT NULL DEFAULT 0",
        "CREATE INDEX entries_title_key ON entries(title_key)",
        "CREATE INDEX entry_sources_feed_canonical ON entry_sources(feed_url, canonical_url)",
        """CREATE TABLE entry_sketches (
               hash INTEGER NOT NULL,
               entry_id TEXT NOT NULL REFERENCES entries(id)
           )""",
        "CREATE INDEX entry_sketches_hash ON entry_sketches(hash)",
        "CREATE INDEX entry_sketches_entry ON entry_sketches(entry_id)",
        "DROP INDEX entries_published",
        # The merged feed hides archive entries; the index serves that query without a scan.
        "CREATE INDEX entries_backfill_published ON entries(backfill, published)",
    ):
        db.execute(statement)
    rows = db.execute("SELECT id, title, content_html FROM entries").fetchall()
    for entry_id_, title, content in rows:
        db.execute("UPDATE entries SET title_key = ? WHERE id = ?", [title_key(title), entry_id_])
        db.conn.executemany(
            "INSERT INTO entry_sketches (hash, entry_id) VALUES (?, ?)",
            [(value, entry_id_) for value in sketch(html_to_text(content))],
        )
    for feed_url, key, link, published in db.execute(
        """SELECT s.feed_url, s.entry_key, s.link, e.published
           FROM entry_sources s JOIN entries e ON e.id = s.entry_id"""
    ).fetchall():
        db.execute(
            """UPDATE entry_sources SET canonical_url = ?, published = ?
               WHERE feed_url = ? AND entry_key = ?""",
            [canonical_url(link), published, feed_url, key],
        )


def _v4_merge_exclusions(db: sqlite_utils.Database) -> None:
    """Copies the admin split off a merged post: never merged again."""
    db.execute(
        """CREATE TABLE merge_exclusions (
               feed_url TEXT NOT NULL,
               entry_key TEXT NOT NULL,
               created_at TEXT NOT NULL,
               PRIMARY KEY (feed_url, entry_key)
           )"""
    )


MIGRATIONS: Sequence[Callable[[sqlite_utils.Database], None]] = (
    _v1_initial,
    _v2_polling_state,
    _v3_identity_and_dedup,
    _v4_merge_exclusions,
)

# A permanent redirect must be seen on this many polls in a row before the feed moves.
REDIRECT_CONFIRMATIONS = 2
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass(frozen=True, slots=True)
class MergeRules:
    dedup: DedupSettings = field(default_factory=DedupSettings)
    max_consecutive_changes: int = 5


@dataclass(frozen=True, slots=True)
class _FeedRow:
    url: str
    priority: int
    merge: bool
    site_url: str | None
    last_success_at: str | None


def _host(url: str | None) -> str:
    return (urlsplit(url).hostname or "").lower().removeprefix("www.") if url else ""


def source_rank(
    priority: int, site_url: str | None, link: str | None, published: datetime, feed_url: str
) -> tuple[int, int, datetime, str]:
    """Sort key of a source as the primary of a post: the smallest wins."""
    own_site = bool(link) and _host(link) == _host(site_url)
    return (-priority, -int(own_site), published, feed_url)


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


@dataclass(frozen=True, slots=True)
class DigestRecord:
    period_start: datetime
    period_end: datetime
    sent_at: datetime
    recipients: str
    entry_count: int
    message_id: str


class Store:
    """The aggregator's SQLite file. One instance per thread; open with ``Store.open``."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    @classmethod
    def open(cls, path: Path) -> Store:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite_utils.Database(path)
            db.execute("PRAGMA busy_timeout = 10000")
            db.execute("PRAGMA foreign_keys = ON")
            db.enable_wal()
            store = cls(db)
            store.migrate()
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"{path}: cannot open the database: {exc}") from exc
        except OSError as exc:
            raise StorageError(f"{path}: {exc}") from exc
        return store

    def close(self) -> None:
        self.db.close()

    @property
    def schema_version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> None:
        version = self.schema_version
        if version > SCHEMA_VERSION:
            raise StorageError(
                f"the database has schema version {version}, newer than this program's "
                f"{SCHEMA_VERSION}: upgrade aggregator"
            )
        for number, migration in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.db.atomic():
                migration(self.db)
                self.db.execute(f"PRAGMA user_version = {number}")

    @contextmanager
    def _writing(self) -> Iterator[None]:
        try:
            with self.db.atomic():
                yield
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"database write failed: {exc}") from exc

    # -----------------------------------------------------------------------------------------
    # Feeds

    def sync_feeds(self, feeds: Iterable[FeedConfig], now: datetime) -> None:
        """Make the feeds table know every configured feed and its settings."""
        with self._writing():
            for feed in feeds:
                self.db.execute(
                    """INSERT INTO feeds (url, name, priority, merge, created_at)
                       VALUES (?, ?, ?, ?, ?)
                       ON CONFLICT(url) DO UPDATE SET name = excluded.name,
                           priority = excluded.priority, merge = excluded.merge""",
                    [feed.url, feed.name, feed.priority, feed.merge, to_db_time(now)],
                )

    def feed_state(self, url: str) -> FeedState:
        row = self.db.execute(
            "SELECT etag, last_modified, moved_to, body_hash FROM feeds WHERE url = ?", [url]
        ).fetchone()
        if row is None:
            return FeedState(url=url)
        return FeedState(
            url=url, etag=row[0], last_modified=row[1], moved_to=row[2], body_hash=row[3]
        )

    def feed_history(
        self,
        url: str,
        now: datetime,
        window: timedelta,
        override: timedelta | None,
        incoming: Sequence[EntryPlan] = (),
    ) -> FeedHistory:
        row = self.db.execute(
            "SELECT error_count, hint_seconds, hint_reason FROM feeds WHERE url = ?", [url]
        ).fetchone()
        published = {
            key: from_db_time(value)
            for key, value in self.db.execute(
                """SELECT s.entry_key, e.published
                   FROM entry_sources s JOIN entries e ON e.id = s.entry_id
                   WHERE s.feed_url = ? AND e.published >= ?""",
                [url, to_db_time(now - window)],
            )
        }
        # This poll's entries count too, though they are written after the decision.
        published.update((entry.key, entry.published) for entry in incoming)
        hint = Hint(timedelta(seconds=row[1]), row[2]) if row and row[1] else None
        return FeedHistory(
            error_count=row[0] if row else 0,
            override=override,
            recent_published=tuple(published.values()),
            publisher_hint=hint,
        )

    def due_feeds(self, now: datetime) -> list[str]:
        """Feeds whose next poll has come, or that were never scheduled; never gone ones."""
        rows = self.db.execute(
            """SELECT url FROM feeds WHERE state != 'gone'
               AND (next_poll_at IS NULL OR next_poll_at <= ?) ORDER BY next_poll_at""",
            [to_db_time(now)],
        )
        return [url for (url,) in rows]

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

    def feed_statuses(self) -> list[FeedStatus]:
        rows = self.db.execute(
            """SELECT f.url, f.name, f.title, f.last_fetched_at, f.last_success_at,
                      f.last_status, f.last_error, f.error_count,
                      (SELECT count(*) FROM entry_sources s WHERE s.feed_url = f.url),
                      f.state, f.failing_since, f.next_poll_at, f.interval_seconds,
                      f.interval_reason, f.moved_to
               FROM feeds f ORDER BY f.name COLLATE NOCASE"""
        ).fetchall()
        return [
            FeedStatus(
                url=r[0],
                name=r[1],
                title=r[2],
                last_fetched_at=_maybe_time(r[3]),
                last_success_at=_maybe_time(r[4]),
                last_status=r[5],
                last_error=r[6],
                error_count=r[7],
                entry_count=r[8],
                state=r[9],
                failing_since=_maybe_time(r[10]),
                next_poll_at=_maybe_time(r[11]),
                interval_seconds=r[12],
                interval_reason=r[13],
                moved_to=r[14],
            )
            for r in rows
        ]

    # -----------------------------------------------------------------------------------------
    # One feed's update: one transaction

    def apply(
        self, plan: UpdatePlan, now: datetime, rules: MergeRules | None = None
    ) -> FeedUpdateResult:
        """Write one poll of one feed, fetch state and entries, in one transaction."""
        rules = rules or MergeRules()
        new = updated = 0
        with self._writing():
            feed = self._feed_row(plan.feed_url)
            self._record_fetch(plan, now)
            first_poll = feed.last_success_at is None
            site_url = plan.site_url or feed.site_url
            for entry in plan.entries:
                outcome = self._apply_entry(feed, site_url, entry, now, first_poll, rules)
                new += outcome == "new"
                updated += outcome == "updated"
        return FeedUpdateResult(
            feed_url=plan.feed_url,
            new=new,
            updated=updated,
            not_modified=plan.not_modified,
            error=plan.error,
        )

    def _feed_row(self, feed_url: str) -> _FeedRow:
        row = self.db.execute(
            "SELECT url, priority, merge, site_url, last_success_at FROM feeds WHERE url = ?",
            [feed_url],
        ).fetchone()
        if row is None:
            raise StorageError(f"feed {feed_url} is not in the database; sync_feeds first")
        return _FeedRow(row[0], row[1], bool(row[2]), row[3], row[4])

    def _record_fetch(self, plan: UpdatePlan, now: datetime) -> None:
        fetched = to_db_time(plan.fetched_at)
        schedule = [
            to_db_time(plan.next_poll_at) if plan.next_poll_at else None,
            plan.interval_seconds,
            plan.interval_reason,
        ]
        if plan.error is None:
            target, seen, moved = self._redirect_progress(plan)
            parsed_new_body = plan.body_hash is not None
            self.db.execute(
                """UPDATE feeds SET etag = ?, last_modified = ?, last_fetched_at = ?,
                          last_success_at = ?, last_status = ?, last_error = NULL,
                          error_count = 0, state = 'ok', failing_since = NULL,
                          title = coalesce(?, title), site_url = coalesce(?, site_url),
                          body_hash = coalesce(?, body_hash),
                          hint_seconds = CASE WHEN ? THEN ? ELSE hint_seconds END,
                          hint_reason = CASE WHEN ? THEN ? ELSE hint_reason END,
                          redirect_target = ?, redirect_seen = ?,
                          moved_to = coalesce(?, moved_to),
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
                    target,
                    seen,
                    moved,
                    *schedule,
                    plan.feed_url,
                ],
            )
        else:
            forget = "" if plan.keep_validators else "etag = NULL, last_modified = NULL,"
            self.db.execute(
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
            )

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

    def _apply_entry(
        self,
        feed: _FeedRow,
        site_url: str | None,
        entry: EntryPlan,
        now: datetime,
        first_poll: bool,
        rules: MergeRules,
    ) -> str:
        seen = to_db_time(now)
        row = self.db.execute(
            """SELECT entry_id, content_hash, consecutive_changes, entry_key FROM entry_sources
               WHERE feed_url = ? AND entry_key = ?""",
            [feed.url, entry.key],
        ).fetchone()
        if row is None and entry.canonical_url:
            # The id changed but the link did not (WordPress ?p=123 -> permalink, http ->
            # https): the same entry under a new key.
            row = self.db.execute(
                """SELECT entry_id, content_hash, consecutive_changes, entry_key
                   FROM entry_sources WHERE feed_url = ? AND canonical_url = ? LIMIT 1""",
                [feed.url, entry.canonical_url],
            ).fetchone()
            if row is not None:
                self.db.execute(
                    "UPDATE entry_sources SET entry_key = ? WHERE feed_url = ? AND entry_key = ?",
                    [entry.key, feed.url, row[3]],
                )
        if row is not None:
            return self._update_source(feed, row[0], row[1], row[2], entry, seen, rules)

        excluded = self.db.execute(
            "SELECT 1 FROM merge_exclusions WHERE feed_url = ? AND entry_key = ?",
            [feed.url, entry.key],
        ).fetchone()
        mergeable = feed.merge and not excluded
        found = self._same_post(feed, entry, rules) if mergeable else None
        if found is not None:
            target, reason = found
            self._add_source(target, feed.url, entry, seen, reason)
            self._elect_primary(target, feed, site_url, entry, seen)
            return "merged"
        target = entry_id(feed.url, entry.key, entry.canonical_url)
        if self.db.execute("SELECT 1 FROM entries WHERE id = ?", [target]).fetchone():
            target = entry_id(feed.url, entry.key, None)
        # An undated post found on a feed's first poll is archive, not news: kept, but not
        # shown as new in the merged feed or the digest.
        backfill = first_poll and not entry.dated
        self._insert_entry(target, feed.url, entry, seen, backfill, never_merge=not mergeable)
        self._add_source(target, feed.url, entry, seen, None)
        return "new"

    def _update_source(
        self,
        feed: _FeedRow,
        target: str,
        old_hash: str,
        changes: int,
        entry: EntryPlan,
        seen: str,
        rules: MergeRules,
    ) -> str:
        if old_hash == entry.content_hash:
            self.db.execute(
                """UPDATE entry_sources SET last_seen = ?, consecutive_changes = 0
                   WHERE feed_url = ? AND entry_key = ?""",
                [seen, feed.url, entry.key],
            )
            return "unchanged"
        changes += 1
        self.db.execute(
            """UPDATE entry_sources SET last_seen = ?, link = ?, canonical_url = ?,
                      content_hash = ?, published = ?, consecutive_changes = ?
               WHERE feed_url = ? AND entry_key = ?""",
            [seen, entry.link, entry.canonical_url, entry.content_hash,
             to_db_time(entry.published), changes, feed.url, entry.key],
        )  # fmt: skip
        if changes > rules.max_consecutive_changes:
            # Content that changes on every poll (an embedded timestamp, a view counter) is
            # noise; rewriting the entry each time would only churn the merged feed.
            return "unchanged"
        primary = self.db.execute(
            "SELECT primary_feed_url FROM entries WHERE id = ?", [target]
        ).fetchone()
        if primary is None or primary[0] != feed.url:
            return "unchanged"  # only the primary source's copy is shown
        self._write_content(target, feed.url, entry, seen, keep_published=True)
        return "updated"

    def _same_post(self, feed: _FeedRow, entry: EntryPlan, rules: MergeRules
                   ) -> tuple[str, str] | None:  # fmt: skip
        """An entry from another source that is this post, with the reason; else None."""
        if entry.canonical_url:
            row = self.db.execute(
                """SELECT id FROM entries WHERE canonical_url = ? AND never_merge = 0
                   ORDER BY first_seen LIMIT 1""",
                [entry.canonical_url],
            ).fetchone()
            if row is not None:
                return row[0], "same canonical URL"
        candidates = self._near_candidates(feed.url, entry, rules.dedup)
        if not candidates:
            return None
        rows = self.db.execute(
            f"""SELECT id, content_html, title, primary_feed_url FROM entries
                WHERE id IN ({",".join("?" * len(candidates))})""",
            candidates,
        ).fetchall()
        own_boilerplate = self._boilerplate(feed.url, exclude=None)
        boilerplate_of = {r[0]: self._boilerplate(r[3], exclude=r[0]) for r in rows}
        best = best_match(
            entry.text,
            entry.title,
            [(r[0], html_to_text(r[1]), r[2]) for r in rows],
            rules.dedup,
            own_boilerplate,
            boilerplate_of,
        )
        return (best[0], best[1].reason) if best else None

    def _near_candidates(self, feed_url: str, entry: EntryPlan, settings: DedupSettings
                         ) -> list[str]:  # fmt: skip
        """Index lookups only: shared sketch hashes or the same title key, inside the date
        window, from other feeds. Hashes carried by many posts are boilerplate and skipped."""
        window = timedelta(days=settings.window_days)
        low, high = to_db_time(entry.published - window), to_db_time(entry.published + window)
        telling = [
            value
            for value in entry.sketch
            if self.db.execute(
                "SELECT count(*) FROM (SELECT 1 FROM entry_sketches WHERE hash = ? LIMIT ?)",
                [value, COMMON_SKETCH_LIMIT + 1],
            ).fetchone()[0]
            <= COMMON_SKETCH_LIMIT
        ]
        found: list[str] = []
        if telling:
            found += [
                row[0]
                for row in self.db.execute(
                    f"""SELECT entry_id FROM entry_sketches
                        WHERE hash IN ({",".join("?" * len(telling))})
                        GROUP BY entry_id HAVING count(*) >= ?""",
                    [*telling, MIN_SHARED_SKETCH],
                )
            ]
        if entry.title_key:
            found += [
                row[0]
                for row in self.db.execute(
                    "SELECT id FROM entries WHERE title_key = ? LIMIT 50", [entry.title_key]
                )
            ]
        if not found:
            return []
        unique = list(dict.fromkeys(found))[:50]
        rows = self.db.execute(
            f"""SELECT e.id FROM entries e
                WHERE e.id IN ({",".join("?" * len(unique))})
                  AND e.never_merge = 0 AND e.published BETWEEN ? AND ?
                  AND NOT EXISTS (SELECT 1 FROM entry_sources s
                                  WHERE s.entry_id = e.id AND s.feed_url = ?)""",
            [*unique, low, high, feed_url],
        ).fetchall()
        return [row[0] for row in rows]

    def _boilerplate(self, feed_url: str, exclude: str | None) -> frozenset[str]:
        """Shingles the feed repeats across its recent posts (footers and the like)."""
        rows = self.db.execute(
            """SELECT e.content_html FROM entry_sources s JOIN entries e ON e.id = s.entry_id
               WHERE s.feed_url = ? AND e.id IS NOT ? ORDER BY s.first_seen DESC LIMIT 10""",
            [feed_url, exclude],
        ).fetchall()
        return boilerplate(html_to_text(row[0]) for row in rows)

    def _add_source(self, target: str, feed_url: str, entry: EntryPlan, seen: str,
                    reason: str | None) -> None:  # fmt: skip
        self.db.execute(
            """INSERT INTO entry_sources
                   (feed_url, entry_key, entry_id, link, canonical_url, content_hash, published,
                    first_seen, last_seen, merge_reason)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [feed_url, entry.key, target, entry.link, entry.canonical_url, entry.content_hash,
             to_db_time(entry.published), seen, seen, reason],
        )  # fmt: skip

    def _elect_primary(
        self, target: str, feed: _FeedRow, site_url: str | None, entry: EntryPlan, seen: str
    ) -> None:
        """The new source becomes primary if it ranks first: higher priority, then the post's
        own site over an aggregating feed, then the earliest published, then the feed URL
        (so the outcome does not depend on which feed was polled first). The earliest
        published date of all copies is kept."""
        current = self.db.execute(
            """SELECT f.url, f.priority, f.site_url, s.link, s.published
               FROM entries e JOIN feeds f ON f.url = e.primary_feed_url
               JOIN entry_sources s ON s.entry_id = e.id AND s.feed_url = f.url
               WHERE e.id = ? ORDER BY s.first_seen LIMIT 1""",
            [target],
        ).fetchone()
        challenger = source_rank(feed.priority, site_url, entry.link, entry.published, feed.url)
        incumbent = (
            source_rank(current[1], current[2], current[3], from_db_time(current[4]), current[0])
            if current
            else None
        )
        if incumbent is None or challenger < incumbent:
            self._write_content(target, feed.url, entry, seen, keep_published=False)
        else:
            self.db.execute(
                "UPDATE entries SET published = min(published, ?) WHERE id = ?",
                [to_db_time(entry.published), target],
            )

    def _insert_entry(self, new_id: str, feed_url: str, entry: EntryPlan, seen: str,
                      backfill: bool, never_merge: bool) -> None:  # fmt: skip
        self.db.execute(
            """INSERT INTO entries (id, canonical_url, link, title, title_key, author,
                   content_html, summary_text, language, published, updated, first_seen,
                   last_changed, primary_feed_url, backfill, never_merge)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [new_id, entry.canonical_url, entry.link, entry.title, entry.title_key,
             entry.author, entry.content_html, entry.summary_text, entry.language,
             to_db_time(entry.published), to_db_time(entry.updated), seen, seen, feed_url,
             backfill, never_merge],
        )  # fmt: skip
        self._index_sketch(new_id, entry.sketch)

    def _index_sketch(self, target: str, sketch: Sequence[int]) -> None:
        self.db.execute("DELETE FROM entry_sketches WHERE entry_id = ?", [target])
        self.db.conn.executemany(
            "INSERT INTO entry_sketches (hash, entry_id) VALUES (?, ?)",
            [(value, target) for value in sketch],
        )

    def _write_content(self, target: str, feed_url: str, entry: EntryPlan, seen: str,
                       keep_published: bool) -> None:  # fmt: skip
        """Show this source's copy: after an edit by the primary, or on a change of primary."""
        self.db.execute(
            """UPDATE entries SET primary_feed_url = ?, canonical_url = ?, link = ?, title = ?,
                      title_key = ?, author = ?, content_html = ?, summary_text = ?,
                      language = ?, last_changed = ?,
                      published = CASE WHEN ? THEN published ELSE min(published, ?) END,
                      -- the feed's own date when it moved on, else the time we saw the edit
                      updated = CASE WHEN ? > updated THEN ? ELSE ? END
               WHERE id = ?""",
            [feed_url, entry.canonical_url, entry.link, entry.title, entry.title_key,
             entry.author, entry.content_html, entry.summary_text, entry.language, seen,
             keep_published, to_db_time(entry.published), to_db_time(entry.updated),
             to_db_time(entry.updated), seen, target],
        )  # fmt: skip
        self._index_sketch(target, entry.sketch)

    # -----------------------------------------------------------------------------------------
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
                   WHERE s.entry_id = ? ORDER BY s.first_seen, s.feed_url""",
                [entry],
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
        return len(keys)

    # -----------------------------------------------------------------------------------------
    # Reading entries for export and digest

    def recent_entries(self, limit: int) -> list[StoredEntry]:
        rows = self.db.execute(
            f"""SELECT {_ENTRY_COLUMNS} FROM entries WHERE backfill = 0
                ORDER BY published DESC, id LIMIT ?""",
            [limit],
        ).fetchall()
        return self._with_sources(rows)

    def entries_published_between(self, start: datetime, end: datetime) -> list[StoredEntry]:
        rows = self.db.execute(
            f"""SELECT {_ENTRY_COLUMNS} FROM entries
                WHERE backfill = 0 AND published >= ? AND published < ?
                ORDER BY published, id""",
            [to_db_time(start), to_db_time(end)],
        ).fetchall()
        return self._with_sources(rows)

    def entry_count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM entries").fetchone()[0])

    def _with_sources(self, rows: list[Any]) -> list[StoredEntry]:
        if not rows:
            return []
        ids = [r[0] for r in rows]
        sources: dict[str, list[tuple[bool, str, SourceRef]]] = {i: [] for i in ids}
        for chunk_start in range(0, len(ids), 500):
            chunk = ids[chunk_start : chunk_start + 500]
            marks = ",".join("?" * len(chunk))
            for eid, is_primary, first_seen, url, name, title, site, link in self.db.execute(
                f"""SELECT s.entry_id, s.feed_url = e.primary_feed_url, s.first_seen,
                           f.url, f.name, f.title, f.site_url, s.link
                    FROM entry_sources s JOIN feeds f ON f.url = s.feed_url
                    JOIN entries e ON e.id = s.entry_id
                    WHERE s.entry_id IN ({marks})""",
                chunk,
            ):
                ref = SourceRef(feed_url=url, name=name, title=title, site_url=site, link=link)
                sources[eid].append((not is_primary, first_seen, ref))
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
                sources=tuple(ref for *_, ref in sorted(sources[r[0]], key=lambda s: s[:2])),
            )
            for r in rows
        ]

    # -----------------------------------------------------------------------------------------
    # Digests

    def digest_record(self, period_start: datetime) -> DigestRecord | None:
        row = self.db.execute(
            """SELECT period_start, period_end, sent_at, recipients, entry_count, message_id
               FROM digests WHERE period_start = ?""",
            [to_db_time(period_start)],
        ).fetchone()
        if row is None:
            return None
        return DigestRecord(
            period_start=from_db_time(row[0]),
            period_end=from_db_time(row[1]),
            sent_at=from_db_time(row[2]),
            recipients=row[3],
            entry_count=row[4],
            message_id=row[5],
        )

    def record_digest(self, record: DigestRecord) -> None:
        with self._writing():
            self.db.execute(
                """INSERT INTO digests
                       (period_start, period_end, sent_at, recipients, entry_count, message_id)
                   VALUES (?, ?, ?, ?, ?, ?)
                   ON CONFLICT(period_start) DO UPDATE SET sent_at = excluded.sent_at,
                       recipients = excluded.recipients, entry_count = excluded.entry_count,
                       message_id = excluded.message_id""",
                [
                    to_db_time(record.period_start),
                    to_db_time(record.period_end),
                    to_db_time(record.sent_at),
                    record.recipients,
                    record.entry_count,
                    record.message_id,
                ],
            )


_ENTRY_COLUMNS = (
    "id, title, link, author, content_html, summary_text, language, published, updated, first_seen"
)
