"""Taking a test database back to an older schema, so a migration can be tested on the kind
of database it will really meet. Each later migration says here how it is undone."""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils


def _undo_v12_feed_versions(db: sqlite_utils.Database) -> None:
    for (name,) in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND sql LIKE '%entries_version%'"
    ).fetchall():
        db.execute(f"DROP TRIGGER {name}")
    db.execute("ALTER TABLE feeds DROP COLUMN entries_version")


def _undo_v13_robots_txt(db: sqlite_utils.Database) -> None:
    db.execute("DROP TABLE robots_txt")


def _undo_v14_versions_bumped_once(db: sqlite_utils.Database) -> None:
    from aggregator.store.migrations import _BUMP_OF_ENTRY, BUMPED_BY_WRITER

    for name, table, entry in BUMPED_BY_WRITER:
        db.execute(f"DROP TRIGGER {name}")
        db.execute(
            f"""CREATE TRIGGER {name} AFTER INSERT ON {table} BEGIN
                {_BUMP_OF_ENTRY.format(entry)}; END"""
        )
    db.execute("DROP TABLE versions_deferred")


def _undo_v15_archive_changes(db: sqlite_utils.Database) -> None:
    for name in ("entries_archive_changed", "entries_archive_deleted"):
        db.execute(f"DROP TRIGGER {name}")
    db.execute("DROP TABLE archive_changes")  # and its own trigger
    db.execute("DELETE FROM sqlite_sequence WHERE name = 'archive_changes'")


def _undo_v16_archive_copies(db: sqlite_utils.Database) -> None:
    from aggregator.store.migrations import ARCHIVE_LOGGED_BY_WRITER

    names = [name for name, *_ in ARCHIVE_LOGGED_BY_WRITER]
    for name in (*names, "entry_sources_archive_removed", "entry_sources_archive_moved"):
        db.execute(f"DROP TRIGGER {name}")


def _undo_v17_news_from(db: sqlite_utils.Database) -> None:
    db.execute("ALTER TABLE entries DROP COLUMN news_from")
    db.execute("ALTER TABLE feeds DROP COLUMN removed_at")


def _undo_v18_unread_pages(db: sqlite_utils.Database) -> None:
    db.execute("ALTER TABLE entry_sources DROP COLUMN page_unread")


def _undo_v19_search_folding(db: sqlite_utils.Database) -> None:
    """Nothing in the schema: the index is only in an older fold."""


def _undo_v20_parse_settings(db: sqlite_utils.Database) -> None:
    db.execute("ALTER TABLE feeds DROP COLUMN parse_settings")


def _undo_v21_sketch_rows(db: sqlite_utils.Database) -> None:
    db.execute(
        """CREATE TABLE entry_sketch_ids (
               hash INTEGER NOT NULL,
               entry_id TEXT NOT NULL,
               PRIMARY KEY (hash, entry_id)
           ) WITHOUT ROWID"""
    )
    db.execute(
        """INSERT INTO entry_sketch_ids
           SELECT t.hash, e.id FROM entry_sketches t JOIN entries e ON e.rowid = t.entry_row"""
    )
    db.execute("DROP TABLE entry_sketches")
    db.execute("ALTER TABLE entry_sketch_ids RENAME TO entry_sketches")


def _undo_v22_ascii_hosts(db: sqlite_utils.Database) -> None:
    """Nothing in the schema: stored canonical URLs of hosts beyond ASCII were in Unicode."""


def _undo_v23_normal_paths(db: sqlite_utils.Database) -> None:
    """Nothing in the schema: stored paths kept their dot segments and escapes as written."""


UNDO: dict[int, Callable[[sqlite_utils.Database], None]] = {
    12: _undo_v12_feed_versions,
    13: _undo_v13_robots_txt,
    14: _undo_v14_versions_bumped_once,
    15: _undo_v15_archive_changes,
    16: _undo_v16_archive_copies,
    17: _undo_v17_news_from,
    18: _undo_v18_unread_pages,
    19: _undo_v19_search_folding,
    20: _undo_v20_parse_settings,
    21: _undo_v21_sketch_rows,
    22: _undo_v22_ascii_hosts,
    23: _undo_v23_normal_paths,
}


def roll_back_later_migrations(db: sqlite_utils.Database, version: int) -> None:
    """Undo every migration after ``version`` that UNDO knows, newest first; the caller
    undoes the ones up to its own and sets ``user_version``."""
    for number in sorted(UNDO, reverse=True):
        if number > version:
            UNDO[number](db)
