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
from aggregator.export.xmltree import Lines, document, escape_attribute, escape_text

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
    """One ``<entry>``, one level in, for a feed in ``language``: written as the lines
    ``Lines`` would write, as one piece of text (an entry is a fifth of a first export)."""
    text, attr = escape_text, escape_attribute
    lang = ""
    if entry.language and entry.language != language:
        lang = f' xml:lang="{attr(entry.language)}"'
    title = text(entry.title or untitled(language))
    out = [
        f'  <entry{lang}>\n    <id>{text(entry.id)}</id>\n    <title type="text">{title}</title>\n'
    ]
    if entry.link:
        out.append(f'    <link rel="alternate" type="text/html" href="{attr(entry.link)}"/>\n')
    for enclosure in entry.enclosures:
        kind = f' type="{attr(enclosure.type)}"' if enclosure.type else ""
        length = f' length="{enclosure.length}"' if enclosure.length else ""
        out.append(f'    <link rel="enclosure" href="{attr(enclosure.url)}"{kind}{length}/>\n')
    for other in entry.copies[1:]:
        href = attr(other.link or other.source.site_url or other.source.feed_url)
        out.append(
            f'    <link rel="via" href="{href}" title="{attr(other.source.display_name)}"/>\n'
        )
    updated = rfc3339(entry.updated)
    out.append(f"    <published>{rfc3339(entry.published)}</published>\n")
    out.append(f"    <updated>{updated}</updated>\n")
    if entry.author:
        out.append(f"    <author>\n      <name>{text(entry.author)}</name>\n    </author>\n")
    out.extend(f'    <category term="{attr(category)}"/>\n' for category in entry.categories)
    if entry.summary.strip():
        out.append(f'    <summary type="text">{text(entry.summary)}</summary>\n')
    if entry.content_html.strip():
        out.append(f'    <content type="html">{text(entry.content_html)}</content>\n')
    primary = entry.primary.source
    name = text(primary.display_name)
    out.append(
        f"    <source>\n      <id>{text(primary.feed_url)}</id>\n"
        f'      <title type="text">{name}</title>\n      <updated>{updated}</updated>\n'
    )
    if not entry.author:
        out.append(f"      <author>\n        <name>{name}</name>\n      </author>\n")
    out.append(f'      <link rel="self" href="{attr(primary.feed_url)}"/>\n')
    if primary.site_url:
        site = attr(primary.site_url)
        out.append(f'      <link rel="alternate" type="text/html" href="{site}"/>\n')
    out.append("    </source>\n  </entry>\n")
    return "".join(out)


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
