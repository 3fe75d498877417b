"""SQLite storage through sqlite-utils. All SQL of the package lives in this module.

Times are stored as ISO 8601 text in UTC with a fixed width, so text order is time order and
the indexes on dates serve range queries directly.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlite_utils

from aggregator.errors import StorageError
from aggregator.normalise import entry_id
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


MIGRATIONS: Sequence[Callable[[sqlite_utils.Database], None]] = (
    _v1_initial,
    _v2_polling_state,
)

# A permanent redirect must be seen on this many polls in a row before the feed moves.
REDIRECT_CONFIRMATIONS = 2
SCHEMA_VERSION = len(MIGRATIONS)


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

    def sync_feeds(self, feeds: Iterable[tuple[str, str, int]], now: datetime) -> None:
        """Make the feeds table know every configured (url, name, priority)."""
        with self._writing():
            for url, name, priority in feeds:
                self.db.execute(
                    """INSERT INTO feeds (url, name, priority, created_at) VALUES (?, ?, ?, ?)
                       ON CONFLICT(url) DO UPDATE SET name = excluded.name,
                                                      priority = excluded.priority""",
                    [url, name, priority, to_db_time(now)],
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

    def apply(self, plan: UpdatePlan, now: datetime) -> FeedUpdateResult:
        new = updated = 0
        with self._writing():
            self._record_fetch(plan, now)
            priority = self._priority(plan.feed_url)
            for entry in plan.entries:
                outcome = self._apply_entry(plan.feed_url, priority, entry, now)
                new += outcome == "new"
                updated += outcome == "updated"
        return FeedUpdateResult(
            feed_url=plan.feed_url,
            new=new,
            updated=updated,
            not_modified=plan.not_modified,
            error=plan.error,
        )

    def _priority(self, feed_url: str) -> int:
        row = self.db.execute("SELECT priority FROM feeds WHERE url = ?", [feed_url]).fetchone()
        if row is None:
            raise StorageError(f"feed {feed_url} is not in the database; sync_feeds first")
        return int(row[0])

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

    def _apply_entry(self, feed_url: str, priority: int, entry: EntryPlan, now: datetime) -> str:
        seen = to_db_time(now)
        row = self.db.execute(
            "SELECT entry_id, content_hash FROM entry_sources WHERE feed_url = ? AND entry_key = ?",
            [feed_url, entry.key],
        ).fetchone()
        if row is not None:
            existing_id, old_hash = row
            self.db.execute(
                """UPDATE entry_sources SET last_seen = ?, link = ?, content_hash = ?
                   WHERE feed_url = ? AND entry_key = ?""",
                [seen, entry.link, entry.content_hash, feed_url, entry.key],
            )
            if old_hash == entry.content_hash:
                return "unchanged"
            # Only the primary source rewrites the shared entry, so two sources with different
            # excerpts of the same post cannot overwrite each other on every poll.
            self.db.execute(
                """UPDATE entries SET title = ?, link = ?, author = ?, content_html = ?,
                          summary_text = ?, language = ?, last_changed = ?,
                          -- the feed's own date when it moved on, else the time we saw the edit
                          updated = CASE WHEN ? > updated THEN ? ELSE ? END
                   WHERE id = ? AND primary_feed_url = ?""",
                [
                    entry.title,
                    entry.link,
                    entry.author,
                    entry.content_html,
                    entry.summary_text,
                    entry.language,
                    seen,
                    to_db_time(entry.updated),
                    to_db_time(entry.updated),
                    seen,
                    existing_id,
                    feed_url,
                ],
            )
            return "updated"

        match = None
        if entry.canonical_url:
            match = self.db.execute(
                """SELECT e.id, f.priority FROM entries e JOIN feeds f ON f.url = e.primary_feed_url
                   WHERE e.canonical_url = ? LIMIT 1""",
                [entry.canonical_url],
            ).fetchone()
        if match is not None:
            target, primary_priority = match
            if priority > primary_priority:
                self._overwrite(target, feed_url, entry, seen)
            outcome = "merged"
        else:
            target = entry_id(feed_url, entry.key, entry.canonical_url)
            if self.db.execute("SELECT 1 FROM entries WHERE id = ?", [target]).fetchone():
                target = entry_id(feed_url, entry.key, None)
            self._insert_entry(target, feed_url, entry, seen)
            outcome = "new"
        self.db.execute(
            """INSERT INTO entry_sources
                   (feed_url, entry_key, entry_id, link, content_hash, first_seen, last_seen)
               VALUES (?, ?, ?, ?, ?, ?, ?)""",
            [feed_url, entry.key, target, entry.link, entry.content_hash, seen, seen],
        )
        return outcome

    def _insert_entry(self, new_id: str, feed_url: str, entry: EntryPlan, seen: str) -> None:
        self.db.execute(
            """INSERT INTO entries (id, canonical_url, link, title, author, content_html,
                   summary_text, language, published, updated, first_seen, last_changed,
                   primary_feed_url)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                new_id,
                entry.canonical_url,
                entry.link,
                entry.title,
                entry.author,
                entry.content_html,
                entry.summary_text,
                entry.language,
                to_db_time(entry.published),
                to_db_time(entry.updated),
                seen,
                seen,
                feed_url,
            ],
        )

    def _overwrite(self, target: str, feed_url: str, entry: EntryPlan, seen: str) -> None:
        """A higher-priority source takes over as primary; its copy becomes the shown one."""
        self.db.execute(
            """UPDATE entries SET primary_feed_url = ?, link = ?, title = ?, author = ?,
                      content_html = ?, summary_text = ?, language = ?, last_changed = ?,
                      published = min(published, ?)
               WHERE id = ?""",
            [
                feed_url,
                entry.link,
                entry.title,
                entry.author,
                entry.content_html,
                entry.summary_text,
                entry.language,
                seen,
                to_db_time(entry.published),
                target,
            ],
        )

    # -----------------------------------------------------------------------------------------
    # Reading entries for export and digest

    def recent_entries(self, limit: int) -> list[StoredEntry]:
        rows = self.db.execute(
            f"SELECT {_ENTRY_COLUMNS} FROM entries ORDER BY published DESC, id LIMIT ?", [limit]
        ).fetchall()
        return self._with_sources(rows)

    def entries_published_between(self, start: datetime, end: datetime) -> list[StoredEntry]:
        rows = self.db.execute(
            f"""SELECT {_ENTRY_COLUMNS} FROM entries
                WHERE published >= ? AND published < ? ORDER BY published, id""",
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
