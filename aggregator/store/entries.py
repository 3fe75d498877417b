"""Writing entries: identity inside a feed, merging the same post across feeds, and which
copy is shown. Called by Store.apply inside its transaction."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import sqlite_utils

from aggregator.canonical import without_session
from aggregator.dedup import (
    COMMON_VALUE,
    MAX_CANDIDATES,
    MIN_SHARED_SKETCH,
    DedupSettings,
    best_match,
    boilerplate,
    near_identical,
    title_similarity,
)
from aggregator.normalise import (
    canonical_url,
    entry_id,
    html_to_text,
    sanitised_text,
)
from aggregator.store.migrations import ARCHIVE_CHANGE_OF_ENTRY
from aggregator.store.search import SearchIndex
from aggregator.store.times import from_db_time, to_db_time
from aggregator.types import (
    EntryPlan,
)


@dataclass(frozen=True, slots=True)
class MergeRules:
    dedup: DedupSettings = field(default_factory=DedupSettings)
    max_consecutive_changes: int = 5


@dataclass(frozen=True, slots=True)
class SourceRow:
    entry_id: str
    content_hash: str
    changes: int
    key: str
    published: str | None = None  # as stored
    link: str | None = None  # as written, fragment and all


@dataclass(slots=True)
class KnownSources:
    """One feed's stored copies, loaded once per update and kept current while it runs."""

    by_key: dict[str, SourceRow]
    by_link: dict[str, list[SourceRow]]  # by canonical link
    excluded: set[str]
    by_title_date: dict[tuple[str, str], SourceRow] = field(default_factory=dict)
    by_published: dict[str, list[SourceRow]] = field(default_factory=dict)  # as stored
    claimed: set[str] = field(default_factory=set)  # keys matched in this update
    in_document: set[str] = field(default_factory=set)  # every key of the current document
    # Stored copies found again under a new key by their link (see pair_moved).
    moved: dict[str, SourceRow] = field(default_factory=dict)

    def pair_moved(self, entries: Sequence[EntryPlan]) -> None:
        """The stored copy each new key of the update is, found by its link: one whose key
        has left the document (an id that changed while the link stayed; a post of a news
        index whose text was edited, keyed by what it says). Several posts can share a link,
        so a copy with the same text goes first; then, where the link is not one copy's
        alone, only a copy with the same publication date: a news index's new post is not
        the old one that left the feed as it came. Done for the whole update at once, so no
        post takes the copy another has the same text as. First of all a copy with the very
        link written now and the same text: a post whose key changed while its link did not
        (its feed's ids no longer trusted) is not taken by another post whose link is only
        the same in canonical form (the daily page of an anchor's post)."""
        self._pair_written(entries)
        waiting = [
            e
            for e in entries
            if e.key not in self.by_key and e.key not in self.moved
            and e.canonical_url and e.canonical_url in self.by_link
        ]  # fmt: skip
        if not waiting:
            return
        taken = {r.key for r in self.moved.values()}
        free = {
            link: [r for r in rows if r.key not in self.in_document
                   and r.key not in self.claimed and r.key not in taken]
            for link, rows in self.by_link.items()
            if any(e.canonical_url == link for e in waiting)
        }  # fmt: skip
        for exact in (True, False):
            for entry in waiting:
                link = entry.canonical_url or ""
                rows = free[link]
                if entry.key in self.moved or not rows:
                    continue
                row = next((r for r in rows if r.content_hash == entry.content_hash), None)
                if row is None and not exact:
                    if entry.shared_link or len(self.by_link[link]) > 1:
                        published = to_db_time(entry.published)
                        row = next((r for r in rows if r.published == published), None)
                    else:
                        row = rows[0]
                if row is not None:
                    rows.remove(row)
                    self.moved[entry.key] = row

    def _pair_written(self, entries: Sequence[EntryPlan]) -> None:
        new = [e for e in entries if e.key not in self.by_key and e.link]
        if not new:
            return
        written: dict[str, list[SourceRow]] = {}
        for row in self.by_key.values():
            if row.link and row.key not in self.in_document and row.key not in self.claimed:
                written.setdefault(row.link, []).append(row)
        for entry in new:
            rows = written.get(entry.link or "", [])
            found = next((r for r in rows if r.content_hash == entry.content_hash), None)
            if found is not None:
                rows.remove(found)
                self.moved[entry.key] = found


@dataclass(slots=True)
class MergeLookup:
    """What the index says about one update's new entries; kept current as it inserts."""

    # canonical URL -> (entry id, published) of other feeds' posts, oldest first
    by_url: dict[str, list[tuple[str, datetime]]] = field(default_factory=dict)
    by_hash: dict[int, list[str]] = field(default_factory=dict)
    by_title: dict[str, list[str]] = field(default_factory=dict)

    def add(self, target: str, entry: EntryPlan) -> None:
        # Not by URL: the update's own entries are one feed's, and inside one feed two
        # entries are two posts.
        for value in entry.sketch:
            self.by_hash.setdefault(value, []).append(target)
        if entry.title_key:
            self.by_title.setdefault(entry.title_key, []).append(target)


def _chunks(values: Sequence[Any], size: int = 500) -> list[Sequence[Any]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


@dataclass(frozen=True, slots=True)
class FeedRow:
    url: str
    priority: int
    merge: bool
    site_url: str | None
    last_success_at: str | None
    removed_at: str | None = None  # left feeds.yaml then; its next success is a first poll

    @property
    def first_poll(self) -> bool:
        """This poll brings the feed's back catalogue: its first success, or its first since
        it was put back into feeds.yaml."""
        return self.last_success_at is None or self.removed_at is not None


def _merging_url(entry: EntryPlan) -> str | None:
    """The canonical link the post is merged and named by: none for a link that other posts of
    its document share (a news index), which is no post's address. Its feed's own copies
    are still found by it (entry_sources keeps it)."""
    return None if entry.shared_link else entry.canonical_url


def _new_ids(feed_url: str, entry: EntryPlan) -> Iterator[str]:
    """The ids a new post may take, in turn, until one is free: its link's (one id for the
    post in every feed); if a copy kept apart has it (merging off, or split), the feed's own
    by its key; if a post re-keyed away from this key still has that (ids stay), a fresh
    one. Attached to whichever entry held the id, the new post was lost inside another."""
    yield entry_id(feed_url, entry.key, _merging_url(entry))
    yield entry_id(feed_url, entry.key, None)
    for attempt in itertools.count(2):
        yield entry_id(feed_url, f"{entry.key}\0{attempt}", None)


def _host(url: str | None) -> str:
    return (urlsplit(url).hostname or "").lower().removeprefix("www.") if url else ""


def source_rank(
    priority: int, site_url: str | None, link: str | None, published: datetime, feed_url: str
) -> tuple[int, int, datetime, str]:
    """Sort key of a source as the primary of a post: the smallest wins."""
    own_site = bool(link) and _host(link) == _host(site_url)
    return (-priority, -int(own_site), published, feed_url)


class EntryWriter:
    """Applies one feed's entries; the caller owns the transaction."""

    def __init__(self, db: sqlite_utils.Database, deferred: Callable[[], bool] = bool) -> None:
        self.db = db
        # Whether the search index may wait for index_pending() (a batch of updates, which
        # calls it before each commit): FTS5 writes out its pending terms at every savepoint,
        # so indexing inside each update's savepoint made a segment per feed.
        self._deferred = deferred
        self._unindexed: set[str] = set()
        # Sketch rows (hash, the entry's rowid) of the entries inserted by the current update,
        # written in one statement by flush(): eight single-row inserts per entry were a third
        # of a cold poll's SQL.
        self._pending_sketches: list[tuple[int, int]] = []
        # In a batch, an update's sketch rows are written after its savepoint, before the
        # next update's (write_settled): eight rows an entry at random places of the index,
        # and inside a savepoint SQLite copies every page it first touches to the savepoint's
        # journal, 16 KB each, which was a third of a cold poll's store CPU. ``_unsettled``:
        # the current update's, until its savepoint is released; ``_settled``: written next.
        self._unsettled_sketches: list[tuple[int, int]] = []
        self._settled_sketches: list[tuple[int, int]] = []
        # Categories and enclosures of the entries written by the current update, likewise.
        self._pending_categories: list[tuple[str, int, str]] = []
        self._pending_enclosures: list[tuple[str, int, str, str | None, int | None]] = []
        # Entries whose search document the current update must rewrite, at flush().
        self.search = SearchIndex(db)
        self._touched: set[str] = set()
        # The stems a plan brought for the text written to an entry (see SearchIndex.reindex).
        self._prepared: dict[str, tuple[str, str, tuple[str, str, str]]] = {}
        # Entries the current update gave a source, a tag or a file: their feeds' counters are
        # raised once at its end (see versions_bumped_once).
        self._bumped: set[str] = set()
        # Entries the current update inserted: found by the archive by rowid, so of the
        # bumped ones only the others are logged as archive changes (migration 16).
        self._inserted: set[str] = set()

    def flush(self, ending: bool = False) -> None:
        """Write what the current update has left pending; the caller's transaction holds.
        ``ending``: the update's last flush; in a batch its sketch rows then wait for its
        savepoint to be released (see settle)."""
        rows, self._pending_sketches = sorted(self._pending_sketches), []
        if ending and self._deferred():
            self._unsettled_sketches = rows
        else:
            self._write_sketches(rows)
        categories, self._pending_categories = self._pending_categories, []
        for chunk in _chunks(categories, 300):
            self.db.execute(
                "INSERT OR REPLACE INTO entry_categories (entry_id, position, term) VALUES "
                + ",".join(["(?, ?, ?)"] * len(chunk)),
                [value for row in chunk for value in row],
            )
        enclosures, self._pending_enclosures = self._pending_enclosures, []
        for chunk in _chunks(enclosures, 180):
            self.db.execute(
                "INSERT OR REPLACE INTO entry_enclosures (entry_id, position, url, type, length) "
                "VALUES " + ",".join(["(?, ?, ?, ?, ?)"] * len(chunk)),
                [value for row in chunk for value in row],
            )
        touched, self._touched = self._touched, set()
        self._unindexed |= touched
        if not self._deferred():
            self.index_pending()

    def _write_sketches(self, rows: Sequence[tuple[int, int]]) -> None:
        for chunk in _chunks(rows, 400):
            self.db.execute(
                "INSERT OR IGNORE INTO entry_sketches (hash, entry_row) VALUES "
                + ",".join(["(?, ?)"] * len(chunk)),
                [value for row in chunk for value in row],
            )

    def settle(self, kept: bool) -> None:
        """The current update's savepoint was released (``kept``) or rolled back: its sketch
        rows are to be written, or forgotten."""
        if kept:
            self._settled_sketches += self._unsettled_sketches
        self._unsettled_sketches = []

    def write_settled(self) -> None:
        """Write the sketch rows of the updates that are done; outside any savepoint, so
        SQLite journals none of the pages, and before any later update reads the index."""
        rows, self._settled_sketches = self._settled_sketches, []
        self._write_sketches(rows)

    @contextmanager
    def versions_bumped_once(self) -> Iterator[None]:
        """One feed update's writes, with migration 14's insert triggers standing aside: each
        feed carrying an entry it gave a source, a tag or a file has its counter raised once,
        at the end, instead of once per row. The marker row and the raises are in the
        caller's savepoint, so an update that fails leaves neither."""
        self.db.execute("INSERT OR IGNORE INTO versions_deferred (writer) VALUES (1)")
        try:
            yield
            self.flush(ending=True)
            for chunk in _chunks(sorted(self._bumped)):
                marks = ",".join("?" * len(chunk))
                self.db.execute(
                    f"""UPDATE feeds SET entries_version = entries_version + 1 WHERE url IN
                        (SELECT feed_url FROM entry_sources WHERE entry_id IN ({marks}))""",
                    chunk,
                )
            for chunk in _chunks(sorted(self._bumped - self._inserted)):
                self.db.execute(
                    ARCHIVE_CHANGE_OF_ENTRY.format(f"IN ({','.join('?' * len(chunk))})"),
                    chunk,
                )
            self.db.execute("DELETE FROM versions_deferred")
        finally:
            self._bumped, self._inserted = set(), set()

    def index_pending(self) -> None:
        """Index the entries the updates since the last call wrote: outside any update's
        savepoint, so FTS5 writes one segment for all of them. Rows read as they are now, so
        an update rolled back since is indexed as it stands (or not at all)."""
        self.write_settled()
        unindexed, self._unindexed = self._unindexed, set()
        self.search.reindex(unindexed, self._prepared)  # last: a document has the categories
        self._prepared = {}

    def discard(self) -> None:
        """Forget what the current update left pending (it ended, or rolled back)."""
        self._pending_sketches = []
        self._touched = set()
        if not self._unindexed:
            self._prepared = {}
        self._pending_categories = []
        self._pending_enclosures = []

    def _add_attachments(self, target: str, entry: EntryPlan) -> None:
        self._bumped.add(target)
        self._pending_categories.extend(
            (target, position, term) for position, term in enumerate(entry.categories)
        )
        self._pending_enclosures.extend(
            (target, position, e.url, e.type, e.length)
            for position, e in enumerate(entry.enclosures)
        )

    def _replace_attachments(self, target: str, entry: EntryPlan) -> None:
        """The shown copy's categories and enclosures, in place of what was stored. Written
        only when they differ: an unchanged post's rows are left alone (a rewrite would count
        as a change of the feed's pages, see migration 12)."""
        self.flush()  # the target may be an entry inserted by this very update
        categories = [
            term
            for (term,) in self.db.execute(
                "SELECT term FROM entry_categories WHERE entry_id = ? ORDER BY position", [target]
            )
        ]
        enclosures = [
            (url, kind, length)
            for url, kind, length in self.db.execute(
                """SELECT url, type, length FROM entry_enclosures WHERE entry_id = ?
                   ORDER BY position""",
                [target],
            )
        ]
        wanted = [(e.url, e.type, e.length) for e in entry.enclosures]
        if categories == list(entry.categories) and enclosures == wanted:
            return
        self.db.execute("DELETE FROM entry_categories WHERE entry_id = ?", [target])
        self.db.execute("DELETE FROM entry_enclosures WHERE entry_id = ?", [target])
        self._add_attachments(target, entry)
        # Its search document names its categories (tag:): indexed again at the next flush,
        # after the new ones are written (an earlier flush in this update may have indexed it).
        self._touched.add(target)

    def known_sources(self, feed_url: str) -> KnownSources:
        """Everything the feed's stored copies say about identity, in two queries per feed
        rather than several per entry."""
        by_key: dict[str, SourceRow] = {}
        by_link: dict[str, list[SourceRow]] = {}
        by_title_date: dict[tuple[str, str], SourceRow] = {}
        by_published: dict[str, list[SourceRow]] = {}
        for key, target, content_hash, changes, link, published, title, written in self.db.execute(
            """SELECT s.entry_key, s.entry_id, s.content_hash, s.consecutive_changes,
                      s.canonical_url, s.published, e.title_key, s.link
               FROM entry_sources s JOIN entries e ON e.id = s.entry_id
               WHERE s.feed_url = ?""",
            [feed_url],
        ):
            row = SourceRow(target, content_hash, changes, key, published, written)
            by_key[key] = row
            if link:
                # Stored before a session id counted for nothing: in today's form. A fragment
                # stored is one the feed tells its posts apart by: kept, or every anchor of a
                # daily page was the page, and a new key linking to it took one of them.
                today = canonical_url(without_session(link), keep_fragment="#" in link)
                by_link.setdefault(today or link, []).append(row)
            if published:
                by_published.setdefault(published, []).append(row)
                if title:
                    by_title_date.setdefault((title, published), row)
        excluded = {
            key
            for (key,) in self.db.execute(
                "SELECT entry_key FROM merge_exclusions WHERE feed_url = ?", [feed_url]
            )
        }
        return KnownSources(by_key, by_link, excluded, by_title_date, by_published)

    def mark_unchanged(self, feed_url: str, keys: Sequence[str], now: datetime,
                       known: KnownSources | None) -> None:  # fmt: skip
        """Entries the feed repeated exactly: seen again, and theirs to keep in this update."""
        seen = to_db_time(now)
        self.db.conn.executemany(
            """UPDATE entry_sources SET last_seen = ?, consecutive_changes = 0
               WHERE feed_url = ? AND entry_key = ?""",
            [(seen, feed_url, key) for key in keys],
        )
        if known is not None:
            known.claimed.update(keys)

    def apply_entry(
        self,
        feed: FeedRow,
        site_url: str | None,
        entry: EntryPlan,
        now: datetime,
        first_poll: bool,
        rules: MergeRules,
        known: KnownSources,
        lookup: MergeLookup,
    ) -> str:
        seen = to_db_time(now)
        row = known.by_key.get(entry.key)
        if row is None:
            row = self._rekeyed(feed, entry, known, rules.dedup)
        if row is not None:
            known.claimed.add(row.key)
            return self._update_source(
                feed, row.entry_id, row.content_hash, row.changes, entry, seen, rules
            )

        mergeable = feed.merge and entry.key not in known.excluded
        found = self._same_post(feed, entry, rules, lookup) if mergeable else None
        if found is not None:
            target, reason = found
            self._add_source(target, feed.url, entry, seen, reason)
            self._elect_primary(target, feed, site_url, entry, seen)
            if not (first_poll and not entry.dated):
                # A copy that is news (dated, or from a feed past its first poll) shows the
                # post, whichever source stored it first as archive: the order does not matter.
                self.db.conn.execute(
                    "UPDATE entries SET backfill = 0 WHERE id = ? AND backfill = 1", [target]
                )
            return "merged"
        # An undated post found on a feed's first poll is archive, not news: kept, but not
        # shown as new in the merged feed or the digest.
        backfill = first_poll and not entry.dated
        # A later poll's post is news if dated after the feed's previous success (less the
        # digest's archive_after_days), however long the gap: a feed or service down for a
        # week hides nothing. The back catalogue is measured from first_seen (NULL).
        news_from = None if first_poll else feed.last_success_at
        for target in _new_ids(feed.url, entry):
            if self._insert_entry(target, feed.url, entry, seen, backfill, not mergeable,
                                  news_from):  # fmt: skip
                break
        self._add_source(target, feed.url, entry, seen, None)
        if mergeable:
            lookup.add(target, entry)
        row = SourceRow(
            target, entry.content_hash, 0, entry.key, to_db_time(entry.published), entry.link
        )
        known.by_key[entry.key] = row
        known.claimed.add(entry.key)
        if entry.canonical_url:
            known.by_link.setdefault(entry.canonical_url, []).append(row)
        return "new"

    def redate(self, feed_url: str, entry: EntryPlan) -> bool:
        """After the source's parse settings changed (a ``date`` selector added): its stored
        copy takes the date read now, and the post with it (the earliest of the copies, if
        another is shown); a copy that is dated is news, as a merged one is (apply_entry).
        True if the post changed."""
        published = to_db_time(entry.published)
        row = self.db.execute(
            "SELECT entry_id FROM entry_sources WHERE feed_url = ? AND entry_key = ?",
            [feed_url, entry.key],
        ).fetchone()
        if row is None:
            return False
        self.db.execute(
            "UPDATE entry_sources SET published = ? WHERE feed_url = ? AND entry_key = ?",
            [published, feed_url, entry.key],
        )
        return bool(
            self.db.execute(
                """UPDATE entries SET backfill = 0,
                          published = CASE WHEN primary_feed_url = ? THEN ?
                                      ELSE min(published, ?) END,
                          updated = CASE WHEN primary_feed_url = ? THEN ? ELSE updated END
                   WHERE id = ? AND (backfill = 1 OR published IS NOT
                         CASE WHEN primary_feed_url = ? THEN ? ELSE min(published, ?) END)""",
                [feed_url, published, published, feed_url, to_db_time(entry.updated), row[0],
                 feed_url, published, published],
            ).rowcount
        )  # fmt: skip

    def _rekeyed(self, feed: FeedRow, entry: EntryPlan, known: KnownSources,
                 settings: DedupSettings) -> SourceRow | None:  # fmt: skip
        """The same entry under a new key, if its old key has left the document: found by
        its link when the id changed but the link did not (WordPress ?p=123 -> permalink,
        http -> https; see pair_moved), else by its title and date when the link changed
        with it (a list page writing a new parameter into its links on every visit), else
        by its date and text when the title changed too (an edited title whose slug
        WordPress wrote again, and the guid is the permalink)."""
        row = known.moved.get(entry.key)
        if row is None and entry.dated and entry.title_key:
            row = known.by_title_date.get((entry.title_key, to_db_time(entry.published)))
            if row is not None and (
                row.key in known.in_document or row.key in {r.key for r in known.moved.values()}
            ):
                row = None  # listed still, or another new key's copy (pair_moved)
        if row is None and entry.dated:
            row = self._rewritten(feed, entry, known, settings)
        if row is None or row.key in known.claimed:
            return None
        # It takes its canonical URL of now at once, not at its next edit: the same link may
        # have another form now (a daily page's anchor whose page lost its other posts is the
        # page), and the post is found by it across feeds.
        self.db.execute(
            """UPDATE entry_sources SET entry_key = ?, canonical_url = ?
               WHERE feed_url = ? AND entry_key = ?""",
            [entry.key, entry.canonical_url, feed.url, row.key],
        )
        if entry.link == row.link:  # else an edit, written as one if it is shown (_update_source)
            self.db.execute(
                """UPDATE entries SET canonical_url = ?
                   WHERE id = ? AND primary_feed_url = ? AND canonical_url IS NOT ?""",
                [entry.canonical_url, row.entry_id, feed.url, entry.canonical_url],
            )
        known.by_key.pop(row.key, None)
        known.claimed.add(row.key)  # gone: no other entry may take it
        moved = SourceRow(row.entry_id, row.content_hash, row.changes, entry.key, row.published,
                          row.link)  # fmt: skip
        known.by_key[entry.key] = moved
        return moved

    def _rewritten(self, feed: FeedRow, entry: EntryPlan, known: KnownSources,
                   settings: DedupSettings) -> SourceRow | None:  # fmt: skip
        """A stored copy of the feed's with the entry's very date whose key has left the
        document and whose text the entry's is, near enough (dedup.near_identical): the post
        with a new link and title. A post of the same day that says something else is
        another post; one whose key is still in the document is the publisher's own
        repost. Read from disk only for the few copies of that date that left."""
        same_date = known.by_published.get(to_db_time(entry.published), ())
        if len(same_date) > MAX_CANDIDATES:
            return None  # a date most of the feed's posts share (a fixed one) tells nothing
        taken = {r.key for r in known.moved.values()}  # other new keys' copies, by link
        by_id = {
            r.entry_id: r
            for r in same_date
            if r.key not in known.in_document and r.key not in known.claimed and r.key not in taken
        }
        if not by_id:
            return None
        stored = self.db.execute(
            f"SELECT id, content_html FROM entries WHERE id IN ({','.join('?' * len(by_id))})",
            list(by_id),
        ).fetchall()
        text = sanitised_text(entry.content_html)
        repeated = self._boilerplate(feed.url, exclude=None)
        for target, html in stored:
            if near_identical(text, html_to_text(html), settings, repeated):
                return by_id[target]
        return None

    def _update_source(
        self,
        feed: FeedRow,
        target: str,
        old_hash: str,
        changes: int,
        entry: EntryPlan,
        seen: str,
        rules: MergeRules,
    ) -> str:
        if old_hash == entry.content_hash:
            self.db.execute(
                """UPDATE entry_sources SET last_seen = ?, consecutive_changes = 0, raw_digest = ?,
                          page_unread = ?
                   WHERE feed_url = ? AND entry_key = ?""",
                [seen, entry.raw_digest or None, entry.page_unread, feed.url, entry.key],
            )
            # The text is the same but something else the feed says changed: its tags or
            # files, which are no edit to show as one but are kept current (and filled in for
            # posts stored before they were kept).
            if self._is_primary(target, feed.url):
                self._replace_attachments(target, entry)
            return "unchanged"
        changes += 1
        self.db.execute(
            """UPDATE entry_sources SET last_seen = ?, link = ?, canonical_url = ?,
                      content_hash = ?, published = ?, consecutive_changes = ?, raw_digest = ?,
                      page_unread = ?
               WHERE feed_url = ? AND entry_key = ?""",
            [seen, entry.link, entry.canonical_url, entry.content_hash,
             to_db_time(entry.published), changes, entry.raw_digest or None,
             entry.page_unread, feed.url, entry.key],
        )  # fmt: skip
        if changes > rules.max_consecutive_changes:
            # Content that changes on every poll (an embedded timestamp, a view counter) is
            # noise; rewriting the entry each time would only churn the merged feed.
            return "unchanged"
        if not self._is_primary(target, feed.url):
            return "unchanged"  # only the primary source's copy is shown
        self._write_content(target, feed.url, entry, seen, keep_published=True)
        return "updated"

    def _is_primary(self, target: str, feed_url: str) -> bool:
        primary = self.db.execute(
            "SELECT primary_feed_url FROM entries WHERE id = ?", [target]
        ).fetchone()
        return primary is not None and primary[0] == feed_url

    def merge_lookup(
        self, feed_url: str, entries: Sequence[EntryPlan], known: KnownSources
    ) -> MergeLookup:
        """Canonical URLs, sketch hashes and title keys of an update's new entries, looked up
        in three queries for the whole update instead of two per entry."""
        fresh = [e for e in entries if e.key not in known.by_key and e.key not in known.moved]
        lookup = MergeLookup()
        urls = sorted({url for e in fresh if (url := _merging_url(e))})
        hashes = sorted({h for e in fresh for h in e.sketch})
        titles = sorted({e.title_key for e in fresh if e.title_key})
        for url, target, published in self._pairs_in(
            """SELECT canonical_url, id, published FROM entries e WHERE never_merge = 0
               AND NOT EXISTS (SELECT 1 FROM entry_sources s
                               WHERE s.entry_id = e.id AND s.feed_url = ?)
               AND canonical_url IN""",
            urls,
            order="ORDER BY first_seen",
            before=[feed_url],
        ):
            lookup.by_url.setdefault(url, []).append((target, from_db_time(published)))
        lookup.by_hash.update(
            self._telling("entry_sketches", "hash", hashes,
                          post="e.id", join="JOIN entries e ON e.rowid = t.entry_row")
        )  # fmt: skip
        lookup.by_title.update(self._telling("entries", "title_key", titles))
        return lookup

    def _telling(
        self, table: str, column: str, values: Sequence[Any], post: str = "t.id", join: str = ""
    ) -> dict[Any, list[str]]:
        """The posts of each value that COMMON_VALUE or fewer posts share; a value shared by
        more says nothing (a stock phrase, a "Nyhedsbrev" title) and is left out. Each value
        reads at most COMMON_VALUE + 1 rows to count, however large the archive has grown.
        One statement of the same text for any number of values (a JSON array): a compound
        SELECT of a term per value was prepared anew for every update, and cost twice as much."""
        found: dict[Any, list[str]] = {}
        if not values:
            return found
        rows = self.db.execute(
            f"""SELECT j.value, {post} FROM json_each(?) j JOIN {table} t ON t.{column} = j.value
                {join}
                WHERE (SELECT count(*) FROM (SELECT 1 FROM {table} c WHERE c.{column} = j.value
                                             LIMIT {COMMON_VALUE + 1})) <= {COMMON_VALUE}""",
            [json.dumps(list(values))],
        )
        for value, target in rows:
            found.setdefault(value, []).append(target)
        return found

    def _pairs_in(
        self, query: str, values: Sequence[Any], order: str = "", before: Sequence[Any] = ()
    ) -> Iterator[Any]:
        """Rows of ``query ... IN (values)``, in chunks below SQLite's parameter limit;
        ``before`` are the parameters of the query ahead of the list."""
        for chunk in _chunks(values):
            marks = ",".join("?" * len(chunk))
            yield from self.db.execute(f"{query} ({marks}) {order}", [*before, *chunk])

    def _same_post(self, feed: FeedRow, entry: EntryPlan, rules: MergeRules,
                   lookup: MergeLookup | None = None) -> tuple[str, str] | None:  # fmt: skip
        """An entry from another source that is this post, with the reason; else None."""
        lookup = lookup or self.merge_lookup(feed.url, [entry], KnownSources({}, {}, set()))
        window = timedelta(days=rules.dedup.window_days)
        for target, published in lookup.by_url.get(_merging_url(entry) or "", ()):
            # A reused page (a yearly status at one URL) is not last year's post again.
            if abs(published - entry.published) <= window:
                return target, "same canonical URL"
        candidates = self._near_candidates(feed.url, entry, rules.dedup, lookup)
        if not candidates:
            return None
        rows = [
            row
            for row in self.db.execute(
                f"""SELECT id, content_html, title, primary_feed_url, link FROM entries
                    WHERE id IN ({",".join("?" * len(candidates))})""",
                candidates,
            )
            # The title test is cheap and comes first in verification: the feeds' boilerplate
            # is worth working out only for candidates that pass it.
            if title_similarity(entry.title, row[2]) >= rules.dedup.title_threshold
        ]
        if not rows:
            return None
        own_boilerplate = self._boilerplate(feed.url, exclude=None)
        boilerplate_of = {r[0]: self._boilerplate(r[3], exclude=r[0]) for r in rows}
        best = best_match(
            # Worked out again here rather than carried from the parser: only the few entries
            # with candidates need it, and every plan crosses a process boundary.
            sanitised_text(entry.content_html),
            entry.title,
            [(r[0], html_to_text(r[1]), r[2], r[4]) for r in rows],
            rules.dedup,
            own_boilerplate,
            boilerplate_of,
            entry.link,
        )
        return (best[0], best[1].reason) if best else None

    def _near_candidates(self, feed_url: str, entry: EntryPlan, settings: DedupSettings,
                         lookup: MergeLookup) -> list[str]:  # fmt: skip
        """Posts sharing at least MIN_SHARED_SKETCH sketch hashes or the title key (from the
        index, never a scan), then kept if inside the date window and from another feed."""
        shared: dict[str, int] = {}
        for value in entry.sketch:
            for target in lookup.by_hash.get(value, ()):
                shared[target] = shared.get(target, 0) + 1
        found = [t for t, count in shared.items() if count >= MIN_SHARED_SKETCH]
        found += lookup.by_title.get(entry.title_key, []) if entry.title_key else []
        if not found:
            return []
        unique = list(dict.fromkeys(found))[: MAX_CANDIDATES * 5]
        window = timedelta(days=settings.window_days)
        low, high = to_db_time(entry.published - window), to_db_time(entry.published + window)
        rows = self.db.execute(
            f"""SELECT e.id FROM entries e
                WHERE e.id IN ({",".join("?" * len(unique))})
                AND e.published BETWEEN ? AND ? AND e.never_merge = 0
                AND NOT EXISTS (SELECT 1 FROM entry_sources s
                                WHERE s.entry_id = e.id AND s.feed_url = ?)
                LIMIT ?""",
            [*unique, low, high, feed_url, MAX_CANDIDATES],
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
        self._touched.add(target)  # a new entry, or a merge: another source's name
        self._bumped.add(target)
        self.db.execute(
            """INSERT INTO entry_sources
                   (feed_url, entry_key, entry_id, link, canonical_url, content_hash, published,
                    first_seen, last_seen, merge_reason, raw_digest, page_unread)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [feed_url, entry.key, target, entry.link, entry.canonical_url, entry.content_hash,
             to_db_time(entry.published), seen, seen, reason, entry.raw_digest or None,
             entry.page_unread],
        )  # fmt: skip

    def _elect_primary(
        self, target: str, feed: FeedRow, site_url: str | None, entry: EntryPlan, seen: str
    ) -> None:
        """The new source becomes primary if it ranks first: higher priority, then the post's
        own site over an aggregating feed, then the earliest published, then the feed URL
        (so the outcome does not depend on which feed was polled first). The earliest
        published and the latest updated date of all copies are kept."""
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
            # The same dates whichever copy came first: the earliest published, the latest
            # updated of all copies.
            self.db.execute(
                "UPDATE entries SET published = min(published, ?), updated = max(updated, ?)"
                " WHERE id = ?",
                [to_db_time(entry.published), to_db_time(entry.updated), target],
            )

    def _insert_entry(self, new_id: str, feed_url: str, entry: EntryPlan, seen: str,
                      backfill: bool, never_merge: bool,
                      news_from: str | None = None) -> bool:  # fmt: skip
        """Insert the entry under ``new_id``; False, writing nothing, if that id is taken."""
        cursor = self.db.execute(
            """INSERT INTO entries (id, canonical_url, link, title, title_key, author,
                   content_html, summary_text, language, published, updated, first_seen,
                   last_changed, primary_feed_url, backfill, never_merge, sketch, news_from)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (id) DO NOTHING""",
            [new_id, _merging_url(entry), entry.link, entry.title, entry.title_key,
             entry.author, entry.content_html, entry.summary_text, entry.language,
             to_db_time(entry.published), to_db_time(entry.updated), seen, seen, feed_url,
             backfill, never_merge, " ".join(map(str, entry.sketch)), news_from],
        )  # fmt: skip
        inserted = cursor.rowcount
        if inserted:
            self._inserted.add(new_id)
            self._prepare(new_id, entry)
            row = int(cursor.lastrowid or 0)
            self._pending_sketches.extend((value, row) for value in entry.sketch)
            self._add_attachments(new_id, entry)
        return bool(inserted)

    def _replace_sketch(self, target: str, sketch: Sequence[int]) -> None:
        self.flush()  # the target may be an entry inserted by this very update
        row, old = self.db.execute(
            "SELECT rowid, sketch FROM entries WHERE id = ?", [target]
        ).fetchone()
        self.db.conn.executemany(
            "DELETE FROM entry_sketches WHERE hash = ? AND entry_row = ?",
            [(int(value), row) for value in old.split()],
        )
        self.db.execute(
            "UPDATE entries SET sketch = ? WHERE id = ?", [" ".join(map(str, sketch)), target]
        )
        self._pending_sketches.extend((value, row) for value in sketch)

    def _prepare(self, target: str, entry: EntryPlan) -> None:
        if entry.stemmed is not None:
            self._prepared[target] = (entry.title, entry.content_html, entry.stemmed)

    def _write_content(self, target: str, feed_url: str, entry: EntryPlan, seen: str,
                       keep_published: bool) -> None:  # fmt: skip
        """Show this source's copy: after an edit by the primary, or on a change of primary."""
        self._touched.add(target)
        self._prepare(target, entry)
        self.db.execute(
            """UPDATE entries SET primary_feed_url = ?, canonical_url = ?, link = ?, title = ?,
                      title_key = ?, author = ?, content_html = ?, summary_text = ?,
                      language = ?, last_changed = ?,
                      published = CASE WHEN ? THEN published ELSE min(published, ?) END,
                      -- an edit: the feed's own date when it moved on, else the time we saw
                      -- it; a change of primary: the latest of the copies' own dates, never
                      -- the time of the merge (which depends on the order of the polls)
                      updated = CASE WHEN ? > updated THEN ? WHEN ? THEN ? ELSE updated END
               WHERE id = ?""",
            [feed_url, _merging_url(entry), entry.link, entry.title, entry.title_key,
             entry.author, entry.content_html, entry.summary_text, entry.language, seen,
             keep_published, to_db_time(entry.published), to_db_time(entry.updated),
             to_db_time(entry.updated), keep_published, seen, target],
        )  # fmt: skip
        self._replace_sketch(target, entry.sketch)
        self._replace_attachments(target, entry)

    # -----------------------------------------------------------------------------------------
