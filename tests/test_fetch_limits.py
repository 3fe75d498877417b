"""Limits that hold against hostile servers, through a real loopback server."""

from __future__ import annotations

import gzip
import socket
import threading
import time
import zlib
from datetime import UTC, datetime

import brotli
import pytest

from aggregator.config import parse_config
from aggregator.errors import ConfigError
from aggregator.fetch import FetchOptions, fetch_feed, make_client
from aggregator.fetch_limits import BodyTooLarge, DeadlinePassed, current, read_body
from aggregator.hosts import allow_entry
from aggregator.resolve import Resolver
from aggregator.types import FeedState, FetchResult
from tests.bombs import bomb as make_bomb
from tests.conftest import FIXTURES
from tests.feedserver import FeedServer, Response

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
BODY = (FIXTURES / "rss20.xml").read_bytes()
LOCAL = frozenset({"127.0.0.1"})


def fetch(state: FeedState, **options) -> FetchResult:
    opts = FetchOptions(**{"timeout_seconds": 2.0, "allow_hosts": LOCAL, **options})
    with make_client(opts) as client:
        return fetch_feed(client, state, NOW, opts.max_body_bytes, opts.total_timeout_seconds)


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
def test_a_bomb_is_stopped_at_the_limit_in_bounded_steps(server: FeedServer, encoding):
    bomb = make_bomb(encoding, 256 << 20)
    url = server.static("/bomb", Response(200, bomb, {"Content-Encoding": encoding}))
    result = fetch(FeedState(url), max_body_bytes=1 << 20)
    assert result.error == "response body larger than the limit of 1048576 bytes"


@pytest.mark.parametrize("encoding", ["gzip", "x-gzip", "deflate", "br", "gzip, br"])
def test_every_encoding_we_ask_for_is_decoded(server: FeedServer, encoding):
    payload = BODY
    for name in [n.strip() for n in encoding.split(",")]:
        if name == "br":
            payload = brotli.compress(payload)
        elif name == "deflate":
            payload = zlib.compress(payload)
        else:
            payload = gzip.compress(payload)
    url = server.static("/f", Response(200, payload, {"Content-Encoding": encoding}))
    result = fetch(FeedState(url))
    assert result.ok, result.error
    assert result.content == BODY
    sent = server.requests_to("/f")[0].headers["accept-encoding"]
    assert sent == "gzip, deflate, br"


def test_raw_deflate_and_multi_member_gzip_are_decoded():
    raw = zlib.compressobj(6, zlib.DEFLATED, -15)
    raw_deflate = raw.compress(BODY) + raw.flush()
    assert read_body([raw_deflate[:100], raw_deflate[100:]], "deflate", 1 << 20) == BODY
    members = gzip.compress(BODY[:500]) + gzip.compress(BODY[500:])
    assert read_body([members], "gzip", 1 << 20) == BODY
    with pytest.raises(BodyTooLarge):
        read_body([gzip.compress(BODY)], "gzip", 100)


def test_an_unknown_encoding_is_an_error_not_garbage(server: FeedServer):
    url = server.static("/f", Response(200, b"xx", {"Content-Encoding": "zz-unknown"}))
    assert fetch(FeedState(url)).error == (
        "cannot decode the response body: unsupported content encoding zz-unknown"
    )


def test_the_total_deadline_covers_headers_sent_a_byte_at_a_time(server: FeedServer):
    url = server.static("/slow", Response(200, BODY, header_trickle=0.05))
    started = time.monotonic()
    result = fetch(FeedState(url), timeout_seconds=1.0, total_timeout_seconds=1.0)
    elapsed = time.monotonic() - started
    assert result.error == "took longer than the total limit of 1 s"
    assert elapsed < 2.0


def test_the_total_deadline_covers_a_trickled_body(server: FeedServer):
    url = server.static("/slow", Response(200, BODY, trickle=0.05))
    started = time.monotonic()
    result = fetch(FeedState(url), timeout_seconds=1.0, total_timeout_seconds=1.0)
    assert result.error == "took longer than the total limit of 1 s"
    assert time.monotonic() - started < 2.0


def test_a_bare_allowed_host_allows_the_feeds_own_port_only():
    """A redirect from an allowed feed to another port of the same private host is refused;
    ``host:port`` allows that port."""
    inside = FeedServer().start()
    outside = FeedServer().start()
    try:
        inside.static("/admin", Response(200, b"INTERNAL SECRET admin-token"))
        url = outside.redirect("/feed", inside.url("/admin"))
        refused = fetch(FeedState(url))
        assert refused.error is not None
        assert refused.error.startswith("refused to connect to 127.0.0.1 (127.0.0.1)")
        assert f"list 127.0.0.1:{inside.url('').split(':')[-1]}" in refused.error
        assert not inside.requests
        port = int(inside.base_url.rsplit(":", 1)[1])
        allowed = fetch(FeedState(url), allow_hosts=frozenset({"127.0.0.1", f"127.0.0.1:{port}"}))
        assert allowed.content == b"INTERNAL SECRET admin-token"
    finally:
        inside.stop()
        outside.stop()


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("127.0.0.1", ("127.0.0.1", None)),
        ("Intranet.Example.dk:8443", ("intranet.example.dk", 8443)),
        ("[::1]", ("::1", None)),
        ("[::1]:8080", ("::1", 8080)),
        ("::1", ("::1", None)),
    ],
)
def test_allow_list_entries_are_host_or_host_port(entry, expected):
    assert allow_entry(entry) == expected


@pytest.mark.parametrize("entry", ["host:0", "host:99999", "host:http", "http://host/", ""])
def test_a_bad_allow_list_entry_is_a_config_error(entry):
    with pytest.raises(ConfigError, match=r"poll\.allow_private_hosts"):
        parse_config({"poll": {"allow_private_hosts": [entry]}})


class Names:
    """A name service of our own for made-up hosts: answers from a table, after ``delay``
    seconds or, for a host marked hanging, only once released (a dead name server)."""

    def __init__(self, table: dict[str, tuple[str, ...]], hanging: frozenset[str] = frozenset()):
        self.table, self.hanging = table, hanging
        self.asked: list[str] = []
        self.release = threading.Event()

    def __call__(self, host: str, port: int) -> list[tuple[object, ...]]:
        self.asked.append(host)
        if host in self.hanging:
            self.release.wait(30)
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in self.table[host]]


def fetch_via(names: Names, url: str, **options) -> FetchResult:
    opts = FetchOptions(**{"timeout_seconds": 2.0, **options})
    with make_client(opts, Resolver(names)) as client:
        return fetch_feed(
            client, FeedState(url), NOW, opts.max_body_bytes, opts.total_timeout_seconds
        )


def test_a_hanging_name_lookup_is_held_to_the_fetch_deadline(server: FeedServer):
    names = Names({"feeds.test": ("127.0.0.1",)}, hanging=frozenset({"feeds.test"}))
    port = server.base_url.rsplit(":", 1)[1]
    started = time.monotonic()
    try:
        result = fetch_via(names, f"http://feeds.test:{port}/f", connect_timeout_seconds=0.5)
    finally:
        names.release.set()
    assert result.error == "timed out looking up feeds.test"
    assert time.monotonic() - started < 2.0


def test_a_name_is_looked_up_once_and_the_answer_is_the_address_connected_to(server: FeedServer):
    server.static("/f", Response(200, BODY))
    port = server.base_url.rsplit(":", 1)[1]
    # 127.0.0.2 is loopback too, but nothing listens there: the next address is tried.
    names = Names({"feeds.test": ("127.0.0.2", "127.0.0.1")})
    opts = FetchOptions(timeout_seconds=2.0, allow_hosts=frozenset({"feeds.test"}))
    with make_client(opts, Resolver(names)) as client:
        for _ in range(3):
            result = fetch_feed(client, FeedState(f"http://feeds.test:{port}/f"), NOW, 1 << 20)
            assert result.error is None
            assert result.content == BODY
    assert names.asked == ["feeds.test"]
    assert {r.headers.get("host") for r in server.requests_to("/f")} == {f"feeds.test:{port}"}


def test_a_name_that_resolves_to_a_private_address_is_refused(server: FeedServer):
    server.static("/f", Response(200, BODY))
    port = server.base_url.rsplit(":", 1)[1]
    names = Names({"intranet.test": ("10.1.2.3",), "feeds.test": ("127.0.0.1",)})
    refused = fetch_via(names, f"http://intranet.test:{port}/f")
    assert refused.error is not None
    assert refused.error.startswith("refused to connect to intranet.test (10.1.2.3), a private")
    redirected = server.redirect("/r", f"http://feeds.test:{port}/f")
    hop = fetch_via(names, redirected, allow_hosts=frozenset({"127.0.0.1"}))
    assert hop.error is not None
    assert "feeds.test (127.0.0.1), a loopback" in hop.error
    assert not server.requests_to("/f")


def test_an_unknown_name_is_a_plain_error():
    result = fetch_via(Names({}), "http://nowhere.test/feed")
    assert result.error == (
        "cannot connect: cannot resolve nowhere.test: [Errno -2] Name or service not known"
    )


def test_a_pooled_connection_does_not_carry_a_redirect_past_the_port_rule():
    """An allow-listed private host is allowed on the port of the feed being fetched only,
    also when a keep-alive connection to it, opened by its own feed, is still in the pool."""
    inside, outside = FeedServer().start(), FeedServer().start()
    try:
        inside.static("/feed", Response(200, BODY))
        inside.static("/admin", Response(200, b"INTERNAL SECRET admin-token"))
        inner = int(inside.base_url.rsplit(":", 1)[1])
        outer = int(outside.base_url.rsplit(":", 1)[1])
        outside.redirect("/feed", f"http://intranet.test:{inner}/admin")
        names = Names({"intranet.test": ("127.0.0.1",), "public.test": ("127.0.0.1",)})
        allowed = frozenset({"intranet.test", f"public.test:{outer}"})
        opts = FetchOptions(timeout_seconds=2.0, allow_hosts=allowed)
        with make_client(opts, Resolver(names)) as client:
            own = fetch_feed(client, FeedState(f"http://intranet.test:{inner}/feed"), NOW, 1 << 20)
            assert own.content == BODY  # its own feed, on its own port: allowed, and pooled
            hop = fetch_feed(client, FeedState(f"http://public.test:{outer}/feed"), NOW, 1 << 20)
        assert hop.error is not None
        assert hop.error.startswith("refused to connect to intranet.test (127.0.0.1)")
        assert not inside.requests_to("/admin")
    finally:
        inside.stop()
        outside.stop()


def test_a_lookup_past_the_deadline_leaves_no_lookup_pending():
    names = Names({"feeds.test": ("127.0.0.1",)})
    resolver = Resolver(names)
    current.deadline = time.monotonic() - 1
    try:
        with pytest.raises(DeadlinePassed):
            resolver.addresses("feeds.test", 80)
    finally:
        current.deadline = None
    assert resolver.addresses("feeds.test", 80, timeout=2.0) == ("127.0.0.1",)


def test_an_address_that_drops_connections_is_passed_over_for_the_next(server: FeedServer):
    server.static("/f", Response(200, BODY))
    port = int(server.base_url.rsplit(":", 1)[1])
    # A listener on 127.0.0.2 that never accepts: once its queue is full, the kernel drops
    # further SYNs, as a blackholed address does.
    blackhole = socket.socket()
    blackhole.bind(("127.0.0.2", port))
    blackhole.listen(0)
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.2", port))
        fillers.append(filler)
    try:
        names = Names({"feeds.test": ("127.0.0.2", "127.0.0.1")})
        result = fetch_via(
            names,
            f"http://feeds.test:{port}/f",
            allow_hosts=frozenset({"feeds.test"}),
            connect_timeout_seconds=0.5,
        )
        assert result.error is None
        assert result.content == BODY
    finally:
        for sock in (*fillers, blackhole):
            sock.close()


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("100.100.100.200", "non-public"),
        ("2002:a00:1::1", "private"),
        ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "private"),
    ],
)
def test_addresses_not_on_the_internet_are_refused_however_written(address, kind):
    result = fetch_via(Names({"meta.test": (address,)}), "http://meta.test/latest")
    assert result.error is not None
    assert result.error.startswith(f"refused to connect to meta.test ({address}), a {kind}")
