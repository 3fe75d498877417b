"""How pages are asked for: a web page source with a page's Accept header, its robots.txt
kept between the service's polls for the time its response allows (RFC 9309 §2.4)."""

from __future__ import annotations

import time
from datetime import timedelta

from aggregator.pipeline import poll, worker_pool
from aggregator.store import Store
from tests.conftest import FIXTURES
from tests.feedserver import Response, feed_route
from tests.test_html_sources import kl_source, serve_articles, serve_list


def test_pages_are_asked_for_as_pages_and_feeds_as_feeds(server, make_config, store, clock):
    paths = list(serve_articles(server))
    feed = server.route("/feed", feed_route((FIXTURES / "rss20.xml").read_bytes()))
    page = serve_list(server, "umbraco_list.html")
    config = make_config([kl_source(page, follow=True, follow_limit=1),
                          {"name": "OS2", "url": feed}])  # fmt: skip
    assert poll(config, store, clock=clock).failed == ()
    listing = server.requests_to("/nyheder/")[0].headers["accept"]
    assert listing.startswith("text/html, application/xhtml+xml")
    followed = [r for r in server.requests if r.path in paths]
    assert len(followed) == 1
    assert followed[0].headers["accept"] == listing
    assert server.requests_to("/feed")[0].headers["accept"].startswith("application/atom+xml")


def robots(server, max_age: str | None):
    headers = {"Content-Type": "text/plain"}
    if max_age is not None:
        headers["Cache-Control"] = f"max-age={max_age}"
    server.static("/robots.txt", Response(200, b"User-agent: *\nDisallow: /privat/\n", headers))


def test_the_services_workers_keep_robots_txt_for_its_lifetime(
    server, make_config, clock, tmp_path
):
    robots(server, None)
    config = make_config([kl_source(serve_list(server, "umbraco_list.html"))], poll={"workers": 1})
    store = Store.open(tmp_path / "aggregator.db")
    try:
        with worker_pool(config) as pool:
            assert poll(config, store, clock=clock, pool=pool).new == 3
            clock.advance(timedelta(hours=1))
            assert poll(config, store, clock=clock, pool=pool).failed == ()
            assert len(server.requests_to("/robots.txt")) == 1  # kept: a day without max-age
            assert len(server.requests_to("/nyheder/")) == 2
    finally:
        store.close()


def test_a_short_max_age_is_obeyed_and_a_one_off_poll_reads_it_each_time(
    server, make_config, clock, tmp_path
):
    robots(server, "1")
    config = make_config([kl_source(serve_list(server, "umbraco_list.html"))], poll={"workers": 1})
    store = Store.open(tmp_path / "aggregator.db")
    try:
        with worker_pool(config) as pool:
            poll(config, store, clock=clock, pool=pool)
            poll(config, store, clock=clock, pool=pool)
            assert len(server.requests_to("/robots.txt")) == 1
            time.sleep(1.2)
            poll(config, store, clock=clock, pool=pool)
            assert len(server.requests_to("/robots.txt")) == 2
        poll(config, store, clock=clock)  # in this process: no cache, read again
        assert len(server.requests_to("/robots.txt")) == 3
    finally:
        store.close()
