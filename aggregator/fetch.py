"""HTTP fetching with httpx: conditional GET, redirects, limits.

Never raises for a feed's own failure: DNS, refused connections, timeouts, HTTP errors and
oversized bodies all come back as a FetchResult with ``error`` set, so one bad feed cannot stop
the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

import httpx

from aggregator.types import FeedState, FetchResult

ACCEPT = (
    "application/atom+xml, application/rss+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5"
)


@dataclass(frozen=True, slots=True)
class FetchOptions:
    timeout_seconds: float = 20.0
    connect_timeout_seconds: float = 10.0
    max_redirects: int = 5
    max_body_bytes: int = 10 * 1024 * 1024
    concurrency: int = 8
    user_agent: str = "aggregator/0.1"


class _BodyTooLarge(Exception):
    pass


@asynccontextmanager
async def make_client(options: FetchOptions) -> AsyncIterator[httpx.AsyncClient]:
    timeout = httpx.Timeout(options.timeout_seconds, connect=options.connect_timeout_seconds)
    limits = httpx.Limits(
        max_connections=options.concurrency, max_keepalive_connections=options.concurrency
    )
    async with httpx.AsyncClient(
        timeout=timeout,
        limits=limits,
        follow_redirects=True,
        max_redirects=options.max_redirects,
        headers={"User-Agent": options.user_agent, "Accept": ACCEPT},
        trust_env=False,
    ) as client:
        yield client


def _conditional_headers(state: FeedState) -> dict[str, str]:
    headers = {}
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    return headers


def _describe(exc: Exception) -> str:
    """Plain words for the admin; the httpx class name alone says little."""
    if isinstance(exc, httpx.TooManyRedirects):
        return "too many redirects"
    if isinstance(exc, httpx.ConnectTimeout):
        return "timed out while connecting"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out waiting for the server"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect: {exc}" if str(exc) else "cannot connect"
    if isinstance(exc, httpx.UnsupportedProtocol):
        return f"unsupported URL: {exc}"
    if isinstance(exc, httpx.DecodingError):
        return f"cannot decode the response body: {exc}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


async def fetch_feed(
    client: httpx.AsyncClient, state: FeedState, now: datetime, max_body_bytes: int
) -> FetchResult:
    """Fetch one feed; ``now`` is the time recorded on the result."""
    try:
        async with client.stream("GET", state.url, headers=_conditional_headers(state)) as response:
            base = {
                "feed_url": state.url,
                "fetched_at": now,
                "final_url": str(response.url),
                "status": response.status_code,
                "headers": {k.lower(): v for k, v in response.headers.items()},
            }
            if response.status_code == 304:
                return FetchResult(
                    **base,  # type: ignore[arg-type]
                    not_modified=True,
                    etag=response.headers.get("etag") or state.etag,
                    last_modified=response.headers.get("last-modified") or state.last_modified,
                )
            if response.status_code >= 400:
                reason = response.reason_phrase or ""
                return FetchResult(
                    **base,  # type: ignore[arg-type]
                    error=f"HTTP {response.status_code} {reason}".strip(),
                )
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > max_body_bytes:
                raise _BodyTooLarge
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > max_body_bytes:
                    raise _BodyTooLarge
                chunks.append(chunk)
            return FetchResult(
                **base,  # type: ignore[arg-type]
                content=b"".join(chunks),
                etag=response.headers.get("etag"),
                last_modified=response.headers.get("last-modified"),
            )
    except _BodyTooLarge:
        return FetchResult(
            feed_url=state.url,
            fetched_at=now,
            error=f"response body larger than the limit of {max_body_bytes} bytes",
        )
    except httpx.HTTPError as exc:
        return FetchResult(feed_url=state.url, fetched_at=now, error=_describe(exc))


async def fetch_many(
    states: Iterable[FeedState],
    options: FetchOptions,
    clock: Callable[[], datetime],
) -> AsyncIterator[FetchResult]:
    """Fetch feeds with at most ``options.concurrency`` in flight, yielding as each completes.

    The bound is a semaphore, not the connection pool, because waiting in httpx's pool counts
    against the request timeout.
    """
    gate = asyncio.Semaphore(options.concurrency)

    async with make_client(options) as client:

        async def one(state: FeedState) -> FetchResult:
            async with gate:
                return await fetch_feed(client, state, clock(), options.max_body_bytes)

        tasks = [asyncio.create_task(one(state)) for state in states]
        try:
            for finished in asyncio.as_completed(tasks):
                yield await finished
        finally:
            for task in tasks:
                task.cancel()
