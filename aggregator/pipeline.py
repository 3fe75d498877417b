"""fetch -> parse -> normalise -> store for many feeds; one result per feed, never one failure
for all."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aggregator.config import Config, FeedConfig
from aggregator.errors import ParseError
from aggregator.fetch import FetchOptions, fetch_many
from aggregator.normalise import failed_update, plan_update
from aggregator.parse import parse_feed
from aggregator.store import Store
from aggregator.types import FeedUpdateResult, FetchResult, UpdatePlan

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


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
        connect_timeout_seconds=min(10.0, poll.timeout_seconds),
        max_redirects=poll.max_redirects,
        max_body_bytes=poll.max_body_bytes,
        concurrency=poll.concurrency,
        user_agent=poll.user_agent,
    )


def plan_for(fetched: FetchResult, now: datetime) -> UpdatePlan:
    """Turn one fetch into what to write; a body that is not a feed becomes a recorded error."""
    if fetched.error or fetched.not_modified or fetched.content is None:
        return plan_update(fetched, None, now)
    try:
        parsed = parse_feed(fetched.content, fetched.final_url or fetched.feed_url, fetched.headers)
    except ParseError as exc:
        return failed_update(fetched, str(exc))
    except Exception as exc:  # a hostile document must not take the other feeds down
        log.exception("parser failed on %s", fetched.feed_url)
        return failed_update(fetched, f"parser failed: {type(exc).__name__}: {exc}")
    if parsed.warning:
        log.info("%s: parsed with a warning: %s", fetched.feed_url, parsed.warning)
    return plan_update(fetched, parsed, now)


async def poll_feeds(
    config: Config,
    store: Store,
    feeds: Iterable[FeedConfig] | None = None,
    clock: Clock = utc_now,
) -> PollReport:
    """Poll the given feeds (default: every enabled feed) and store what they say."""
    store.sync_feeds(((f.url, f.name, f.priority) for f in config.feeds), clock())
    chosen = [f for f in (config.feeds if feeds is None else feeds) if f.enabled]
    states = [store.feed_state(f.url) for f in chosen]
    results = []
    async for fetched in fetch_many(states, fetch_options(config), clock):
        plan = plan_for(fetched, clock())
        result = store.apply(plan, clock())
        if result.error:
            log.info("%s: failed: %s", fetched.feed_url, result.error)
        else:
            log.info(
                "%s: %s",
                fetched.feed_url,
                "not modified"
                if result.not_modified
                else f"{result.new} new, {result.updated} updated",
            )
        results.append(result)
    order = {f.url: i for i, f in enumerate(chosen)}
    return PollReport(tuple(sorted(results, key=lambda r: order[r.feed_url])))


def poll(
    config: Config, store: Store, feeds: Iterable[FeedConfig] | None = None, clock: Clock = utc_now
) -> PollReport:
    return asyncio.run(poll_feeds(config, store, feeds, clock))
