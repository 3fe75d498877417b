"""When to poll a feed next: pure rules over what the last fetch said.

Order of the rules, each with its source:

1. base interval: the feed's ``interval_minutes``, else one adapted to how often the feed
   publishes (entries in the last 28 days, as Miniflux's entry-frequency scheduler) once it
   has any history, else the default; clamped to [min, max];
2. raised, never lowered, to what the publisher asks: RSS ``<ttl>`` (RSS 2.0 spec),
   ``sy:updatePeriod``/``sy:updateFrequency`` (RSS 1.0 Syndication module), ``Cache-Control:
   max-age`` unless ``no-cache``/``no-store`` (RFC 9111 §5.2.2), ``Expires`` against the
   server's ``Date`` (RFC 9111 §5.3, §4.2.1); these are capped at the max interval;
3. on failure: exponential backoff from the base interval, capped; ``Retry-After`` on 429/503
   (RFC 9110 §10.2.3, RFC 6585 §4), seconds or an HTTP date corrected by the server's ``Date``,
   capped; ``410 Gone`` stops polling (RFC 9110 §15.5.11).

Jitter only ever lengthens an interval, so no rule is undercut.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

from aggregator.types import FetchResult

ADAPTIVE_WINDOW = timedelta(days=28)
SY_PERIODS = {
    "hourly": timedelta(hours=1),
    "daily": timedelta(days=1),
    "weekly": timedelta(weeks=1),
    "monthly": timedelta(days=30),
    "yearly": timedelta(days=365),
}


@dataclass(frozen=True, slots=True)
class PolicySettings:
    default_interval: timedelta = timedelta(minutes=60)
    min_interval: timedelta = timedelta(minutes=15)
    max_interval: timedelta = timedelta(hours=24)
    backoff_cap: timedelta = timedelta(hours=24)
    retry_after_cap: timedelta = timedelta(hours=24)
    adaptive: bool = True
    jitter: float = 0.1


@dataclass(frozen=True, slots=True)
class Hint:
    interval: timedelta
    reason: str


@dataclass(frozen=True, slots=True)
class FeedHistory:
    """What the store knows of a feed before this fetch."""

    error_count: int = 0
    override: timedelta | None = None
    recent_published: Sequence[datetime] = ()
    publisher_hint: Hint | None = None  # from the last parsed body; survives 304s
    recent_keys: Sequence[str] = ()  # entry keys of recent_published, to merge a poll's own
    ever_succeeded: bool = False


@dataclass(frozen=True, slots=True)
class PollDecision:
    next_poll_at: datetime | None  # None: gone, not polled again until the admin acts
    interval: timedelta
    reason: str


def _http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else None


def _server_clock_offset(headers: Mapping[str, str], now: datetime) -> timedelta:
    """How far the server's clock is ahead of ours, from its ``Date`` header."""
    server_now = _http_date(headers.get("date"))
    return server_now - now if server_now else timedelta(0)


def header_hints(headers: Mapping[str, str], now: datetime) -> list[Hint]:
    hints = []
    cache_control = headers.get("cache-control", "").lower()
    directives = {part.strip().split("=", 1)[0] for part in cache_control.split(",")}
    if directives & {"no-cache", "no-store"}:
        return []
    if match := re.search(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)", cache_control):
        hints.append(Hint(timedelta(seconds=int(match.group(1))), "Cache-Control max-age"))
    elif expires := _http_date(headers.get("expires")):
        # Expires is in the server's clock; measure it against the server's Date.
        remaining = expires - (now + _server_clock_offset(headers, now))
        if remaining > timedelta(0):
            hints.append(Hint(remaining, "Expires"))
    return hints


def retry_after(headers: Mapping[str, str], now: datetime) -> timedelta | None:
    value = headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return timedelta(seconds=int(value))
    when = _http_date(value)
    if when is None:
        return None
    return max(when - (now + _server_clock_offset(headers, now)), timedelta(0))


def publisher_hint(ttl_minutes: int | None, sy_period: str | None, sy_frequency: int | None
                   ) -> Hint | None:  # fmt: skip
    """The feed's own word on how often to poll: RSS ttl, else the syndication module."""
    if ttl_minutes and ttl_minutes > 0:
        return Hint(timedelta(minutes=ttl_minutes), f"RSS ttl {ttl_minutes} min")
    period = SY_PERIODS.get((sy_period or "").strip().lower())
    if period:
        frequency = sy_frequency if sy_frequency and sy_frequency > 0 else 1
        return Hint(period / frequency, f"sy:updatePeriod {sy_period} / {frequency}")
    return None


def adaptive_interval(published: Sequence[datetime], now: datetime) -> Hint:
    recent = [p for p in published if now - ADAPTIVE_WINDOW <= p <= now]
    days = ADAPTIVE_WINDOW.days
    if not recent:
        return Hint(ADAPTIVE_WINDOW, f"adaptive: no entries in {days} days")
    return Hint(ADAPTIVE_WINDOW / len(recent), f"adaptive: {len(recent)} entries in {days} days")


def _clamp(value: timedelta, low: timedelta, high: timedelta) -> timedelta:
    return max(low, min(high, value))


def base_interval(history: FeedHistory, settings: PolicySettings, now: datetime) -> Hint:
    if history.override is not None:
        hint = Hint(history.override, "configured interval")
    elif settings.adaptive and (history.recent_published or history.ever_succeeded):
        hint = adaptive_interval(history.recent_published, now)
    else:
        hint = Hint(settings.default_interval, "default interval")
    clamped = _clamp(hint.interval, settings.min_interval, settings.max_interval)
    if clamped != hint.interval:
        bound = "minimum" if clamped == settings.min_interval else "maximum"
        return Hint(clamped, f"{hint.reason}, clamped to the {bound}")
    return hint


def _jittered(interval: timedelta, settings: PolicySettings, rng: random.Random) -> timedelta:
    return interval * (1 + rng.uniform(0, settings.jitter))


def decide(
    fetched: FetchResult,
    history: FeedHistory,
    settings: PolicySettings,
    *,
    now: datetime,
    rng: random.Random,
    new_publisher_hint: Hint | None = None,
    failed: bool | None = None,
) -> PollDecision:
    """``failed`` covers errors found after the fetch (a body that is not a feed)."""
    if fetched.status == 410:
        return PollDecision(None, timedelta(0), "gone: the server answered 410 Gone")
    base = base_interval(history, settings, now)
    is_failure = fetched.error is not None if failed is None else failed
    if is_failure:
        failures = history.error_count + 1
        backoff = min(base.interval * 2 ** (failures - 1), settings.backoff_cap)
        chosen = Hint(backoff, f"backoff after {failures} failure{'s' * (failures > 1)}")
        if fetched.status in (429, 503) and (wait := retry_after(fetched.headers, now)):
            wait = min(wait, settings.retry_after_cap)
            if wait > chosen.interval:
                chosen = Hint(wait, f"Retry-After {int(wait.total_seconds())} s")
        return PollDecision(now + _jittered(chosen.interval, settings, rng), *_parts(chosen))

    chosen = base
    hints = header_hints(fetched.headers, now)
    publisher = new_publisher_hint or history.publisher_hint
    if publisher:
        hints.append(publisher)
    for hint in hints:
        capped = min(hint.interval, settings.max_interval)
        if capped > chosen.interval:
            chosen = Hint(capped, hint.reason)
    return PollDecision(now + _jittered(chosen.interval, settings, rng), *_parts(chosen))


def _parts(hint: Hint) -> tuple[timedelta, str]:
    return hint.interval, hint.reason
