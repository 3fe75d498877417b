"""Review 10 R10-6: durations in feeds.yaml had no upper bound, and a value no clock or socket
can take reached one at every poll or digest as an OverflowError. With `timeout_seconds: .inf`
and `total_timeout_seconds: .inf` every fetch failed 'unexpected error while fetching:
OverflowError: timestamp out of range for platform time_t' (advice: 'check the URL, or tell
the site'); `min_interval_minutes: 1000000000000` stopped the whole poll; `smtp.timeout_seconds:
.inf` stopped the digest with a thread's traceback, nobody sent. Now each is refused at load,
naming the key. And a recipient deferred for the 33rd time (a person's `aggregator digest` tries
deferred recipients at once, so attempts come quickly) was to wait retry_seconds * 2**32, past
the year 9999: the digest stopped there with an OverflowError."""

from __future__ import annotations

from pathlib import Path

import pytest

from aggregator.config import load_config
from aggregator.digest import send_digest
from aggregator.errors import ConfigError
from tests.test_deliver_faults import STAFF, _clock, _config, _rows, _tick
from tests.test_digest import week_of_posts

__all__ = ["week_of_posts"]  # a fixture, used by name

FEED = '\nfeeds:\n  - {name: a, url: "https://kommune.dk/feed"}\n'


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        ("poll", "timeout_seconds", ".inf", "poll.timeout_seconds: at most 86400 (line 2)"),
        ("poll", "connect_timeout_seconds", "1e300", "poll.connect_timeout_seconds: at most 86400"),
        ("poll", "total_timeout_seconds", ".inf", "poll.total_timeout_seconds: at most 86400"),
        ("poll", "startup_spread_seconds", ".inf", "poll.startup_spread_seconds: at most 86400"),
        ("poll", "min_interval_minutes", "1000000000000", "min_interval_minutes: at most 527040"),
        ("poll", "max_interval_minutes", "1000000000000", "max_interval_minutes: at most 527040"),
        ("poll", "interval_minutes", "1000000000000", "interval_minutes: at most 527040"),
        ("poll", "backoff_cap_minutes", "1000000000000", "backoff_cap_minutes: at most 527040"),
        ("poll", "retry_after_cap_minutes", "10000000000000", "retry_after_cap_minutes: at most"),
        ("poll", "alert_after_hours", "1e300", "poll.alert_after_hours: at most 8784"),
        ("digest", "catch_up_hours", "1e300", "digest.catch_up_hours: at most 8784"),
        ("digest", "archive_after_days", ".inf", "digest.archive_after_days: at most 36525"),
        ("smtp", "timeout_seconds", ".inf", "smtp.timeout_seconds: at most 86400"),
        ("smtp", "retry_seconds", "1e300", "smtp.retry_seconds: at most 86400"),
        ("smtp", "retry_wait_seconds", ".inf", "smtp.retry_wait_seconds: at most 86400"),
    ],
)  # fmt: skip
def test_a_duration_no_clock_can_take_is_refused_at_load(
    tmp_path: Path, section: str, key: str, value: str, message: str
) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(f"{section}:\n  {key}: {value}\n{FEED}", encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    assert message in str(refused.value)


def test_a_feeds_own_interval_has_the_same_bound(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(
        'feeds:\n  - {name: a, url: "https://kommune.dk/feed", interval_minutes: 10000000000}\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"feeds\[0\]\.interval_minutes: at most 527040"):
        load_config(path)


def test_the_largest_durations_allowed_load(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(
        "poll:\n  timeout_seconds: 86400\n  total_timeout_seconds: 86400\n"
        "  max_interval_minutes: 527040\n  alert_after_hours: 8784\n"
        "digest:\n  catch_up_hours: 8784\n  archive_after_days: 36525\n" + FEED,
        encoding="utf-8",
    )
    config = load_config(path)
    assert config.poll.total_timeout_seconds == 86400
    assert config.digest.archive_after_days == 36525


def test_a_recipient_deferred_more_times_than_a_clock_can_double_still_waits(
    week_of_posts, store, inbox
) -> None:
    """retry_attempts at its largest (50), one mailbox greylisted on every try: each run
    counts an attempt and the wait doubles, but never past what a date can hold; the rest
    are sent once, and the greylisted one fails at 50, with the server's words."""
    config = _config(week_of_posts, inbox, retry_attempts=50)
    grey = STAFF[1]
    inbox.rcpt_replies[grey] = ["451 4.7.1 Greylisted, try again later"] * 60
    for n in range(50):
        send_digest(config, store, _tick(n), clock=_clock(n), retry_now=True)
        assert _rows(store)[grey][1] == n + 1
    rows = _rows(store)
    assert rows.pop(grey) == ("failed", 50)
    assert set(rows.values()) == {("sent", 1)}
    assert inbox.copies() == {a: 1 for a in STAFF if a != grey}
