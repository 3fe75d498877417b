"""RSS 2.0. The primary source goes in the standard ``<source url=…>``; RSS allows one, so
further copies are ``atom:link rel="via"``. RSS has one enclosure per item: the first."""

from __future__ import annotations

from aggregator.export.atom import feed_links
from aggregator.export.dates import rfc822
from aggregator.export.fragments import fragment
from aggregator.export.view import GENERATOR, Entry, Selection, Site, page_url
from aggregator.export.words import untitled
from aggregator.export.xmltree import Lines, document, escape_attribute, escape_text

ATOM = "http://www.w3.org/2005/Atom"
DC = "http://purl.org/dc/elements/1.1/"
FH = "http://purl.org/syndication/history/1.0"


@fragment
def item_lines(entry: Entry, language: str) -> str:
    """One ``<item>``, two levels in (inside ``<channel>``), as the lines ``Lines`` would
    write, in one piece of text."""
    text, attr = escape_text, escape_attribute
    out = [f"    <item>\n      <title>{text(entry.title or untitled(language))}</title>\n"]
    if entry.link:
        out.append(f"      <link>{text(entry.link)}</link>\n")
    description = entry.content_html.strip() or entry.summary.strip()
    if description:
        out.append(f"      <description>{text(description)}</description>\n")
    if entry.author:
        out.append(f"      <dc:creator>{text(entry.author)}</dc:creator>\n")
    out.extend(f"      <category>{text(category)}</category>\n" for category in entry.categories)
    if entry.enclosures:
        first = entry.enclosures[0]
        url, kind = attr(first.url), attr(first.type or "application/octet-stream")
        out.append(f'      <enclosure url="{url}" length="{first.length or 0}" type="{kind}"/>\n')
    primary = entry.primary.source
    out.append(
        f'      <guid isPermaLink="false">{text(entry.id)}</guid>\n'
        f"      <pubDate>{rfc822(entry.published)}</pubDate>\n"
        f'      <source url="{attr(primary.feed_url)}">{text(primary.display_name)}</source>\n'
    )
    for other in entry.copies[1:]:
        href = attr(other.link or other.source.site_url or other.source.feed_url)
        title = attr(other.source.display_name)
        out.append(f'      <atom:link rel="via" href="{href}" title="{title}"/>\n')
    out.append("    </item>\n")
    return "".join(out)


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
