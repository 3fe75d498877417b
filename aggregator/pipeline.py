"""fetch -> parse -> normalise -> decide next poll -> store, for many feeds; one result per
feed, never one failure for all."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import signal
import threading
from collections.abc import Callable, Coroutine, Iterable
from contextlib import aclosing
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from aggregator.config import Config, FeedConfig
from aggregator.dedup import DedupSettings
from aggregator.errors import FeedNotStored, Interrupted
from aggregator.fetch import FetchOptions, preload
from aggregator.planning import parse_fingerprint
from aggregator.policy import ADAPTIVE_WINDOW, FeedHistory, Hint, PolicySettings, decide
from aggregator.pollers import Job, Share, messages, poll_share, serve, shares
from aggregator.proxies import proxies
from aggregator.store import MergeRules, Store
from aggregator.trust import trust
from aggregator.types import FeedState, FeedUpdateResult, FetchResult, RobotsAnswer, UpdatePlan
from aggregator.workers import Worker, WorkerPool

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
ResultCallback = Callable[[FeedUpdateResult], None]

# Feeds written per commit. What a commit writes waits in this process until then (search
# documents, dirty pages): 100 cold feeds of 20 entries grew it by 30 MiB, 25 by 16 MiB, for
# the same CPU (benchmarks/poll_split's plans replayed, 1 Dec 2026).
BATCH_FEEDS = 25


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class PollReport:
    """What a poll did: its counts and failures, and each feed's result only if asked for
    (``keep_results``): a poll of 100,000 feeds keeps nothing per feed once it is stored."""

    polled: int = 0
    new: int = 0
    updated: int = 0
    failed: tuple[FeedUpdateResult, ...] = ()
    results: tuple[FeedUpdateResult, ...] = ()  # in the order of the feeds given

    @property
    def changed(self) -> bool:
        return bool(self.new or self.updated)

    @property
    def all_failed(self) -> bool:
        return bool(self.polled) and len(self.failed) == self.polled


@dataclass(slots=True)
class _Tally:
    """A poll's counts as results are stored."""

    keep: bool
    polled: int = 0
    new: int = 0
    updated: int = 0
    failed: list[tuple[int, FeedUpdateResult]] = field(default_factory=list)
    results: list[tuple[int, FeedUpdateResult]] = field(default_factory=list)

    def add(self, result: FeedUpdateResult, place: int) -> None:
        """``place``: the feed's in the order given, for the report's order."""
        self.polled += 1
        self.new += result.new
        self.updated += result.updated
        if result.error:
            self.failed.append((place, result))
        if self.keep:
            self.results.append((place, result))

    def report(self) -> PollReport:
        def in_order(results: list[tuple[int, FeedUpdateResult]]) -> tuple[FeedUpdateResult, ...]:
            return tuple(result for _, result in sorted(results, key=lambda pair: pair[0]))

        return PollReport(self.polled, self.new, self.updated, in_order(self.failed),
                          in_order(self.results))  # fmt: skip


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
        max_entries_per_feed=poll.max_entries_per_feed,
        timezone=config.site.timezone,
        proxies=proxies(poll.proxy, os.environ),
        trust=trust(config.ca_bundle_path, os.environ),
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


def worker_pool(config: Config, *, respawn: bool = True) -> WorkerPool:
    """The worker processes for every poll this process makes; start it (``with``) before
    any thread exists, see workers.py. ``workers: 0`` polls in this process. ``respawn``:
    replace a worker that dies, for a process that polls more than once."""
    preload(trust(config.ca_bundle_path, os.environ))  # loaded once here, shared by every worker
    return WorkerPool(config.poll.workers, serve, respawn=respawn)


async def poll_feeds(
    config: Config,
    store: Store,
    feeds: Iterable[FeedConfig] | None = None,
    *,
    clock: Clock = utc_now,
    rng: random.Random | None = None,
    on_result: ResultCallback | None = None,
    pool: WorkerPool | None = None,
    keep_results: bool = True,
) -> PollReport:
    """Poll the given feeds (default: every enabled feed) and store what they say.

    Fetching and parsing happen in the pool's worker processes (here without one) while this
    process writes; at most a few bodies wait between the stages at any time. Each feed's
    state and history are dropped once its result is stored, and its result too unless
    ``keep_results``: what stays is the counts and the failures.
    """
    rng = rng or random.Random()
    store.sync_feeds(config.feeds, clock())
    given = config.feeds if feeds is None else feeds
    chosen = {f.url: (place, f) for place, f in enumerate(given) if f.enabled}
    snapshot = store.poll_snapshot(list(chosen), clock(), ADAPTIVE_WINDOW)
    pending = {url: with_source(state, chosen[url][1], config, store)
               for url, (state, _) in snapshot.items()}  # fmt: skip
    histories = {url: history for url, (_, history) in snapshot.items()}
    del snapshot
    settings = policy_settings(config)
    rules = merge_rules(config)
    tally = _Tally(keep_results)

    def record(fetched: FetchResult, plan: UpdatePlan) -> None:
        now = clock()
        store.keep_robots(fetched.robots, now)  # in the batch, whatever becomes of the feed
        place, feed = chosen.pop(fetched.feed_url)
        plan = schedule_plan(
            plan,
            fetched,
            feed=feed,
            history=histories.pop(fetched.feed_url),
            settings=settings,
            now=now,
            rng=rng,
        )
        try:
            result = store.apply(plan, now, rules)
        except FeedNotStored:
            # `aggregator prune` removed it (it left feeds.yaml) while this round ran: its
            # result has nowhere to go, and the other feeds' must still be stored.
            log.warning("%s: no longer in the database (pruned); its poll is dropped",
                        fetched.feed_url)  # fmt: skip
            return
        _log_result(result, fetched, feed)
        tally.add(result, place)
        if on_result:
            on_result(result)

    # Only pages are fetched by robots.txt's rules (crawl.py): feeds alone need none of them.
    robots = store.kept_robots(clock()) if any(s.html for s in pending.values()) else ()
    workers = pool.ready() if pool is not None else []
    if workers and pending:
        await _poll_in_workers(pending, workers, config, store, clock, record, robots)
    if pending:  # no workers, or feeds a stopped worker left
        with store.batch(max_updates=BATCH_FEEDS):
            share = Share(tuple(pending.values()), fetch_options(config), robots)
            pending.clear()
            # Closed here when a write fails (a full disk): left to asyncio.run's shutdown,
            # its fetch threads outlived the loop and it logged "Task was destroyed but it
            # is pending!" above the error (review 10 R10-3).
            pairs = poll_share(share, store.entry_digests, clock)
            async with aclosing(pairs):
                async for fetched, plan in pairs:
                    record(fetched, plan)
    return tally.report()


Record = Callable[[FetchResult, UpdatePlan], None]


def _send_shares(
    pending: dict[str, FeedState],
    workers: list[Worker],
    config: Config,
    store: Store,
    clock: Clock,
    robots: tuple[RobotsAnswer, ...],
) -> list[Worker]:
    """Send each worker its share; the workers it reached. A function of its own so that no
    share outlives it: the workers have their copies, and a state here then lives only as
    long as it is pending."""
    offset = clock() - utc_now()
    busy: list[Worker] = []
    # shares() makes at most one share a worker, fewer for a few feeds
    split = shares(list(pending.values()), fetch_options(config), len(workers), robots)
    for worker, share in zip(workers, split, strict=False):
        try:
            worker.requests.send(Job(share, str(store.path), offset))
        except OSError:
            worker.alive = False  # died since the pool checked: its share is polled here
            continue
        busy.append(worker)
    return busy


def with_source(state: FeedState, feed: FeedConfig, config: Config, store: Store) -> FeedState:
    """An HTML source's selectors travel with its state to whichever process fetches and
    parses it; with ``follow``, so do the items already stored, whose pages are not fetched.
    Settings changed since the stored entries were parsed (a ``date`` selector added) make
    the poll fetch without validators and apply the page again: a 304 or the same bytes
    would leave those entries as they were read, undated and hidden (review 7 R22)."""
    source = feed.html_source()
    if source is not None:
        source = replace(source, timezone=config.site.timezone)
    wanted = parse_fingerprint(source, config.site.timezone)
    if state.parse_settings != wanted:
        # Not known (stored before the fingerprint was): an HTML source is read again once,
        # a feed adopts today's settings (its dates do not hang on selectors).
        if state.parse_settings is not None or source is not None:
            state = replace(state, etag=None, last_modified=None, body_hash=None, reparse=True)
        state = replace(state, parse_settings=wanted)
    if source is None:
        return state
    if not source.follow:
        return replace(state, html=source)
    if state.reparse:
        # Every listed item's page is read again with the new settings (follow_limit now,
        # the rest marked to be read at the polls after: Store.apply), not only new ones.
        return replace(state, html=source)
    known, reread = store.entry_keys(state.url), store.reread_keys(state.url)
    if reread:
        # Pages still to read again: the list page is read though it is the same (a 304 or
        # its stored body hash would end the poll before its items are followed).
        state = replace(state, etag=None, last_modified=None, body_hash=None)
    return replace(state, html=source, known_items=known, reread_items=reread)


async def _poll_in_workers(
    pending: dict[str, FeedState],
    workers: list[Worker],
    config: Config,
    store: Store,
    clock: Clock,
    record: Record,
    robots: tuple[RobotsAnswer, ...],
) -> None:
    """Fetch and parse in the worker processes (see pollers.py), write here; each feed
    leaves ``pending`` as its result arrives, so what is left there when this returns is
    what a worker that stopped left unpolled, for the caller to poll here."""
    log.debug("polling %d feeds in %d worker processes", len(pending), len(workers))
    busy = _send_shares(pending, workers, config, store, clock, robots)
    done: set[int] = set()
    try:
        with store.batch(max_updates=BATCH_FEEDS):
            async for index, message in messages([worker.results for worker in busy]):
                if isinstance(message, EOFError):
                    busy[index].alive = False
                    log.warning("a worker process stopped: %s", message)
                elif message is None:
                    done.add(index)
                else:
                    fetched, plan = message
                    pending.pop(fetched.feed_url, None)
                    record(fetched, plan)
    finally:
        for index, worker in enumerate(busy):
            if index not in done:
                worker.kill()  # stopped halfway (an error, SIGTERM): what it sends is stale
    if pending:
        log.warning("%d feeds left by a stopped worker process; polling them here", len(pending))


def _log_result(result: FeedUpdateResult, fetched: FetchResult, feed: FeedConfig) -> None:
    """A line per feed with the feed bound (``feed=OS2 url=…`` in text, keys in JSON). The
    failure is DEBUG: the command prints it and the service warns of it once, itself."""
    bound = {"feed": feed.name, "url": fetched.feed_url}
    if result.error:
        log.debug("poll failed: %s", result.error, extra=bound)
    elif fetched.permanent_redirect and fetched.permanent_redirect != fetched.feed_url:
        log.warning(
            "permanently redirected to %s; update feeds.yaml",
            fetched.permanent_redirect,
            extra=bound,
        )
    else:
        log.debug(
            "polled: %s", "not modified" if result.not_modified else
            f"{result.new} new, {result.updated} updated", extra=bound,
        )  # fmt: skip


def poll(
    config: Config,
    store: Store,
    feeds: Iterable[FeedConfig] | None = None,
    *,
    clock: Clock = utc_now,
    rng: random.Random | None = None,
    on_result: ResultCallback | None = None,
    pool: WorkerPool | None = None,
    keep_results: bool = True,
) -> PollReport:
    """Poll (see poll_feeds); SIGTERM or Ctrl-C stops it cleanly, raising Interrupted."""
    work = poll_feeds(config, store, feeds, clock=clock, rng=rng, on_result=on_result,
                      pool=pool, keep_results=keep_results)  # fmt: skip
    return asyncio.run(_stopped_by_signals(work))


STOPPING_SIGNALS = (signal.SIGINT, signal.SIGTERM)


async def _stopped_by_signals(work: Coroutine[None, None, PollReport]) -> PollReport:
    """Turn SIGTERM and Ctrl-C into a cancellation of the poll, so every ``finally`` runs:
    the feeds written so far are committed, none half written, the poll's workers stopped."""
    if threading.current_thread() is not threading.main_thread():
        return await work  # signals reach the main thread only (the service handles its own)
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    received: list[signal.Signals] = []

    def on_signal(signum: signal.Signals) -> None:
        if not received:
            received.append(signum)
            task.cancel()

    previous = {signum: signal.getsignal(signum) for signum in STOPPING_SIGNALS}
    for signum in STOPPING_SIGNALS:
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        return await work
    except asyncio.CancelledError:
        if received:
            name = "Ctrl-C" if received[0] == signal.SIGINT else received[0].name
            message = f"poll stopped by {name}; the feeds polled so far are stored"
            raise Interrupted(message, received[0]) from None
        raise
    finally:
        for signum, handler in previous.items():
            loop.remove_signal_handler(signum)
            signal.signal(signum, handler)
