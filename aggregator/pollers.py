"""Polling a share of the feeds: fetch, parse and plan, in a worker process or in this one.

A worker process (see workers.py) fetches its share with its own threads and client, parses
what arrives, and sends the plans back through a pipe of its own. The main process is then
left with the writes alone: fetching on its threads would compete with them for one
interpreter lock, and every body would cross a process boundary twice.

The limits hold across the processes: each gets a share of the overall concurrency, and a
host's feeds either go to one process with the whole per-host limit or are split with the
limit split alike, so no host ever sees more connections than ``per_host_concurrency``.

Imported by the worker processes: no pydantic, no store.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection

from aggregator.fetch import FetchOptions, fetch_many, host_key
from aggregator.planning import plan_for
from aggregator.types import FeedState, FetchResult, RobotsAnswer, UpdatePlan

log = logging.getLogger(__name__)

# A worker reads one feed's digests at a time, a few pages: not SQLite's 2 MiB default.
READ_CACHE_KIB = 256


@dataclass(frozen=True, slots=True)
class Share:
    """What one worker process polls, and with which limits."""

    states: tuple[FeedState, ...]
    options: FetchOptions
    robots: tuple[RobotsAnswer, ...] = ()  # the robots.txt answers the database keeps


def shares(
    states: Sequence[FeedState],
    options: FetchOptions,
    workers: int,
    robots: tuple[RobotsAnswer, ...] = (),
) -> list[Share]:
    """Split the feeds between ``workers`` processes without exceeding any limit in sum;
    each gets every kept robots.txt answer, as an item page may be on any site."""
    by_host: dict[str, list[FeedState]] = {}
    for state in states:
        by_host.setdefault(host_key(state.fetch_url), []).append(state)
    groups: list[list[FeedState]] = [[] for _ in range(workers)]
    per_host = options.per_host_concurrency
    if per_host >= workers:
        # Every host's feeds dealt round-robin, each process holding its share of the limit;
        # its web pages to one process, as robots.txt and its Crawl-delay live in a process.
        for number, feeds in enumerate(by_host.values()):
            dealt = 0
            for state in feeds:
                if state.html is not None:
                    groups[number % workers].append(state)
                else:
                    groups[dealt % workers].append(state)
                    dealt += 1
        per_host //= workers
    else:
        # A limit too small to split: each host goes whole to the least loaded process.
        for feeds in sorted(by_host.values(), key=len, reverse=True):
            min(groups, key=len).extend(feeds)
    concurrency = max(1, options.concurrency // workers)
    share_options = replace(options, concurrency=concurrency, per_host_concurrency=per_host)
    return [Share(tuple(group), share_options, robots) for group in groups if group]


Pair = tuple[FetchResult, UpdatePlan]
Digests = Callable[[str], frozenset[str]]


@dataclass(frozen=True, slots=True)
class Job:
    """One poll's work for one worker process."""

    share: Share
    database: str
    clock_offset: timedelta  # the workers keep the caller's time, as tests set it


async def poll_share(
    share: Share, digests: Digests, clock: Callable[[], datetime]
) -> AsyncGenerator[Pair, None]:
    """Fetch and plan a share: each result without its body, with the plan made from it."""
    by_url = {state.url: state for state in share.states}
    fetches = fetch_many(share.states, share.options, clock, kept_robots=share.robots)
    async with aclosing(fetches):  # its threads stopped here, not by the loop's shutdown
        async for fetched in fetches:
            state = by_url.pop(fetched.feed_url)
            if fetched.content:
                state = replace(state, entry_digests=digests(state.url))
            options = share.options
            plan = plan_for(fetched, state, fetched.fetched_at, options.max_entries_per_feed,
                            options.timezone)  # fmt: skip
            yield replace(fetched, content=None, pages=()), plan


def _reader(database: str) -> sqlite3.Connection | None:
    try:
        db = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
        db.execute(f"PRAGMA cache_size = -{READ_CACHE_KIB}")
    except sqlite3.Error:
        return None  # a database still being created holds no digests to read
    return db


def serve(requests: Connection, results: Connection) -> None:
    """A worker process: run each job that arrives, sending ``(FetchResult, UpdatePlan)``
    pairs and ``None`` once done, until the main process closes the request pipe."""
    from aggregator.crawl import keep_robots_between_polls

    keep_robots_between_polls()  # this process serves poll after poll
    while True:
        try:
            job: Job = requests.recv()
        except EOFError:
            return
        db = _reader(job.database)

        def digests(feed_url: str, db: sqlite3.Connection | None = db) -> frozenset[str]:
            if db is None:
                return frozenset()
            rows = db.execute(
                "SELECT raw_digest FROM entry_sources"
                " WHERE feed_url = ? AND raw_digest IS NOT NULL",
                [feed_url],
            )
            return frozenset(digest for (digest,) in rows)

        def clock(offset: timedelta = job.clock_offset) -> datetime:
            return datetime.now(UTC) + offset

        async def run(share: Share = job.share) -> None:
            async for pair in poll_share(share, digests, clock):
                results.send(pair)

        try:
            asyncio.run(run())
        finally:
            if db is not None:
                db.close()
        results.send(None)


Message = Pair | None | EOFError


async def messages(connections: Sequence[Connection]) -> AsyncIterator[tuple[int, Message]]:
    """What the worker processes send, as it arrives, with the index of the connection: a
    pair, None from a worker that is done, EOFError from one that went away; ends when every
    connection has ended. The connections stay open, for the next poll.

    The event loop reads a pipe when it is readable, without a thread hop per message;
    nothing is read while the caller handles a message, so at most one message per worker
    waits here and the rest wait in the pipes.
    """
    loop = asyncio.get_running_loop()
    arrived: asyncio.Queue[tuple[int, Message]] = asyncio.Queue()

    def read(index: int, connection: Connection, fd: int) -> None:
        message: Message
        try:
            message = connection.recv()
        except (EOFError, OSError) as exc:
            message = EOFError(str(exc) or "connection closed")
        if message is None or isinstance(message, EOFError):
            # By number: a connection closed by an aborting poll has no fileno() left.
            loop.remove_reader(fd)
        arrived.put_nowait((index, message))

    for index, connection in enumerate(connections):
        loop.add_reader(connection.fileno(), read, index, connection, connection.fileno())
    try:
        open_connections = len(connections)
        while open_connections:
            index, message = await arrived.get()
            if message is None or isinstance(message, EOFError):
                open_connections -= 1
            yield index, message
    finally:
        for connection in connections:
            if not connection.closed:
                loop.remove_reader(connection.fileno())
