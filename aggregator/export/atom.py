"""Atom 1.0 (RFC 4287), with RFC 5005 archive links and WebSub links.

Each entry names its primary source in ``atom:source`` (id, title, links, updated, and the
source as author when the entry has none, as §4.1.2 allows); further copies are
``link rel="via"``. The feed itself has no author: the site is not the writer of the posts.
"""

from __future__ import annotations

from lxml import etree

from aggregator.export.dates import rfc3339
from aggregator.export.view import (
    GENERATOR,
    MEDIA_TYPES,
    Format,
    Selection,
    Site,
    page_url,
)
from aggregator.export.words import untitled
from aggregator.export.xmltree import Element, serialise, sub

NS = "http://www.w3.org/2005/Atom"
FH = "http://purl.org/syndication/history/1.0"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def _el(parent: Element, tag: str, text: str | None = None, **attrs: str) -> Element:
    return sub(parent, f"{{{NS}}}{tag}", text, **attrs)


def feed_links(parent: Element, selection: Selection, site: Site, fmt: Format) -> None:
    """Self, alternate, hub and RFC 5005 archive links; RSS writes them as atom:link."""

    def link(**attrs: str) -> None:
        sub(parent, f"{{{NS}}}link", **attrs)

    link(rel="self", type=MEDIA_TYPES[fmt], href=site.url(selection.path(fmt)))
    if fmt == "atom":
        link(rel="alternate", type="text/html", href=page_url(site, selection.path("html")))
    if site.websub_hub and selection.kind != "search":  # the hub hears of files only
        link(rel="hub", href=site.websub_hub)
    archive = selection.archive
    if archive is None:
        return
    if selection.kind == "month":
        current = Selection("recent", "", "", (), selection.updated).path(fmt)
        link(rel="current", type=MEDIA_TYPES[fmt], href=site.url(current))
        if archive.next:
            link(rel="next-archive", type=MEDIA_TYPES[fmt],
                 href=site.url(archive.next.path(fmt)))  # fmt: skip
    if archive.previous:
        link(rel="prev-archive", type=MEDIA_TYPES[fmt],
             href=site.url(archive.previous.path(fmt)))  # fmt: skip


def render_atom(selection: Selection, site: Site) -> bytes:
    namespaces = {None: NS, "fh": FH} if selection.kind == "month" else {None: NS}
    feed = etree.Element(f"{{{NS}}}feed", nsmap=namespaces)
    feed.set(XML_LANG, site.language)
    _el(feed, "id", site.url(selection.path("atom")))
    _el(feed, "title", selection.title, type="text")
    if site.description:
        _el(feed, "subtitle", site.description, type="text")
    _el(feed, "updated", rfc3339(selection.updated))
    feed_links(feed, selection, site, "atom")
    if selection.kind == "month":
        etree.SubElement(feed, f"{{{FH}}}archive")
    _el(feed, "generator", GENERATOR, version=site.generator_version)
    for entry in selection.entries:
        item = _el(feed, "entry")
        if entry.language and entry.language != site.language:
            item.set(XML_LANG, entry.language)
        _el(item, "id", entry.id)
        _el(item, "title", entry.title or untitled(site.language), type="text")
        if entry.link:
            _el(item, "link", rel="alternate", type="text/html", href=entry.link)
        for enclosure in entry.enclosures:
            attrs = {"rel": "enclosure", "href": enclosure.url}
            if enclosure.type:
                attrs["type"] = enclosure.type
            if enclosure.length:
                attrs["length"] = str(enclosure.length)
            _el(item, "link", **attrs)
        for other in entry.copies[1:]:
            href = other.link or other.source.site_url or other.source.feed_url
            _el(item, "link", rel="via", href=href, title=other.source.display_name)
        _el(item, "published", rfc3339(entry.published))
        _el(item, "updated", rfc3339(entry.updated))
        if entry.author:
            _el(_el(item, "author"), "name", entry.author)
        for category in entry.categories:
            _el(item, "category", term=category)
        if entry.summary.strip():
            _el(item, "summary", entry.summary, type="text")
        if entry.content_html.strip():
            _el(item, "content", entry.content_html, type="html")
        primary = entry.primary.source
        source = _el(item, "source")
        _el(source, "id", primary.feed_url)
        _el(source, "title", primary.display_name, type="text")
        _el(source, "updated", rfc3339(entry.updated))
        if not entry.author:
            _el(_el(source, "author"), "name", primary.display_name)
        _el(source, "link", rel="self", href=primary.feed_url)
        if primary.site_url:
            _el(source, "link", rel="alternate", type="text/html", href=primary.site_url)
    return serialise(feed)
