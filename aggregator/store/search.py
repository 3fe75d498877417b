"""The search index's SQL: an FTS5 table of stemmed shadow texts (see aggregator.search).

Two tables. ``search_index`` (FTS5) holds each entry's shadow texts under a rowid of its own,
and a ``facets`` column of tokens for its source feeds and categories; ``search_docs`` maps
that rowid to the entry, with the date and language, narrow so that the join for ranking
and filters reads few pages. Entry writes call ``reindex`` inside their own transaction;
deleting an entry deletes its document by a trigger, so no delete can leave a stale hit
behind, whoever issues it.

``kilde:`` and ``tag:`` become facet terms that FTS5 intersects with the words, so a word in
a third of all posts, within one source of two hundred, reads that source's doclist rather
than every match of the word. A facet token is a letter and twelve hex digits of a hash, a
word no text has, so word queries need no column filter (which costs FTS5 a look at every
match's positions). A filter naming many feeds is not selective and is checked
in SQL instead (an OR of hundreds of doclists costs more than it saves).

A query ranks its newest ``RANK_WINDOW`` matches (by the order they were stored, which FTS5
reads backwards at almost no cost; ``PHRASE_WINDOW`` with a phrase, whose matches cost a look
at positions), where the recency boost would put the best results anyway. A query that finds
too few there (a selective date filter, a page past the window) widens it eightfold until it
has enough or holds every match. Within the window bm25 ranks, unless a word is in more than
``BM25_MAX_POSTS`` posts: bm25 counts each word's matches in the whole index, once per
query, which for the commonest words costs more than everything else; those queries rank
the words in the title first, then by recency.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import sqlite_utils

from aggregator.normalise import sanitised_text
from aggregator.search import IndexDocument, category_token, index_document, source_token
from aggregator.store.times import from_db_time

# bm25 weights of the columns title, body, source, facets: a word in the title counts ten
# times; facets are filters, not relevance.
TITLE_WEIGHT, BODY_WEIGHT, SOURCE_WEIGHT = 10.0, 1.0, 2.0
# A post's score is multiplied by 1 + H / (H + age in days): twice as strong when new, 1.5
# times at H days old, fading towards plain relevance for the old archive.
RECENCY_HALF_DAYS = 180.0
RANK_WINDOW = 500
# A kilde:/tag: filter of at most this many facet tokens is matched by FTS5; more, in SQL.
FACET_TERMS = 64
# bm25 only when every word of the query is in fewer posts than this (see _bm25_affordable).
BM25_MAX_POSTS = 10_000
# Narrower for a query with a phrase: finding a phrase's matches checks positions.
PHRASE_WINDOW = 100
_NEWEST = "d.published DESC, d.entry_id"
_RECENCY = f"""(1.0 + {RECENCY_HALF_DAYS} / ({RECENCY_HALF_DAYS} +
                      max(0, ? - d.published) / 86400.0))"""

# Migration 10's tables: change them only through a new migration.
DOCS_SCHEMA = (
    """CREATE TABLE search_docs (
           rowid INTEGER PRIMARY KEY,
           entry_id TEXT NOT NULL UNIQUE,
           published INTEGER NOT NULL,
           language TEXT NOT NULL
       )""",
    "CREATE INDEX search_docs_published ON search_docs(published)",
    """CREATE TRIGGER entries_search_delete AFTER DELETE ON entries BEGIN
           DELETE FROM search_index
           WHERE rowid = (SELECT rowid FROM search_docs WHERE entry_id = old.id);
           DELETE FROM search_docs WHERE entry_id = old.id;
       END""",
)
INDEX_SCHEMA = """CREATE VIRTUAL TABLE search_index USING fts5(
    title, body, source, facets, tokenize = 'unicode61 remove_diacritics 0')"""

_SELECT_ENTRIES = """
    SELECT e.id, e.title, e.content_html, e.summary_text, e.author, e.language, e.published,
           (SELECT group_concat(f.name || ' ' || coalesce(f.title, ''), ' ')
            FROM entry_sources s JOIN feeds f ON f.url = s.feed_url WHERE s.entry_id = e.id),
           (SELECT group_concat(s.feed_url, char(10))
            FROM entry_sources s WHERE s.entry_id = e.id),
           (SELECT group_concat(term, char(10)) FROM entry_categories c WHERE c.entry_id = e.id)
    FROM entries e"""

Order = Literal["rank", "newest"]


@dataclass(frozen=True, slots=True)
class IndexHit:
    entry_id: str
    language: str
    score: float


@dataclass(frozen=True, slots=True)
class IndexFilter:
    """What the store is asked: an FTS5 expression of words (None: filters only), an
    expression of words to leave out, feeds the entry must come from (None: any), and a
    lower date bound."""

    match: str | None
    exclude: str | None = None
    # What bm25 ranks by, when it is not ``match`` (see SearchQuery.ranking_expression),
    # and the phrases it counts.
    rank: str | None = None
    rank_phrases: tuple[str, ...] = ()
    phrases: bool = False  # the words hold a phrase
    feed_urls: frozenset[str] | None = None
    since: datetime | None = None
    # Each pair: a tag, and the feeds that carry it in feeds.yaml. The entry must carry the
    # tag as a category (compared folded) or come from one of the feeds. Every pair must hold.
    tags: tuple[tuple[str, frozenset[str]], ...] = ()


# Stems worked out with an entry's plan (EntryPlan.stemmed): entry id -> (title, content,
# stems). Used only while the stored row still holds that title and content.
Prepared = Mapping[str, tuple[str, str, tuple[str, str, str]]]


def _document(row: Sequence[object], prepared: Prepared) -> tuple[str, int, IndexDocument]:
    entry_id, title, content, summary, author, language, published, names, urls, terms = row
    known = prepared.get(str(entry_id))
    stemmed = known[2] if known and known[0] == title and known[1] == content else None
    text = "" if stemmed else sanitised_text(str(content)) or str(summary)
    categories = str(terms).split("\n") if terms else []
    source = " ".join(str(part) for part in (author, names, *categories) if part)
    stamp = int(from_db_time(str(published)).timestamp())
    doc = index_document(
        str(title),
        text,
        source,
        str(language) if language else None,
        str(urls).split("\n") if urls else (),
        categories,
        stemmed,
    )
    return str(entry_id), stamp, doc


def _any_of(tokens: Iterable[str]) -> str:
    return "facets : (" + " OR ".join(f'"{t}"' for t in sorted(set(tokens))) + ")"


@dataclass(frozen=True, slots=True)
class _Plan:
    """A filter as SQL: the FTS5 expression (None: no MATCH), conditions on ``d``
    (search_docs), whether the words take part (ranking), the expression bm25 ranks by
    (the words alone), and the words in the title."""

    match: str | None
    where: tuple[str, ...]
    params: tuple[object, ...]
    ranked: bool
    rank_match: str | None = None
    title_match: str | None = None  # the ranking words in the title


class SearchIndex:
    """Writes and queries of the index; the caller owns the transaction."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def reindex(self, entry_ids: Iterable[str], prepared: Prepared | None = None) -> None:
        """Bring the documents of these entries up to date with their rows."""
        prepared = prepared or {}
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
            documents = [_document(row, prepared) for row in rows]
            # New documents in one statement each for both tables, their rowids read back in
            # one query: a statement per document (and RETURNING) was most of the index's cost.
            fresh = [(entry_id, stamp, doc) for entry_id, stamp, doc in documents
                     if entry_id not in known]  # fmt: skip
            self.db.conn.executemany(
                "INSERT INTO search_docs (entry_id, published, language) VALUES (?, ?, ?)",
                [(entry_id, stamp, doc.language) for entry_id, stamp, doc in fresh],
            )
            numbered = dict(self._rowids([entry_id for entry_id, _, _ in fresh]))
            for entry_id, stamp, doc in documents:
                rowid = known.pop(entry_id, None)
                if rowid is not None:
                    execute(
                        "UPDATE search_docs SET published = ?, language = ? WHERE rowid = ?",
                        [stamp, doc.language, rowid],
                    )
                    execute("DELETE FROM search_index WHERE rowid = ?", [rowid])
                    numbered[entry_id] = rowid
            self.db.conn.executemany(
                """INSERT INTO search_index (rowid, title, body, source, facets)
                   VALUES (?, ?, ?, ?, ?)""",
                [(numbered[entry_id], doc.title, doc.body, doc.source, doc.facets)
                 for entry_id, _, doc in documents],
            )  # fmt: skip
            for rowid in known.values():  # entries no longer stored
                execute("DELETE FROM search_index WHERE rowid = ?", [rowid])
                execute("DELETE FROM search_docs WHERE rowid = ?", [rowid])

    def _rowids(self, entry_ids: Sequence[str]) -> list[tuple[str, int]]:
        if not entry_ids:
            return []
        marks = ",".join("?" * len(entry_ids))
        sql = f"SELECT entry_id, rowid FROM search_docs WHERE entry_id IN ({marks})"
        return [(str(e), int(r)) for e, r in self.db.execute(sql, list(entry_ids))]

    def rebuild(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Index every stored entry from scratch, in the order they were stored, then merge
        the index into one segment. Returns the number indexed."""
        total = int(self.db.execute("SELECT count(*) FROM entries").fetchone()[0])
        self.db.execute("DELETE FROM search_index")
        self.db.execute("DELETE FROM search_docs")
        done = 0
        cursor = self.db.execute(f"{_SELECT_ENTRIES} ORDER BY e.rowid")
        while rows := cursor.fetchmany(2000):
            documents = [_document(row, {}) for row in rows]
            numbered = list(enumerate(documents, start=done + 1))
            self.db.conn.executemany(
                "INSERT INTO search_docs (rowid, entry_id, published, language) VALUES (?,?,?,?)",
                [(n, entry, stamp, doc.language) for n, (entry, stamp, doc) in numbered],
            )
            self.db.conn.executemany(
                """INSERT INTO search_index (rowid, title, body, source, facets)
                   VALUES (?, ?, ?, ?, ?)""",
                [(n, doc.title, doc.body, doc.source, doc.facets) for n, (_, _, doc) in numbered],
            )
            done += len(rows)
            if progress is not None:
                progress(done, total)
        self.db.execute("INSERT INTO search_index (search_index) VALUES ('optimize')")
        return done

    def search(
        self, wanted: IndexFilter, now: datetime, order: Order, limit: int, offset: int = 0
    ) -> list[IndexHit]:
        plan = _plan(wanted)
        if plan is None:
            return []
        if plan.match is None:
            sql = f"""SELECT d.entry_id, d.language, 0.0 FROM search_docs d
                      WHERE 1 {_where(plan)} ORDER BY {_NEWEST} LIMIT ? OFFSET ?"""
            return self._hits(sql, [*plan.params, limit, offset])
        # The same for every page, so pages do not overlap.
        window = PHRASE_WINDOW if wanted.phrases else RANK_WINDOW
        while True:
            found = self._newest(plan.match, window)
            if not found:
                return []
            if order == "newest" or not plan.ranked:
                hits = self._by_date(plan, found, limit, offset)
            elif self._bm25_affordable(wanted.rank_phrases):
                hits = self._by_bm25(plan, found, now, limit, offset)
            else:
                hits = self._by_title(plan, found, now, limit, offset)
            if len(hits) >= limit or len(found) < window:
                return hits
            window *= 8

    def _newest(self, match: str, window: int) -> list[int]:
        """The rowids of the newest ``window`` matches, newest first: FTS5 reads its
        doclists backwards and stops there."""
        sql = (
            "SELECT rowid FROM search_index WHERE search_index MATCH ? ORDER BY rowid DESC LIMIT ?"
        )
        return [r[0] for r in self.db.execute(sql, [match, window])]

    def _bm25_affordable(self, phrases: Sequence[str]) -> bool:
        """bm25 counts every phrase's matches in the whole index, once per query: cheap for
        words in fewer than BM25_MAX_POSTS posts, a doclist scan of a third of the archive
        for the most common ones."""
        probe = """SELECT 1 FROM search_index WHERE search_index MATCH ?
                   ORDER BY rowid DESC LIMIT 1 OFFSET ?"""
        return all(self.db.execute(probe, [p, BM25_MAX_POSTS]).fetchone() is None for p in phrases)

    def _by_date(self, plan: _Plan, found: list[int], limit: int, offset: int) -> list[IndexHit]:
        sql = f"""SELECT d.entry_id, d.language, 0.0
                  FROM json_each(?) j JOIN search_docs d ON d.rowid = j.value
                  WHERE 1 {_where(plan)} ORDER BY {_NEWEST} LIMIT ? OFFSET ?"""
        return self._hits(sql, [json.dumps(found), *plan.params, limit, offset])

    def _by_bm25(
        self, plan: _Plan, found: list[int], now: datetime, limit: int, offset: int
    ) -> list[IndexHit]:
        bm25 = f"bm25(search_index, {TITLE_WEIGHT}, {BODY_WEIGHT}, {SOURCE_WEIGHT}, 0.0)"
        # MATERIALIZED: one FTS5 scan (a rowid IN pushed into it would be one per id).
        sql = f"""WITH m AS MATERIALIZED (
                      SELECT rowid, {bm25} AS score FROM search_index
                      WHERE search_index MATCH ? AND rowid >= ?)
                  SELECT d.entry_id, d.language, m.score * {_RECENCY} AS score
                  FROM m JOIN search_docs d ON d.rowid = m.rowid
                  WHERE m.rowid IN (SELECT value FROM json_each(?)) {_where(plan)}
                  ORDER BY score LIMIT ? OFFSET ?"""
        params: list[object] = [plan.rank_match, found[-1], int(now.timestamp())]
        params += [json.dumps(found), *plan.params]
        return self._hits(sql, [*params, limit, offset])

    def _by_title(
        self, plan: _Plan, found: list[int], now: datetime, limit: int, offset: int
    ) -> list[IndexHit]:
        """Common words: the newest matches with the words in the title first, by recency."""
        sql = f"""SELECT d.entry_id, d.language,
                         -(1.0 + {TITLE_WEIGHT} * (d.rowid IN (
                             SELECT rowid FROM search_index
                             WHERE search_index MATCH ? AND rowid >= ?))) * {_RECENCY} AS score
                  FROM json_each(?) j JOIN search_docs d ON d.rowid = j.value
                  WHERE 1 {_where(plan)} ORDER BY score, {_NEWEST} LIMIT ? OFFSET ?"""
        params = [plan.title_match, found[-1], int(now.timestamp()), json.dumps(found)]
        return self._hits(sql, [*params, *plan.params, limit, offset])

    def _hits(self, sql: str, params: list[object]) -> list[IndexHit]:
        return [IndexHit(r[0], r[1], float(r[2])) for r in self.db.execute(sql, params)]

    def size_bytes(self) -> int:
        """Bytes of the documents table, its indexes and the FTS5 tables (needs dbstat)."""
        row = self.db.execute(
            """SELECT sum(pgsize) FROM dbstat
               WHERE name LIKE 'search_%' OR name = 'sqlite_autoindex_search_docs_1'"""
        ).fetchone()
        return int(row[0] or 0)


def _plan(wanted: IndexFilter) -> _Plan | None:
    """The filter as FTS5 and SQL; None when nothing can match (a kilde: of no known feed)."""
    terms: list[str] = []
    where: list[str] = []
    params: list[object] = []
    if wanted.feed_urls is not None:
        if not wanted.feed_urls:
            return None
        if len(wanted.feed_urls) <= FACET_TERMS:
            terms.append(_any_of(map(source_token, wanted.feed_urls)))
        else:
            where.append(_from_feeds())
            params.append(json.dumps(sorted(wanted.feed_urls)))
    for tag, tag_feeds in wanted.tags:
        if len(tag_feeds) < FACET_TERMS:
            terms.append(_any_of([category_token(tag), *map(source_token, tag_feeds)]))
        else:
            where.append(
                "(d.rowid IN (SELECT rowid FROM search_index WHERE search_index MATCH ?) OR "
                f"{_from_feeds()})"
            )
            params.extend([_any_of([category_token(tag)]), json.dumps(sorted(tag_feeds))])
    if wanted.since is not None:
        where.append("d.published >= ?")
        params.append(int(wanted.since.timestamp()))
    words = [] if wanted.match is None else [wanted.match]
    match = " AND ".join(f"({t})" for t in [*words, *terms]) or None
    rank_match = title_match = None
    if wanted.match is not None:
        rank = wanted.rank or wanted.match
        rank_match = rank
        title_match = " AND ".join(f"({t})" for t in [f"title : ({rank})", *terms])
    if wanted.exclude is not None:
        exclusion = wanted.exclude
        if match is None:  # filters in SQL only, and words to leave out
            where.append(
                "d.rowid NOT IN (SELECT rowid FROM search_index WHERE search_index MATCH ?)"
            )
            params.append(exclusion)
        elif wanted.match is None:  # the words' own expression holds their exclusions
            match = f"({match}) NOT ({exclusion})"
    ranked = wanted.match is not None
    return _Plan(match, tuple(where), tuple(params), ranked, rank_match, title_match)


def _where(plan: _Plan) -> str:
    return "".join(" AND " + w for w in plan.where)


def _from_feeds() -> str:
    # Correlated: checked for the candidates only, not a list of every entry of the feeds.
    # The feeds as one JSON parameter: a tag of thousands of feeds, named several times,
    # stays far below SQLite's limit on bound variables.
    return (
        "EXISTS (SELECT 1 FROM entry_sources s WHERE s.entry_id = d.entry_id "
        "AND s.feed_url IN (SELECT value FROM json_each(?)))"
    )
