"""Atom 1.0 (RFC 4287), with RFC 5005 archive links and WebSub links.

Each entry names its primary source in ``atom:source`` (id, title, links, updated, and the
source as author when the entry has none, as §4.1.2 allows); further copies are
``link rel="via"``. The feed itself has no author: the site is not the writer of the posts.
"""

from __future__ import annotations

from aggregator.export.dates import rfc3339
from aggregator.export.fragments import fragment
from aggregator.export.view import (
    GENERATOR,
    MEDIA_TYPES,
    Entry,
    Format,
    Selection,
    Site,
    page_url,
)
from aggregator.export.words import untitled
from aggregator.export.xmltree import Lines, document

NS = "http://www.w3.org/2005/Atom"
FH = "http://purl.org/syndication/history/1.0"


def feed_links(lines: Lines, selection: Selection, site: Site, fmt: Format) -> None:
    """Self, alternate, hub and RFC 5005 archive links; RSS writes them as atom:link."""
    tag = "link" if fmt == "atom" else "atom:link"

    def link(**attrs: str) -> None:
        lines.leaf(tag, None, **attrs)

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


@fragment
def entry_lines(entry: Entry, language: str) -> str:
    """One ``<entry>``, one level in, for a feed in ``language``."""
    lines = Lines(1)
    own = {"xml:lang": entry.language} if entry.language and entry.language != language else None
    with lines.element("entry", own):
        lines.leaf("id", entry.id)
        lines.leaf("title", entry.title or untitled(language), type="text")
        if entry.link:
            lines.leaf("link", None, rel="alternate", type="text/html", href=entry.link)
        for enclosure in entry.enclosures:
            attrs = {"rel": "enclosure", "href": enclosure.url}
            if enclosure.type:
                attrs["type"] = enclosure.type
            if enclosure.length:
                attrs["length"] = str(enclosure.length)
            lines.leaf("link", None, **attrs)
        for other in entry.copies[1:]:
            href = other.link or other.source.site_url or other.source.feed_url
            lines.leaf("link", None, rel="via", href=href, title=other.source.display_name)
        lines.leaf("published", rfc3339(entry.published))
        lines.leaf("updated", rfc3339(entry.updated))
        if entry.author:
            with lines.element("author"):
                lines.leaf("name", entry.author)
        for category in entry.categories:
            lines.leaf("category", None, term=category)
        if entry.summary.strip():
            lines.leaf("summary", entry.summary, type="text")
        if entry.content_html.strip():
            lines.leaf("content", entry.content_html, type="html")
        primary = entry.primary.source
        with lines.element("source"):
            lines.leaf("id", primary.feed_url)
            lines.leaf("title", primary.display_name, type="text")
            lines.leaf("updated", rfc3339(entry.updated))
            if not entry.author:
                with lines.element("author"):
                    lines.leaf("name", primary.display_name)
            lines.leaf("link", None, rel="self", href=primary.feed_url)
            if primary.site_url:
                lines.leaf("link", None, rel="alternate", type="text/html", href=primary.site_url)
    return lines.text()


def render_atom(selection: Selection, site: Site) -> bytes:
    root = {"xmlns": NS}
    if selection.kind == "month":
        root["xmlns:fh"] = FH
    root["xml:lang"] = site.language
    lines = Lines(1)
    lines.leaf("id", site.url(selection.path("atom")))
    lines.leaf("title", selection.title, type="text")
    if site.description:
        lines.leaf("subtitle", site.description, type="text")
    lines.leaf("updated", rfc3339(selection.updated))
    feed_links(lines, selection, site, "atom")
    if selection.kind == "month":
        lines.leaf("fh:archive")
    lines.leaf("generator", GENERATOR, version=site.generator_version)
    for entry in selection.entries:
        lines.raw(entry_lines(entry, site.language))
    return document("feed", root, [lines.text()])
