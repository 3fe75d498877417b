"""A SOCKS proxy that fails the handshake leaves no socket open (left over from review 8).
httpcore's SOCKS connection raises without closing the stream it opened to the proxy, when
the proxy accepts no authentication method or refuses the CONNECT; the fetch's transport
closes the streams a failed request through a proxy opened. Before, the socket stayed open
until the garbage collector got to it (a ResourceWarning, "unclosed <socket.socket ...>"),
and the proxy's end with it."""

from __future__ import annotations

import gc
import warnings
from datetime import UTC, datetime

import pytest

from aggregator.fetch import FetchOptions, fetch_feed, make_client
from aggregator.proxies import proxies
from aggregator.types import FeedState
from tests.forwardproxy import SocksProxy

NOW = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("refuse", "error"),
    [
        (
            "methods",
            "the proxy refused: Requested NO AUTHENTICATION REQUIRED from proxy server, "
            "but got NO ACCEPTABLE METHODS.",
        ),
        (
            "connect",
            "the proxy's policy refuses the site: Proxy Server could not connect: "
            "Connection not allowed by ruleset.",
        ),
    ],
)
@pytest.mark.parametrize("url", ["http://nyheder.kommune.invalid/feed", "https://kl.invalid/rss"])
def test_a_failed_socks_handshake_leaves_no_socket_open(refuse: str, error: str, url: str) -> None:
    socks = SocksProxy(refuse=refuse).start()
    options = FetchOptions(timeout_seconds=5.0, proxies=proxies(socks.url("socks5h"), {}))
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ResourceWarning)
            with make_client(options) as client:
                for _ in range(3):  # each one its own connection: none reused after failing
                    result = fetch_feed(client, FeedState(url), NOW, 1 << 20, 10.0)
                    assert (result.error or "").startswith(error), result.error
                    # Closed by the client as the fetch failed, not left for later.
                    assert socks.closed_by_client.acquire(timeout=10)
            gc.collect()
    finally:
        socks.stop()
    unclosed = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert unclosed == []
