"""Review 7 R11: fetching through an HTTP proxy, ``poll.proxy`` or the standard environment
variables, on every road a fetch takes: feeds, HTML pages, robots.txt, followed item pages,
``add`` and ``preview``. A real forwarding proxy on 127.0.0.1 (tests/forwardproxy.py)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
import yaml
from click.testing import CliRunner

from aggregator.cli import cli
from aggregator.errors import ConfigError
from aggregator.export import export_feeds
from aggregator.health import what_to_do
from aggregator.pipeline import fetch_options, poll
from aggregator.proxies import Proxies, proxies
from tests.conftest import FIXTURES, free_port
from tests.feedserver import FeedServer, Response, feed_route
from tests.forwardproxy import ForwardProxy, SocksProxy

BODY = (FIXTURES / "rss20.xml").read_bytes()
HTML = {"Content-Type": "text/html; charset=utf-8"}
LISTING = (
    '<html lang="da"><body><main><article class="item"><h3><a href="/n/a">Nyhed A</a></h3>'
    '<p class="teaser">Kommunen fortæller om borgernes digitale hverdag.</p></article>'
    "</main></body></html>"
).encode()
ARTICLE = (
    '<html lang="da"><head><meta property="article:published_time" '
    'content="2026-11-26T10:00:00+01:00"><title>Nyhed A</title></head><body><article>'
    "<h1>Nyhed A</h1>" + "<p>Afsnit om borgernes digitale hverdag i kommunen.</p>" * 6 + ""
    "</article></body></html>"
).encode()
PROXY_VARIABLES = (
    "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY",
    "http_proxy", "https_proxy", "all_proxy", "no_proxy", "REQUEST_METHOD",
)  # fmt: skip


@pytest.fixture(autouse=True)
def _no_proxy_variables(monkeypatch) -> None:
    """This machine's own proxy settings stay out of these tests."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def proxy() -> Iterator[ForwardProxy]:
    started = ForwardProxy().start()
    yield started
    started.stop()


def sources(server: FeedServer) -> list[dict[str, object]]:
    feed = server.route("/feed.xml", feed_route(BODY))
    page = server.static("/nyheder/", Response(200, LISTING, HTML))
    server.static("/n/a", Response(200, ARTICLE, HTML))
    return [
        {"name": "OS2", "url": feed},
        {"name": "kommune", "url": page, "type": "html", "items": "article.item",
         "fields": {"summary": ".teaser"}, "follow": True},
    ]  # fmt: skip


def test_every_fetch_of_a_poll_goes_through_poll_proxy(server, proxy, make_config, store, clock):
    """The feed, robots.txt, the list page and the followed item page, fetched by a worker
    process; the proxy's private address needs no allow_private_hosts entry of its own."""
    config = make_config(sources(server), poll={"proxy": proxy.url(), "workers": 1})
    report = poll(config, store, clock=clock)
    assert report.failed == ()
    assert report.new > 1
    base = server.base_url
    wanted = [f"{base}/feed.xml", f"{base}/robots.txt", f"{base}/nyheder/", f"{base}/n/a"]
    assert sorted(proxy.targets()) == sorted(wanted)
    assert {seen.method for seen in proxy.seen} == {"GET"}


def test_the_proxy_gets_its_credentials_and_no_message_shows_them(
    server, make_config, store, clock, tmp_path
):
    guarded = ForwardProxy(user="kommune", password="hemmelig").start()
    try:
        url = server.route("/feed.xml", feed_route(BODY))
        config = make_config(
            [{"name": "OS2", "url": url}],
            poll={"proxy": guarded.url("kommune", "hemmelig"), "workers": 0},
        )
        assert poll(config, store, clock=clock).failed == ()
        assert [s.credentials for s in guarded.seen] == ["kommune:hemmelig"]
    finally:
        guarded.stop()
    # A proxy that is not there: the error names it, without the password, in the store and
    # in status (text and JSON).
    dead = f"http://kommune:hemmelig@127.0.0.1:{free_port()}"
    config = make_config([{"name": "OS2", "url": url}], poll={"proxy": dead, "workers": 0})
    (failed,) = poll(config, store, clock=clock).failed
    assert (failed.error or "").startswith("cannot connect: ")
    assert (failed.error or "").endswith(
        f"(through the proxy http://***@127.0.0.1:{dead.rsplit(':', 1)[1]}, from poll.proxy)"
    )
    assert "hemmelig" not in repr(fetch_options(config))
    path = config.source_path
    for args in (["status"], ["status", "--json"]):
        shown = CliRunner().invoke(cli, [*args, "-c", str(path)])
        assert "through the proxy http://***@127.0.0.1" in shown.output
        assert "hemmelig" not in shown.output
    (status,) = store.feed_statuses()
    assert "the proxy does not answer: check poll.proxy" in (what_to_do(status) or "")
    rows = store.db.execute("SELECT * FROM feeds").fetchall()
    assert "hemmelig" not in json.dumps(rows, default=str)


def test_wrong_proxy_credentials_are_the_proxys_answer(server, make_config, store, clock):
    guarded = ForwardProxy(user="kommune", password="hemmelig").start()
    url = server.route("/feed.xml", feed_route(BODY))
    # An https:// URL: the proxy's 407 answers the CONNECT, before any TLS.
    tunnelled = url.replace("http://", "https://").replace("/feed.xml", "/other.xml")
    feeds = [{"name": "OS2", "url": url}, {"name": "Digst", "url": tunnelled}]
    try:
        config = make_config(feeds, poll={"proxy": guarded.url("kommune", "forkert"), "workers": 0})
        failed = {
            result.feed_url: result.error for result in poll(config, store, clock=clock).failed
        }
    finally:
        guarded.stop()
    assert failed == {
        url: "HTTP 407 Proxy Authentication Required",
        tunnelled: "the proxy refused: 407 Proxy Authentication Required "
        f"(through the proxy http://***@127.0.0.1:{guarded.port}, from poll.proxy)",
    }
    assert server.requests_to("/feed.xml") == []
    statuses = {status.url: status for status in store.feed_statuses()}
    assert "the proxy refuses us: check the user" in (what_to_do(statuses[url]) or "")
    assert "check the proxy's URL and the user" in (what_to_do(statuses[tunnelled]) or "")


def test_the_environment_sets_the_proxy_when_poll_proxy_is_not_set(
    server, proxy, make_config, store, clock, monkeypatch
):
    url = server.route("/feed.xml", feed_route(BODY))
    config = make_config([{"name": "OS2", "url": url}], poll={"workers": 0})
    monkeypatch.setenv("HTTP_PROXY", f"127.0.0.1:{proxy.port}")  # no scheme: http, as curl
    assert poll(config, store, clock=clock).failed == ()
    assert proxy.targets() == [url]
    # NO_PROXY names the feed's host: fetched directly, the proxy sees nothing more.
    monkeypatch.setenv("NO_PROXY", "intranet.kommune.local, 127.0.0.1")
    store.db.execute("UPDATE feeds SET etag = NULL, last_modified = NULL, next_poll_at = NULL")
    assert poll(config, store, clock=clock).failed == ()
    assert proxy.targets() == [url]
    assert len(server.requests_to("/feed.xml")) == 2
    # poll.proxy wins over the environment, NO_PROXY with it.
    second = ForwardProxy().start()
    try:
        config = make_config(
            [{"name": "OS2", "url": url}], poll={"workers": 0, "proxy": second.url()}
        )
        poll(config, store, clock=clock)
        assert second.targets() == [url]
    finally:
        second.stop()


def test_add_and_preview_fetch_through_the_proxy(server, proxy, tmp_path):
    page = server.static(
        "/",
        Response(200, b'<html><head><link rel="alternate" type="application/rss+xml" '
                      b'href="/feed.xml"></head><body>Kommunen</body></html>', HTML),
    )  # fmt: skip
    feed = server.route("/feed.xml", feed_route(BODY))
    path = tmp_path / "feeds.yaml"
    poll_section = {"allow_private_hosts": ["127.0.0.1"], "proxy": proxy.url()}
    path.write_text(yaml.safe_dump({"poll": poll_section, "feeds": []}), encoding="utf-8")
    added = CliRunner().invoke(cli, ["add", "-c", str(path), "--dry-run", page])
    assert added.exit_code == 0, added.output
    assert page in proxy.targets()
    assert feed in proxy.targets()
    before = len(proxy.seen)
    shown = CliRunner().invoke(cli, ["preview", "-c", str(path), feed])
    assert shown.exit_code == 0, shown.output
    assert proxy.targets()[before:] == [feed]


def test_a_proxy_does_not_open_private_targets(server, proxy, make_config, store, clock):
    """The target's address is checked as without a proxy; the proxy is never asked."""
    url = server.route("/feed.xml", feed_route(BODY))
    config = make_config(
        [{"name": "OS2", "url": url}],
        poll={"proxy": proxy.url(), "workers": 0, "allow_private_hosts": []},
    )
    (failed,) = poll(config, store, clock=clock).failed
    assert (failed.error or "").startswith("refused to connect to 127.0.0.1 (127.0.0.1), a loop")
    assert proxy.seen == []


@pytest.mark.parametrize(
    ("host", "no_proxy", "bypassed"),
    [
        ("intranet.kommune.local", "kommune.local", True),
        ("intranet.kommune.local", ".kommune.local", True),
        ("kommune.local", ".kommune.local", True),
        ("wwwkommune.local", "kommune.local", False),
        ("kommune.dk", "kommune.local", False),
        ("10.1.2.3", "10.0.0.0/8", True),
        ("11.1.2.3", "10.0.0.0/8", False),
        ("::1", "::1", True),
        ("[::1]", "[::1]:8080", True),
        ("anything.dk", "*", True),
        ("KOMMUNE.LOCAL.", "kommune.local", True),
        ("kommune.local", "kommune.local:8443", True),
        ("www.ærø.dk", "xn--r-3fa9c.dk", True),  # IDNA: either form matches the other
        ("xn--r-3fa9c.dk", "ærø.dk", True),
        ("www.xn--r-3fa9c.dk", ".ærø.dk", True),
    ],
)
def test_no_proxy_is_read_as_curl_reads_it(host, no_proxy, bypassed):
    found = proxies(None, {"https_proxy": "http://proxy:3128", "NO_PROXY": no_proxy})
    assert (found.for_url("https", host) is None) is bypassed


def test_environment_variables_in_either_case_per_scheme():
    env = {"HTTPS_PROXY": "http://upper:1", "https_proxy": "http://lower:2",
           "ALL_PROXY": "socks5://all:3"}  # fmt: skip
    found = proxies(None, env)
    assert found.for_url("https", "kommune.dk") == "http://lower:2"
    assert found.for_url("http", "kommune.dk") == "socks5://all:3"
    # Under CGI a request's Proxy: header arrives as HTTP_PROXY (httpoxy): not taken.
    cgi = proxies(None, {"HTTP_PROXY": "http://evil:1", "REQUEST_METHOD": "GET"})
    assert cgi.for_url("http", "kommune.dk") is None
    assert proxies(None, {}) == Proxies()
    assert proxies("http://p:1", {"NO_PROXY": "*"}).for_url("http", "kommune.dk") == "http://p:1"
    assert found.describe("https") == "the proxy http://lower:2, from HTTPS_PROXY"
    assert found.describe("http") == "the proxy socks5://all:3, from ALL_PROXY"


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("ftp://kommune:hemmelig@proxy:21", "it must start with http://"),
        ("http://kommune:hemmelig@", "names no host"),
        ("http://kommune:hemmelig@proxy:99999", "its port is out of range"),
        ("http://kommune:hemmelig@proxy:3128/path", "has a path"),
    ],
)
def test_a_bad_poll_proxy_is_refused_without_showing_its_password(make_config, value, words):
    with pytest.raises(ConfigError) as refused:
        make_config([], poll={"proxy": value})
    assert "poll.proxy: not a proxy URL: " in str(refused.value)
    assert words in str(refused.value)
    assert "hemmelig" not in str(refused.value)


@pytest.mark.parametrize("scheme", ["socks5", "socks5h"])
def test_a_socks5_proxy(server, make_config, store, clock, scheme):
    socks = SocksProxy().start()
    try:
        url = server.route("/feed.xml", feed_route(BODY))
        config = make_config(
            [{"name": "OS2", "url": url}],
            poll={"proxy": socks.url(scheme, "kommune"), "workers": 0},
        )
        assert poll(config, store, clock=clock).failed == ()
    finally:
        socks.stop()
    assert socks.targets() == [f"127.0.0.1:{server.base_url.rsplit(':', 1)[1]}"]
    assert [seen.credentials for seen in socks.seen] == ["kommune:hemmelig"]
    assert len(server.requests_to("/feed.xml")) == 1


class Hub:
    """A WebSub hub on loopback that records the feeds it is told of."""

    def __init__(self) -> None:
        pings: list[str] = []
        self.pings = pings

        class _Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                pings.extend(parse_qs(self.rfile.read(length).decode()).get("hub.url", []))
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_websub_pings_go_through_the_proxy_too(server, proxy, make_config, store, clock):
    hub = Hub()
    try:
        url = server.route("/feed.xml", feed_route(BODY))
        config = make_config(
            [{"name": "OS2", "url": url}],
            site={"websub_hub": hub.url},
            poll={"proxy": proxy.url(), "workers": 0},
        )
        poll(config, store, clock=clock)
        exported = export_feeds(config, store, clock())
    finally:
        hub.stop()
    assert exported.pinged == len(hub.pings) > 0
    posts = [seen for seen in proxy.seen if seen.method == "POST"]
    assert [seen.target for seen in posts] == [hub.url] * len(hub.pings)
