"""Fetching through a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import gzip
from datetime import UTC, datetime

from aggregator.fetch import FetchOptions, fetch_feed, fetch_many, make_client
from aggregator.types import FeedState, FetchResult
from tests.conftest import FIXTURES, free_port
from tests.feedserver import FeedServer, Response, feed_route

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
BODY = (FIXTURES / "rss20.xml").read_bytes()
LOCAL = frozenset({"127.0.0.1"})


def fetch(state: FeedState, **options) -> FetchResult:
    opts = FetchOptions(**{"timeout_seconds": 2.0, "allow_hosts": LOCAL, **options})

    with make_client(opts) as client:
        return fetch_feed(client, state, NOW, opts.max_body_bytes, opts.total_timeout_seconds)


def test_200_returns_body_and_validators(server: FeedServer):
    url = server.route("/feed", feed_route(BODY))
    result = fetch(FeedState(url))
    assert result.ok
    assert result.status == 200
    assert result.content == BODY
    assert result.etag
    assert result.last_modified == "Wed, 18 Nov 2026 10:00:00 GMT"
    assert result.headers["content-type"].startswith("application/rss+xml")
    sent = server.requests_to("/feed")[0].headers
    assert sent["user-agent"].startswith("aggregator/")
    assert "if-none-match" not in sent


def test_conditional_request_gets_304(server: FeedServer):
    url = server.route("/feed", feed_route(BODY))
    first = fetch(FeedState(url))
    second = fetch(FeedState(url, etag=first.etag, last_modified=first.last_modified))
    assert second.not_modified
    assert second.content is None
    assert second.etag == first.etag
    sent = server.requests_to("/feed")[1].headers
    assert sent["if-none-match"] == first.etag
    assert sent["if-modified-since"] == first.last_modified


def test_last_modified_alone_gets_304(server: FeedServer):
    url = server.route("/feed", feed_route(BODY, etag=False))
    first = fetch(FeedState(url))
    assert first.etag is None
    second = fetch(FeedState(url, last_modified=first.last_modified))
    assert second.not_modified


def test_gzip_is_decoded(server: FeedServer):
    url = server.route("/feed", feed_route(BODY, gzip_body=True))
    result = fetch(FeedState(url))
    assert result.content == BODY
    assert result.headers["content-encoding"] == "gzip"


def test_redirect_is_followed(server: FeedServer):
    target = server.route("/new", feed_route(BODY))
    url = server.redirect("/old", target, status=301)
    result = fetch(FeedState(url))
    assert result.ok
    assert result.final_url == target
    assert result.content == BODY


def test_redirect_loop_is_an_error(server: FeedServer):
    server.redirect("/a", server.url("/b"))
    url = server.redirect("/b", server.url("/a"))
    result = fetch(FeedState(url), max_redirects=3)
    assert result.error == "too many redirects"


def test_http_errors_are_values(server: FeedServer):
    missing = fetch(FeedState(server.url("/missing")))
    assert missing.error == "HTTP 404 Not Found"
    assert missing.status == 404
    broken = fetch(FeedState(server.static("/boom", Response(500, b"oops"))))
    assert broken.error == "HTTP 500 Internal Server Error"


def test_slow_server_times_out(server: FeedServer):
    url = server.static("/slow", Response(200, BODY, delay=1.5))
    result = fetch(FeedState(url), timeout_seconds=0.3)
    assert result.error == "timed out waiting for the server"


def test_refused_connection_is_an_error():
    result = fetch(FeedState(f"http://127.0.0.1:{free_port()}/feed"))
    assert result.error is not None
    assert result.error.startswith("cannot connect")


def test_body_larger_than_limit_is_refused(server: FeedServer):
    url = server.static("/big", Response(200, b"x" * 50_000))
    result = fetch(FeedState(url), max_body_bytes=10_000)
    assert result.error == "response body larger than the limit of 10000 bytes"
    assert result.content is None


def test_decompressed_size_counts_against_the_limit(server: FeedServer):
    bomb = gzip.compress(b"<" * 2_000_000)
    url = server.static("/bomb", Response(200, bomb, {"Content-Encoding": "gzip"}))
    result = fetch(FeedState(url), max_body_bytes=100_000)
    assert len(bomb) < 100_000
    assert result.error is not None
    assert "larger than the limit" in result.error


def test_fetch_many_bounds_concurrency_and_isolates_failures(server: FeedServer):
    urls = [server.static(f"/f{i}", Response(200, BODY, delay=0.2)) for i in range(6)]
    urls.append(server.url("/missing"))

    async def go() -> list[FetchResult]:
        opts = FetchOptions(concurrency=2, timeout_seconds=5, allow_hosts=LOCAL)
        return [r async for r in fetch_many([FeedState(u) for u in urls], opts, lambda: NOW)]

    results = asyncio.run(go())
    assert sorted(r.feed_url for r in results) == sorted(urls)
    assert [r.error for r in results if r.error] == ["HTTP 404 Not Found"]
    starts = sorted(r.at for r in server.requests if r.path.startswith("/f"))
    # With two in flight, each 0.2 s, the six requests start in at least three waves.
    assert starts[-1] - starts[0] >= 0.35


def test_unsupported_scheme_is_an_error():
    result = fetch(FeedState("gopher://127.0.0.1/"))
    assert result.error is not None
    assert result.error.startswith("unsupported URL")
