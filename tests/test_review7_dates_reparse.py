"""A source's parse settings changed in feeds.yaml (review 7 R22): the next poll reads the
page again though the server says 304 or sends the same bytes, and the posts stored undated,
as archive hidden from the outputs, get the dates found now and are shown."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from aggregator.pipeline import poll
from aggregator.store import Store
from tests.conftest import Clock
from tests.feedserver import FeedServer, Response, feed_route

PAGES = Path(__file__).parent / "pages"
HTML_TYPE = "text/html; charset=utf-8"
# tests/pages/umbraco_list.html's three posts, by the dates their list shows.
DATES = {
    "Kommunerne får ny fælles it-platform": "2026-11-26T23:00:00.000000Z",
    "Økonomiaftalen sætter fokus på digitalisering": "2026-11-23T23:00:00.000000Z",
    "Kunstig intelligens i jobcentrene: erfaringer fra syv kommuner": "2026-10-02T22:00:00.000000Z",
}
ITEMS = ".news-list > article.news-list__item"


def list_page(server: FeedServer) -> bytes:
    body = (PAGES / "umbraco_list.html").read_bytes()
    return body.replace(b"https://www.kl.dk", server.base_url.encode())


def source(url: str, **keys: Any) -> dict[str, Any]:
    return {"name": "KL", "url": url, "type": "html", "items": ITEMS, **keys}


def stored(store: Store) -> dict[str, tuple[str, int]]:
    rows = store.db.execute("SELECT title, published, backfill FROM entries").fetchall()
    return {title: (published, backfill) for title, published, backfill in rows}


def shown(store: Store) -> set[str]:
    return {entry.title for entry in store.recent_entries(10)}


def test_a_date_selector_added_after_the_first_poll_dates_the_stored_posts_despite_a_304(
    server: FeedServer, make_config: Any, store: Store, clock: Clock
) -> None:
    url = server.route("/nyheder/", feed_route(list_page(server), content_type=HTML_TYPE))
    first = poll(make_config([source(url)]), store, clock=clock)
    assert first.new == 3
    assert {backfill for _, backfill in stored(store).values()} == {1}  # undated: archive
    assert shown(store) == set()

    clock.advance(timedelta(hours=1))
    fixed = make_config([source(url, fields={"date": ".news-list__date"})])
    second = poll(fixed, store, clock=clock)
    assert (second.new, second.updated, second.failed) == (0, 3, ())
    asked = server.requests_to("/nyheder/")[1].headers
    assert "if-none-match" not in asked
    assert "if-modified-since" not in asked
    assert stored(store) == {title: (date, 0) for title, date in DATES.items()}
    assert shown(store) == set(DATES)
    sources = store.db.execute("SELECT published FROM entry_sources ORDER BY published")
    assert [p for (p,) in sources] == sorted(DATES.values())

    # The settings are stored with the state: the poll after is conditional again.
    clock.advance(timedelta(hours=1))
    third = poll(fixed, store, clock=clock)
    assert third.results[0].not_modified
    assert "if-none-match" in server.requests_to("/nyheder/")[2].headers
    assert stored(store) == {title: (date, 0) for title, date in DATES.items()}


def test_a_server_sending_the_same_bytes_without_validators_is_read_again(
    server: FeedServer, make_config: Any, store: Store, clock: Clock
) -> None:
    body = list_page(server)
    url = server.static("/nyheder/", Response(200, body, {"Content-Type": HTML_TYPE}))
    poll(make_config([source(url)]), store, clock=clock)
    clock.advance(timedelta(hours=1))
    same = poll(make_config([source(url)]), store, clock=clock)
    assert same.results[0].not_modified  # the stored body hash: nothing parsed
    clock.advance(timedelta(hours=1))
    fixed = poll(
        make_config([source(url, fields={"date": ".news-list__date"})]), store, clock=clock
    )
    assert fixed.updated == 3
    assert shown(store) == set(DATES)


def test_settings_stored_before_the_fingerprint_read_an_html_source_again_once(
    server: FeedServer, make_config: Any, store: Store, clock: Clock
) -> None:
    page = server.route("/nyheder/", feed_route(list_page(server), content_type=HTML_TYPE))
    feed = server.route("/feed.xml", feed_route((PAGES.parent / "fixtures/rss20.xml").read_bytes()))
    config = make_config([source(page), {"name": "Feed", "url": feed}])
    poll(config, store, clock=clock)
    # As a database migrated to v20 has them: the admin fixed the selectors before.
    store.db.execute("UPDATE feeds SET parse_settings = NULL")
    store.db.conn.commit()
    clock.advance(timedelta(hours=1))
    config = make_config(
        [source(page, fields={"date": ".news-list__date"}), {"name": "Feed", "url": feed}]
    )
    again = poll(config, store, clock=clock)
    assert "if-none-match" not in server.requests_to("/nyheder/")[1].headers
    assert shown(store) >= set(DATES)
    # A feed's dates hang on no selector: it adopts today's settings, still conditional.
    assert "if-none-match" in server.requests_to("/feed.xml")[1].headers
    assert {r.feed_url: r.not_modified for r in again.results}[feed]
    kept = store.db.execute("SELECT count(*) FROM feeds WHERE parse_settings IS NOT NULL")
    assert kept.fetchone()[0] == 2
    clock.advance(timedelta(hours=1))
    poll(config, store, clock=clock)
    assert "if-none-match" in server.requests_to("/nyheder/")[2].headers


def test_a_failed_poll_keeps_the_changed_settings_for_the_next(
    server: FeedServer, make_config: Any, store: Store, clock: Clock
) -> None:
    body = list_page(server)
    url = server.route("/nyheder/", feed_route(body, content_type=HTML_TYPE))
    poll(make_config([source(url)]), store, clock=clock)
    server.static("/nyheder/", Response(503, b"busy", {"Content-Type": "text/plain"}))
    clock.advance(timedelta(hours=1))
    fixed = make_config([source(url, fields={"date": ".news-list__date"})])
    assert poll(fixed, store, clock=clock).failed
    server.route("/nyheder/", feed_route(body, content_type=HTML_TYPE))
    clock.advance(timedelta(hours=1))
    assert poll(fixed, store, clock=clock).updated == 3
    assert shown(store) == set(DATES)
