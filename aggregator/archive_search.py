"""Searching the archive: query text in, ranked entries with highlighted snippets out.

The one road for the command line and the server: parse (pure), resolve the filters against
the configured feeds (pure), ask the store, highlight (pure).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, tzinfo
from typing import Protocol
from urllib.parse import urlsplit

from aggregator.normalise import sanitised_text
from aggregator.search import Language, SearchQuery, fold, highlight, parse_query, snippet
from aggregator.store import Store
from aggregator.store.search import IndexFilter, Order
from aggregator.types import StoredEntry

DEFAULT_LIMIT = 20
MAX_LIMIT = 200


class SearchedFeed(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def tags(self) -> tuple[str, ...]: ...


class SearchScope(Protocol):
    """What a search reads of feeds.yaml: the validated Config, or its cached view
    (config_view.ConfigView) for ``aggregator search``, which then needs no pydantic."""

    @property
    def feeds(self) -> Sequence[SearchedFeed]: ...
    @property
    def zone(self) -> tzinfo: ...


@dataclass(frozen=True, slots=True)
class SearchHit:
    entry: StoredEntry
    title_html: str
    snippet_html: str
    score: float


@dataclass(frozen=True, slots=True)
class SearchResults:
    query: SearchQuery
    hits: tuple[SearchHit, ...]
    offset: int
    more: bool  # another page follows


def _feed_matches_source(feed: SearchedFeed, wanted: str) -> bool:
    name = fold(feed.name)
    host = (urlsplit(feed.url).hostname or "").lower().removeprefix("www.")
    return wanted in name or wanted == host or host.endswith("." + wanted)


def feed_filter(query: SearchQuery, feeds: Sequence[SearchedFeed]) -> frozenset[str] | None:
    """Feed URLs an entry must come from: any ``kilde:`` (a part of the feed's name, or its
    host). None when the query has none."""
    if not query.sources:
        return None
    wanted = [fold(s) for s in query.sources]
    return frozenset(f.url for f in feeds if any(_feed_matches_source(f, w) for w in wanted))


def tag_filters(
    query: SearchQuery, feeds: Sequence[SearchedFeed]
) -> tuple[tuple[str, frozenset[str]], ...]:
    """For each ``tag:``: the tag (a post's category matches it when folded alike), and the
    feeds that carry it in feeds.yaml."""
    return tuple(
        (tag, frozenset(f.url for f in feeds if fold(tag) in {fold(t) for t in f.tags}))
        for tag in query.tags
    )


def index_filter(query: SearchQuery, config: SearchScope) -> IndexFilter:
    since = (
        datetime.combine(query.since, time(), tzinfo=config.zone)
        if query.since is not None
        else None
    )
    return IndexFilter(
        match=query.match_expression(),
        rank=query.ranking_expression(),
        rank_phrases=query.ranking_phrases(),
        phrases=any(len(t.words) > 1 for alts in query.clauses for t in alts),
        exclude=query.exclusion_expression(),
        feed_urls=feed_filter(query, config.feeds),
        since=since,
        tags=tag_filters(query, config.feeds),
    )


def _language(value: str) -> Language:
    return "en" if value == "en" else "da"


def search_archive(
    store: Store,
    config: SearchScope,
    text: str,
    now: datetime,
    limit: int = DEFAULT_LIMIT,
    offset: int = 0,
    order: Order = "rank",
) -> SearchResults:
    """Raises QueryError for a query that cannot be read."""
    query = parse_query(text)
    limit = max(1, min(limit, MAX_LIMIT))
    hits = store.search(index_filter(query, config), now, order, limit + 1, max(0, offset))
    more = len(hits) > limit
    hits = hits[:limit]
    entries = {e.id: e for e in store.entries_by_id([h.entry_id for h in hits])}
    stems = query.highlight_stems()
    found = []
    for hit in hits:
        entry = entries.get(hit.entry_id)
        if entry is None:
            continue
        language = _language(hit.language)
        body = sanitised_text(entry.content_html) or entry.summary_text
        found.append(
            SearchHit(
                entry=entry,
                title_html=highlight(entry.title, stems, language),
                snippet_html=snippet(body, stems, language),
                score=hit.score,
            )
        )
    return SearchResults(query=query, hits=tuple(found), offset=offset, more=more)
