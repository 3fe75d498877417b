"""HTML sources (type: html) through the real road: loopback server, real SQLite file."""

from __future__ import annotations

import itertools
import logging
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from aggregator.config import parse_config
from aggregator.discover import FeedLink, candidate_urls, feed_links
from aggregator.errors import ConfigError, ParseError
from aggregator.guess import guess_item_selector
from aggregator.page_dates import parse_date
from aggregator.parse import parse_feed
from aggregator.parse_html import extract, parse_html
from aggregator.pipeline import poll
from aggregator.store import Store
from aggregator.types import HtmlSource, Selector
from tests.conftest import serve_fixture
from tests.feedgen import Item, rss
from tests.feedserver import FeedServer, Response, feed_route

HTML = Path(__file__).parent / "pages"  # fixture pages in the shapes of Danish CMSs
HTML_TYPE = "text/html; charset=utf-8"

# The shapes of the CMSs Danish public bodies use, each with the selectors an admin writes.
CMS_SHAPES: dict[str, dict[str, Any]] = {
    "umbraco_list.html": {
        "items": ".news-list article",
        "fields": {"date": ".news-list__date", "summary": ".news-list__teaser", "image": "img"},
    },
    "sitecore_list.html": {
        "items": "li.search-result",
        "fields": {"title": ".field-title", "date": ".field-date", "summary": ".field-teaser"},
    },
    "drupal_list.html": {
        "items": {"xpath": "//div[@class='view-content']/div[contains(@class, 'views-row')]"},
        "fields": {
            "summary": {"css": ".field--name-body", "take": "html"},
            "author": ".field--name-uid",
            "categories": ".field--name-tags a",
        },
    },
    "odoo_blog.html": {
        "items": "#o_wblog_posts_loop article.o_wblog_post",
        "fields": {"date": ".o_wblog_post_short_date", "summary": ".o_wblog_post_teaser"},
    },
}


def source(**keys: Any) -> HtmlSource:
    config = parse_config(
        {"feeds": [{"name": "x", "url": "https://www.kl.dk/nyheder/", "type": "html", **keys}]}
    )
    found = config.feeds[0].html_source()
    assert found is not None
    return found


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


EXPECTED = {
    "umbraco_list.html": [
        ("Kommunerne får ny fælles it-platform",
         "https://www.kl.dk/nyheder/2026/november/kommunerne-faar-ny-faelles-it-platform/",
         utc(2026, 11, 26, 23)),
        ("Økonomiaftalen sætter fokus på digitalisering",
         "https://www.kl.dk/nyheder/nyheder/2026/november/oekonomiaftale-digitalisering/",
         utc(2026, 11, 23, 23)),
        ("Kunstig intelligens i jobcentrene: erfaringer fra syv kommuner",
         "https://www.kl.dk/nyheder/2026/oktober/ai-i-jobcentrene/?utm_source=forside",
         utc(2026, 10, 2, 22)),
    ],
    "sitecore_list.html": [  # <base href> and ISO-8859-1 from <meta>
        ("Ny version af den fælles kommunale infrastruktur",
         "https://www.kombit.dk/nyheder/2026/fælles-kommunal-infrastruktur", utc(2026, 11, 26, 23)),
        ("Udbud af sag- og dokumenthåndtering er sendt i høring",
         "https://www.kombit.dk/nyheder/2026/udbud-af-sag-og-dokumenthaandtering",
         utc(2026, 11, 19, 23)),
    ],
    "drupal_list.html": [  # <time datetime> wins over the Danish text beside it
        ("Ny strategi for digital velfærd",
         "https://www.kl.dk/nyheder/2026/ny-strategi-for-digital-velfaerd",
         utc(2026, 11, 25, 8, 30)),
        ("MitID Erhverv får nye funktioner",
         "https://www.kl.dk/nyheder/2026/mitid-erhverv-nye-funktioner", utc(2026, 11, 18, 11)),
    ],
    "odoo_blog.html": [
        ("OS2mo 12 er udkommet", "https://www.kl.dk/blog/nyheder-2/os2mo-12-er-udkommet-412",
         utc(2026, 11, 25, 23)),
        ("Velkommen til tre nye medlemskommuner",
         "https://www.kl.dk/blog/nyheder-2/velkommen-til-nye-medlemmer-411", utc(2026, 11, 18, 23)),
    ],
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(CMS_SHAPES))
def test_cms_shapes_give_titles_absolute_links_and_danish_dates(name):
    found = extract(
        (HTML / name).read_bytes(),
        "https://www.kl.dk/nyheder/",
        {"Content-Type": "text/html"},
        source(**CMS_SHAPES[name]),
    )
    got = [(e.title, e.link, e.published) for e in found.entries]
    assert got == EXPECTED[name]
    # Cookie banners, menus and pagination links are not items.
    assert found.items == len(EXPECTED[name])
    assert found.skipped == 0
    assert all(
        c.matched == found.items for c in found.counts if c.name not in ("image", "categories")
    )
    for entry in found.entries:
        assert entry.guid is not None
        assert entry.guid.startswith("https://")
        assert "utm_" not in entry.guid


def test_field_takes_text_inner_html_or_an_attribute():
    drupal = extract(
        (HTML / "drupal_list.html").read_bytes(),
        "https://digst.dk/nyheder/",
        {},
        source(**CMS_SHAPES["drupal_list.html"]),
    )
    first = drupal.entries[0]
    assert first.content_html == (
        "<p>Strategien skal <strong>styrke</strong> brugen af digitale løsninger i ældreplejen.</p>"
    )
    assert [e.author for e in drupal.entries] == ["Mette Sørensen", "Jonas Æbelø"]
    assert [e.categories for e in drupal.entries] == [("Velfærd", "Ældrepleje"), ()]
    assert {e.language for e in drupal.entries} == {None}  # parse_html sets the page's
    umbraco = extract(
        (HTML / "umbraco_list.html").read_bytes(),
        "https://www.kl.dk/nyheder/",
        {},
        source(**CMS_SHAPES["umbraco_list.html"]),
    )
    assert umbraco.entries[0].content_html.startswith(
        '<p><img src="https://www.kl.dk/media/12345/platform.jpg?width=400" alt=""></p><p>KL og'
    )
    by_attribute = extract(
        (HTML / "umbraco_list.html").read_bytes(),
        "https://www.kl.dk/nyheder/",
        {},
        source(items=".news-list article", fields={"title": {"css": "a", "attr": "href"}}),
    )
    assert by_attribute.entries[0].title.startswith("/nyheder/2026/november/")


def test_item_selector_matching_nothing_is_an_error_naming_it():
    with pytest.raises(ParseError) as caught:
        parse_html(
            (HTML / "umbraco_list.html").read_bytes(),
            "https://www.kl.dk/nyheder/",
            {},
            source(items=".news-list .teaser-card"),
        )
    assert str(caught.value) == (
        "item selector `.news-list .teaser-card` matched 0 elements; the page changed?"
    )


def test_items_without_links_are_an_error_naming_the_selector_and_count():
    with pytest.raises(ParseError) as caught:
        parse_html(
            (HTML / "umbraco_list.html").read_bytes(),
            "https://www.kl.dk/nyheder/",
            {},
            source(items=".news-list article", fields={"link": "a.read-more"}),
        )
    assert str(caught.value) == (
        "3 of 3 items have no title or link: link selector `a.read-more` matched 0 of 3 items"
    )


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"items": "li"}, "feeds[0]: items: only for type: html"),
        ({"type": "html"}, "feeds[0]: type: html needs an items selector"),
        ({"type": "html", "items": "li[", "follow": True}, "feeds[0].items: not a valid CSS"),
        ({"type": "html", "items": {"xpath": "//li["}}, "feeds[0].items: not a valid XPath"),
        ({"type": "html", "items": "li", "content": ".body"}, "set follow: true"),
        ({"type": "html", "items": "li", "fields": {"titel": "h3"}}, "fields.titel: unknown key"),
    ],
)
def test_html_source_keys_are_checked(keys, message):
    with pytest.raises(ConfigError) as caught:
        parse_config({"feeds": [{"name": "KL", "url": "https://www.kl.dk/nyheder/", **keys}]})
    assert message in str(caught.value)


def count(store: Store, table: str) -> int:
    return int(store.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def serve_list(server: FeedServer, name: str, path: str = "/nyheder/") -> str:
    body = (HTML / name).read_bytes().replace(b"https://www.kl.dk", server.base_url.encode())
    return server.route(path, feed_route(body, content_type=HTML_TYPE))


def kl_source(url: str, **keys: Any) -> dict[str, Any]:
    return {"name": "KL", "url": url, "type": "html", **CMS_SHAPES["umbraco_list.html"], **keys}


def test_html_source_is_stored_and_a_304_repoll_adds_nothing(server, make_config, store, clock):
    config = make_config([kl_source(serve_list(server, "umbraco_list.html"))])
    first = poll(config, store, clock=clock)
    assert (first.new, first.failed) == (3, ())
    titles = sorted(e.title for e in store.recent_entries(10))
    assert titles[0] == "Kommunerne får ny fælles it-platform"
    clock.advance(timedelta(hours=1))
    second = poll(config, store, clock=clock)
    assert second.results[0].not_modified
    assert "if-none-match" in server.requests_to("/nyheder/")[1].headers
    assert (count(store, "entries"), count(store, "entry_sources")) == (3, 3)
    status = {s.name: s for s in store.feed_statuses()}["KL"]
    assert (status.state, status.entry_count, status.last_error) == ("ok", 3, None)


@pytest.mark.parametrize(
    ("encoding", "content_type", "meta"),
    [
        # The server's default charset over a page written in UTF-8: the bytes win.
        ("utf-8", "text/html; charset=ISO-8859-1", ""),
        ("utf-8", "text/html", '<meta charset="iso-8859-1">'),
        # A legacy page labelled Latin-1 is read as browsers read it, windows-1252 (its “”).
        (
            "cp1252",
            "text/html",
            '<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">',
        ),
        ("cp1252", "text/html; charset=windows-1252", ""),
        ("cp1252", "text/html", ""),  # nothing declared: guessed
    ],
)
def test_the_page_charset_is_decided_as_a_feeds_is(
    server, make_config, store, clock, encoding, content_type, meta
):
    page = (
        f"<html><head>{meta}<title>Nyheder</title></head><body><ul>"
        '<li class="n"><a href="/a">“Ærø og Å-kommunerne” får én fælles løsning</a></li>'
        '<li class="n"><a href="/b">Økonomiaftale: 3 mia. kr. til digitalisering på '
        "ældreområdet</a></li>"
        "</ul></body></html>"
    )
    url = server.route("/nyheder/", feed_route(page.encode(encoding), content_type=content_type))
    keys = {"type": "html", "items": "li.n", "fields": {"title": "a"}}
    config = make_config([{"name": "Ærø", "url": url, **keys}])
    report = poll(config, store, clock=clock)
    assert (report.new, report.failed) == (2, ())
    assert sorted(row[0] for row in store.db.execute("SELECT title FROM entries")) == [
        "Økonomiaftale: 3 mia. kr. til digitalisering på ældreområdet",
        "“Ærø og Å-kommunerne” får én fælles løsning",
    ]


def test_a_selector_that_stops_matching_puts_the_source_in_an_error_state(
    server, make_config, store, clock
):
    url = serve_list(server, "umbraco_list.html")
    config = make_config([kl_source(url)])
    poll(config, store, clock=clock)
    redesigned = (HTML / "umbraco_list.html").read_bytes().replace(b"news-list", b"nyhedsliste")
    server.route("/nyheder/", feed_route(redesigned, content_type=HTML_TYPE))
    clock.advance(timedelta(hours=2))
    report = poll(config, store, clock=clock)
    assert report.results[0].error == (
        "item selector `.news-list article` matched 0 elements; the page changed?"
    )
    status = {s.name: s for s in store.feed_statuses()}["KL"]
    assert status.state == "failing"
    assert status.last_error == report.results[0].error
    assert status.entry_count == 3  # what was stored stays


def test_most_items_giving_one_link_is_a_template_change_not_one_post(
    server, make_config, store, clock
):
    """A topic link put before each title's (review 6 R1): stored by link, every item but the
    first would be dropped, now and on every later poll, with the source "ok"."""
    url = serve_list(server, "umbraco_list.html")
    config = make_config([kl_source(url)])
    assert poll(config, store, clock=clock).new == 3
    topic = (
        b'<article class="news-list__item">\n<a class="tag" href="/emner/digitalisering">Emne</a>'
    )
    changed = (
        (HTML / "umbraco_list.html")
        .read_bytes()
        .replace(b'<article class="news-list__item">', topic)
    )
    server.route("/nyheder/", feed_route(changed, content_type=HTML_TYPE))
    clock.advance(timedelta(hours=2))
    report = poll(config, store, clock=clock)
    assert report.results[0].error == (
        f"link selector `a[href]` gave the same link ({server.base_url}/emner/digitalisering) "
        "for 3 of 3 items; the page changed?"
    )
    assert (report.new, count(store, "entries")) == (0, 3)
    assert {s.name: s for s in store.feed_statuses()}["KL"].state == "failing"


def test_notices_that_link_back_to_their_page_are_each_kept(server, make_config, store, clock):
    """Review 6 R19: a page of notices ("Driftsmeddelelser") whose every "Læs mere" leads back
    to the page itself: a link to the page is no link, so each notice is kept by what it says."""
    page = (HTML / "umbraco_list.html").read_bytes().decode()
    hrefs = re.findall(r'class="news-list__link" href="([^"]+)"', page)
    for href in hrefs:
        page = page.replace(href, "/driftsmeddelelser/")
    url = server.route("/driftsmeddelelser/", feed_route(page.encode(), content_type=HTML_TYPE))
    config = make_config([kl_source(url)])
    report = poll(config, store, clock=clock)
    assert (report.new, report.failed) == (3, ())
    assert {e.link for e in store.recent_entries(10)} == {None}
    clock.advance(timedelta(hours=2))
    assert poll(config, store, clock=clock).new == 0  # the same notices, not stored again


def test_a_few_items_sharing_a_link_are_not_an_error():
    page = (HTML / "umbraco_list.html").read_bytes().decode()
    hrefs = re.findall(r'class="news-list__link" href="([^"]+)"', page)
    assert len(set(hrefs)) == 3
    # The second item links where the first does: two distinct links of three is news.
    shared = page.replace(hrefs[1], hrefs[0]).encode()
    found = extract(shared, "https://www.kl.dk/nyheder/", {}, source(items=".news-list article"))
    assert found.problem() is None
    assert len({e.link for e in found.entries}) == 2


def test_a_web_page_is_offered_to_subscribe_to_as_the_feed_made_of_it(
    server, make_config, store, clock, tmp_path
):
    """Review 6 R16: sources.opml, the page's "feed" link and atom:source rel=self name the
    per-source feed made here for an HTML source, never the web page, which is no feed."""
    from lxml import etree

    from aggregator.export import export_feeds

    page = serve_list(server, "umbraco_list.html")
    feed = server.static_feed(
        "/os2.xml", (Path(__file__).parent / "fixtures/rss20.xml").read_bytes()
    )
    config = make_config([kl_source(page), {"name": "OS2", "url": feed}])
    poll(config, store, clock=clock)
    export_feeds(config, store, clock())
    out = config.output_dir
    opml = etree.parse(str(out / "sources.opml"))
    subscriptions = {o.get("xmlUrl"): o.get("htmlUrl") for o in opml.iter("outline")}
    ours = "https://planet.example.dk/source/kl/atom.xml"
    assert subscriptions.keys() == {ours, feed}
    assert subscriptions[ours] == page
    atom = etree.parse(str(out / "source" / "kl" / "atom.xml"))
    ns = {"a": "http://www.w3.org/2005/Atom"}
    selves = {
        link.get("href") for link in atom.iterfind("a:entry/a:source/a:link[@rel='self']", ns)
    }
    assert selves == {ours}
    front = (out / "index.html").read_text(encoding="utf-8")
    assert f'<a href="{ours}">' in front
    assert f'<a href="{page}">' in front  # the page itself, as the source's site


ROBOTS = "User-agent: *\r\nDisallow: /nyheder/\r\n"


@pytest.mark.parametrize(
    "body",
    [
        ROBOTS.encode(),
        # As IIS serves a file a Windows editor saved: a byte order mark before the first group.
        b"\xef\xbb\xbf" + ROBOTS.encode(),
        ROBOTS.encode("utf-16"),
    ],
    ids=["plain", "utf-8 bom", "utf-16"],
)
def test_robots_disallow_stops_the_source_before_its_page(server, make_config, store, clock, body):
    server.static("/robots.txt", Response(200, body, {"Content-Type": "text/plain"}))
    config = make_config([kl_source(serve_list(server, "umbraco_list.html"))])
    report = poll(config, store, clock=clock)
    assert report.results[0].error == (
        f"robots.txt of {server.base_url} disallows {server.base_url}/nyheder/"
    )
    assert server.requests_to("/nyheder/") == []
    assert server.requests_to("/robots.txt")[0].headers["user-agent"] == config.poll.user_agent


def test_robots_for_another_agent_and_feeds_are_not_affected(server, make_config, store, clock):
    server.static(
        "/robots.txt",
        Response(200, b"User-agent: SomeBot\nDisallow: /\n", {"Content-Type": "text/plain"}),
    )
    config = make_config([kl_source(serve_list(server, "umbraco_list.html"))])
    assert poll(config, store, clock=clock).new == 3


def test_robots_txt_failing_with_5xx_means_nothing_is_fetched(server, make_config, store, clock):
    server.static("/robots.txt", Response(503, b"busy"))
    config = make_config([kl_source(serve_list(server, "umbraco_list.html"))])
    report = poll(config, store, clock=clock)
    assert report.results[0].error is not None
    assert report.results[0].error.startswith("robots.txt answered HTTP 503")
    assert server.requests_to("/nyheder/") == []


def article(title: str, published: str) -> bytes:
    page = (HTML / "umbraco_article.html").read_text(encoding="utf-8")
    return page.replace("TITLE", title).replace("PUBLISHED", published).encode()


def serve_articles(server: FeedServer) -> dict[str, str]:
    """The three Umbraco items' own pages, with metadata dates and cookie banners."""
    paths = {
        "/nyheder/2026/november/kommunerne-faar-ny-faelles-it-platform/":
            "2026-11-27T09:15:00+01:00",
        "/nyheder/nyheder/2026/november/oekonomiaftale-digitalisering/":
            "2026-11-24T10:00:00+01:00",
        "/nyheder/2026/oktober/ai-i-jobcentrene/?utm_source=forside": "2026-10-03T08:00:00+02:00",
    }  # fmt: skip
    for path, published in paths.items():
        server.route(path, feed_route(article(path.split("/")[-2], published), HTML_TYPE))
    return paths


def test_follow_is_bounded_per_poll_and_each_page_fetched_once(server, make_config, store, clock):
    paths = serve_articles(server)
    url = serve_list(server, "umbraco_list.html")
    keys = CMS_SHAPES["umbraco_list.html"]
    config = make_config(
        [kl_source(url, fields={"summary": keys["fields"]["summary"]}, follow=True, follow_limit=2)]
    )
    first = poll(config, store, clock=clock)
    assert (first.new, first.failed) == (2, ())
    clock.advance(timedelta(hours=1))
    second = poll(config, store, clock=clock)
    assert second.new == 1  # the list page was read again in full, not answered with a 304
    assert "if-none-match" not in server.requests_to("/nyheder/")[1].headers
    clock.advance(timedelta(hours=1))
    third = poll(config, store, clock=clock)
    assert third.results[0].not_modified
    assert [len(server.requests_to(p)) for p in paths] == [1, 1, 1]
    entries = {e.title: e for e in store.recent_entries(10)}
    platform = entries["Kommunerne får ny fælles it-platform"]
    # The page's main content, not the cookie banner or the footer; the date from its metadata.
    assert "Kommunerne har i flere år efterspurgt en fælles løsning" in platform.content_html
    assert "cookies" not in platform.content_html
    assert "Weidekampsgade" not in platform.content_html
    assert platform.published == utc(2026, 11, 27, 8, 15)
    assert f'href="{server.base_url}/nyheder/2026/platform-faq/"' in platform.content_html
    assert count(store, "entries") == 3


def test_follow_with_a_content_selector_and_a_missing_page(server, make_config, store, clock):
    paths = list(serve_articles(server))
    server.static(paths[1], Response(404, b"gone"))
    url = serve_list(server, "umbraco_list.html")
    config = make_config([kl_source(url, follow=True, content=".article__body")])
    assert poll(config, store, clock=clock).new == 3
    entries = {e.title: e for e in store.recent_entries(10)}
    platform = entries["Kommunerne får ny fælles it-platform"]
    assert platform.content_html.startswith("<p>BODY Kommunerne har i flere år")
    # A page that answers 404 leaves the list page's summary, and is not asked for again.
    assert entries["Økonomiaftalen sætter fokus på digitalisering"].summary_text.startswith(
        "Regeringen og KL er enige"
    )
    clock.advance(timedelta(hours=1))
    poll(config, store, clock=clock)
    assert len(server.requests_to(paths[1])) == 1


@pytest.mark.parametrize("content_type", ["application/pdf", None])
def test_a_followed_link_to_a_pdf_keeps_the_list_pages_word(
    server, make_config, store, clock, caplog, content_type
):
    """Minutes and hearing drafts are linked from news lists as PDF: nothing to extract."""
    paths = list(serve_articles(server))
    pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n"
    server.static(
        paths[1], Response(200, pdf, {"Content-Type": content_type} if content_type else {})
    )
    config = make_config([kl_source(serve_list(server, "umbraco_list.html"), follow=True)])
    assert poll(config, store, clock=clock).new == 3
    entries = {e.title: e for e in store.recent_entries(10)}
    minutes = entries["Økonomiaftalen sætter fokus på digitalisering"]
    assert minutes.summary_text.startswith("Regeringen og KL er enige")
    assert "PDF" not in (minutes.content_html or "")
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_crawl_delay_spaces_the_requests_to_a_site(server, make_config, store, clock):
    server.static(
        "/robots.txt",
        Response(200, b"User-agent: *\nCrawl-delay: 0.6\n", {"Content-Type": "text/plain"}),
    )
    paths = list(serve_articles(server))
    url = serve_list(server, "umbraco_list.html")
    config = make_config([kl_source(url, follow=True, follow_limit=2)])
    assert poll(config, store, clock=clock).new == 2
    times = sorted(r.at for r in server.requests if r.path in ("/nyheder/", *paths))
    assert len(times) == 3
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.55, gaps


def test_the_same_post_in_an_html_source_and_a_feed_is_one_entry(server, make_config, store, clock):
    url = serve_list(server, "umbraco_list.html")
    post = f"{server.base_url}/nyheder/2026/november/kommunerne-faar-ny-faelles-it-platform/"
    rss = f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>KOMBIT</title><link>https://www.kombit.dk/</link>
<item><title>Kommunerne får ny fælles it-platform</title><link>{post}?utm_medium=rss</link>
<guid isPermaLink="false">kombit-1234</guid><pubDate>Fri, 27 Nov 2026 08:00:00 GMT</pubDate>
<description>KL og KOMBIT præsenterer en fælles platform.</description></item>
</channel></rss>""".encode()
    config = make_config(
        [kl_source(url), {"name": "KOMBIT", "url": server.route("/kombit.rss", feed_route(rss))}]
    )
    report = poll(config, store, clock=clock)
    assert report.failed == ()
    assert count(store, "entry_sources") == 4
    assert count(store, "entries") == 3
    merged = next(e for e in store.recent_entries(10) if len(e.sources) == 2)
    assert merged.title == "Kommunerne får ny fælles it-platform"


def test_an_undated_archive_post_is_shown_once_a_dated_feed_carries_it(
    server, make_config, store, clock
):
    """Review 7 R16: stored first undated (archive), then merged from a dated feed."""
    url = serve_list(server, "umbraco_list.html")
    keys = {**CMS_SHAPES["umbraco_list.html"], "fields": {"summary": ".news-list__teaser"}}
    poll(make_config([{"name": "KL", "url": url, "type": "html", **keys}]), store, clock=clock)
    assert store.recent_entries(10) == []  # a first poll's undated posts are archive
    link = f"{server.base_url}/nyheder/2026/november/kommunerne-faar-ny-faelles-it-platform/"
    item = Item("Kommunerne får ny fælles it-platform", link, "<p>Tekst.</p>",
                datetime(2026, 11, 26, 9, tzinfo=UTC), guid="p1")  # fmt: skip
    feed = server.static_feed("/kl.rss", rss("KL", server.base_url, [item]))
    config = make_config([{"name": "KL", "url": url, "type": "html", **keys},
                          {"name": "KL feed", "url": feed}])  # fmt: skip
    clock.advance(timedelta(hours=1))
    poll(config, store, clock=clock)
    assert [e.title for e in store.recent_entries(10)] == ["Kommunerne får ny fælles it-platform"]


def test_an_html_page_configured_as_a_feed_names_the_feed_it_links_to():
    page = (HTML / "odoo_blog.html").read_bytes()
    with pytest.raises(ParseError) as caught:
        parse_feed(page, "https://www.os2.eu/blog/nyheder-2", {"content-type": "text/html"})
    assert str(caught.value) == (
        "not a feed: the server sent an HTML page; it links to "
        "https://www.os2.eu/blog/nyheder-2/feed — update feeds.yaml or run aggregator add"
    )


@pytest.mark.parametrize("name", sorted(CMS_SHAPES))
def test_the_guessed_item_selector_finds_each_cms_list(name):
    content = (HTML / name).read_bytes()
    guessed = guess_item_selector(content)
    assert guessed is not None
    found = extract(content, "https://www.kl.dk/nyheder/", {}, HtmlSource(items=Selector(guessed)))
    assert [e.title for e in found.entries] == [title for title, _, _ in EXPECTED[name]]


def test_feed_discovery_reads_alternate_links_and_knows_odoo_paths():
    page = (HTML / "odoo_blog.html").read_bytes()
    assert feed_links(page, "https://www.os2.eu/blog/nyheder-2") == [
        FeedLink("https://www.os2.eu/blog/nyheder-2/feed", "Atom", "Atom Feed")
    ]
    json_feed = b'<link rel="alternate" type="application/feed+json" href="/feed.json">'
    assert feed_links(json_feed, "https://e.dk/")[0].kind == "JSON Feed"
    candidates = candidate_urls("https://www.os2.eu/blog/nyheder-2/page/2")
    assert candidates[0] == "https://www.os2.eu/blog/nyheder-2/feed"
    assert "https://www.os2.eu/feed.json" in candidates
    assert "https://www.os2.eu/atom.xml" in candidates


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("27. november 2026", utc(2026, 11, 26, 23)),
        ("27. nov. 2026", utc(2026, 11, 26, 23)),
        ("27-11-2026", utc(2026, 11, 26, 23)),
        ("03-04-2026", utc(2026, 4, 2, 22)),  # 3 April: day first, summer time
        ("2026-11-27T10:00:00+01:00", utc(2026, 11, 27, 9)),
        ("Publiceret 12. januar 2026", utc(2026, 1, 11, 23)),
        ("ingen dato her", None),
    ],
)
def test_danish_dates(text, expected):
    assert parse_date(text) == expected


def test_followed_items_still_listed_are_seen_again_and_outlive_an_age_prune(
    server, make_config, store, clock
):
    serve_articles(server)
    url = serve_list(server, "umbraco_list.html")
    keys = CMS_SHAPES["umbraco_list.html"]
    config = make_config(
        [kl_source(url, fields={"summary": keys["fields"]["summary"]}, follow=True, follow_limit=2)]
    )
    poll(config, store, clock=clock)
    clock.advance(timedelta(hours=1))
    assert poll(config, store, clock=clock).new == 1  # the third item's page, read now
    # The two items read by the first poll are still on the list page: seen by this poll too.
    (seen,) = store.db.execute("SELECT count(DISTINCT last_seen) FROM entry_sources").fetchone()
    assert seen == 1
    # So an age prune keeps every post the source still lists, however old.
    report = store.prune([f.url for f in config.feeds], before=clock() + timedelta(days=1),
                         dry_run=False)  # fmt: skip
    assert report.by_age == 0
    assert count(store, "entries") == 3


@pytest.mark.parametrize("follow", [False, True], ids=["list", "follow"])
def test_a_link_that_is_no_url_costs_its_item_only(server, make_config, store, clock, follow):
    """Review 6 R22: an editor's placeholder `http://[indsæt link]/`, a host IDNA refuses, or a
    broken <base href> made urljoin raise: the source failed with a traceback, and with
    `follow` its fetch thread died, so it (and whatever that thread would fetch next) was
    never polled, without a word. Now such a link is no link: its item alone is skipped."""
    page = (HTML / "umbraco_list.html").read_bytes().decode()
    broken = (
        '<article class="news-list__item"><a href="http://[indsæt link]/">'
        '<h3 class="news-list__title">Kladde</h3></a></article>'
        '<article class="news-list__item"><a href="http://ä..dk/nyhed">'
        '<h3 class="news-list__title">Forkert vært</h3></a></article>'
    )
    page = page.replace("</article>", f"</article>{broken}", 1)
    url = server.route("/nyheder/", feed_route(page.encode(), content_type=HTML_TYPE))
    base = page.replace("<head>", '<head><base href="http://[oops/">', 1)
    other = server.route("/andre/", feed_route(base.encode(), content_type=HTML_TYPE))
    if follow:
        serve_articles(server)
    sources = [kl_source(url, follow=follow), {**kl_source(other), "name": "Andre"}]
    feeds = [*sources, *({"name": f"F{n}", "url": serve_fixture(server, "rss20.xml", f"/f{n}")}
                         for n in range(3))]  # fmt: skip
    config = make_config(feeds, poll={"concurrency": 1})  # one fetch thread: it must survive
    report = poll(config, store, clock=clock)
    assert report.failed == ()
    assert len(report.results) == 5
    titles = {e.title for e in store.recent_entries(50)}
    assert "Kommunerne får ny fælles it-platform" in titles
    assert not {"Kladde", "Forkert vært"} & titles
    assert {s.name: s.state for s in store.feed_statuses()}["KL"] == "ok"


def test_followed_links_to_another_port_of_an_allowed_host_are_not_fetched(
    server, make_config, store, clock
):
    """Review 6 R21: `allow_private_hosts: [host]` allows the source's own port only; a list
    page naming another port (an intranet's admin) must not have that page read, published."""
    other = FeedServer().start()
    try:
        secret = other.route("/admin", feed_route(b"<h1>HEMMELIG</h1><p>intern</p>", HTML_TYPE))
        page = (HTML / "umbraco_list.html").read_bytes().decode()
        href = re.findall(r'class="news-list__link" href="([^"]+)"', page)[0]
        url = server.route(
            "/nyheder/", feed_route(page.replace(href, secret).encode(), content_type=HTML_TYPE)
        )
        serve_articles(server)
        config = make_config([kl_source(url, follow=True)])  # allows 127.0.0.1 without a port
        report = poll(config, store, clock=clock)
        assert report.failed == ()
        assert other.requests == []  # not the page, not its robots.txt
        assert not any("HEMMELIG" in e.content_html for e in store.recent_entries(10))
    finally:
        other.stop()
