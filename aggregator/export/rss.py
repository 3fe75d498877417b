"""RSS 2.0. The primary source goes in the standard ``<source url=…>``; RSS allows one, so
further copies are ``atom:link rel="via"``. RSS has one enclosure per item: the first."""

from __future__ import annotations

from aggregator.export.atom import feed_links
from aggregator.export.dates import rfc822
from aggregator.export.fragments import fragment
from aggregator.export.view import GENERATOR, Entry, Selection, Site, page_url
from aggregator.export.words import untitled
from aggregator.export.xmltree import Lines, document

ATOM = "http://www.w3.org/2005/Atom"
DC = "http://purl.org/dc/elements/1.1/"
FH = "http://purl.org/syndication/history/1.0"


@fragment
def item_lines(entry: Entry, language: str) -> str:
    """One ``<item>``, two levels in (inside ``<channel>``)."""
    lines = Lines(2)
    with lines.element("item"):
        lines.leaf("title", entry.title or untitled(language))
        if entry.link:
            lines.leaf("link", entry.link)
        description = entry.content_html.strip() or entry.summary.strip()
        if description:
            lines.leaf("description", description)
        if entry.author:
            lines.leaf("dc:creator", entry.author)
        for category in entry.categories:
            lines.leaf("category", category)
        if entry.enclosures:
            first = entry.enclosures[0]
            lines.leaf(
                "enclosure",
                None,
                url=first.url,
                length=str(first.length or 0),
                type=first.type or "application/octet-stream",
            )
        lines.leaf("guid", entry.id, isPermaLink="false")
        lines.leaf("pubDate", rfc822(entry.published))
        primary = entry.primary.source
        lines.leaf("source", primary.display_name, url=primary.feed_url)
        for other in entry.copies[1:]:
            href = other.link or other.source.site_url or other.source.feed_url
            lines.leaf("atom:link", None, rel="via", href=href, title=other.source.display_name)
    return lines.text()


def render_rss(selection: Selection, site: Site) -> bytes:
    # Declared on the root, and only those used.
    root = {"xmlns:atom": ATOM}
    if any(e.author for e in selection.entries):
        root["xmlns:dc"] = DC
    if selection.kind == "month":
        root["xmlns:fh"] = FH
    root["version"] = "2.0"
    lines = Lines(1)
    with lines.element("channel"):
        lines.leaf("title", selection.title)
        lines.leaf("link", page_url(site, selection.path("html")))
        lines.leaf("description", site.description or selection.title)
        lines.leaf("language", site.language)
        lines.leaf("lastBuildDate", rfc822(selection.updated))
        lines.leaf("generator", f"{GENERATOR} {site.generator_version}")
        feed_links(lines, selection, site, "rss")
        if selection.kind == "month":
            lines.leaf("fh:archive")
        for entry in selection.entries:
            lines.raw(item_lines(entry, site.language))
    return document("rss", root, [lines.text()])
