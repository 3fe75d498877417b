"""Review 8 R8-4: through a proxy every target's name was looked up here first, so on a
network where only the proxy resolves outside names every fetch failed with "cannot resolve
…" and the proxy was never asked (socks5h:// did nothing). A name that does not resolve here
is now left to the proxy; one that does is still checked as without a proxy."""

from __future__ import annotations

from typing import Any

import pytest

from aggregator.pipeline import poll
from aggregator.store import Store
from tests.conftest import FIXTURES, Clock
from tests.feedserver import FeedServer, feed_route
from tests.forwardproxy import ForwardProxy, SocksProxy

NAME = "nyheder.kommune.invalid"  # resolves nowhere but at the test's proxy
BODY = (FIXTURES / "rss20.xml").read_bytes()
VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy",
             "all_proxy", "no_proxy")  # fmt: skip


@pytest.fixture(autouse=True)
def _no_proxy_variables(monkeypatch: Any) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


def feed_by_name(server: FeedServer) -> str:
    """The loopback feed's URL by a name only the proxy knows."""
    return server.route("/feed.xml", feed_route(BODY)).replace("127.0.0.1", NAME)


def test_a_name_only_the_http_proxy_resolves_is_fetched_through_it(
    server: FeedServer, make_config: Any, store: Store, clock: Clock
) -> None:
    proxy = ForwardProxy(hosts={NAME: "127.0.0.1"}).start()
    try:
        url = feed_by_name(server)
        config = make_config([{"name": "K", "url": url}], poll={"proxy": proxy.url(), "workers": 0})
        report = poll(config, store, clock=clock)
    finally:
        proxy.stop()
    assert report.failed == (), [f.error for f in report.failed]
    assert report.new > 0
    assert url in proxy.targets()
    assert len(server.requests_to("/feed.xml")) == 1


@pytest.mark.parametrize("scheme", ["socks5", "socks5h"])
def test_a_name_only_the_socks_proxy_resolves_is_fetched_through_it(
    server: FeedServer, make_config: Any, store: Store, clock: Clock, scheme: str
) -> None:
    socks = SocksProxy(hosts={NAME: "127.0.0.1"}).start()
    try:
        url = feed_by_name(server)
        config = make_config(
            [{"name": "K", "url": url}], poll={"proxy": socks.url(scheme), "workers": 0}
        )
        report = poll(config, store, clock=clock)
    finally:
        socks.stop()
    assert report.failed == (), [f.error for f in report.failed]
    port = server.base_url.rsplit(":", 1)[1]
    assert socks.targets() == [f"{NAME}:{port}"]  # the name, for the proxy to look up


def test_a_name_that_resolves_here_to_a_private_address_is_still_refused(
    server: FeedServer, make_config: Any, store: Store, clock: Clock
) -> None:
    proxy = ForwardProxy(hosts={NAME: "127.0.0.1"}).start()
    try:
        url = server.route("/feed.xml", feed_route(BODY)).replace("127.0.0.1", "localhost")
        config = make_config(
            [{"name": "K", "url": url}],
            poll={"proxy": proxy.url(), "workers": 0, "allow_private_hosts": []},
        )
        (failed,) = poll(config, store, clock=clock).failed
    finally:
        proxy.stop()
    assert (failed.error or "").startswith("refused to connect to localhost"), failed.error
    assert proxy.targets() == []
    assert server.requests_to("/feed.xml") == []


def test_without_a_proxy_a_name_that_does_not_resolve_fails(
    server: FeedServer, make_config: Any, store: Store, clock: Clock
) -> None:
    config = make_config([{"name": "K", "url": feed_by_name(server)}], poll={"workers": 0})
    (failed,) = poll(config, store, clock=clock).failed
    assert (failed.error or "").startswith(f"cannot connect: cannot resolve {NAME}"), failed.error
