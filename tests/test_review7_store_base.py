"""Review 7 R14: relative URLs in an entry's content are resolved as feedparser resolves them,
against the content's xml:base or else the feed document's URL, never against the entry's
link: a link post (a roundup linking to digst.dk) keeps its own site's /om-os and
billede.png. The same through the fast path and feedparser, and through a real poll."""

from __future__ import annotations

from datetime import UTC, datetime
from xml.sax.saxutils import escape

import lxml.html
import pytest

from aggregator.normalise import plan_update
from aggregator.parse import parse_feed
from aggregator.pipeline import poll
from aggregator.types import FetchResult
from tests.feedgen import Item, rss
from tests.feedserver import feed_route

WHEN = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
OUTSIDE = "https://digst.dk/nyheder/ny-strategi-for-digital-velfaerd"
CONTENT = '<p>Læs <a href="/om-os">om os</a> og se <img src="billede.png" alt="graf">.</p>'


def urls(html: str) -> tuple[str | None, str | None]:
    tree = lxml.html.fragment_fromstring(html, create_parent="div")
    return tree.find(".//a").get("href"), tree.find(".//img").get("src")


def atom(document_base: str | None, entry_base: str | None) -> bytes:
    """A roundup in Atom whose one entry links to another site."""
    feed_base = f' xml:base="{document_base}"' if document_base else ""
    content_base = f' xml:base="{entry_base}"' if entry_base else ""
    escaped = escape(CONTENT)
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"{feed_base}>
  <title>Ugens links</title><id>urn:uge</id><updated>{WHEN.isoformat()}</updated>
  <link rel="alternate" href="https://kommune.dk/"/>
  <entry><id>urn:uge:47</id><title>Ny strategi fra Digitaliseringsstyrelsen</title>
    <link rel="alternate" href="{OUTSIDE}"/><updated>{WHEN.isoformat()}</updated>
    <content type="html"{content_base}>{escaped}</content>
  </entry>
</feed>""".encode()


def planned(body: bytes, url: str, fast: bool) -> str:
    parsed = parse_feed(body, url, {"content-type": "application/atom+xml"}, fast=fast)
    fetched = FetchResult(feed_url=url, fetched_at=WHEN, final_url=url, content=body)
    (entry,) = plan_update(fetched, parsed, WHEN).entries
    return entry.content_html


FEED = "https://kommune.dk/nyheder/links.xml"


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize(
    ("document_base", "entry_base", "expected"),
    [
        # No xml:base: the document's own URL.
        (None, None, ("https://kommune.dk/om-os", "https://kommune.dk/nyheder/billede.png")),
        # The feed's xml:base.
        ("https://kommune.dk/blog/", None,
         ("https://kommune.dk/om-os", "https://kommune.dk/blog/billede.png")),
        # The content's own xml:base, relative to the feed's.
        ("https://kommune.dk/blog/", "2026/uge-47/",
         ("https://kommune.dk/om-os", "https://kommune.dk/blog/2026/uge-47/billede.png")),
    ],
)  # fmt: skip
def test_a_link_posts_relative_urls_are_its_feeds_own(fast, document_base, entry_base, expected):
    assert urls(planned(atom(document_base, entry_base), FEED, fast)) == expected


@pytest.mark.parametrize("document_base", [None, "https://kommune.dk/blog/"])
def test_the_fast_path_and_feedparser_agree_with_feedparser_itself(document_base):
    """feedparser's own resolution (resolve_relative_uris, which we turn off to do it in the
    cleaner) is the reference."""
    import feedparser

    body = atom(document_base, None)
    reference = feedparser.parse(body, response_headers={"content-location": FEED})
    expected = urls(reference.entries[0].content[0].value)
    assert urls(planned(body, FEED, fast=True)) == urls(planned(body, FEED, fast=False))
    assert urls(planned(body, FEED, fast=True)) == expected


def test_a_polled_link_post_keeps_its_own_sites_urls(server, make_config, store):
    """RSS has no xml:base: the feed document's URL is the base, after its redirect."""
    roundup = Item("Ny strategi fra Digitaliseringsstyrelsen", OUTSIDE, CONTENT, WHEN,
                   guid="uge-47")  # fmt: skip
    server.route("/nyheder/rss", feed_route(rss("Ugens links", "https://kommune.dk/", [roundup])))
    url = server.url("/nyheder/rss")
    poll(make_config([{"name": "Links", "url": url}]), store, clock=lambda: WHEN)
    (entry,) = store.recent_entries(10)
    assert entry.link == OUTSIDE
    root = url.removesuffix("/nyheder/rss")
    assert urls(entry.content_html) == (f"{root}/om-os", f"{root}/nyheder/billede.png")
