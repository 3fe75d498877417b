"""Following an HTML source's item pages when they do not give the post: pages that keep
failing for now (review 6 R9) and pages that lead to another one, such as a login (R3)."""

from __future__ import annotations

from datetime import timedelta

from aggregator.pipeline import poll
from aggregator.store import Store
from tests.feedserver import FeedServer, Response

HTML_TYPE = {"Content-Type": "text/html; charset=utf-8"}


def listing(*items: tuple[str, str]) -> bytes:
    rows = "".join(
        f'<article class="item"><h3><a href="{path}">{title}</a></h3>'
        f'<p class="teaser">Teaser for {title}: kommunen fortæller om æøå.</p></article>'
        for path, title in items
    )
    return f'<html lang="da"><body><main>{rows}</main></body></html>'.encode()


def article(title: str, published: str, body: str) -> bytes:
    paragraphs = "".join(
        f"<p>{body} Afsnit {i} om borgernes digitale hverdag.</p>" for i in range(6)
    )
    return (
        '<html lang="da"><head>'
        f'<meta property="article:published_time" content="{published}"><title>{title}</title>'
        f"</head><body><nav>Forside Nyheder Kontakt</nav><article><h1>{title}</h1>"
        f"{paragraphs}</article><footer>Kommunen, Rådhuset</footer></body></html>"
    ).encode()


def source(url: str) -> dict[str, object]:
    return {
        "name": "kommune",
        "url": url,
        "type": "html",
        "items": "article.item",
        "fields": {"summary": ".teaser"},
        "follow": True,
    }


def rows(store: Store) -> dict[str, tuple[str, str]]:
    found = store.db.execute("SELECT title, content_html, published FROM entries")
    return {title: (content, published) for title, content, published in found}


def test_item_pages_that_keep_failing_store_the_list_words_and_are_read_later(
    server: FeedServer, make_config, store, clock
):
    url = server.static(
        "/nyheder/",
        Response(
            200, listing(("/n/a", "Nyhed A"), ("/n/b", "Nyhed B"), ("/n/c", "Nyhed C")), HTML_TYPE
        ),
    )
    server.static("/n/a", Response(503, b"busy", HTML_TYPE))
    server.static("/n/b", Response(429, b"slow down", {**HTML_TYPE, "Retry-After": "120"}))
    server.static(
        "/n/c", Response(200, article("Nyhed C", "2026-11-26T10:00:00+01:00", "Ccc"), HTML_TYPE)
    )
    config = make_config([source(url)])
    report = poll(config, store, clock=clock)
    assert (report.new, report.failed) == (3, ())
    # After a 503 the site is not asked for more pages this poll: each is one request.
    assert [len(server.requests_to(p)) for p in ("/n/a", "/n/b", "/n/c")] == [1, 0, 0]
    stored = rows(store)
    assert stored["Nyhed A"][0].startswith("<p>Teaser for Nyhed A")
    status = {s.name: s for s in store.feed_statuses()}["kommune"]
    assert status.state == "ok"
    assert status.last_warning == (
        "3 item pages not read (HTTP 503, not asked after HTTP 503): stored from the list "
        "page, read again next poll"
    )
    # Still failing: the pages are asked for again, the posts are not stored again.
    clock.advance(timedelta(hours=1))
    assert poll(config, store, clock=clock).new == 0
    assert [len(server.requests_to(p)) for p in ("/n/a", "/n/b", "/n/c")] == [2, 0, 0]
    # The site answers again: the posts get their pages' text, and their pages are done.
    server.static(
        "/n/a", Response(200, article("Nyhed A", "2026-11-25T09:00:00+01:00", "Aaa"), HTML_TYPE)
    )
    server.static(
        "/n/b", Response(200, article("Nyhed B", "2026-11-24T09:00:00+01:00", "Bbb"), HTML_TYPE)
    )
    clock.advance(timedelta(hours=1))
    third = poll(config, store, clock=clock)
    assert (third.new, third.updated) == (0, 3)
    stored = rows(store)
    assert "Aaa Afsnit 0" in stored["Nyhed A"][0]
    assert "Ccc Afsnit 0" in stored["Nyhed C"][0]
    assert {s.name: s for s in store.feed_statuses()}["kommune"].last_warning is None
    clock.advance(timedelta(hours=1))
    poll(config, store, clock=clock)
    assert [len(server.requests_to(p)) for p in ("/n/a", "/n/b", "/n/c")] == [3, 1, 1]
    assert int(store.db.execute("SELECT count(*) FROM entries").fetchone()[0]) == 3


def test_an_item_page_that_redirects_to_a_login_keeps_the_list_words(
    server: FeedServer, make_config, store, clock
):
    url = server.static(
        "/nyheder/",
        Response(200, listing(("/n/intern", "Intern nyhed"), ("/n/god", "God nyhed")), HTML_TYPE),
    )
    server.static("/n/intern", Response(302, b"", {"Location": "/login?ReturnUrl=/n/intern"}))
    server.static(
        "/login?ReturnUrl=/n/intern",
        Response(
            200,
            article(
                "Log ind", "2020-05-05T10:00:00+02:00", "Log ind med MitID for at se indholdet."
            ),
            HTML_TYPE,
        ),
    )
    server.static("/n/god", Response(302, b"", {"Location": "/n/god/"}))  # the same page
    server.static(
        "/n/god/",
        Response(200, article("God nyhed", "2026-11-20T10:00:00+01:00", "Godt"), HTML_TYPE),
    )
    config = make_config([source(url)])
    assert poll(config, store, clock=clock).new == 2
    stored = rows(store)
    content, published = stored["Intern nyhed"]
    assert content.startswith("<p>Teaser for Intern nyhed")
    assert "MitID" not in content
    assert not published.startswith("2020")
    assert "Godt Afsnit 0" in stored["God nyhed"][0]
    assert stored["God nyhed"][1].startswith("2026-11-20T09:00")
    status = {s.name: s for s in store.feed_statuses()}["kommune"]
    assert status.last_warning == (
        f"1 item page led to another page ({server.base_url}/login?ReturnUrl=/n/intern): a "
        "login or consent wall? The list page's words are kept"
    )
