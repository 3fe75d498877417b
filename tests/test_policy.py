"""The polling rules as pure functions: no server, no clock but the one passed in."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from aggregator.policy import (
    FeedHistory,
    Hint,
    PolicySettings,
    adaptive_interval,
    decide,
    header_hints,
    publisher_hint,
    retry_after,
)
from aggregator.types import FetchResult

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
NO_JITTER = PolicySettings(jitter=0, adaptive=False)
HOUR = timedelta(hours=1)


def fetched(status: int = 200, error: str | None = None, **headers: str) -> FetchResult:
    return FetchResult(
        feed_url="https://x.dk/feed",
        fetched_at=NOW,
        status=status,
        error=error,
        headers={k.replace("_", "-"): v for k, v in headers.items()},
    )


def run(result: FetchResult, history: FeedHistory | None = None, **settings) -> tuple[object, str]:
    policy = PolicySettings(**{"jitter": 0, "adaptive": False, **settings})
    decision = decide(result, history or FeedHistory(), policy, now=NOW, rng=random.Random(1))
    return decision.interval, decision.reason


def test_cache_control_max_age_raises_the_interval():
    assert run(fetched(cache_control="public, max-age=7200")) == (2 * HOUR, "Cache-Control max-age")


@pytest.mark.parametrize("value", ["no-cache, max-age=7200", "max-age=7200, no-store"])
def test_no_cache_means_no_hint(value):
    assert header_hints(fetched(cache_control=value).headers, NOW) == []


def test_max_age_never_lowers_the_interval():
    assert run(fetched(cache_control="max-age=60")) == (HOUR, "default interval")


def test_expires_is_read_against_the_servers_own_clock():
    server_now = NOW + timedelta(minutes=30)  # the server's clock runs 30 minutes ahead
    headers = {"date": format_datetime(server_now, usegmt=True),
               "expires": format_datetime(server_now + 3 * HOUR, usegmt=True)}  # fmt: skip
    assert header_hints(headers, NOW) == [Hint(3 * HOUR, "Expires")]


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        ({"retry-after": "120"}, timedelta(seconds=120)),
        ({"retry-after": format_datetime(NOW + 2 * HOUR, usegmt=True)}, 2 * HOUR),
        # Server clock 1 h fast: its "in 2 hours" is 2 hours from its own Date, not ours.
        ({"retry-after": format_datetime(NOW + 3 * HOUR, usegmt=True),
          "date": format_datetime(NOW + HOUR, usegmt=True)}, 2 * HOUR),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)  # fmt: skip
def test_retry_after_in_both_forms(headers, wait):
    assert retry_after(headers, NOW) == wait


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_sets_the_wait_on_429_and_503(status):
    result = fetched(status, f"HTTP {status}", retry_after="7200")
    assert run(result) == (2 * HOUR, "Retry-After 7200 s")


def test_retry_after_is_capped():
    result = fetched(429, "HTTP 429", retry_after=str(30 * 24 * 3600))
    assert run(result, retry_after_cap=timedelta(hours=6)) == (6 * HOUR, "Retry-After 21600 s")


def test_retry_after_on_other_errors_is_ignored():
    assert run(fetched(500, "HTTP 500", retry_after="7200"))[1] == "backoff after 1 failure"


@pytest.mark.parametrize(
    ("ttl", "period", "frequency", "expected"),
    [
        (180, None, None, Hint(3 * HOUR, "RSS ttl 180 min")),
        (None, "daily", 4, Hint(6 * HOUR, "sy:updatePeriod daily / 4")),
        (None, "hourly", None, Hint(HOUR, "sy:updatePeriod hourly / 1")),
        (None, "fortnightly", 2, None),
        (None, None, None, None),
    ],
)
def test_publisher_hint(ttl, period, frequency, expected):
    assert publisher_hint(ttl, period, frequency) == expected


def test_publisher_hint_is_capped_at_the_maximum():
    history = FeedHistory(publisher_hint=Hint(timedelta(days=7), "sy:updatePeriod weekly / 1"))
    assert run(fetched(), history) == (timedelta(hours=24), "sy:updatePeriod weekly / 1")


def test_adaptive_interval_follows_how_often_the_feed_publishes():
    daily = [NOW - timedelta(days=d) for d in range(28)]
    assert adaptive_interval(daily, NOW).interval == timedelta(days=1)
    busy = [NOW - timedelta(hours=h) for h in range(0, 28 * 24, 2)]
    assert adaptive_interval(busy, NOW).interval == timedelta(hours=2)
    assert adaptive_interval([NOW - timedelta(days=90)], NOW).reason == (
        "adaptive: no entries in 28 days"
    )


def test_adaptive_is_clamped_to_min_and_max():
    flood = FeedHistory(recent_published=[NOW - timedelta(minutes=m) for m in range(4000)])
    assert run(fetched(), flood, adaptive=True) == (
        timedelta(minutes=15),
        "adaptive: 4000 entries in 28 days, clamped to the minimum",
    )
    quiet = FeedHistory(recent_published=[NOW - timedelta(days=3)])
    assert run(fetched(), quiet, adaptive=True)[0] == timedelta(hours=24)


def test_configured_interval_wins_over_adaptive():
    history = FeedHistory(override=timedelta(minutes=30), recent_published=[NOW])
    assert run(fetched(), history, adaptive=True) == (timedelta(minutes=30), "configured interval")


def test_backoff_doubles_and_is_capped():
    intervals = [
        run(fetched(500, "HTTP 500"), FeedHistory(error_count=n), backoff_cap=8 * HOUR)[0]
        for n in range(6)
    ]
    assert intervals == [HOUR, 2 * HOUR, 4 * HOUR, 8 * HOUR, 8 * HOUR, 8 * HOUR]


def test_gone_stops_polling():
    decision = decide(fetched(410, "HTTP 410 Gone"), FeedHistory(), NO_JITTER, now=NOW,
                      rng=random.Random(1))  # fmt: skip
    assert decision.next_poll_at is None
    assert decision.reason == "gone: the server answered 410 Gone"


def test_jitter_only_lengthens_and_spreads():
    policy = PolicySettings(jitter=0.1, adaptive=False)
    rng = random.Random(7)
    times = {decide(fetched(), FeedHistory(), policy, now=NOW, rng=rng).next_poll_at
             for _ in range(50)}  # fmt: skip
    assert len(times) == 50
    assert all(NOW + HOUR <= t <= NOW + HOUR * 1.1 for t in times if t)


def test_a_new_feed_that_fails_is_retried_at_the_default_interval():
    # No history is not a quiet feed: adaptation waits until the feed has been read once.
    result = fetched(500, "HTTP 500")
    assert run(result, FeedHistory(), adaptive=True) == (HOUR, "backoff after 1 failure")
    quiet = FeedHistory(ever_succeeded=True)
    assert run(result, quiet, adaptive=True)[0] == timedelta(hours=24)
