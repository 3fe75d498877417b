"""Through a proxy, a name the name servers here do not answer for in time is left to the
proxy, as one they do not know already was (71ce2df, review 8 R8-4; left over). On a network
where only the proxy looks names up, a local name server that drops outside questions is as
common as one that says "not found", and every fetch failed "timed out looking up …" without
the proxy ever being asked. Without a proxy such a lookup is still a failure."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from aggregator.fetch import FetchOptions, fetch_feed, make_client
from aggregator.proxies import proxies
from aggregator.resolve import Resolver
from aggregator.types import FeedState, FetchResult
from tests.conftest import FIXTURES
from tests.feedserver import FeedServer, Response
from tests.forwardproxy import ForwardProxy, SocksProxy
from tests.test_fetch_limits import Names

NOW = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)
NAME = "nyheder.kommune.invalid"  # resolves at the test's proxies only
BODY = (FIXTURES / "rss20.xml").read_bytes()


def fetch(url: str, proxy: str | None, names: Names) -> FetchResult:
    options = FetchOptions(timeout_seconds=3.0, connect_timeout_seconds=0.3,
                           proxies=proxies(proxy, {}))  # fmt: skip
    with make_client(options, Resolver(names)) as client:
        return fetch_feed(client, FeedState(url), NOW, options.max_body_bytes, 10.0)


@pytest.fixture
def unanswered() -> Iterator[Names]:
    """A name server here that never answers for NAME (released at the end)."""
    names = Names({}, hanging=frozenset({NAME}))
    yield names
    names.release.set()


def test_through_an_http_proxy(server: FeedServer, unanswered: Names) -> None:
    url = server.static("/feed.xml", Response(200, BODY)).replace("127.0.0.1", NAME)
    proxy = ForwardProxy(hosts={NAME: "127.0.0.1"}).start()
    try:
        result = fetch(url, proxy.url(), unanswered)
    finally:
        proxy.stop()
    assert result.error is None
    assert result.content == BODY
    assert url in proxy.targets()
    assert unanswered.asked == [NAME]  # it was asked here first: a private answer is refused


@pytest.mark.parametrize("scheme", ["socks5", "socks5h"])
def test_through_a_socks_proxy(server: FeedServer, unanswered: Names, scheme: str) -> None:
    url = server.static("/feed.xml", Response(200, BODY)).replace("127.0.0.1", NAME)
    socks = SocksProxy(hosts={NAME: "127.0.0.1"}).start()
    try:
        result = fetch(url, socks.url(scheme), unanswered)
    finally:
        socks.stop()
    assert result.error is None
    assert result.content == BODY
    port = server.base_url.rsplit(":", 1)[1]
    assert socks.targets() == [f"{NAME}:{port}"]


def test_without_a_proxy_it_still_fails(server: FeedServer, unanswered: Names) -> None:
    url = server.static("/feed.xml", Response(200, BODY)).replace("127.0.0.1", NAME)
    result = fetch(url, None, unanswered)
    assert result.error == f"timed out looking up {NAME}"
    assert server.requests_to("/feed.xml") == []
