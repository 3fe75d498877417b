"""A search as a feed: the newest matches in Atom or JSON Feed, through the exporter's one
road (a "search" selection, whose links are the search's own), so a search reads like any
feed of the site."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from aggregator.config import Config
from aggregator.export.atom import render_atom
from aggregator.export.jsonfeed import render_json_feed
from aggregator.export.select import selection_of
from aggregator.serve.pages import feed_title
from aggregator.types import StoredEntry

FeedFormat = Literal["atom", "json"]
MEDIA_TYPES: dict[FeedFormat, str] = {
    "atom": "application/atom+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
}


def render_search_feed(
    config: Config, query: str, entries: Sequence[StoredEntry], now: datetime, fmt: FeedFormat
) -> bytes:
    selection, site = selection_of(config, entries, query, feed_title(config, query), now)
    return render_atom(selection, site) if fmt == "atom" else render_json_feed(selection, site)
