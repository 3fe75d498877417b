"""An HTML source's items keep their identity when the page writes something new into their
links on every visit (review 6 R7): a session id, or a parameter that is not certainly one."""

from __future__ import annotations

from datetime import timedelta

import pytest

from aggregator.canonical import without_session
from aggregator.normalise import canonical_url
from aggregator.pipeline import poll
from aggregator.store import Store
from tests.feedserver import FeedServer, Response

HTML_TYPE = "text/html; charset=utf-8"
ITEMS = [(f"/nyheder/n{i}", f"Nyhed nummer {i} om æøå", f"2026-11-{20 + i:02d}") for i in range(4)]


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        ("http://www.kk.dk/nyt/a;jsessionid=0A1B2C.node1", "https://kk.dk/nyt/a"),
        ("https://kk.dk/nyt/a;JSESSIONID=0A1B?id=3", "https://kk.dk/nyt/a?id=3"),
        ("https://kk.dk/nyt?id=7&PHPSESSID=abc123", "https://kk.dk/nyt?id=7"),
        ("https://kk.dk/nyt.cfm?id=7&CFID=12&CFTOKEN=34", "https://kk.dk/nyt.cfm?id=7"),
        ("https://kk.dk/nyt.asp?id=7&ASPSESSIONIDQSRTB=XY", "https://kk.dk/nyt.asp?id=7"),
        (
            "https://kk.dk/(S(lit3py55t21z5v55vlm25s55))/nyt.aspx?id=7",
            "https://kk.dk/nyt.aspx?id=7",
        ),
        # `sid` is a story id in some CMSs, `s` a search: kept.
        ("https://kk.dk/vis.php?sid=412", "https://kk.dk/vis.php?sid=412"),
        ("https://kk.dk/nyt;type=a?s=it", "https://kk.dk/nyt;type=a?s=it"),
    ],
)
def test_canonical_url_drops_what_is_certainly_a_session_id(link, expected):
    assert canonical_url(link) == expected


def test_without_session_keeps_the_rest_of_the_link_as_it_was():
    link = "http://www.kk.dk/Nyt/a;jsessionid=0A1B?id=3&phpsessid=9#top"
    assert without_session(link) == "http://www.kk.dk/Nyt/a?id=3#top"
    assert without_session("https://kk.dk/vis.php?sid=412") == "https://kk.dk/vis.php?sid=412"


def listing(suffix: str) -> bytes:
    rows = "".join(
        f'<article class="item"><a href="{link}{suffix}"><h3>{title}</h3></a>'
        f'<time datetime="{date}">{date}</time><p>{title}: kommunen indfører en ny løsning.</p>'
        "</article>"
        for link, title, date in ITEMS
    )
    return f'<html lang="da"><body><main>{rows}</main></body></html>'.encode()


def serve(server: FeedServer, suffix: str) -> str:
    return server.static("/nyheder/", Response(200, listing(suffix), {"Content-Type": HTML_TYPE}))


def count(store: Store, sql: str) -> int:
    return int(store.db.execute(sql).fetchone()[0])


def test_links_with_a_new_session_or_parameter_each_visit_are_the_same_posts(
    server, make_config, store, clock
):
    url = serve(server, ";jsessionid=AAA111")
    config = make_config([{"name": "kommune", "url": url, "type": "html", "items": "article.item"}])
    assert poll(config, store, clock=clock).new == 4
    links = {link for (link,) in store.db.execute("SELECT link FROM entries")}
    assert links == {f"{server.base_url}{path}" for path, _, _ in ITEMS}  # no session kept
    # A session id, then `sid` and `ts`, which may name a page elsewhere and so are kept in
    # the link: the title and the date that stayed tell the post.
    for suffix in [
        ";jsessionid=BBB222",
        "?sid=1",
        "?sid=2",
        "?sc_lang=da&ts=1",
        "?sc_lang=da&ts=2",
    ]:
        serve(server, suffix)
        clock.advance(timedelta(hours=1))
        report = poll(config, store, clock=clock)
        assert (report.new, report.failed) == (0, ()), suffix
    assert count(store, "SELECT count(*) FROM entries") == 4
    assert count(store, "SELECT count(*) FROM entry_sources") == 4
    assert count(store, "SELECT count(*) FROM entries WHERE link LIKE '%ts=2'") == 4


def test_a_post_whose_title_and_date_repeat_while_its_old_link_stays_listed_is_new(
    server, make_config, store, clock
):
    """Only an item gone from the page hands its identity on: two listed items that share
    a title and a date are two posts."""
    url = serve(server, "")
    config = make_config([{"name": "kommune", "url": url, "type": "html", "items": "article.item"}])
    poll(config, store, clock=clock)
    path, title, date = ITEMS[0]
    twin = f'<article class="item"><a href="{path}-2"><h3>{title}</h3></a><time>{date}</time>'
    page = listing("").replace(b"</main>", twin.encode() + b"</article></main>")
    server.static("/nyheder/", Response(200, page, {"Content-Type": HTML_TYPE}))
    clock.advance(timedelta(hours=1))
    poll(config, store, clock=clock)
    keys = {key for (key,) in store.db.execute("SELECT entry_key FROM entry_sources")}
    assert keys == {
        canonical_url(f"{server.base_url}{p}") for p in [*(i[0] for i in ITEMS), f"{path}-2"]
    }


def rss(suffix: str) -> bytes:
    items = "".join(
        f"<item><title>{title}</title><link>http://127.0.0.1{link}{suffix}</link>"
        f"<description>{title}</description></item>"
        for link, title, _ in ITEMS
    )
    channel = f"<channel><title>K</title>{items}</channel>"
    return f'<?xml version="1.0"?><rss version="2.0">{channel}</rss>'.encode()


def test_posts_stored_with_a_session_id_before_are_updated_not_stored_again(
    server, make_config, store, clock
):
    """Rows written before session ids counted for nothing keep their posts: a feed without
    guids (keyed by link) and an HTML source (keyed by canonical link)."""
    feed_url = server.static(
        "/rss.xml", Response(200, rss(";jsessionid=OLD"), {"Content-Type": "application/rss+xml"})
    )
    page_url = serve(server, ";jsessionid=OLD")
    config = make_config(
        [
            {"name": "feed", "url": feed_url},
            {"name": "kommune", "url": page_url, "type": "html", "items": "article.item"},
        ]
    )
    assert poll(config, store, clock=clock).new == 8
    # As an older version stored them: the session id in the canonical link (and the key),
    # and a digest of what the page said then.
    store.db.execute(
        """UPDATE entry_sources
           SET canonical_url = canonical_url || ';jsessionid=OLD', raw_digest = NULL"""
    )
    store.db.execute(
        "UPDATE entry_sources SET entry_key = canonical_url WHERE feed_url = ?", [page_url]
    )
    store.db.conn.commit()
    server.static(
        "/rss.xml", Response(200, rss(";jsessionid=NEW"), {"Content-Type": "application/rss+xml"})
    )
    serve(server, ";jsessionid=NEW")
    clock.advance(timedelta(hours=1))
    report = poll(config, store, clock=clock)
    assert (report.new, report.failed) == (0, ())
    assert count(store, "SELECT count(*) FROM entry_sources") == 8
    sql = "SELECT entry_key FROM entry_sources WHERE feed_url = ?"
    keys = {key for (key,) in store.db.execute(sql, [page_url])}
    assert keys == {canonical_url(f"{server.base_url}{path}") for path, _, _ in ITEMS}
