"""How pages are asked for: a web page source with a page's Accept header, its robots.txt
kept between polls, and between the runs of a poll from cron, for the time its response
allows (RFC 9309 §2.4)."""

from __future__ import annotations

import contextlib
import json
import random
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml

from aggregator.pipeline import poll, worker_pool
from aggregator.store import Store
from tests.conftest import FIXTURES
from tests.feedgen import Item, rss
from tests.feedserver import FeedServer, Response, feed_route
from tests.test_cli import run
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


def test_a_short_max_age_is_obeyed_in_the_workers_and_in_this_process(
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
            clock.advance(timedelta(seconds=2))
            poll(config, store, clock=clock, pool=pool)
            assert len(server.requests_to("/robots.txt")) == 2
        poll(config, store, clock=clock)  # in this process: from the database, still fresh
        assert len(server.requests_to("/robots.txt")) == 2
        clock.advance(timedelta(seconds=2))
        poll(config, store, clock=clock)
        assert len(server.requests_to("/robots.txt")) == 3
    finally:
        store.close()


def _cron_config(tmp_path, server, workers: int, *more: dict[str, Any]) -> None:
    data = {
        "site": {"title": "Offentlig digitalisering", "base_url": "https://planet.example.dk/"},
        "poll": {"timeout_seconds": 3, "allow_private_hosts": ["127.0.0.1"], "workers": workers},
        "feeds": [kl_source(serve_list(server, "umbraco_list.html")), *more],
    }
    (tmp_path / "feeds.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")


def _kept(tmp_path) -> list[tuple[str, int, timedelta]]:
    with contextlib.closing(sqlite3.connect(tmp_path / "aggregator.db")) as db:
        rows = db.execute("SELECT origin, status, fetched_at, expires_at FROM robots_txt")
        return [(o, s, datetime.fromisoformat(e) - datetime.fromisoformat(f))
                for o, s, f, e in rows]  # fmt: skip


@pytest.mark.parametrize("workers", [0, 2])
def test_a_poll_from_cron_keeps_robots_txt_between_runs(server, tmp_path, workers):
    """Two `aggregator poll` processes, as cron runs them: one robots.txt request, until the
    kept answer expires."""
    robots(server, None)
    private = {**kl_source(serve_list(server, "umbraco_list.html", "/privat/")), "name": "Privat"}
    _cron_config(tmp_path, server, workers, private)
    for _ in range(2):
        result = run("poll", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        # what it says is obeyed on the run that read the kept copy too (review 2 #10)
        status = json.loads(run("status", "--json", cwd=tmp_path).stdout)["feeds"]
        assert "disallows" in {s["name"]: s for s in status}["Privat"]["last_error"]
    assert len(server.requests_to("/robots.txt")) == 1
    assert len(server.requests_to("/nyheder/")) == 2
    assert server.requests_to("/privat/") == []
    assert _kept(tmp_path) == [(server.base_url.lower(), 200, timedelta(days=1))]
    with contextlib.closing(sqlite3.connect(tmp_path / "aggregator.db")) as db, db:
        db.execute("UPDATE robots_txt SET expires_at = fetched_at")  # as a day later
    assert run("poll", cwd=tmp_path).returncode == 0
    assert len(server.requests_to("/robots.txt")) == 2
    assert _kept(tmp_path)[0][1:] == (200, timedelta(days=1))


SKEWED = "Mon, 01 Jan 2024 00:00:00 GMT"  # the server's clock, not ours, dates its Expires
TWO_HOURS = {"Date": SKEWED, "Expires": "Mon, 01 Jan 2024 02:00:00 GMT"}


@pytest.mark.parametrize(
    ("headers", "kept_for"),
    [
        ({"Cache-Control": "max-age=172800"}, timedelta(days=1)),  # a day at most
        ({"Cache-Control": "max-age=600"}, timedelta(minutes=10)),
        (TWO_HOURS, timedelta(hours=2)),
        ({**TWO_HOURS, "Cache-Control": "max-age=60"}, timedelta(minutes=1)),  # max-age wins
        ({"Cache-Control": "no-store"}, None),
        ({"Expires": "0"}, None),  # invalid: already expired
        ({"Date": SKEWED, "Expires": SKEWED}, None),
    ],
)
def test_robots_txt_is_kept_as_long_as_its_answer_allows(server, tmp_path, headers, kept_for):
    body = b"User-agent: *\nDisallow: /privat/\n"
    server.static("/robots.txt", Response(200, body, {"Content-Type": "text/plain", **headers}))
    _cron_config(tmp_path, server, 0)
    for _ in range(2):
        assert run("poll", cwd=tmp_path).returncode == 0
    if kept_for is None:
        assert len(server.requests_to("/robots.txt")) == 2
        assert _kept(tmp_path) == []
    else:
        assert len(server.requests_to("/robots.txt")) == 1
        assert _kept(tmp_path) == [(server.base_url.lower(), 200, kept_for)]


def test_a_kept_robots_txt_still_disallows(server, tmp_path):
    """The second run reads the rules from the kept copy: the disallowed list page stays
    unfetched, and robots.txt is not asked for again."""
    server.static("/robots.txt", Response(200, b"User-agent: *\nDisallow: /nyheder/\n",
                                          {"Content-Type": "text/plain"}))  # fmt: skip
    _cron_config(tmp_path, server, 0)
    for _ in range(2):
        run("poll", cwd=tmp_path)
        status = json.loads(run("status", "--json", cwd=tmp_path).stdout)["feeds"][0]
        assert "disallows" in status["last_error"], status
    assert len(server.requests_to("/robots.txt")) == 1
    assert server.requests_to("/nyheder/") == []


def test_an_unreachable_robots_txt_is_not_kept(server, tmp_path):
    server.static("/robots.txt", Response(503, b"busy"))
    _cron_config(tmp_path, server, 0)
    for _ in range(2):
        run("poll", cwd=tmp_path)
    assert len(server.requests_to("/robots.txt")) == 2
    assert _kept(tmp_path) == []


def test_robots_txt_is_kept_beside_a_database_whose_path_has_uri_characters(server, tmp_path):
    """The kept answer is read back through a file: URI; # ? % in the path are quoted
    (review 2 #6)."""
    robots(server, None)
    _cron_config(tmp_path, server, 0)
    data = yaml.safe_load((tmp_path / "feeds.yaml").read_text("utf-8"))
    folder = tmp_path / "data #1 ?x=%41 æø"
    folder.mkdir()
    data["site"]["database"] = str(folder / "aggregator.db")
    (tmp_path / "feeds.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    for _ in range(2):
        result = run("poll", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    assert len(server.requests_to("/robots.txt")) == 1


def test_a_robots_txt_answering_429_is_asked_again_and_allows_nothing_meanwhile(server, tmp_path):
    """429 is "slow down", not "no robots.txt here": not kept as allow-everything for a day
    (review 2 #7)."""
    server.static("/robots.txt", Response(429, b"slow down", {"Retry-After": "60"}))
    _cron_config(tmp_path, server, 0)
    for _ in range(2):
        run("poll", cwd=tmp_path)
    assert len(server.requests_to("/robots.txt")) == 2
    assert server.requests_to("/nyheder/") == []
    assert _kept(tmp_path) == []


HOSTS = ("127.0.0.1", "127.0.0.2", "127.0.0.3")  # three hosts to the client, all loopback


@pytest.fixture
def hosts() -> Iterator[list[FeedServer]]:
    servers = [FeedServer(host).start() for host in HOSTS]
    yield servers
    for server in servers:
        server.stop()


def _posts(server: FeedServer, feed: int, count: int, rng: random.Random) -> bytes:
    """Posts of words drawn at random, so no two are merged as one."""
    words = [f"ord{n}" for n in range(5000)]
    items = [
        Item(
            title=f"Indlæg {' '.join(rng.sample(words, 6))}",
            link=server.url(f"/{feed}/{n}"),
            html=f"<p>Ærø og Åbenrå: {' '.join(rng.sample(words, 40))}</p>",
            published=datetime(2026, 11, 1 + n % 25, 8, n % 60, tzinfo=UTC),
        )
        for n in range(count)
    ]
    return rss(f"Blog {feed}", server.base_url, items)


def _busy_config(tmp_path, servers, workers: int, feeds: int, posts: int) -> None:
    """Per host: feeds of many new posts, which keep the poll's writer busy, and a web page
    source whose robots.txt is fetched meanwhile."""
    rng = random.Random(7)
    sources = []
    for h, server in enumerate(servers):
        robots(server, None)
        for f in range(feeds):
            url = server.static_feed(f"/feed/{f}.xml", _posts(server, f, posts, rng))
            sources.append({"name": f"Blog {h}-{f}", "url": url})
        sources.append({**kl_source(serve_list(server, "umbraco_list.html")), "name": f"KL {h}"})
    data = {
        "site": {"title": "Offentlig digitalisering", "base_url": "https://planet.example.dk/"},
        "poll": {"timeout_seconds": 10, "allow_private_hosts": list(HOSTS), "workers": workers},
        "feeds": sources,
    }
    (tmp_path / "feeds.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")


@pytest.mark.parametrize("workers", [0, 2])
def test_a_busy_poll_keeps_every_hosts_robots_txt(hosts, tmp_path, workers):
    """The answers go to the poll's one writer with the feed updates (review 2 #5): while it
    writes thousands of posts, each host's robots.txt is still kept, and the second
    `aggregator poll` asks none of them again."""
    _busy_config(tmp_path, hosts, workers, feeds=5, posts=40)
    for _ in range(2):
        result = run("poll", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    assert [len(server.requests_to("/robots.txt")) for server in hosts] == [1, 1, 1]
    assert [len(server.requests_to("/nyheder/")) for server in hosts] == [2, 2, 2]
    assert sorted(origin for origin, _, _ in _kept(tmp_path)) == [s.base_url for s in hosts]
