"""Finding a site's feeds: the ``<link rel="alternate">`` a page declares, then the paths feeds
commonly live at. The reading of pages is pure; the fetching is the caller's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

FEED_TYPES = {
    "application/rss+xml": "RSS",
    "application/atom+xml": "Atom",
    "application/feed+json": "JSON Feed",
    "application/json": "JSON Feed",
    "application/rdf+xml": "RSS 1.0",
    "application/x.atom+xml": "Atom",
}
COMMON_PATHS = ("/feed", "/rss.xml", "/atom.xml", "/feed.json", "/feed/", "/rss", "/index.xml")


@dataclass(frozen=True, slots=True)
class FeedLink:
    url: str
    kind: str  # RSS, Atom, JSON Feed
    title: str | None = None


def feed_links(
    content: bytes, url: str, headers: Mapping[str, str] | None = None
) -> list[FeedLink]:
    """The feeds a page declares with ``<link rel="alternate">``, in page order."""
    from aggregator.parse_html import document

    page = document(content, headers or {})
    base = page.css("base[href]::attr(href)").get()
    base_url = urljoin(url, base.strip()) if base else url
    found: dict[str, FeedLink] = {}
    for link in page.css("link[href]"):
        rel = (link.attrib.get("rel") or "").lower().split()
        kind = FEED_TYPES.get((link.attrib.get("type") or "").split(";")[0].strip().lower())
        if "alternate" not in rel or kind is None:
            continue
        if (link.attrib.get("type") or "").startswith("application/json") and "feed" not in (
            link.attrib.get("href") or ""
        ).lower():
            continue  # an oEmbed or API document, not a JSON Feed
        href = urljoin(base_url, link.attrib["href"].strip())
        if urlsplit(href).scheme in ("http", "https") and href not in found:
            title = " ".join((link.attrib.get("title") or "").split()) or None
            found[href] = FeedLink(href, kind, title)
    return list(found.values())


def candidate_urls(url: str) -> list[str]:
    """Where a site's feed often is when its page declares none; Odoo's blogs have theirs
    at ``/blog/<name>/feed``."""
    parts = urlsplit(url)
    root = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
    candidates = []
    segments = [s for s in parts.path.split("/") if s]
    if len(segments) >= 2 and segments[0] == "blog":
        candidates.append(f"{root}/blog/{segments[1]}/feed")
    if segments:
        candidates.append(urljoin(url.rstrip("/") + "/", "feed"))
    candidates += [root + path for path in COMMON_PATHS]
    return list(dict.fromkeys(candidates))
