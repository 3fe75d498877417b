"""Deleting what the admin no longer wants kept: the posts of feeds taken out of feeds.yaml,
and (``before``) old posts no feed still carries.

A removed feed that had moved (a permanent redirect) to a URL now configured is the same feed
under its new address, as the admin was advised to write it: its copies are carried over to
that URL, not deleted, so posts the feed no longer lists keep their history.

A post found in a configured feed as well only loses the removed feed's copy. A post still in
its feed's latest document is never deleted for its age: the next poll would store it again,
as new, and the digest would announce it a second time. The digest ledger counts posts and
keeps no reference to them, so sent digests and their archive pages stay as they were. The
search index follows the deletes by its trigger (store/search.py).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aggregator.collation import danish_key

if TYPE_CHECKING:  # annotations only: reading feed states does not import it
    import sqlite_utils


def _chunks(values: Sequence[str], size: int = 500) -> list[Sequence[str]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


@dataclass(frozen=True, slots=True)
class RemovedFeed:
    url: str
    name: str
    copies: int  # its stored posts, as status counts them
    moved_to: str | None = None  # the configured URL it moved to, which gets its copies
    carried: int = 0  # of its copies, those carried over to ``moved_to``


@dataclass(frozen=True, slots=True)
class PruneReport:
    """What a prune deletes (``applied``) or would delete."""

    feeds: tuple[RemovedFeed, ...]
    entries: int  # posts deleted in all
    by_age: int  # of which for their age alone
    copies_kept: int  # merged posts that stay, without the removed feeds' copies
    applied: bool
    carried: int = 0  # copies carried over to the URL their feed moved to


@dataclass(frozen=True, slots=True)
class CarriedCopy:
    """A removed feed's copy of a post, carried over to the configured URL it moved to."""

    old_url: str
    entry_key: str
    new_url: str
    entry_id: str  # the post it is a copy of


@dataclass(frozen=True, slots=True)
class _Plan:
    feeds: tuple[RemovedFeed, ...]
    gone: tuple[str, ...]  # entry ids whose every copy is from a removed feed
    old: tuple[str, ...]  # entry ids deleted for their age
    kept: tuple[str, ...]  # entry ids that only lose copies (or have one carried over)
    carried: tuple[CarriedCopy, ...] = ()

    @property
    def carried_ids(self) -> frozenset[str]:
        """The posts the carried copies are of."""
        return frozenset(copy.entry_id for copy in self.carried)


def plan_prune(
    db: sqlite_utils.Database,
    keep: Collection[str],
    before: str | None,
    only: Collection[str] | None = None,
) -> _Plan:
    """What to delete when only the feeds ``keep`` are configured (of the removed feeds, those
    in ``only`` when given). Reads only."""
    keeping = json.dumps(sorted(keep))
    found = [
        row
        for row in db.execute(
            """SELECT f.url, f.name,
                      (SELECT count(*) FROM entry_sources s WHERE s.feed_url = f.url),
                      coalesce(f.moved_to, f.redirect_target)
               FROM feeds f WHERE f.url NOT IN (SELECT value FROM json_each(?))""",
            [keeping],
        ).fetchall()
        if only is None or row[0] in only
    ]
    found.sort(key=lambda row: (danish_key(row[1]), row[0]))  # as prune lists them
    carried = [
        CarriedCopy(old, key, new, entry_id)
        for old, _, _, new in found
        if new in keep
        for key, entry_id in db.execute(
            # A copy moves unless the new URL already has this post or this key.
            """SELECT s.entry_key, s.entry_id FROM entry_sources s WHERE s.feed_url = :old
               AND NOT EXISTS (SELECT 1 FROM entry_sources n WHERE n.feed_url = :new
                               AND (n.entry_key = s.entry_key OR n.entry_id = s.entry_id))
               ORDER BY s.entry_key""",
            {"old": old, "new": new},
        )
    ]
    carried = _once_each(carried)
    carried_ids = {copy.entry_id for copy in carried}
    removed = json.dumps([url for url, *_ in found])
    touched = [
        (entry_id, bool(configured) or entry_id in carried_ids)
        for entry_id, configured in db.execute(
            """SELECT e.id, EXISTS (SELECT 1 FROM entry_sources k WHERE k.entry_id = e.id
                                    AND k.feed_url IN (SELECT value FROM json_each(:keep)))
               FROM entries e
               WHERE e.primary_feed_url IN (SELECT value FROM json_each(:removed))
                  OR e.id IN (SELECT s.entry_id FROM entry_sources s
                              WHERE s.feed_url IN (SELECT value FROM json_each(:removed)))
               ORDER BY e.id""",
            {"keep": keeping, "removed": removed},
        )
    ]
    gone = tuple(entry_id for entry_id, configured in touched if not configured)
    kept = tuple(entry_id for entry_id, configured in touched if configured)
    old: tuple[str, ...] = ()
    if before is not None:
        old = tuple(
            entry_id
            for (entry_id,) in db.execute(
                """WITH latest AS (SELECT feed_url, max(last_seen) AS seen FROM entry_sources
                                   GROUP BY feed_url)
                   SELECT e.id FROM entries e WHERE e.published < :before
                   AND NOT EXISTS (
                       SELECT 1 FROM entry_sources s JOIN latest l ON l.feed_url = s.feed_url
                       WHERE s.entry_id = e.id
                         AND s.feed_url IN (SELECT value FROM json_each(:keep))
                         AND s.last_seen = l.seen)
                   ORDER BY e.id""",
                {"before": before, "keep": keeping},
            )
        )
        kept = tuple(sorted(set(kept) - set(old)))
        old = tuple(sorted(set(old) - set(gone)))
        carried = [copy for copy in carried if copy.entry_id not in set(old)]
    feeds = tuple(
        RemovedFeed(url, name, copies, target if target in keep else None,
                    sum(1 for copy in carried if copy.old_url == url))
        for url, name, copies, target in found
    )  # fmt: skip
    return _Plan(feeds, gone, old, kept, tuple(carried))


def _once_each(carried: list[CarriedCopy]) -> list[CarriedCopy]:
    """Two removed feeds that moved to the same URL may hold the same post or the same key:
    the new URL gets one copy of each post and one of each key (its primary key)."""
    keys: set[tuple[str, str]] = set()
    posts: set[tuple[str, str]] = set()
    kept = []
    for copy in carried:
        if (copy.new_url, copy.entry_key) in keys or (copy.new_url, copy.entry_id) in posts:
            continue
        keys.add((copy.new_url, copy.entry_key))
        posts.add((copy.new_url, copy.entry_id))
        kept.append(copy)
    return kept


def apply_prune(db: sqlite_utils.Database, found: _Plan) -> list[str]:
    """Delete what ``found`` names; the caller holds the write transaction. Returns the ids of
    the posts kept whose sources changed, for the search index."""
    removed = [f.url for f in found.feeds]
    db.conn.executemany(
        "UPDATE entry_sources SET feed_url = ? WHERE feed_url = ? AND entry_key = ?",
        [(copy.new_url, copy.old_url, copy.entry_key) for copy in found.carried],
    )
    for feed in found.feeds:
        if feed.moved_to is not None:  # a split it was told to keep apart stays apart
            db.execute(
                "UPDATE OR IGNORE merge_exclusions SET feed_url = ? WHERE feed_url = ?",
                [feed.moved_to, feed.url],
            )
    _delete_entries(db, [*found.gone, *found.old])
    marks = ",".join("?" * len(removed))
    for chunk in _chunks(list(found.kept)):
        ids = ",".join("?" * len(chunk))
        db.execute(
            f"DELETE FROM entry_sources WHERE entry_id IN ({ids}) AND feed_url IN ({marks})",
            [*chunk, *removed],
        )
        _elect_configured_primary(db, chunk, removed)
    if removed:
        db.execute(f"DELETE FROM merge_exclusions WHERE feed_url IN ({marks})", removed)
        db.execute(f"DELETE FROM entry_sources WHERE feed_url IN ({marks})", removed)
        db.execute(f"DELETE FROM feeds WHERE url IN ({marks})", removed)
    return list(found.kept)


def _elect_configured_primary(db: sqlite_utils.Database, ids: Sequence[str],
                              removed: Sequence[str]) -> None:  # fmt: skip
    """A kept post whose shown copy was a removed feed's shows the remaining copy that ranks
    first, as a poll would elect it (``source_rank``). Only the shown copy's text is stored,
    so that copy's feed is fetched in full again and its next poll writes the text (as
    ``split`` does)."""
    from aggregator.store.entries import source_rank  # the writer's modules: not for status
    from aggregator.store.times import from_db_time

    marks = ",".join("?" * len(removed))
    orphans = [
        entry_id
        for (entry_id,) in db.execute(
            f"""SELECT id FROM entries WHERE id IN ({",".join("?" * len(ids))})
                AND primary_feed_url IN ({marks})""",
            [*ids, *removed],
        )
    ]
    for entry_id in orphans:
        copies = db.execute(
            """SELECT f.priority, f.site_url, s.link, s.published, s.feed_url
               FROM entry_sources s JOIN feeds f ON f.url = s.feed_url WHERE s.entry_id = ?""",
            [entry_id],
        ).fetchall()
        if not copies:
            continue
        best = min(copies, key=lambda c: source_rank(c[0], c[1], c[2], from_db_time(c[3]), c[4]))
        feed_url = best[4]
        db.execute("UPDATE entries SET primary_feed_url = ? WHERE id = ?", [feed_url, entry_id])
        db.execute(
            """UPDATE entry_sources SET content_hash = '', consecutive_changes = 0
               WHERE entry_id = ?""",
            [entry_id],
        )
        db.execute(
            """UPDATE feeds SET etag = NULL, last_modified = NULL, body_hash = NULL,
                      next_poll_at = NULL WHERE url = ?""",
            [feed_url],
        )


def _delete_entries(db: sqlite_utils.Database, ids: Sequence[str]) -> None:
    """Each post with everything that refers to it: copies, tags, files, sketch hashes (by
    their primary key, from the post's own list) and, by trigger, its search document."""
    execute, many = db.conn.execute, db.conn.executemany
    for chunk in _chunks(ids):
        marks = ",".join("?" * len(chunk))
        many(
            "DELETE FROM entry_sketches WHERE hash = ? AND entry_row = ?",
            [
                (int(value), row)
                for row, sketch in execute(
                    f"SELECT rowid, sketch FROM entries WHERE id IN ({marks})", chunk
                )
                for value in sketch.split()
            ],
        )
        for table in ("entry_sources", "entry_categories", "entry_enclosures"):
            execute(f"DELETE FROM {table} WHERE entry_id IN ({marks})", chunk)
        execute(f"DELETE FROM entries WHERE id IN ({marks})", chunk)
