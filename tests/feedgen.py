"""Build small RSS documents in tests, so each case reads as data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from xml.sax.saxutils import escape


@dataclass(frozen=True)
class Item:
    title: str
    link: str | None
    html: str
    published: datetime | None = None
    guid: str | None = None
    author: str | None = None
    categories: tuple[str, ...] = ()
    enclosures: tuple[tuple[str, str, int], ...] = ()  # url, type, length


def rss(title: str, site: str, items: list[Item]) -> bytes:
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<rss version="2.0"><channel>',
        f"<title>{escape(title)}</title><link>{escape(site)}</link><description>x</description>",
    ]
    for item in items:
        parts.append("<item>")
        parts.append(f"<title>{escape(item.title)}</title>")
        if item.link:
            parts.append(f"<link>{escape(item.link)}</link>")
        if item.guid:
            parts.append(f'<guid isPermaLink="false">{escape(item.guid)}</guid>')
        if item.published:
            parts.append(f"<pubDate>{format_datetime(item.published)}</pubDate>")
        if item.author:
            parts.append(f"<author>{escape(item.author)}</author>")
        parts.append(f"<description>{escape(item.html)}</description>")
        parts.extend(f"<category>{escape(term)}</category>" for term in item.categories)
        parts.extend(
            f'<enclosure url="{escape(url)}" type="{escape(kind)}" length="{length}"/>'
            for url, kind, length in item.enclosures
        )
        parts.append("</item>")
    parts.append("</channel></rss>")
    return "\n".join(parts).encode("utf-8")
