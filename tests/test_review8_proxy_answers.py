"""Review 8 R8-5: every https:// fetch through an HTTP proxy asks it for a tunnel (CONNECT),
so a site that is down is the proxy's 502 (or 503, 504), and one its policy forbids is its
403. Each was worded "the proxy refused: …" and advised "check the proxy's URL and the user
and password in it": for every site that was down, status and the digest sent the admin to
the proxy's password. Only 407 means the password."""

from __future__ import annotations

from typing import Any

import pytest

from aggregator.health import what_to_do
from aggregator.pipeline import poll
from aggregator.store import Store
from tests.conftest import Clock, free_port
from tests.forwardproxy import ForwardProxy

VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy",
             "all_proxy", "no_proxy")  # fmt: skip


@pytest.fixture(autouse=True)
def _no_proxy_variables(monkeypatch: Any) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


def poll_through(proxy_url: str, make_config: Any, store: Store, clock: Clock) -> tuple[str, str]:
    """The error and the advice for an https:// feed on a loopback port nobody listens on."""
    url = f"https://127.0.0.1:{free_port()}/feed.xml"
    config = make_config([{"name": "K", "url": url}], poll={"proxy": proxy_url, "workers": 0})
    (failed,) = poll(config, store, clock=clock).failed
    (status,) = store.feed_statuses()
    return failed.error or "", what_to_do(status) or ""


@pytest.mark.parametrize(
    ("refuse", "error", "advice"),
    [
        (None, "the proxy could not reach the site: 502 Bad Gateway", "the site is down"),
        (503, "the proxy could not reach the site: 503 Service Unavailable", "the site is down"),
        (504, "the proxy could not reach the site: 504 Gateway Timeout", "the site is down"),
        (403, "the proxy's policy refuses the site: 403 Forbidden", "to allow the site"),
    ],
)
def test_the_proxys_answer_to_connect_is_told_apart_from_its_credentials(
    make_config: Any, store: Store, clock: Clock, refuse: int | None, error: str, advice: str
) -> None:
    proxy = ForwardProxy(refuse=refuse).start()
    try:
        got, told = poll_through(proxy.url(), make_config, store, clock)
    finally:
        proxy.stop()
    assert got.startswith(error), got
    assert got.endswith(f"(through the proxy http://127.0.0.1:{proxy.port}, from poll.proxy)")
    assert advice in told, told
    assert "user and password" not in told


def test_wrong_credentials_are_still_the_credentials(
    make_config: Any, store: Store, clock: Clock
) -> None:
    proxy = ForwardProxy(user="kommune", password="hemmelig").start()
    try:
        got, told = poll_through(proxy.url("kommune", "forkert"), make_config, store, clock)
    finally:
        proxy.stop()
    assert got.startswith("the proxy refused: 407 Proxy Authentication Required"), got
    assert "check the proxy's URL and the user and password in it" in told


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        ("Proxy Server could not connect: Connection refused.", "could not reach the site"),
        ("Proxy Server could not connect: Host unreachable.", "could not reach the site"),
        ("Proxy Server could not connect: Connection not allowed by ruleset.", "policy refuses"),
        ("Invalid username/password", "the proxy refused"),
    ],
)
def test_a_socks_proxys_answers_are_worded_alike(answer: str, words: str) -> None:
    """SOCKS5's replies, as httpcore words them (an end-to-end SOCKS failure leaves a socket
    of httpcore's unclosed, which this suite's warnings-as-errors would report)."""
    from aggregator.fetch import _proxy_answer

    assert words in _proxy_answer(answer)
