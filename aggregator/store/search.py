"""The search index's SQL: an FTS5 table of stemmed shadow texts (see aggregator.search).

Two tables. ``search_index`` (FTS5) holds each entry's shadow texts under a rowid of its own;
``search_docs`` maps that rowid to the entry, with the date and language, narrow so that the
join for ranking and filters reads few pages. Entry writes call ``reindex`` inside their own
transaction; deleting an entry deletes its document by a trigger, so no delete can leave a
stale hit behind, whoever issues it.

Ranking a word found in a third of a million posts with bm25 costs about half a second; such
a word ranks its newest ``RANK_WINDOW`` matches (by the order they were stored, which FTS5
reads backwards at almost no cost), where the recency boost would put the best results
anyway. A query that finds too few there (a selective filter, a page past the window) widens
it eightfold until it has enough or holds every match.
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
RANK_WINDOW = 2000

SCHEMA = (
    """CREATE TABLE search_docs (
           rowid INTEGER PRIMARY KEY,
           entry_id TEXT NOT NULL UNIQUE,
           published INTEGER NOT NULL,
           language TEXT NOT NULL
       )""",
    "CREATE INDEX search_docs_published ON search_docs(published)",
    """CREATE VIRTUAL TABLE search_index USING fts5(
           title, body, source, tokenize = 'unicode61 remove_diacritics 0')""",
    """CREATE TRIGGER entries_search_delete AFTER DELETE ON entries BEGIN
           DELETE FROM search_index
           WHERE rowid = (SELECT rowid FROM search_docs WHERE entry_id = old.id);
           DELETE FROM search_docs WHERE entry_id = old.id;
       END""",
)

_SELECT_ENTRIES = """
    SELECT e.id, e.title, e.content_html, e.summary_text, e.author, e.language, e.published,
           (SELECT group_concat(f.name || ' ' || coalesce(f.title, ''), ' ')
            FROM entry_sources s JOIN feeds f ON f.url = s.feed_url WHERE s.entry_id = e.id),
           (SELECT group_concat(term, ' ') FROM entry_categories c WHERE c.entry_id = e.id)
    FROM entries e"""

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


class SearchIndex:
    """Writes and queries of the index; the caller owns the transaction."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def reindex(self, entry_ids: Iterable[str]) -> None:
        """Bring the documents of these entries up to date with their rows."""
        ids = sorted(set(entry_ids))
        execute = self.db.conn.execute
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(f"{_SELECT_ENTRIES} WHERE e.id IN ({marks})", chunk).fetchall()
            known = dict(
                self.db.execute(
                    f"SELECT entry_id, rowid FROM search_docs WHERE entry_id IN ({marks})", chunk
                ).fetchall()
            )
            for row in rows:
                entry_id, stamp, doc = _document(row)
                rowid = known.pop(entry_id, None)
                if rowid is None:
                    (rowid,) = execute(
                        """INSERT INTO search_docs (entry_id, published, language)
                           VALUES (?, ?, ?) RETURNING rowid""",
                        [entry_id, stamp, doc.language],
                    ).fetchone()
                else:
                    execute(
                        "UPDATE search_docs SET published = ?, language = ? WHERE rowid = ?",
                        [stamp, doc.language, rowid],
                    )
                    execute("DELETE FROM search_index WHERE rowid = ?", [rowid])
                execute(
                    "INSERT INTO search_index (rowid, title, body, source) VALUES (?, ?, ?, ?)",
                    [rowid, doc.title, doc.body, doc.source],
                )
            for rowid in known.values():  # entries no longer stored
                execute("DELETE FROM search_index WHERE rowid = ?", [rowid])
                execute("DELETE FROM search_docs WHERE rowid = ?", [rowid])

    def rebuild(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Index every stored entry from scratch, in the order they were stored, then merge
        the index into one segment. Returns the number indexed."""
        total = int(self.db.execute("SELECT count(*) FROM entries").fetchone()[0])
        self.db.execute("DELETE FROM search_index")
        self.db.execute("DELETE FROM search_docs")
        done = 0
        cursor = self.db.execute(f"{_SELECT_ENTRIES} ORDER BY e.rowid")
        while rows := cursor.fetchmany(2000):
            documents = [_document(row) for row in rows]
            numbered = list(enumerate(documents, start=done + 1))
            self.db.conn.executemany(
                "INSERT INTO search_docs (rowid, entry_id, published, language) VALUES (?,?,?,?)",
                [(n, entry, stamp, doc.language) for n, (entry, stamp, doc) in numbered],
            )
            self.db.conn.executemany(
                "INSERT INTO search_index (rowid, title, body, source) VALUES (?, ?, ?, ?)",
                [(n, doc.title, doc.body, doc.source) for n, (_, _, doc) in numbered],
            )
            done += len(rows)
            if progress is not None:
                progress(done, total)
        self.db.execute("INSERT INTO search_index (search_index) VALUES ('optimize')")
        return done

    def search(
        self, wanted: IndexFilter, now: datetime, order: Order, limit: int, offset: int = 0
    ) -> list[IndexHit]:
        where, params = self._filters(wanted)
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
                  WHERE search_index MATCH ? AND search_index.rowid >= ?
                  {"".join(" AND " + w for w in where)}
                  ORDER BY {"score" if order == "rank" else newest} LIMIT ? OFFSET ?"""
        window = RANK_WINDOW  # the same for every page, so pages do not overlap
        while True:
            floor = self._window_floor(wanted.match, window)
            hits = self._hits(
                sql, [int(now.timestamp()), wanted.match, floor, *params, limit, offset]
            )
            if len(hits) >= limit or floor == 0:
                return hits
            window *= 8

    def _window_floor(self, match: str, window: int) -> int:
        """The rowid of the ``window``-th newest match; 0 when there are fewer matches."""
        row = self.db.execute(
            """SELECT rowid FROM search_index WHERE search_index MATCH ?
               ORDER BY rowid DESC LIMIT 1 OFFSET ?""",
            [match, window - 1],
        ).fetchone()
        return int(row[0]) if row else 0

    def _filters(self, wanted: IndexFilter) -> tuple[list[str], list[object]]:
        where: list[str] = []
        params: list[object] = []
        if wanted.since is not None:
            where.append("d.published >= ?")
            params.append(int(wanted.since.timestamp()))
        if wanted.feed_urls is not None:
            urls = sorted(wanted.feed_urls)
            where.append(
                "d.entry_id IN (SELECT entry_id FROM entry_sources "
                f"WHERE feed_url IN ({','.join('?' * len(urls)) or 'NULL'}))"
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
        return where, params

    def _hits(self, sql: str, params: list[object]) -> list[IndexHit]:
        return [IndexHit(r[0], r[1], float(r[2])) for r in self.db.execute(sql, params)]

    def size_bytes(self) -> int:
        """Bytes of the documents table, its indexes and the FTS5 tables (needs dbstat)."""
        row = self.db.execute(
            """SELECT sum(pgsize) FROM dbstat
               WHERE name LIKE 'search_%' OR name = 'sqlite_autoindex_search_docs_1'"""
        ).fetchone()
        return int(row[0] or 0)


def create_schema(db: sqlite_utils.Database) -> None:
    for statement in SCHEMA:
        db.execute(statement)
