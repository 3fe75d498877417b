"""A search as a feed: the newest matches in Atom or JSON Feed, rendered by the exporter's
own renderers so a search reads like any feed of the site."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import datetime
from typing import Literal
from urllib.parse import urljoin

from aggregator.config import Config
from aggregator.export.atom import NS, render_atom
from aggregator.export.jsonfeed import render_json_feed
from aggregator.export.select import selection_of
from aggregator.serve.pages import feed_title, search_href
from aggregator.types import StoredEntry

FeedFormat = Literal["atom", "json"]
MEDIA_TYPES: dict[FeedFormat, str] = {
    "atom": "application/atom+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
}


def render_search_feed(
    config: Config, query: str, entries: Sequence[StoredEntry], now: datetime, fmt: FeedFormat
) -> bytes:
    base = (
        config.site.base_url if config.site.base_url.endswith("/") else config.site.base_url + "/"
    )
    self_url = urljoin(base, search_href(query, path=f"search.{fmt}"))
    page_url = urljoin(base, search_href(query))
    selection, site = selection_of(config, entries, feed_title(config, query), now)
    if fmt == "json":
        document = json.loads(render_json_feed(selection, site))
        document["feed_url"] = self_url
        document["home_page_url"] = page_url
        return json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"
    root = ET.fromstring(render_atom(selection, site))
    root.find(f"{{{NS}}}id").text = self_url  # type: ignore[union-attr]
    for link in root.findall(f"{{{NS}}}link"):
        if link.get("rel") == "self":
            link.set("href", self_url)
        elif link.get("rel") == "alternate":
            link.set("href", page_url)
    ET.register_namespace("", NS)
    ET.indent(root)
    document_bytes: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document_bytes + b"\n"
