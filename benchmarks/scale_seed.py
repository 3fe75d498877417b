"""The cold database of benchmarks/scale.py without the network: the product's own road
from the fetch on (plan, schedule, store), fed what the scale server would answer.

A cold poll of 100,000 feeds through loopback HTTP takes over an hour on a loaded machine,
most of it waiting out the server's 50-200 ms per answer; what the hourly cycle is measured
against is only what that poll leaves behind. So each feed's first answer is made here as
``fetch`` would record it (the document, its ETag and media type; 404, 500, a timeout or a
reset for the failing ones, as their fate says), planned by ``plan_for`` in worker
processes, scheduled by the policy and written by ``Store.apply`` in batches. The rows are
then the product's, not an imitation: the validators the cycle sends, the entries' digests
and hashes it compares, the sketches new posts are checked against.
"""

from __future__ import annotations

import multiprocessing
import random
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from aggregator.config import Config
from aggregator.pipeline import fetch_options, merge_rules, policy_settings, schedule_plan
from aggregator.planning import plan_for
from aggregator.policy import ADAPTIVE_WINDOW
from aggregator.store import Store
from aggregator.types import FeedState, FetchResult, UpdatePlan
from benchmarks.scale_server import document, fate

CHUNK = 250
_ERRORS = {
    "404": (404, "HTTP 404 Not Found"),
    "500": (500, "HTTP 500 Server Error"),
    "timeout": (None, "timed out waiting for the server"),
    "reset": (None, "RemoteProtocolError: peer closed connection without sending complete"
                    " message body (received 4 bytes, expected 5000)"),
}  # fmt: skip


def first_answer(feed: int, state: FeedState, now: datetime) -> FetchResult:
    """What fetch records of the server's answer to the feed's first request (cycle 0)."""
    kind = fate(feed)
    if kind != "ok":
        status, error = _ERRORS[kind]
        headers = {"content-length": "8"} if status else {}
        return FetchResult(state.url, now, state.fetch_url, status, headers=headers, error=error)
    body = document(feed, 0)
    etag = f'"{feed}-0"'
    headers = {"content-length": str(len(body)), "etag": etag,
               "content-type": "application/rss+xml; charset=UTF-8"}  # fmt: skip
    return FetchResult(state.url, now, state.fetch_url, 200, body, headers, etag=etag)


def _feed_number(url: str) -> int:
    return int(url.rsplit("/", 1)[1])


def _plan_chunk(
    work: tuple[list[FeedState], datetime, int, str],
) -> list[tuple[FetchResult, UpdatePlan]]:
    states, now, max_entries, zone = work
    pairs = []
    for state in states:
        fetched = first_answer(_feed_number(state.url), state, now)
        plan = plan_for(fetched, state, now, max_entries, zone)
        pairs.append((replace(fetched, content=None), plan))
    return pairs


def seed(config: Config, db: Path, processes: int = 2) -> int:
    """Write the cold poll's outcome for every feed of ``config`` into ``db``; returns the
    number of feeds written."""
    now = datetime.now(UTC)
    store = Store.open(db)
    try:
        store.sync_feeds(config.feeds, now)
        snapshot = store.poll_snapshot([f.url for f in config.feeds], now, ADAPTIVE_WINDOW)
        feeds = {f.url: f for f in config.feeds}
        states = [state for state, _ in snapshot.values()]
        max_entries = fetch_options(config).max_entries_per_feed
        zone = config.site.timezone
        work = [
            (states[i : i + CHUNK], now, max_entries, zone) for i in range(0, len(states), CHUNK)
        ]
        settings, rules, rng = policy_settings(config), merge_rules(config), random.Random(1)
        written = 0
        with multiprocessing.get_context("fork").Pool(processes) as pool, store.batch():
            for pairs in _planned(pool, work):
                for fetched, planned in pairs:
                    plan = schedule_plan(planned, fetched, feed=feeds[fetched.feed_url],
                                         history=snapshot[fetched.feed_url][1],
                                         settings=settings, now=now, rng=rng)  # fmt: skip
                    store.apply(plan, now, rules)
                    written += 1
        return written
    finally:
        store.close()


def _planned(
    pool: multiprocessing.pool.Pool, work: list[tuple[list[FeedState], datetime, int, str]]
) -> Iterator[list[tuple[FetchResult, UpdatePlan]]]:
    yield from pool.imap(_plan_chunk, work)
