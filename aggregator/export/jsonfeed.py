"""JSON Feed 1.1. Sources go in the ``_aggregator`` extension object, as the spec allows."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from aggregator.export.meta import JSON_FILE, FeedMeta, rfc3339
from aggregator.types import SourceRef, StoredEntry

VERSION = "https://jsonfeed.org/version/1.1"


def _source(source: SourceRef) -> dict[str, Any]:
    return {
        "name": source.title or source.name,
        "feed_url": source.feed_url,
        **({"home_page_url": source.site_url} if source.site_url else {}),
        **({"url": source.link} if source.link else {}),
    }


def _item(entry: StoredEntry) -> dict[str, Any]:
    item: dict[str, Any] = {"id": entry.id}
    if entry.link:
        item["url"] = entry.link
    item["title"] = entry.title
    item["content_html"] = entry.content_html
    if entry.summary_text:
        item["summary"] = entry.summary_text
    item["date_published"] = rfc3339(entry.published)
    item["date_modified"] = rfc3339(entry.updated)
    if entry.author:
        item["authors"] = [{"name": entry.author}]
    if entry.language:
        item["language"] = entry.language
    item["_aggregator"] = {
        "about": "sources this post was found in, primary first",
        "sources": [_source(s) for s in entry.sources],
    }
    return item


def render_json_feed(entries: Sequence[StoredEntry], meta: FeedMeta) -> bytes:
    document = {
        "version": VERSION,
        "title": meta.title,
        "home_page_url": meta.url(),
        "feed_url": meta.url(JSON_FILE),
        "description": meta.description,
        "language": meta.language,
        "items": [_item(e) for e in entries],
    }
    return json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"
