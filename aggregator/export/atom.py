"""Atom 1.0 (RFC 4287). Each entry names its primary source in atom:source; further
sources are ``link rel="via"``."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

from aggregator.export.meta import ATOM_FILE, GENERATOR, FeedMeta, rfc3339
from aggregator.types import StoredEntry

NS = "http://www.w3.org/2005/Atom"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def _el(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{NS}}}{tag}", attrs)
    if text is not None:
        element.text = text
    return element


def render_atom(entries: Sequence[StoredEntry], meta: FeedMeta) -> bytes:
    ET.register_namespace("", NS)
    feed = ET.Element(f"{{{NS}}}feed", {XML_LANG: meta.language})
    _el(feed, "id", meta.url())
    _el(feed, "title", meta.title)
    _el(feed, "subtitle", meta.description)
    newest = max((e.updated for e in entries), default=meta.updated)
    _el(feed, "updated", rfc3339(newest))
    _el(feed, "link", rel="self", type="application/atom+xml", href=meta.url(ATOM_FILE))
    _el(feed, "link", rel="alternate", type="text/html", href=meta.url())
    author = _el(feed, "author")
    _el(author, "name", meta.title)
    _el(feed, "generator", GENERATOR, version=meta.generator_version)
    for entry in entries:
        item = _el(feed, "entry")
        if entry.language:
            item.set(XML_LANG, entry.language)
        _el(item, "id", entry.id)
        _el(item, "title", entry.title, type="text")
        if entry.link:
            _el(item, "link", rel="alternate", type="text/html", href=entry.link)
        _el(item, "published", rfc3339(entry.published))
        _el(item, "updated", rfc3339(entry.updated))
        if entry.author:
            _el(_el(item, "author"), "name", entry.author)
        if entry.summary_text:
            _el(item, "summary", entry.summary_text, type="text")
        _el(item, "content", entry.content_html, type="html")
        primary, *others = entry.sources
        for other in others:
            _el(
                item,
                "link",
                rel="via",
                href=other.link or other.site_url or other.feed_url,
                title=other.title or other.name,
            )
        source = _el(item, "source")
        _el(source, "id", primary.feed_url)
        _el(source, "title", primary.title or primary.name)
        _el(source, "link", rel="self", href=primary.feed_url)
        if primary.site_url:
            _el(source, "link", rel="alternate", type="text/html", href=primary.site_url)
    ET.indent(feed)
    document: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return document + b"\n"
