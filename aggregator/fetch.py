"""HTTP fetching with httpx: conditional GET, redirects, limits, address checks.

Never raises for a feed's own failure: DNS, refused connections, timeouts, HTTP errors,
oversized bodies and refused addresses all come back as a FetchResult with ``error`` set, so
one bad feed cannot stop the others.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import threading
import time
import zlib
from collections import defaultdict
from collections.abc import AsyncGenerator, Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from urllib.parse import urlsplit

import brotli
import httpcore
import httpx

from aggregator.crawl import Robots, fetch_html_source, robots_cache
from aggregator.fetch_limits import (
    ACCEPT_ENCODING,
    Admit,
    BlockedAddress,
    BodyTooLarge,
    DeadlineBackend,
    DeadlinePassed,
    UnsupportedEncoding,
    current,
    read_body,
)
from aggregator.hosts import allow_entry
from aggregator.proxies import Proxies, httpx_proxy
from aggregator.resolve import LOOKUP_TIMED_OUT, NotFound, Resolver
from aggregator.text import terminal_text
from aggregator.trust import Trust, certificate_problem, tls_context
from aggregator.types import FeedState, FetchResult, RobotsAnswer

log = logging.getLogger(__name__)

ACCEPT = (
    "application/atom+xml, application/rss+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5"
)
# A web page source asks for a page: some servers answer a feed-like Accept with 406, or
# with a different representation than a browser gets.
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
PERMANENT_REDIRECTS = frozenset({301, 308})


@dataclass(frozen=True, slots=True)
class FetchOptions:
    timeout_seconds: float = 20.0
    connect_timeout_seconds: float = 10.0
    total_timeout_seconds: float = 60.0
    max_redirects: int = 5
    max_body_bytes: int = 10 * 1024 * 1024
    concurrency: int = 8
    per_host_concurrency: int = 2
    user_agent: str = "aggregator/0.1"
    block_private: bool = True
    allow_hosts: frozenset[str] = field(default_factory=frozenset)
    # Not fetch limits, but what the worker processes need with them to plan: the site's
    # zone reads a feed's date in words that names none (feed_dates.py).
    max_entries_per_feed: int = 500
    timezone: str = "Europe/Copenhagen"
    proxies: Proxies = field(default_factory=Proxies)  # poll.proxy or the environment's
    trust: Trust = field(default_factory=Trust)  # poll.ca_bundle or SSL_CERT_FILE/_DIR


def _forbidden(address: str) -> str | None:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if isinstance(ip, ipaddress.IPv6Address) and (inner := ip.sixtofour or _teredo(ip)):
        ip = inner  # an IPv4 address tunnelled in IPv6 is that address
    for kind, flag in (
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("private", ip.is_private),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
        ("unspecified", ip.is_unspecified),
        # Shared address space (100.64.0.0/10: carrier-grade NAT, some clouds' metadata) and
        # whatever else is not reachable from the internet.
        ("non-public", not ip.is_global),
    ):
        if flag:
            return kind
    return None


def _teredo(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    return ip.teredo[1] if ip.teredo else None


def _port(url: httpx.URL) -> int:
    return url.port or (443 if url.scheme == "https" else 80)


def address_policy(allow_hosts: frozenset[str]) -> Admit:
    """The check of each address a fetch connects to, for every redirect hop too.

    An allow-list entry ``host`` allows that host on the port of the feed being fetched
    only; ``host:port`` allows that port.
    """
    entries = [allow_entry(entry) for entry in allow_hosts]
    pairs = {(host, port) for host, port in entries if port is not None}
    bare = {host for host, port in entries if port is None}

    def refusal(host: str, port: int, address: str) -> str | None:
        host = host.lower()
        if (host, port) in pairs or (host in bare and port == current.feed_port):
            return None
        kind = _forbidden(address)
        if kind is None:
            return None
        listed = host in bare or any(h == host for h, _ in pairs)
        hint = (
            f"only the feed's own port is allowed: list {host}:{port} "
            "in poll.allow_private_hosts to allow this one"
            if listed
            else "list the host in poll.allow_private_hosts to allow it"
        )
        return f"refused to connect to {host} ({address}), a {kind} address; {hint}"

    return refusal


def request_guard(
    resolver: Resolver, admit: Admit, proxies: Proxies | None = None
) -> Callable[[httpx.Request], None]:
    """The address check once more for every request and redirect hop, with the answers the
    connection used: a pooled keep-alive connection is not connected again, and whether a
    private host's port is allowed depends on the feed being fetched, not on the one that
    opened the connection.

    Through a proxy a name is checked by what it resolves to here, and one that does not
    resolve here, or not in time, is left to the proxy: on a network where only the proxy
    looks names up, that is every outside name (a name server here that does not answer for
    them at all is as common as one that says "not found"), and the proxy's own rules say
    where it may connect."""

    def check(request: httpx.Request) -> None:
        url = request.url
        if url.scheme not in ("http", "https"):
            return
        host, port = url.host, _port(url)
        connect = request.extensions.get("timeout", {}).get("connect")
        try:
            for address in resolver.addresses(host, port, connect):
                if refusal := admit(host, port, address):
                    raise BlockedAddress(refusal)
        except NotFound as exc:
            if proxies is not None and proxies.for_url(url.scheme, host) is not None:
                return
            raise httpx.ConnectError(str(exc), request=request) from exc
        except httpcore.ConnectTimeout as exc:
            if proxies is not None and proxies.for_url(url.scheme, host) is not None:
                return
            raise httpx.ConnectTimeout(str(exc), request=request) from exc
        except httpcore.ConnectError as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc

    return check


def preload(trusted: Trust | None = None) -> None:
    """Load what the first client and the first lookup would load on demand (the TLS
    context, httpx's transport modules, the IDNA codec), so that processes forked after this
    share it instead of each loading its own: about 5 MiB a process."""
    httpx.Client(verify=tls_context(trusted or Trust()), trust_env=False).close()
    "localhost".encode("idna")


@contextmanager
def make_client(options: FetchOptions, resolver: Resolver | None = None) -> Iterator[httpx.Client]:
    """A synchronous client shared by the fetch threads.

    Threads and the sync client, not asyncio: measured on the benchmark corpus, httpx's async
    stack costs about three times the CPU per request, and the CPU is what a poll of
    unchanged feeds spends.
    """
    timeout = httpx.Timeout(options.timeout_seconds, connect=options.connect_timeout_seconds)
    resolver = resolver or Resolver()
    admit = address_policy(options.allow_hosts) if options.block_private else None
    # Each target's addresses are checked before every request and redirect hop, also those
    # a proxy connects to: a proxy changes who connects, not which targets are allowed.
    hooks = {"request": [request_guard(resolver, admit, options.proxies)]} if admit else {}
    with httpx.Client(
        transport=_ByProxy(options, resolver, admit),
        timeout=timeout,
        follow_redirects=True,
        max_redirects=options.max_redirects,
        headers={
            "User-Agent": options.user_agent,
            "Accept": ACCEPT,
            "Accept-Encoding": ACCEPT_ENCODING,
        },
        event_hooks=hooks,
        trust_env=False,
    ) as client:
        yield client


def _transport(
    options: FetchOptions, resolver: Resolver, admit: Admit | None, proxy: str | None = None
) -> httpx.HTTPTransport:
    limits = httpx.Limits(
        max_connections=options.concurrency, max_keepalive_connections=options.concurrency
    )
    context = tls_context(options.trust)
    transport = httpx.HTTPTransport(
        verify=context,
        trust_env=False,
        limits=limits,
        proxy=httpx_proxy(proxy, context) if proxy else None,
    )
    # httpx takes no network backend; httpcore's pool does, and every lookup, connect, read
    # and write then keeps to the fetch's total deadline. Through a proxy every connection
    # is to the proxy, which the admin chose: its address is not refused for being private.
    pool = transport._pool
    backend = DeadlineBackend(pool._network_backend, resolver, None if proxy else admit)
    pool._network_backend = backend
    return transport


class _ByProxy(httpx.BaseTransport):
    """Each request through the transport for its proxy (``options.proxies``), or the direct
    one."""

    def __init__(self, options: FetchOptions, resolver: Resolver, admit: Admit | None) -> None:
        self._proxies = options.proxies
        self._direct = _transport(options, resolver, admit)
        self._through: dict[str, httpx.HTTPTransport] = {
            proxy: _transport(options, resolver, admit, proxy)
            for proxy in {options.proxies.http, options.proxies.https}
            if proxy
        }

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        proxy = self._proxies.for_url(request.url.scheme, request.url.host)
        if proxy is None:
            return self._sent(self._direct, request)
        request.extensions["proxy"] = self._proxies.describe(request.url.scheme)
        # httpcore's SOCKS connection raises without closing the stream it opened to the
        # proxy when the handshake fails (no acceptable authentication, a refused CONNECT):
        # the socket stayed open until the garbage collector found it. A request that fails
        # here has no connection left to use its streams, so they are closed now (a second
        # close of one httpcore did close is nothing).
        opened = current.opened = []
        try:
            return self._sent(self._through[proxy], request)
        except BaseException:
            for stream in opened:
                stream.close()
            raise
        finally:
            current.opened = None

    @staticmethod
    def _sent(transport: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
        try:
            return transport.handle_request(request)
        except httpx.RemoteProtocolError:
            # The answer's head did not parse, or the connection closed before it came. On a
            # kept-alive connection that is most often the previous answer's doing: more body
            # than its Content-Length said, left there and read as this answer's status line
            # (review 10 R10-1), or a server closing an idle connection as the request went
            # out. That connection is closed now; a GET is asked once more, on another.
            if request.method != "GET":
                raise
            return transport.handle_request(request)

    def close(self) -> None:
        for transport in (self._direct, *self._through.values()):
            transport.close()


def _conditional_headers(state: FeedState) -> dict[str, str]:
    headers = {}
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    return headers


def _describe(exc: Exception, url: str) -> str:
    """Plain words for the admin (health.py gives advice by them); the httpx class name alone
    says little. ``url``: the one asked for, to tell a bad redirect from a bad URL."""
    if isinstance(exc.__cause__, BlockedAddress):
        return str(exc)
    if isinstance(exc, httpx.ConnectTimeout) and str(exc).startswith(LOOKUP_TIMED_OUT):
        return str(exc)
    if isinstance(exc, httpx.TooManyRedirects):
        return "too many redirects"
    if isinstance(exc, httpx.RemoteProtocolError) and "location header" in str(exc).lower():
        return f"broken redirect: {exc}"
    if isinstance(exc, httpx.ProxyError):  # the proxy's answer to CONNECT (or SOCKS's)
        return f"{_proxy_answer(str(exc))}: {exc}{_through(exc)}"
    if isinstance(exc, httpx.ConnectTimeout):
        return f"timed out while connecting{_through(exc)}"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out waiting for the server"
    if isinstance(exc, httpx.ConnectError):
        if certificate := certificate_problem(exc):
            return certificate + _through(exc)
        return (f"cannot connect: {exc}" if str(exc) else "cannot connect") + _through(exc)
    if isinstance(exc, httpx.UnsupportedProtocol):
        return f"broken redirect: {exc}" if _redirected(url) else f"unsupported URL: {exc}"
    if isinstance(exc, httpx.DecodingError):
        return f"cannot decode the response body: {exc}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _proxy_answer(error: str) -> str:
    """What the proxy's refusal of a tunnel means (health.py advises by these words): only
    407 (or SOCKS's refused login) is the proxy's user and password. Every https:// fetch
    asks for a tunnel, so a site that is down is the proxy's 502/503/504 (SOCKS: unreachable,
    refused), and a site its policy forbids is its 403 (SOCKS: not allowed by ruleset)."""
    code = error[:3] if error[:3].isdigit() and error[3:4] in ("", " ") else ""
    if code in ("502", "503", "504") or any(
        words in error for words in ("unreachable", "Connection refused", "TTL expired")
    ):
        return "the proxy could not reach the site"
    if code == "403" or "not allowed by ruleset" in error:
        return "the proxy's policy refuses the site"
    return "the proxy refused"


def _through(exc: httpx.HTTPError) -> str:
    """Which proxy a failure to connect was a failure to reach, credentials hidden."""
    try:
        proxy = exc.request.extensions.get("proxy")
    except RuntimeError:  # raised before there was a request
        return ""
    return f" (through {proxy})" if proxy else ""


def _redirected(url: str) -> bool:
    """An unsupported scheme on the way from an http(s) URL can only be a redirect's."""
    return url.lower().startswith(("http://", "https://"))


def _permanent_target(response: httpx.Response) -> str | None:
    hops = [r.status_code for r in response.history]
    if hops and all(code in PERMANENT_REDIRECTS for code in hops):
        return str(response.url)
    return None


def _fetch(
    client: httpx.Client,
    state: FeedState,
    now: datetime,
    max_body_bytes: int,
    accept: str | None = None,
) -> FetchResult:
    headers = _conditional_headers(state)
    if accept:
        headers["Accept"] = accept
    with client.stream("GET", state.fetch_url, headers=headers) as rsp:
        headers = {k.lower(): v for k, v in rsp.headers.items()}
        base = FetchResult(
            feed_url=state.url,
            fetched_at=now,
            final_url=str(rsp.url),
            status=rsp.status_code,
            headers=headers,
            permanent_redirect=_permanent_target(rsp),
        )
        if rsp.status_code == 304:
            return _with(
                base,
                not_modified=True,
                etag=headers.get("etag") or state.etag,
                last_modified=headers.get("last-modified") or state.last_modified,
            )
        if rsp.status_code >= 400:
            reason = terminal_text(rsp.reason_phrase or "")  # a server's words, shown and stored
            return _with(base, error=f"HTTP {rsp.status_code} {reason}".strip())
        if rsp.status_code >= 300:  # redirects are followed: this one says nowhere to go
            return _with(base, error=f"HTTP {rsp.status_code} without a Location header")
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_body_bytes:
            raise BodyTooLarge
        # Raw bytes, inflated here in bounded steps (see fetch_limits): httpx's own decoding
        # inflates a whole chunk before any limit can be checked.
        content = read_body(rsp.iter_raw(), headers.get("content-encoding", ""), max_body_bytes)
        return _with(
            base,
            content=content,
            etag=headers.get("etag"),
            last_modified=headers.get("last-modified"),
        )


def _with(result: FetchResult, **changes: object) -> FetchResult:
    return replace(result, **changes)  # type: ignore[arg-type]


def fetch_feed(
    client: httpx.Client,
    state: FeedState,
    now: datetime,
    max_body_bytes: int,
    total_timeout: float = 60.0,
    accept: str | None = None,
) -> FetchResult:
    """Fetch one feed; ``now`` is the time recorded on the result. ``total_timeout``
    covers everything: connecting, the headers, every redirect and the body. ``accept``
    replaces the feed Accept header (a web page's)."""
    deadline = time.monotonic() + total_timeout
    try:
        port = current.source_port or _port(httpx.URL(state.fetch_url))
        current.deadline, current.feed_port = deadline, port
        return _fetch(client, state, now, max_body_bytes, accept)
    except BodyTooLarge:
        error = f"response body larger than the limit of {max_body_bytes} bytes"
    except UnsupportedEncoding as exc:
        error = f"cannot decode the response body: unsupported content encoding {exc}"
    except (httpx.HTTPError, DeadlinePassed) as exc:
        if time.monotonic() >= deadline:
            error = f"took longer than the total limit of {total_timeout:g} s"
        else:
            error = (
                _describe(exc, state.fetch_url) if isinstance(exc, httpx.HTTPError) else str(exc)
            )
    except (zlib.error, brotli.error) as exc:
        error = f"cannot decode the response body: {exc}"
    except httpx.InvalidURL as exc:
        error = f"unsupported URL: {exc}"
    finally:
        current.deadline = current.feed_port = None
    return FetchResult(feed_url=state.url, fetched_at=now, final_url=state.fetch_url, error=error)


def fetch_source(
    client: httpx.Client, state: FeedState, now: datetime, options: FetchOptions, robots: Robots
) -> FetchResult:
    """A feed, or for an HTML source its page (robots.txt and Crawl-delay obeyed) and the
    pages of its new items."""
    if state.html is None:
        return fetch_feed(client, state, now, options.max_body_bytes, options.total_timeout_seconds)

    def fetch_page(page: FeedState, at: datetime) -> FetchResult:
        return fetch_feed(client, page, at, options.max_body_bytes,
                          options.total_timeout_seconds, PAGE_ACCEPT)  # fmt: skip

    current.source_port = _port(httpx.URL(state.fetch_url))
    try:
        return fetch_html_source(state, now, robots, fetch_page, options.total_timeout_seconds)
    finally:
        current.source_port = None


def _fetched(
    client: httpx.Client,
    state: FeedState,
    options: FetchOptions,
    robots: Robots,
    clock: Callable[[], datetime],
) -> FetchResult:
    """``fetch_source``, and for a mistake of ours on one source's input its own failed
    result: an exception here would end the thread, and the source, and every source the
    thread would have fetched next, would vanish from the poll without a word."""
    now = clock()
    try:
        return fetch_source(client, state, now, options, robots)
    except Exception as exc:  # one source's failure, reported as its result
        log.debug("fetching %s failed", state.url, exc_info=True)  # -v shows where
        error = f"unexpected error while fetching: {type(exc).__name__}: {exc}"
        return FetchResult(feed_url=state.url, fetched_at=now, final_url=state.fetch_url,
                           error=error)  # fmt: skip


def host_key(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:  # an unclosed IPv6 bracket: the fetch reports it as that source's error
        return ""
    return (parts.hostname or "").lower()


def interleave_hosts(states: Iterable[FeedState]) -> list[FeedState]:
    """Round-robin over hosts, so threads waiting for one busy host do not idle the rest."""
    by_host: dict[str, list[FeedState]] = {}
    for state in states:
        by_host.setdefault(host_key(state.fetch_url), []).append(state)
    queues = list(by_host.values())
    ordered: list[FeedState] = []
    for position in range(max((len(q) for q in queues), default=0)):
        ordered.extend(q[position] for q in queues if position < len(q))
    return ordered


async def fetch_many(
    states: Iterable[FeedState],
    options: FetchOptions,
    clock: Callable[[], datetime],
    buffer: int = 8,
    kept_robots: Iterable[RobotsAnswer] = (),
) -> AsyncGenerator[FetchResult, None]:
    """Fetch feeds with bounded concurrency, overall and per host, yielding as each completes.

    ``options.concurrency`` threads pull from the list and hand results over through a queue
    of ``buffer`` places: when the consumer is slower (parsing), the threads wait instead of
    piling up bodies, so memory stays flat however many feeds there are.

    ``kept_robots``: the robots.txt answers the database keeps; those fetched anew come back
    on the results (``FetchResult.robots``).
    """
    loop = asyncio.get_running_loop()
    todo = iter(interleave_hosts(states))
    todo_lock = threading.Lock()
    stop = threading.Event()
    results: asyncio.Queue[FetchResult | None] = asyncio.Queue(maxsize=buffer)
    host_locks: defaultdict[str, threading.Semaphore] = defaultdict(
        lambda: threading.Semaphore(options.per_host_concurrency)
    )
    hosts_lock = threading.Lock()

    def hand_over(item: FetchResult | None) -> None:
        future = asyncio.run_coroutine_threadsafe(results.put(item), loop)
        while not stop.is_set():
            try:
                future.result(timeout=0.5)
                return
            except TimeoutError:
                continue
        future.cancel()

    def worker(client: httpx.Client) -> None:
        try:
            while not stop.is_set():
                with todo_lock:
                    state = next(todo, None)
                if state is None:
                    return
                with hosts_lock:
                    gate = host_locks[host_key(state.fetch_url)]
                with gate:
                    result = _fetched(client, state, options, robots, clock)
                hand_over(result)
        finally:
            hand_over(None)

    with (
        make_client(options) as client,
        ThreadPoolExecutor(max_workers=options.concurrency, thread_name_prefix="fetch") as threads,
    ):
        robots = Robots(
            lambda url: fetch_feed(
                client,
                FeedState(url=url),
                clock(),
                options.max_body_bytes,
                options.total_timeout_seconds,
            ),
            options.user_agent,
            cache=robots_cache(kept_robots),
            now=clock,
        )
        futures = [
            loop.run_in_executor(threads, worker, client) for _ in range(options.concurrency)
        ]
        try:
            running = len(futures)
            while running:
                item = await results.get()
                if item is None:
                    running -= 1
                else:
                    yield item
        finally:
            stop.set()
            await asyncio.gather(*futures, return_exceptions=True)
