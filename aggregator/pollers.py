"""Fetching and parsing in worker processes, for polls that bring many bodies (first polls).

Each worker process fetches a share of the feeds with its own threads and client, parses what
arrives, and sends the plans back through a pipe of its own. The main process is then left
with the writes alone: fetching on its threads would compete with them for one interpreter
lock, and every body would cross a process boundary twice.

The limits hold across the processes: each gets a share of the overall concurrency, and a
host's feeds either go to one process with the whole per-host limit or are split with the
limit split alike, so no host ever sees more connections than ``per_host_concurrency``.

A process with no other thread (the one-shot command) forks its workers, which then share
its memory; one with threads (the service) starts them from a forkserver, because a fork
copies any lock another thread holds at that moment.

Imported by the worker processes: no pydantic, no store.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection

from aggregator.fetch import FetchOptions, fetch_many, host_key
from aggregator.planning import plan_for
from aggregator.types import FeedState, FetchResult, UpdatePlan

log = logging.getLogger(__name__)

PIPE_BYTES = 1 << 20  # Linux lets any user ask for up to this (fs.pipe-max-size)
# A worker reads one feed's digests at a time, a few pages: not SQLite's 2 MiB default.
READ_CACHE_KIB = 256


@dataclass(frozen=True, slots=True)
class Share:
    """What one worker process polls, and with which limits."""

    states: tuple[FeedState, ...]
    options: FetchOptions


def shares(states: Sequence[FeedState], options: FetchOptions, workers: int) -> list[Share]:
    """Split the feeds between ``workers`` processes without exceeding any limit in sum."""
    by_host: dict[str, list[FeedState]] = {}
    for state in states:
        by_host.setdefault(host_key(state.fetch_url), []).append(state)
    groups: list[list[FeedState]] = [[] for _ in range(workers)]
    per_host = options.per_host_concurrency
    if per_host >= workers:
        # Every host's feeds dealt round-robin, each process holding its share of the limit.
        for feeds in by_host.values():
            for index, state in enumerate(feeds):
                groups[index % workers].append(state)
        per_host //= workers
    else:
        # A limit too small to split: each host goes whole to the least loaded process.
        for feeds in sorted(by_host.values(), key=len, reverse=True):
            min(groups, key=len).extend(feeds)
    concurrency = max(1, options.concurrency // workers)
    share_options = replace(options, concurrency=concurrency, per_host_concurrency=per_host)
    return [Share(tuple(group), share_options) for group in groups if group]


def widen(connection: Connection) -> None:
    """Let a pipe hold 1 MiB instead of 64 KiB, less than one feed's plan: with the default,
    a worker process waited on almost every send until the main process, busy writing, came
    back to read, and a cold poll left a fifth of two cores idle."""
    # Over the user's pipe limits, the default size is slower, not wrong.
    if sys.platform == "linux":
        with contextlib.suppress(OSError):
            fcntl.fcntl(connection.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)


def _digests(db: sqlite3.Connection | None, feed_url: str) -> frozenset[str]:
    if db is None:
        return frozenset()
    rows = db.execute(
        "SELECT raw_digest FROM entry_sources WHERE feed_url = ? AND raw_digest IS NOT NULL",
        [feed_url],
    )
    return frozenset(digest for (digest,) in rows)


def _default_sigint() -> None:
    """A forked worker inherits the Ctrl-C handler that asyncio.run installed in its parent,
    which only cancels the parent's task: restore Python's own, so Ctrl-C stops it."""
    signal.signal(signal.SIGINT, signal.default_int_handler)


def run_share(share: Share, database: str, clock_offset: timedelta, out: Connection) -> None:
    """Worker process: fetch and plan a share, sending ``(FetchResult, UpdatePlan)`` pairs,
    the result without its body, and ``None`` once done."""
    _default_sigint()
    try:
        db = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
        db.execute(f"PRAGMA cache_size = -{READ_CACHE_KIB}")
    except sqlite3.Error:
        db = None  # a database still being created holds no digests to read

    def clock() -> datetime:
        return datetime.now(UTC) + clock_offset

    async def poll() -> None:
        by_url = {state.url: state for state in share.states}
        async for fetched in fetch_many(share.states, share.options, clock):
            state = by_url[fetched.feed_url]
            if fetched.content:
                state = replace(state, entry_digests=_digests(db, state.url))
            plan = plan_for(fetched, state, fetched.fetched_at)
            out.send((replace(fetched, content=None), plan))

    try:
        asyncio.run(poll())
        out.send(None)
    finally:
        out.close()
        if db is not None:
            db.close()


Pair = tuple[FetchResult, UpdatePlan]


Message = Pair | None | EOFError


async def messages(connections: Sequence[Connection]) -> AsyncIterator[Message]:
    """What the worker processes send, as it arrives: a pair, None from a worker that is done,
    EOFError from one that went away; ends when every connection has ended.

    The event loop reads a pipe when it is readable, without a thread hop per message;
    nothing is read while the caller handles a message, so at most one message per worker
    waits here and the rest wait in the pipes.
    """
    loop = asyncio.get_running_loop()
    arrived: asyncio.Queue[Message] = asyncio.Queue()

    def read(connection: Connection) -> None:
        message: Message
        try:
            message = connection.recv()
        except (EOFError, OSError) as exc:
            message = EOFError(str(exc) or "connection closed")
        if message is None or isinstance(message, EOFError):
            loop.remove_reader(connection.fileno())
        arrived.put_nowait(message)

    for connection in connections:
        loop.add_reader(connection.fileno(), read, connection)
    try:
        open_connections = len(connections)
        while open_connections:
            message = await arrived.get()
            if message is None or isinstance(message, EOFError):
                open_connections -= 1
            yield message
    finally:
        for connection in connections:
            loop.remove_reader(connection.fileno())
