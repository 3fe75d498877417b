"""Schema migrations: append only. Each runs in one transaction with the version bump."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: reading feed states does not import it
    import sqlite_utils


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
    from aggregator.dedup import sketch, title_key
    from aggregator.normalise import canonical_url, html_to_text

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


def _v5_compact_sketch_index(db: sqlite_utils.Database) -> None:
    """One B-tree for the sketch index instead of a table and two indexes: writing 16 hashes
    per entry was a third of a cold poll's SQL time. Each entry keeps its own hashes, so a
    rewrite deletes them through the primary key."""
    db.execute("ALTER TABLE entries ADD COLUMN sketch TEXT NOT NULL DEFAULT ''")
    db.execute(
        """UPDATE entries SET sketch = coalesce(
               (SELECT group_concat(hash, ' ') FROM entry_sketches WHERE entry_id = entries.id),
               '')"""
    )
    db.execute(
        """CREATE TABLE entry_sketch_index (
               hash INTEGER NOT NULL,
               entry_id TEXT NOT NULL,
               PRIMARY KEY (hash, entry_id)
           ) WITHOUT ROWID"""
    )
    db.execute("INSERT OR IGNORE INTO entry_sketch_index SELECT hash, entry_id FROM entry_sketches")
    db.execute("DROP TABLE entry_sketches")
    db.execute("ALTER TABLE entry_sketch_index RENAME TO entry_sketches")


def _v6_raw_digests(db: sqlite_utils.Database) -> None:
    """What each feed last said about each entry, so a repeated entry is not normalised again;
    and an index no query uses any more, which every new entry paid to write."""
    db.execute("ALTER TABLE entry_sources ADD COLUMN raw_digest TEXT")
    db.execute("DROP INDEX entry_sources_feed_canonical")


def _v7_categories_and_enclosures(db: sqlite_utils.Database) -> None:
    """What each post is tagged with and what files it carries, in the feed's order, so the
    outputs can select by tag and pass podcast enclosures on. Filled for older posts when
    their feed next changes them (NORMALISE_VERSION 2 makes every entry look changed once)."""
    db.execute(
        """CREATE TABLE entry_categories (
               entry_id TEXT NOT NULL REFERENCES entries(id),
               position INTEGER NOT NULL,
               term TEXT NOT NULL,
               PRIMARY KEY (entry_id, position)
           ) WITHOUT ROWID"""
    )
    db.execute("CREATE INDEX entry_categories_term ON entry_categories(term COLLATE NOCASE)")
    db.execute(
        """CREATE TABLE entry_enclosures (
               entry_id TEXT NOT NULL REFERENCES entries(id),
               position INTEGER NOT NULL,
               url TEXT NOT NULL,
               type TEXT,
               length INTEGER,
               PRIMARY KEY (entry_id, position)
           ) WITHOUT ROWID"""
    )


def _v8_digest_ledger(db: sqlite_utils.Database) -> None:
    """Named digests and a delivery ledger with a row per recipient, so each person gets a
    digest exactly once; and an index for the digest's first-seen windows. The digests sent
    before become runs of ``default`` with every recorded recipient sent (no resend)."""
    db.execute(
        """CREATE TABLE digest_runs (
               id INTEGER PRIMARY KEY,
               digest TEXT NOT NULL,
               kind TEXT NOT NULL,
               period_start TEXT NOT NULL,
               period_end TEXT NOT NULL,
               window_start TEXT NOT NULL,
               window_end TEXT NOT NULL,
               entry_count INTEGER NOT NULL,
               created_at TEXT NOT NULL,
               skipped TEXT,
               UNIQUE (digest, period_start)
           )"""
    )
    db.execute(
        """CREATE TABLE digest_deliveries (
               run_id INTEGER NOT NULL REFERENCES digest_runs(id),
               recipient TEXT NOT NULL,
               state TEXT NOT NULL
                   CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'retry')),
               message_id TEXT NOT NULL,
               attempts INTEGER NOT NULL DEFAULT 0,
               next_attempt_at TEXT,
               last_code INTEGER,
               last_reply TEXT,
               updated_at TEXT NOT NULL,
               sent_at TEXT,
               PRIMARY KEY (run_id, recipient)
           )"""
    )
    db.execute("CREATE INDEX entries_first_seen ON entries(first_seen)")
    rows = db.execute(
        "SELECT period_start, period_end, sent_at, recipients, entry_count, message_id FROM digests"
    ).fetchall()
    for start, end, sent_at, recipients, count, message_id in rows:
        cursor = db.execute(
            """INSERT INTO digest_runs (digest, kind, period_start, period_end, window_start,
                   window_end, entry_count, created_at)
               VALUES ('default', 'week', ?, ?, ?, ?, ?, ?)""",
            [start, end, start, end, count, sent_at],
        )
        for address in filter(None, (a.strip() for a in recipients.split(","))):
            db.execute(
                """INSERT INTO digest_deliveries (run_id, recipient, state, message_id,
                       attempts, updated_at, sent_at)
                   VALUES (?, ?, 'sent', ?, 1, ?, ?)""",
                [cursor.lastrowid, address, message_id, sent_at, sent_at],
            )
    db.execute("DROP TABLE digests")


def _v9_feed_warnings(db: sqlite_utils.Database) -> None:
    """What the last successful poll of a feed dropped or repaired, for ``status``."""
    db.execute("ALTER TABLE feeds ADD COLUMN last_warning TEXT")


def _v10_search_index(db: sqlite_utils.Database) -> None:
    """Full-text search over the whole archive; v11 fills it for the entries already stored."""
    from aggregator.store.search import DOCS_SCHEMA

    for statement in DOCS_SCHEMA:
        db.execute(statement)
    db.execute(
        """CREATE VIRTUAL TABLE search_index USING fts5(
               title, body, source, tokenize = 'unicode61 remove_diacritics 0')"""
    )


def _v11_search_facets(db: sqlite_utils.Database) -> None:
    """Source feeds and categories as index terms (``kilde:``/``tag:`` intersected by FTS5):
    a fourth column, so the index is built again for the entries already stored."""
    from aggregator.store.search import INDEX_SCHEMA, SearchIndex

    db.execute("DROP TABLE search_index")
    db.execute(INDEX_SCHEMA)
    with _terminal_progress("Building the search index") as progress:
        SearchIndex(db).rebuild(progress)


# Every column of an entry an output shows: a change to one is a change to the pages of each
# feed carrying the entry.
_SHOWN = ("title", "link", "author", "content_html", "summary_text", "language", "published",
          "updated", "primary_feed_url", "backfill")  # fmt: skip


_BUMP = "UPDATE feeds SET entries_version = entries_version + 1"
# The feeds carrying an entry, its id in place of {}.
_BUMP_OF_ENTRY = f"{_BUMP} WHERE url IN (SELECT feed_url FROM entry_sources WHERE entry_id = {{}})"


def _v12_feed_versions(db: sqlite_utils.Database) -> None:
    """A counter per feed, raised by triggers in the writing transaction whenever anything an
    output shows of the feed's entries changes (a post added, edited, merged, split, pruned,
    its tags or files): the export renders a feed's or a tag's pages again only when the
    counters they depend on moved. Triggers, so no writer, present or future, can forget."""
    db.execute("ALTER TABLE feeds ADD COLUMN entries_version INTEGER NOT NULL DEFAULT 1")
    bump, of_entry = _BUMP, _BUMP_OF_ENTRY
    changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in _SHOWN)
    for statement in (
        f"""CREATE TRIGGER entry_sources_added AFTER INSERT ON entry_sources BEGIN
            {of_entry.format("NEW.entry_id")}; END""",
        f"""CREATE TRIGGER entry_sources_removed AFTER DELETE ON entry_sources BEGIN
            {bump} WHERE url = OLD.feed_url; {of_entry.format("OLD.entry_id")}; END""",
        f"""CREATE TRIGGER entry_sources_moved AFTER UPDATE OF entry_id, link ON entry_sources
            WHEN OLD.entry_id IS NOT NEW.entry_id OR OLD.link IS NOT NEW.link BEGIN
            {of_entry.format("OLD.entry_id")}; {of_entry.format("NEW.entry_id")}; END""",
        f"""CREATE TRIGGER entries_shown_changed AFTER UPDATE ON entries WHEN {changed} BEGIN
            {of_entry.format("NEW.id")}; END""",
        *(
            f"""CREATE TRIGGER {table}_{event.lower()} AFTER {event} ON {table} BEGIN
                {of_entry.format(f"{row}.entry_id")}; END"""
            for table in ("entry_categories", "entry_enclosures")
            for event, row in (("INSERT", "NEW"), ("DELETE", "OLD"))
        ),
    ):
        db.execute(statement)


def _v13_robots_txt(db: sqlite_utils.Database) -> None:
    """robots.txt answers kept until they expire, so each run of a poll from cron does not
    fetch them again (store/robots.py)."""
    db.execute(
        """CREATE TABLE robots_txt (
               origin TEXT PRIMARY KEY,  -- scheme://host[:port], lower case
               status INTEGER NOT NULL,
               body BLOB,                -- a 2xx answer's first 512 KiB; else NULL
               fetched_at TEXT NOT NULL,
               expires_at TEXT NOT NULL
           )"""
    )


# The rows whose insert triggers stand aside while an update bumps the counters itself (v14).
BUMPED_BY_WRITER = (
    ("entry_sources_added", "entry_sources", "NEW.entry_id"),
    ("entry_categories_insert", "entry_categories", "NEW.entry_id"),
    ("entry_enclosures_insert", "entry_enclosures", "NEW.entry_id"),
)


def _v14_versions_bumped_once(db: sqlite_utils.Database) -> None:
    """v12's insert triggers rewrote the feed's row once per row inserted: every source, tag
    and file of every new post, about a tenth of a cold poll's storing. A feed update now
    holds a row in ``versions_deferred`` while it writes, so those three triggers stand
    aside, and raises each counter once itself before the row goes (both inside the update's
    savepoint: the row is never committed). Any other writer has no such row, and the
    triggers act for it as before."""
    db.execute("CREATE TABLE versions_deferred (writer INTEGER PRIMARY KEY)")
    for name, table, entry in BUMPED_BY_WRITER:
        db.execute(f"DROP TRIGGER {name}")
        db.execute(
            f"""CREATE TRIGGER {name} AFTER INSERT ON {table}
                WHEN NOT EXISTS (SELECT 1 FROM versions_deferred) BEGIN
                {_BUMP_OF_ENTRY.format(entry)}; END"""
        )


# How many archive changes the log keeps: an export further behind than this renders every
# finished month once more, as after a new version.
ARCHIVE_CHANGES_KEPT = 100_000
# An entry's date as the archive sees it: NULL when it is on no month's page (backfill).
_ARCHIVED = "CASE WHEN {0}.backfill = 0 THEN {0}.published END"


def _v15_archive_changes(db: sqlite_utils.Database) -> None:
    """A log of the stored posts an archive page shows that changed or went: the entry's
    rowid and its date before and after. A sealed month is rendered again only when a post
    is dated into or out of it, and a post keeps its rowid when a merge back-dates it, an
    edit moves it or prune deletes it; triggers, so no writer can forget. New rows are
    found by rowid (``Store.last_entry_row``) and are not logged. The log keeps the last
    ARCHIVE_CHANGES_KEPT changes; AUTOINCREMENT, so a number is never reused."""
    db.execute(
        """CREATE TABLE archive_changes (
               seq INTEGER PRIMARY KEY AUTOINCREMENT,
               entry_row INTEGER NOT NULL,
               old_published TEXT,  -- NULL: not on the archive before
               new_published TEXT   -- NULL: not on it after (or deleted)
           )"""
    )
    changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in _SHOWN)
    old, new = _ARCHIVED.format("OLD"), _ARCHIVED.format("NEW")
    insert = "INSERT INTO archive_changes (entry_row, old_published, new_published) VALUES"
    for statement in (
        f"""CREATE TRIGGER entries_archive_changed AFTER UPDATE ON entries WHEN {changed}
            BEGIN {insert} (NEW.rowid, {old}, {new}); END""",
        f"""CREATE TRIGGER entries_archive_deleted AFTER DELETE ON entries
            BEGIN {insert} (OLD.rowid, {old}, NULL); END""",
        f"""CREATE TRIGGER archive_changes_kept AFTER INSERT ON archive_changes BEGIN
            DELETE FROM archive_changes WHERE seq <= NEW.seq - {ARCHIVE_CHANGES_KEPT}; END""",
    ):
        db.execute(statement)


# The change a post's copies, tags or files make to its archive page: "= id" or "IN (ids)"
# in place of {}.
ARCHIVE_CHANGE_OF_ENTRY = (
    "INSERT INTO archive_changes (entry_row, old_published, new_published) SELECT rowid, "
    f"{_ARCHIVED.format('entries')}, {_ARCHIVED.format('entries')} FROM entries WHERE id {{}}"
)
# The triggers of v16 that stand aside while a feed update logs the entries it gave a source,
# a tag or a file itself (EntryWriter.versions_bumped_once), as v14's do for the counters.
ARCHIVE_LOGGED_BY_WRITER = (
    ("entry_sources_archive_added", "INSERT", "entry_sources", "NEW.entry_id"),
    *(
        (f"{table}_archive_{event.lower()}", event, table, f"{row}.entry_id")
        for table in ("entry_categories", "entry_enclosures")
        for event, row in (("INSERT", "NEW"), ("DELETE", "OLD"))
    ),
)


def _v16_archive_copies(db: sqlite_utils.Database) -> None:
    """A post's archive page also lists its copies, tags and files, which are rows of their
    own: a merge that changes none of the post's columns, a split, a tag added to an old post
    are logged as changes of the post too. A feed update logs the posts it already had once
    at its end (its new ones are found by rowid); any other writer has the triggers."""
    deferred = "WHEN NOT EXISTS (SELECT 1 FROM versions_deferred)"
    for name, event, table, entry in ARCHIVE_LOGGED_BY_WRITER:
        db.execute(
            f"""CREATE TRIGGER {name} AFTER {event} ON {table} {deferred} BEGIN
                {ARCHIVE_CHANGE_OF_ENTRY.format("= " + entry)}; END"""
        )
    of_entry = ARCHIVE_CHANGE_OF_ENTRY
    db.execute(
        f"""CREATE TRIGGER entry_sources_archive_removed AFTER DELETE ON entry_sources BEGIN
            {of_entry.format("= OLD.entry_id")}; END"""
    )
    db.execute(
        f"""CREATE TRIGGER entry_sources_archive_moved AFTER UPDATE OF entry_id, link
            ON entry_sources WHEN OLD.entry_id IS NOT NEW.entry_id OR OLD.link IS NOT NEW.link
            BEGIN {of_entry.format("= OLD.entry_id")}; {of_entry.format("= NEW.entry_id")}; END"""
    )


def _v17_news_from(db: sqlite_utils.Database) -> None:
    """Whether a post is news is measured from its feed's previous successful poll, not from
    when it was first seen, so a feed (or service) down for over a week hides no post
    (review 5 #15). NULL: from ``first_seen``, for a feed's back catalogue (its first poll,
    or its first after being taken out of feeds.yaml and put back) and for posts stored
    before this column, whose previous poll is not known. ``feeds.removed_at``: when the
    feed left feeds.yaml; its next successful poll is a first poll again."""
    db.execute("ALTER TABLE entries ADD COLUMN news_from TEXT")
    db.execute("ALTER TABLE feeds ADD COLUMN removed_at TEXT")


def _v18_unread_pages(db: sqlite_utils.Database) -> None:
    """An HTML source's post stored from the list page's words because its own page failed
    for now (429, 503, no answer): why, until the page is read (review 6 R9). NULL: read, or
    never followed."""
    db.execute("ALTER TABLE entry_sources ADD COLUMN page_unread TEXT")


def _v19_search_folding(db: sqlite_utils.Database) -> None:
    """Words are compared case folded and in compatibility form (search.fold: ``STRASSE``
    finds ``Straße``, ``FINANS`` finds ``ﬁnans``): the index is built again in that form."""
    from aggregator.store.search import SearchIndex

    with _terminal_progress("Rebuilding the search index") as progress:
        SearchIndex(db).rebuild(progress)


def _v20_parse_settings(db: sqlite_utils.Database) -> None:
    """A fingerprint of the settings a feed's stored entries were parsed with (its selectors,
    the site's time zone): when feeds.yaml changes them, the next poll fetches without
    validators and applies the page again, even if it has not changed (review 7 R22). NULL:
    not known (stored before this column); an HTML source is then read again once."""
    db.execute("ALTER TABLE feeds ADD COLUMN parse_settings TEXT")


def _v21_sketch_rows(db: sqlite_utils.Database) -> None:
    """The sketch index keyed by the entry's rowid instead of its id: about 12 bytes a row
    instead of 55 (an id is a 45-character URN), so the index, written at random places
    eight times per new entry, is a quarter of the pages and its hot part stays in the
    page cache. Rowids of ``entries`` do not change (the archive's log relies on them too);
    only a VACUUM may renumber them, and then a sketch row may name another post: candidates
    are compared by their stored text, so that can miss a copy but never merge a wrong one."""
    db.execute(
        """CREATE TABLE entry_sketch_rows (
               hash INTEGER NOT NULL,
               entry_row INTEGER NOT NULL,
               PRIMARY KEY (hash, entry_row)
           ) WITHOUT ROWID"""
    )
    db.execute(
        """INSERT OR IGNORE INTO entry_sketch_rows
           SELECT t.hash, e.rowid FROM entry_sketches t JOIN entries e ON e.id = t.entry_id
           ORDER BY 1, 2"""
    )
    db.execute("DROP TABLE entry_sketches")
    db.execute("ALTER TABLE entry_sketch_rows RENAME TO entry_sketches")


# A canonical URL holding a character beyond ASCII: its length in characters is not its
# length in UTF-8 bytes (entries' are read from their index, not the rows' text).
_BEYOND_ASCII = "length(canonical_url) != length(CAST(canonical_url AS BLOB))"


def _v22_ascii_hosts(db: sqlite_utils.Database) -> None:
    """Stored canonical URLs whose host is beyond ASCII in the form canonical_url now gives
    (review 8 R8-9: ``https://ærø.dk/…`` is ``https://xn--r-3fa9c.dk/…``), so a post stored
    before is matched by its link when another feed brings it in either spelling. Only the
    host changes, and no key: an HTML source's item ids keep their stored form
    (canonical.item_id)."""
    from aggregator.canonical import ascii_host

    def in_ascii(url: str) -> str | None:
        if not url.startswith("https://"):
            return None
        host, slash, rest = url[len("https://") :].partition("/")
        name, colon, port = host.partition(":")
        if name.isascii():
            return None
        # As canonical_url: ``www.`` goes after the conversion (``ｗｗｗ.ærø.dk`` maps to it).
        written = f"https://{ascii_host(name).removeprefix('www.')}{colon}{port}{slash}{rest}"
        return written if written != url else None

    for table in ("entries", "entry_sources"):
        found = db.execute(
            f"SELECT rowid, canonical_url FROM {table} WHERE {_BEYOND_ASCII}"
        ).fetchall()
        rows = [(new, row) for row, old in found if (new := in_ascii(old)) is not None]
        db.conn.executemany(f"UPDATE {table} SET canonical_url = ? WHERE rowid = ?", rows)


# A stored canonical URL with a percent-encoding or a dot segment in it, perhaps: "%" and "/."
# anywhere (a query's are already in their normal form, and stay).
_ESCAPED_OR_DOTTED = r"(canonical_url LIKE '%\%%' ESCAPE '\' OR canonical_url LIKE '%/.%')"


def _v23_normal_paths(db: sqlite_utils.Database) -> None:
    """Stored canonical URLs with the path in the form canonical_url now gives: dot segments
    resolved, unreserved characters unescaped (``/%7Ejens/./a`` is ``/~jens/a``), so a post
    stored before is matched by its link when another feed spells it the other way. Only the
    path changes, and no key: an HTML source's item ids keep their stored form
    (canonical.item_id)."""
    from aggregator.canonical import canonical_path

    def in_normal_form(url: str) -> str | None:
        scheme, slashes, rest = url.partition("://")
        host, slash, path = rest.partition("/")
        if not slashes or not slash:
            return None
        cut = min((i for i in (path.find("?"), path.find("#")) if i >= 0), default=len(path))
        written = f"{scheme}://{host}{canonical_path('/' + path[:cut])}{path[cut:]}"
        return written if written != url else None

    for table in ("entries", "entry_sources"):
        found = db.execute(
            f"SELECT rowid, canonical_url FROM {table} WHERE {_ESCAPED_OR_DOTTED}"
        ).fetchall()
        rows = [(new, row) for row, old in found if (new := in_normal_form(old)) is not None]
        db.conn.executemany(f"UPDATE {table} SET canonical_url = ? WHERE rowid = ?", rows)


@contextmanager
def _terminal_progress(label: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar for a long migration when stderr is a terminal; silent otherwise, and
    for small databases."""
    if not sys.stderr.isatty():
        yield lambda done, total: None
        return
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task(label, total=None, visible=False)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, visible=total >= 5000)

        yield update


MIGRATIONS: Sequence[Callable[[sqlite_utils.Database], None]] = (
    _v1_initial,
    _v2_polling_state,
    _v3_identity_and_dedup,
    _v4_merge_exclusions,
    _v5_compact_sketch_index,
    _v6_raw_digests,
    _v7_categories_and_enclosures,
    _v8_digest_ledger,
    _v9_feed_warnings,
    _v10_search_index,
    _v11_search_facets,
    _v12_feed_versions,
    _v13_robots_txt,
    _v14_versions_bumped_once,
    _v15_archive_changes,
    _v16_archive_copies,
    _v17_news_from,
    _v18_unread_pages,
    _v19_search_folding,
    _v20_parse_settings,
    _v21_sketch_rows,
    _v22_ascii_hosts,
    _v23_normal_paths,
)


SCHEMA_VERSION = len(MIGRATIONS)
