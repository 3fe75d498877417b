"""fetch -> parse -> normalise -> decide next poll -> store, for many feeds; one result per
feed, never one failure for all."""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import random
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from multiprocessing.context import ForkContext, ForkServerContext

from aggregator.config import Config, FeedConfig
from aggregator.dedup import DedupSettings
from aggregator.fetch import FetchOptions, fetch_many, preload
from aggregator.planning import plan_for
from aggregator.policy import ADAPTIVE_WINDOW, FeedHistory, Hint, PolicySettings, decide
from aggregator.pollers import messages, run_share, shares, widen
from aggregator.store import MergeRules, Store
from aggregator.types import FeedState, FeedUpdateResult, FetchResult, UpdatePlan

log = logging.getLogger(__name__)

# Starting processes from a forkserver costs about a second on two cores (two interpreters,
# their imports): a poll parses in-process until its parsing has cost twice that, which with
# unchanged entries skipped takes hundreds of changed feeds. See use_workers() for when
# worker processes fetch and parse from the start.
INLINE_SECONDS = 2.0
INLINE_BODIES = 40
# What the forkserver imports once for all worker processes: light modules only.
WORKER_IMPORTS = ["aggregator.planning", "aggregator.pollers"]

Clock = Callable[[], datetime]
ResultCallback = Callable[[FeedUpdateResult], None]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class PollReport:
    results: tuple[FeedUpdateResult, ...] = field(default_factory=tuple)

    @property
    def new(self) -> int:
        return sum(r.new for r in self.results)

    @property
    def updated(self) -> int:
        return sum(r.updated for r in self.results)

    @property
    def failed(self) -> tuple[FeedUpdateResult, ...]:
        return tuple(r for r in self.results if r.error)

    @property
    def changed(self) -> bool:
        return bool(self.new or self.updated)


def fetch_options(config: Config) -> FetchOptions:
    poll = config.poll
    return FetchOptions(
        timeout_seconds=poll.timeout_seconds,
        connect_timeout_seconds=poll.connect_timeout_seconds,
        total_timeout_seconds=poll.total_timeout_seconds,
        max_redirects=poll.max_redirects,
        max_body_bytes=poll.max_body_bytes,
        concurrency=poll.concurrency,
        per_host_concurrency=poll.per_host_concurrency,
        user_agent=poll.user_agent,
        allow_hosts=frozenset(poll.allow_private_hosts),
    )


def policy_settings(config: Config) -> PolicySettings:
    poll = config.poll
    return PolicySettings(
        default_interval=timedelta(minutes=poll.interval_minutes),
        min_interval=timedelta(minutes=poll.min_interval_minutes),
        max_interval=timedelta(minutes=poll.max_interval_minutes),
        backoff_cap=timedelta(minutes=poll.backoff_cap_minutes),
        retry_after_cap=timedelta(minutes=poll.retry_after_cap_minutes),
        adaptive=poll.adaptive,
        jitter=poll.jitter,
    )


def merge_rules(config: Config) -> MergeRules:
    dedup = config.dedup
    return MergeRules(
        dedup=DedupSettings(
            content_threshold=dedup.content_threshold,
            title_threshold=dedup.title_threshold,
            window_days=dedup.window_days,
            min_words=dedup.min_words,
        ),
        max_consecutive_changes=dedup.max_consecutive_changes,
    )


def schedule_plan(
    plan: UpdatePlan,
    fetched: FetchResult,
    *,
    feed: FeedConfig,
    history: FeedHistory,
    settings: PolicySettings,
    now: datetime,
    rng: random.Random,
) -> UpdatePlan:
    override = timedelta(minutes=feed.interval_minutes) if feed.interval_minutes else None
    # This poll's entries count too, though they are written after the decision.
    published = dict(zip(history.recent_keys, history.recent_published, strict=True))
    published.update((entry.key, entry.published) for entry in plan.entries)
    history = replace(history, override=override, recent_published=tuple(published.values()))
    new_hint = (
        Hint(timedelta(seconds=plan.publisher_hint_seconds), plan.publisher_hint_reason or "")
        if plan.publisher_hint_seconds
        else None
    )
    decision = decide(
        fetched,
        history,
        settings,
        now=now,
        rng=rng,
        new_publisher_hint=new_hint,
        failed=plan.error is not None,
    )
    return replace(
        plan,
        next_poll_at=decision.next_poll_at,
        interval_seconds=int(decision.interval.total_seconds()),
        interval_reason=decision.reason,
        gone=decision.next_poll_at is None,
    )


def _forkserver() -> ForkServerContext:
    """Worker processes for a process with threads (see can_fork), from one forkserver that
    has imported what they need."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(WORKER_IMPORTS)
    return context


class ParserPool:
    """Processes for parsing and normalising, started only once in-process parsing has cost
    as much as starting them: a poll of unchanged feeds, or one where a few feeds changed,
    parses in-process. Started mid-poll, when the fetch threads run: never forked.
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.inline_seconds = 0.0
        self._pool: ProcessPoolExecutor | None = None

    def _start(self) -> None:
        if self.workers <= 0 or self._pool is not None:
            return
        self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=_forkserver())
        for _ in range(self.workers):
            self._pool.submit(int)  # the processes start on demand: ask for all of them

    def executor(self) -> ProcessPoolExecutor | None:
        if self.inline_seconds > INLINE_SECONDS:
            self._start()
        return self._pool

    def parse_inline(self, fetched: FetchResult, state: FeedState, now: datetime) -> UpdatePlan:
        started = time.perf_counter()
        try:
            return plan_for(fetched, state, now)
        finally:
            if fetched.content:
                self.inline_seconds += time.perf_counter() - started

    def disable(self) -> None:
        self.workers = 0
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


async def poll_feeds(
    config: Config,
    store: Store,
    feeds: Iterable[FeedConfig] | None = None,
    *,
    clock: Clock = utc_now,
    rng: random.Random | None = None,
    on_result: ResultCallback | None = None,
) -> PollReport:
    """Poll the given feeds (default: every enabled feed) and store what they say.

    Fetching, parsing (in worker processes) and writing overlap; at most a few bodies wait
    between the stages at any time.
    """
    rng = rng or random.Random()
    store.sync_feeds(config.feeds, clock())
    chosen = {f.url: f for f in (config.feeds if feeds is None else feeds) if f.enabled}
    snapshot = store.poll_snapshot(list(chosen), clock(), ADAPTIVE_WINDOW)
    settings = policy_settings(config)
    rules = merge_rules(config)
    results: list[FeedUpdateResult] = []

    def record(fetched: FetchResult, plan: UpdatePlan) -> None:
        now = clock()
        plan = schedule_plan(
            plan,
            fetched,
            feed=chosen[fetched.feed_url],
            history=snapshot[fetched.feed_url][1],
            settings=settings,
            now=now,
            rng=rng,
        )
        result = store.apply(plan, now, rules)
        _log_result(result, fetched)
        results.append(result)
        if on_result:
            on_result(result)

    states = [state for state, _ in snapshot.values()]
    # SQLite keeps each process's lock state in memory, and a fork copies it: fork only
    # while this connection is outside a transaction, and so holds no lock.
    forking = can_fork() and not store.in_transaction
    if use_workers(states, config.poll.workers, forking):
        states = await _poll_in_workers(states, config, store, clock, record, forking)
    if states:
        with store.batch():
            await _poll_here(states, config, store, clock, record, snapshot)
    order = {url: i for i, url in enumerate(chosen)}
    return PollReport(tuple(sorted(results, key=lambda r: order[r.feed_url])))


Record = Callable[[FetchResult, UpdatePlan], None]


def can_fork() -> bool:
    """Forking copies any lock another thread holds at that moment: only a process with no
    other thread (the one-shot command, not the service) forks its workers."""
    return threading.active_count() == 1


def use_workers(states: list[FeedState], workers: int, forking: bool) -> bool:
    """Whether to poll in worker processes from the start.

    Forked workers start in milliseconds, and fetching is CPU in Python too: any poll of more
    than INLINE_BODIES feeds gains from them. Workers from a forkserver cost about a second to
    start: only when more than INLINE_BODIES feeds have nothing to compare a body against (a
    first poll), and so are sure to send one.
    """
    if workers <= 0 or len(states) <= INLINE_BODIES:
        return False
    if forking:
        return True
    expected = sum(1 for s in states if not (s.etag or s.last_modified or s.body_hash))
    return expected > INLINE_BODIES


async def _poll_here(
    states: list[FeedState],
    config: Config,
    store: Store,
    clock: Clock,
    record: Record,
    snapshot: dict[str, tuple[FeedState, FeedHistory]],
) -> None:
    """Fetch on this process's threads; parse here, or in parser processes once parsing
    here has cost as much as starting them."""
    loop = asyncio.get_running_loop()
    pool = ParserPool(config.poll.workers)
    in_flight = asyncio.Semaphore(2 * config.poll.workers + 2)

    async def handle(fetched: FetchResult) -> None:
        try:
            now = clock()
            state, history = snapshot[fetched.feed_url]
            if fetched.content and history.ever_succeeded:
                state = replace(state, entry_digests=store.entry_digests(state.url))
            executor = pool.executor() if fetched.content else None
            plan = None
            if executor is not None:
                try:
                    plan = await loop.run_in_executor(executor, plan_for, fetched, state, now)
                except BrokenProcessPool:
                    # A parser process died (killed, out of memory): go on without them.
                    log.warning("parser processes stopped; parsing in-process from here on")
                    pool.disable()
            if plan is None:
                plan = pool.parse_inline(fetched, state, now)
            record(fetched, plan)
        finally:
            in_flight.release()

    try:
        tasks = []
        async for fetched in fetch_many(states, fetch_options(config), clock):
            await in_flight.acquire()
            tasks.append(asyncio.create_task(handle(fetched)))
        await asyncio.gather(*tasks)
    finally:
        pool.close()


async def _poll_in_workers(
    states: list[FeedState],
    config: Config,
    store: Store,
    clock: Clock,
    record: Record,
    forking: bool,
) -> list[FeedState]:
    """Fetch and parse in worker processes (see pollers.py); returns the feeds a process
    that died left unpolled, for the caller to poll here."""
    context: ForkContext | ForkServerContext
    if forking:
        # Forked workers share this process's pages until written. Frozen objects are left
        # alone by the collector, whose marking would otherwise write to (and so copy) them.
        context = multiprocessing.get_context("fork")
        preload()
        gc.freeze()
    else:
        context = _forkserver()
    log.debug("polling %d feeds in %s worker processes", len(states), context.get_start_method())
    offset = clock() - utc_now()  # the workers keep the caller's time, as tests set it
    pipes: list[Connection] = []
    processes = []
    for share in shares(states, fetch_options(config), config.poll.workers):
        receiving, sending = context.Pipe(duplex=False)
        widen(sending)
        process = context.Process(
            target=run_share, args=(share, str(store.path), offset, sending), daemon=True
        )
        process.start()
        sending.close()
        pipes.append(receiving)
        processes.append(process)
    left = {state.url: state for state in states}
    try:
        with store.batch():  # begun after the fork, see poll_feeds
            async for message in messages(pipes):
                if isinstance(message, EOFError):
                    log.warning("a poller process stopped: %s", message)
                elif message is not None:
                    fetched, plan = message
                    left.pop(fetched.feed_url, None)
                    record(fetched, plan)
    finally:
        for pipe in pipes:
            pipe.close()
        for process in processes:
            if process.is_alive():
                process.terminate()
            process.join()
        if forking:
            gc.unfreeze()
    if left:
        log.warning("%d feeds left by a stopped poller process; polling them here", len(left))
    return list(left.values())


def _log_result(result: FeedUpdateResult, fetched: FetchResult) -> None:
    if result.error:
        log.info("%s: failed: %s", fetched.feed_url, result.error)
    elif fetched.permanent_redirect and fetched.permanent_redirect != fetched.feed_url:
        log.warning(
            "%s: permanently redirected to %s; update feeds.yaml",
            fetched.feed_url,
            fetched.permanent_redirect,
        )


def poll(
    config: Config,
    store: Store,
    feeds: Iterable[FeedConfig] | None = None,
    *,
    clock: Clock = utc_now,
    rng: random.Random | None = None,
    on_result: ResultCallback | None = None,
) -> PollReport:
    return asyncio.run(poll_feeds(config, store, feeds, clock=clock, rng=rng, on_result=on_result))
