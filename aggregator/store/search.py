"""The search index's SQL: an FTS5 table over stemmed shadow texts (see aggregator.search).

``search_docs`` holds each entry's shadow texts and FTS5 indexes them as its external
content, kept in step by triggers. Entry writes call ``reindex`` inside their own
transaction; deleting an entry deletes its document by a trigger, so no delete can leave a
stale hit behind, whoever issues it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import sqlite_utils

from aggregator.normalise import sanitised_text
from aggregator.search import IndexDocument, index_document
from aggregator.store.times import from_db_time

# bm25 weights of the columns title, body, source: a word in the title counts ten times.
TITLE_WEIGHT, BODY_WEIGHT, SOURCE_WEIGHT = 10.0, 1.0, 2.0
# A post's score is multiplied by 1 + H / (H + age in days): twice as strong when new, 1.5
# times at H days old, fading towards plain relevance for the old archive.
RECENCY_HALF_DAYS = 180.0

SCHEMA = (
    """CREATE TABLE search_docs (
           rowid INTEGER PRIMARY KEY,
           entry_id TEXT NOT NULL UNIQUE,
           published INTEGER NOT NULL,
           language TEXT NOT NULL,
           title TEXT NOT NULL,
           body TEXT NOT NULL,
           source TEXT NOT NULL
       )""",
    "CREATE INDEX search_docs_published ON search_docs(published)",
    """CREATE VIRTUAL TABLE search_index USING fts5(
           title, body, source, content = 'search_docs', content_rowid = 'rowid',
           tokenize = 'unicode61 remove_diacritics 0')""",
)
TRIGGERS = (
    """CREATE TRIGGER search_docs_insert AFTER INSERT ON search_docs BEGIN
           INSERT INTO search_index (rowid, title, body, source)
           VALUES (new.rowid, new.title, new.body, new.source);
       END""",
    """CREATE TRIGGER search_docs_delete AFTER DELETE ON search_docs BEGIN
           INSERT INTO search_index (search_index, rowid, title, body, source)
           VALUES ('delete', old.rowid, old.title, old.body, old.source);
       END""",
    """CREATE TRIGGER search_docs_update AFTER UPDATE OF title, body, source ON search_docs
       WHEN old.title IS NOT new.title OR old.body IS NOT new.body
            OR old.source IS NOT new.source
       BEGIN
           INSERT INTO search_index (search_index, rowid, title, body, source)
           VALUES ('delete', old.rowid, old.title, old.body, old.source);
           INSERT INTO search_index (rowid, title, body, source)
           VALUES (new.rowid, new.title, new.body, new.source);
       END""",
    """CREATE TRIGGER entries_search_delete AFTER DELETE ON entries BEGIN
           DELETE FROM search_docs WHERE entry_id = old.id;
       END""",
)

_SELECT_ENTRIES = """
    SELECT e.id, e.title, e.content_html, e.summary_text, e.author, e.language, e.published,
           (SELECT group_concat(f.name || ' ' || coalesce(f.title, ''), ' ')
            FROM entry_sources s JOIN feeds f ON f.url = s.feed_url WHERE s.entry_id = e.id),
           (SELECT group_concat(term, ' ') FROM entry_categories c WHERE c.entry_id = e.id)
    FROM entries e"""

_UPSERT = """
    INSERT INTO search_docs (entry_id, published, language, title, body, source)
    VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (entry_id) DO UPDATE SET published = excluded.published,
        language = excluded.language, title = excluded.title, body = excluded.body,
        source = excluded.source"""

Order = Literal["rank", "newest"]


@dataclass(frozen=True, slots=True)
class IndexHit:
    entry_id: str
    language: str
    score: float


@dataclass(frozen=True, slots=True)
class IndexFilter:
    """What the store is asked: an FTS5 expression (None: filters only), an expression of
    words to leave out, feeds the entry must come from (None: any), and a lower date bound."""

    match: str | None
    exclude: str | None = None
    feed_urls: frozenset[str] | None = None
    since: datetime | None = None
    # Each tuple: the entry must carry one of these categories or come from one of the feeds
    # (a tag: of feeds.yaml or of the post itself). Every tuple must hold.
    tags: tuple[tuple[tuple[str, ...], frozenset[str]], ...] = ()


def _document(row: Sequence[object]) -> tuple[str, int, IndexDocument]:
    entry_id, title, content, summary, author, language, published, sources, categories = row
    text = sanitised_text(str(content)) or str(summary)
    source = " ".join(str(part) for part in (author, sources, categories) if part)
    stamp = int(from_db_time(str(published)).timestamp())
    doc = index_document(str(title), text, source, str(language) if language else None)
    return str(entry_id), stamp, doc


def _row(entry_id: str, stamp: int, doc: IndexDocument) -> tuple[object, ...]:
    return (entry_id, stamp, doc.language, doc.title, doc.body, doc.source)


class SearchIndex:
    """Writes and queries of the index; the caller owns the transaction."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def reindex(self, entry_ids: Iterable[str]) -> None:
        """Bring the documents of these entries up to date with their rows."""
        ids = sorted(set(entry_ids))
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = self.db.execute(
                f"{_SELECT_ENTRIES} WHERE e.id IN ({','.join('?' * len(chunk))})", chunk
            ).fetchall()
            self.db.conn.executemany(_UPSERT, [_row(*_document(row)) for row in rows])
            missing = set(chunk) - {row[0] for row in rows}
            self.db.conn.executemany(
                "DELETE FROM search_docs WHERE entry_id = ?", [(i,) for i in sorted(missing)]
            )

    def rebuild(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Index every stored entry from scratch: documents first, then one FTS5 build,
        several times faster than a trigger per row. Returns the number indexed."""
        total = int(self.db.execute("SELECT count(*) FROM entries").fetchone()[0])
        for name in ("search_docs_insert", "search_docs_delete", "search_docs_update"):
            self.db.execute(f"DROP TRIGGER IF EXISTS {name}")
        self.db.execute("DELETE FROM search_docs")
        done = 0
        cursor = self.db.execute(f"{_SELECT_ENTRIES} ORDER BY e.rowid")
        while rows := cursor.fetchmany(2000):
            self.db.conn.executemany(
                _UPSERT.split(" ON CONFLICT", maxsplit=1)[0],
                [_row(*_document(row)) for row in rows],
            )
            done += len(rows)
            if progress is not None:
                progress(done, total)
        self.db.execute("INSERT INTO search_index (search_index) VALUES ('rebuild')")
        for statement in TRIGGERS[:3]:
            self.db.execute(statement)
        return done

    def search(
        self, wanted: IndexFilter, now: datetime, order: Order, limit: int, offset: int = 0
    ) -> list[IndexHit]:
        where: list[str] = []
        params: list[object] = []
        if wanted.since is not None:
            where.append("d.published >= ?")
            params.append(int(wanted.since.timestamp()))
        if wanted.feed_urls is not None:
            if not wanted.feed_urls:
                return []
            urls = sorted(wanted.feed_urls)
            where.append(
                "d.entry_id IN (SELECT entry_id FROM entry_sources "
                f"WHERE feed_url IN ({','.join('?' * len(urls))}))"
            )
            params.extend(urls)
        for names, tag_feeds in wanted.tags:
            feeds = sorted(tag_feeds)
            names_in, feeds_in = ",".join("?" * len(names)), ",".join("?" * len(feeds)) or "NULL"
            where.append(
                f"""(d.entry_id IN (SELECT entry_id FROM entry_categories
                                    WHERE term COLLATE NOCASE IN ({names_in}))
                     OR d.entry_id IN (SELECT entry_id FROM entry_sources
                                       WHERE feed_url IN ({feeds_in})))"""
            )
            params.extend([*names, *feeds])
        newest = "d.published DESC, d.entry_id"
        if wanted.match is None:
            if wanted.exclude is not None:
                where.append(
                    "d.rowid NOT IN (SELECT rowid FROM search_index WHERE search_index MATCH ?)"
                )
                params.append(wanted.exclude)
            sql = f"""SELECT d.entry_id, d.language, 0.0 FROM search_docs d
                      {"WHERE " + " AND ".join(where) if where else ""}
                      ORDER BY {newest} LIMIT ? OFFSET ?"""
            return self._hits(sql, [*params, limit, offset])
        score = (
            f"bm25(search_index, {TITLE_WEIGHT}, {BODY_WEIGHT}, {SOURCE_WEIGHT}) * "
            f"(1.0 + {RECENCY_HALF_DAYS} / ({RECENCY_HALF_DAYS} + "
            "max(0, ? - d.published) / 86400.0))"
        )
        sql = f"""SELECT d.entry_id, d.language, {score} AS score
                  FROM search_index JOIN search_docs d ON d.rowid = search_index.rowid
                  WHERE search_index MATCH ? {"".join(" AND " + w for w in where)}
                  ORDER BY {"score" if order == "rank" else newest} LIMIT ? OFFSET ?"""
        return self._hits(sql, [int(now.timestamp()), wanted.match, *params, limit, offset])

    def _hits(self, sql: str, params: list[object]) -> list[IndexHit]:
        return [IndexHit(r[0], r[1], float(r[2])) for r in self.db.execute(sql, params)]

    def size_bytes(self) -> int:
        """Bytes of the documents table, its index and the FTS5 tables (needs dbstat)."""
        row = self.db.execute(
            """SELECT sum(pgsize) FROM dbstat
               WHERE name LIKE 'search_%' OR name = 'sqlite_autoindex_search_docs_1'"""
        ).fetchone()
        return int(row[0] or 0)


def create_schema(db: sqlite_utils.Database) -> None:
    for statement in (*SCHEMA, *TRIGGERS):
        db.execute(statement)
