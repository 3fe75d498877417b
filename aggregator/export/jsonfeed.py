"""JSON Feed 1.1. Sources go in the ``_aggregator`` extension object, as the spec allows
(documented in the README): ``{"sources": [{"name", "feed_url", "home_page_url", "url"}]}``,
primary first. ``next_url`` pages back through the monthly archives."""

from __future__ import annotations

import json
from typing import Any

from aggregator.export.dates import rfc3339
from aggregator.export.fragments import fragment
from aggregator.export.view import Copy, Entry, Selection, Site, page_url

VERSION = "https://jsonfeed.org/version/1.1"


def _copy(copy: Copy) -> dict[str, Any]:
    source = copy.source
    data: dict[str, Any] = {"name": source.display_name, "feed_url": source.feed_url}
    if source.site_url:
        data["home_page_url"] = source.site_url
    if copy.link:
        data["url"] = copy.link
    return data


def _item(entry: Entry, language: str) -> dict[str, Any]:
    item: dict[str, Any] = {"id": entry.id}
    if entry.link:
        item["url"] = entry.link
    if entry.title:
        item["title"] = entry.title
    if entry.content_html.strip():
        item["content_html"] = entry.content_html
    else:  # the spec wants content_html or content_text
        item["content_text"] = entry.summary or entry.title
    if entry.summary.strip():
        item["summary"] = entry.summary
    item["date_published"] = rfc3339(entry.published)
    item["date_modified"] = rfc3339(entry.updated)
    if entry.author:
        item["authors"] = [{"name": entry.author}]
    if entry.categories:
        item["tags"] = list(entry.categories)
    if entry.language and entry.language != language:
        item["language"] = entry.language
    if entry.enclosures:
        item["attachments"] = [
            {
                "url": e.url,
                "mime_type": e.type or "application/octet-stream",
                **({"size_in_bytes": e.length} if e.length else {}),
            }
            for e in entry.enclosures
        ]
    item["_aggregator"] = {"sources": [_copy(c) for c in entry.copies]}
    return item


def render_json_feed(selection: Selection, site: Site) -> bytes:
    document: dict[str, Any] = {
        "version": VERSION,
        "title": selection.title,
        "home_page_url": page_url(site, selection.path("html")),
        "feed_url": site.url(selection.path("json")),
    }
    if site.description:
        document["description"] = site.description
    document["language"] = site.language
    if site.websub_hub:
        document["hubs"] = [{"type": "WebSub", "url": site.websub_hub}]
    if selection.archive and selection.archive.previous:
        document["next_url"] = site.url(selection.archive.previous.path("json"))
    # "items" comes last: the document's own keys, then each entry's object as text.
    head = _dumps(document)[:-1]
    items = ",".join(_item_text(e, site.language) for e in selection.entries)
    return f'{head},"items":[{items}]}}\n'.encode()


def _dumps(value: object) -> str:
    # No indent: json's C encoder only runs without one (five times faster on a large page).
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@fragment
def _item_text(entry: Entry, language: str) -> str:
    return _dumps(_item(entry, language))
