"""RSS 2.0. The primary source goes in the standard ``<source url=…>``; RSS allows one, so
further sources are listed as ``atom:link rel="via"``."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from email.utils import format_datetime

from aggregator.export.meta import GENERATOR, RSS_FILE, FeedMeta
from aggregator.types import StoredEntry

ATOM = "http://www.w3.org/2005/Atom"
DC = "http://purl.org/dc/elements/1.1/"


def _el(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = text
    return element


def render_rss(entries: Sequence[StoredEntry], meta: FeedMeta) -> bytes:
    ET.register_namespace("atom", ATOM)
    ET.register_namespace("dc", DC)
    rss = ET.Element("rss", version="2.0")
    channel = _el(rss, "channel")
    _el(channel, "title", meta.title)
    _el(channel, "link", meta.url())
    _el(channel, "description", meta.description)
    _el(channel, "language", meta.language)
    newest = max((e.updated for e in entries), default=meta.updated)
    _el(channel, "lastBuildDate", format_datetime(newest, usegmt=True))
    _el(channel, "generator", f"{GENERATOR} {meta.generator_version}")
    _el(channel, f"{{{ATOM}}}link", rel="self", type="application/rss+xml", href=meta.url(RSS_FILE))
    for entry in entries:
        item = _el(channel, "item")
        _el(item, "title", entry.title)
        if entry.link:
            _el(item, "link", entry.link)
        _el(item, "guid", entry.id, isPermaLink="false")
        _el(item, "pubDate", format_datetime(entry.published, usegmt=True))
        if entry.author:
            _el(item, f"{{{DC}}}creator", entry.author)
        _el(item, "description", entry.content_html or entry.summary_text)
        primary, *others = entry.sources
        _el(item, "source", primary.title or primary.name, url=primary.feed_url)
        for other in others:
            _el(
                item,
                f"{{{ATOM}}}link",
                rel="via",
                href=other.link or other.site_url or other.feed_url,
                title=other.title or other.name,
            )
    ET.indent(rss)
    document: bytes = ET.tostring(rss, encoding="utf-8", xml_declaration=True)
    return document + b"\n"
