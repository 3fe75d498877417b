"""RSS 2.0. The primary source goes in the standard ``<source url=…>``; RSS allows one, so
further copies are ``atom:link rel="via"``. RSS has one enclosure per item: the first."""

from __future__ import annotations

from lxml import etree

from aggregator.export.atom import feed_links
from aggregator.export.dates import rfc822
from aggregator.export.view import GENERATOR, Selection, Site, page_url
from aggregator.export.words import untitled
from aggregator.export.xmltree import serialise
from aggregator.export.xmltree import sub as _el

ATOM = "http://www.w3.org/2005/Atom"
DC = "http://purl.org/dc/elements/1.1/"
FH = "http://purl.org/syndication/history/1.0"


def render_rss(selection: Selection, site: Site) -> bytes:
    # Declared on the root, and only those used, or lxml declares them on every element.
    namespaces = {"atom": ATOM}
    if any(e.author for e in selection.entries):
        namespaces["dc"] = DC
    if selection.kind == "month":
        namespaces["fh"] = FH
    rss = etree.Element("rss", version="2.0", nsmap=namespaces)
    channel = _el(rss, "channel")
    _el(channel, "title", selection.title)
    _el(channel, "link", page_url(site, selection.path("html")))
    _el(channel, "description", site.description or selection.title)
    _el(channel, "language", site.language)
    _el(channel, "lastBuildDate", rfc822(selection.updated))
    _el(channel, "generator", f"{GENERATOR} {site.generator_version}")
    feed_links(channel, selection, site, "rss")
    if selection.kind == "month":
        etree.SubElement(channel, f"{{{FH}}}archive")
    for entry in selection.entries:
        item = _el(channel, "item")
        _el(item, "title", entry.title or untitled(site.language))
        if entry.link:
            _el(item, "link", entry.link)
        description = entry.content_html.strip() or entry.summary.strip()
        if description:
            _el(item, "description", description)
        if entry.author:
            _el(item, f"{{{DC}}}creator", entry.author)
        for category in entry.categories:
            _el(item, "category", category)
        if entry.enclosures:
            first = entry.enclosures[0]
            _el(
                item,
                "enclosure",
                url=first.url,
                length=str(first.length or 0),
                type=first.type or "application/octet-stream",
            )
        _el(item, "guid", entry.id, isPermaLink="false")
        _el(item, "pubDate", rfc822(entry.published))
        primary = entry.primary.source
        _el(item, "source", primary.display_name, url=primary.feed_url)
        for other in entry.copies[1:]:
            href = other.link or other.source.site_url or other.source.feed_url
            _el(item, f"{{{ATOM}}}link", rel="via", href=href, title=other.source.display_name)
    return serialise(rss)
