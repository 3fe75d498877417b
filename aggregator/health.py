"""What ``aggregator status`` and the end of ``poll`` tell the admin: pure, from the config and
the stored feed states.

The config is the truth about which feeds exist (a feed added a minute ago is "never polled",
a disabled one "disabled"); the database is the truth about how they have fared. Feeds the
database still has but feeds.yaml no longer lists are shown apart (their entries are kept).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from aggregator.collation import danish_key
from aggregator.text import local_time, plural

if TYPE_CHECKING:
    from aggregator.config_view import ConfigView, FeedRef
    from aggregator.feed_status import FeedStatus
    from aggregator.store.digests import Delivery, DigestRun


@dataclass(frozen=True, slots=True)
class FeedHealth:
    status: FeedStatus
    enabled: bool = True
    configured: bool = True

    @property
    def retry_pending(self) -> bool:
        """`aggregator retry` cleared the schedule; the last status is from before it."""
        s = self.status
        return s.state in ("new", "ok") and s.next_poll_at is None and s.last_fetched_at is not None


def never_polled(feed: FeedRef) -> FeedStatus:
    from aggregator.feed_status import FeedStatus

    return FeedStatus(
        url=feed.url, name=feed.name, title=None, state="new", last_fetched_at=None,
        last_success_at=None, last_status=None, last_error=None, error_count=0, entry_count=0,
    )  # fmt: skip


def feed_health(
    config: ConfigView, stored: list[FeedStatus]
) -> tuple[list[FeedHealth], list[FeedHealth]]:
    """(configured feeds, feeds no longer configured), each sorted by name."""
    by_url = {s.url: s for s in stored}
    configured = [
        FeedHealth(replace(by_url.get(f.url) or never_polled(f), name=f.name), enabled=f.enabled)
        for f in config.feeds
    ]
    urls = {f.url for f in config.feeds}
    removed = [FeedHealth(s, configured=False) for s in stored if s.url not in urls]
    return _by_name(configured), _by_name(removed)


def _by_name(rows: list[FeedHealth]) -> list[FeedHealth]:
    return sorted(rows, key=lambda h: danish_key(h.status.name))


def state_label(health: FeedHealth, config: ConfigView) -> str:
    status = health.status
    if not health.enabled:
        label = "disabled"
    elif health.retry_pending:
        label = "retry pending"
    elif status.state == "failing" and status.failing_since:
        label = f"failing since {local_time(status.failing_since, config.zone)}"
    else:
        label = {"new": "never polled"}.get(status.state, status.state)
    return f"{label}, redirected" if status.moved_to else label


def next_poll_label(health: FeedHealth, config: ConfigView) -> str:
    status = health.status
    if not health.enabled or status.state == "gone":
        return "not polled"
    if status.next_poll_at is None:
        return "next run"
    return local_time(status.next_poll_at, config.zone)


def duration(seconds: int | None) -> str:
    if not seconds:
        return "-"
    minutes = round(seconds / 60)
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes / 60
    return f"{hours:.0f} h" if hours < 48 else f"{hours / 24:.0f} d"


def what_to_do(status: FeedStatus) -> str | None:
    """One line for a feed that needs the admin: what is wrong and what to do about it."""
    if status.moved_to:
        return f"moved permanently to {status.moved_to}: update its url in feeds.yaml"
    if status.state not in ("failing", "gone"):
        return None
    code = status.last_status
    if status.state == "gone" or code == 410:
        return "410 Gone: remove it from feeds.yaml, or `aggregator retry` it if it is back"
    polls = plural(status.error_count, "poll")
    what = f"HTTP {code}" if code else (status.last_error or "failed")
    if code == 404:
        advice = "check the URL"
    elif code == 407:  # a proxy's answer for an http:// URL
        advice = "the proxy refuses us: check the user and password in poll.proxy (or *_PROXY)"
    elif code in (401, 403):
        advice = "the server refuses us: check the URL, or ask the site for access"
    elif code in (429, 503):
        advice = "the server asks us to wait; it is polled again later"
    elif code and code >= 500:
        advice = "the server has trouble; it is polled again later"
    elif code and 200 <= code < 300:
        what = status.last_error or what  # what was wrong with it says more than "HTTP 200"
        if "selector `" in what:  # an HTML source's selectors (parse_html.Extraction.problem)
            preview = f"aggregator preview {shlex.quote(status.name)}"
            advice = f"look at the page with `{preview}` (a redesign, or a cookie wall?)"
        elif " or run aggregator add" in what:  # the page names its feed: the advice is said
            return f"{what} (for {polls})"
        elif what.startswith("refused: the document declares entities"):
            advice = "a hostile or broken document: tell the site"
        else:
            advice = "not a usable feed: check that the URL is the feed, not a web page"
    elif code and 300 <= code < 400:
        advice = "the server redirects without saying where to: tell the site"
    elif code:
        advice = "check the URL"
    else:
        before = _advice_before_status(status.last_error or "")
        if before is None:  # the error says what to do itself
            return f"{what} for {polls}"
        advice = before
    return f"{what} for {polls}: {advice}"


def _advice_before_status(error: str) -> str | None:
    """What to do about a poll that got no usable HTTP status, by the words fetch.py gave it:
    only a failure to reach the server is the network's doing."""
    if error.startswith("refused to connect"):
        return None
    if error.startswith("robots.txt of"):
        return "the site's robots.txt forbids fetching it: ask the site, or remove the source"
    if error.startswith("robots.txt could not be fetched"):
        return "nothing is fetched from the site until its robots.txt answers; tried again later"
    if error.startswith("untrusted certificate"):
        return None  # it names the setting
    if error.startswith("the proxy refused"):
        return "check the proxy's URL and the user and password in it (poll.proxy, *_PROXY)"
    if error.startswith("the proxy could not reach the site"):
        return "the site is down or its name is unknown (the proxy says): check the URL if it lasts"
    if error.startswith("the proxy's policy refuses the site"):
        return "ask whoever runs the proxy to allow the site"
    if "(through the proxy " in error and error.startswith(("cannot connect", "timed out")):
        return "the proxy does not answer: check poll.proxy (or HTTPS_PROXY, HTTP_PROXY)"
    if error.startswith(("cannot connect", "timed out while connecting", "timed out looking up")):
        return "no answer: check the host name, the network and the firewall"
    if error.startswith(("timed out waiting", "took longer than")):
        return "the server answers too slowly; it is polled again later"
    if error.startswith(("too many redirects", "broken redirect")):
        return (
            "its redirects are broken: open the URL in a browser, put where it ends in feeds.yaml"
        )
    if error.startswith("cannot decode"):
        return "the body is not what its headers say (Content-Encoding): tell the site"
    if error.startswith("response body larger"):
        return "raise poll.max_body_bytes if the feed really is that large"
    return "the server's answer could not be used: check the URL, or tell the site"


def failing_too_long(rows: list[FeedHealth], config: ConfigView, now: datetime) -> list[FeedHealth]:
    """Enabled feeds failing (or gone) for longer than ``poll.alert_after_hours``."""
    limit = timedelta(hours=config.alert_after_hours)
    return [
        h
        for h in rows
        if h.enabled
        and h.status.state in ("failing", "gone")
        and h.status.failing_since is not None
        and now - h.status.failing_since > limit
    ]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def delivery_json(run: DigestRun, delivery: Delivery) -> dict[str, object]:
    """A recipient a digest's latest run has not reached (failed, retry or pending)."""
    return {
        "digest": run.digest,
        "kind": run.kind,
        "period_start": _iso(run.period_start),
        "period_end": _iso(run.period_end),
        "recipient": delivery.recipient,
        "state": delivery.state,
        "attempts": delivery.attempts,
        "next_attempt_at": _iso(delivery.next_attempt_at),
        "last_code": delivery.last_code,
        "last_reply": delivery.last_reply,
    }


def health_json(health: FeedHealth) -> dict[str, object]:
    s = health.status
    return {
        "name": s.name,
        "url": s.url,
        "configured": health.configured,
        "enabled": health.enabled,
        "state": s.state,
        "retry_pending": health.retry_pending,
        "failing_since": _iso(s.failing_since),
        "moved_to": s.moved_to,
        "last_status": s.last_status,
        "last_fetched_at": _iso(s.last_fetched_at),
        "last_success_at": _iso(s.last_success_at),
        "next_poll_at": _iso(s.next_poll_at),
        "interval_seconds": s.interval_seconds,
        "interval_reason": s.interval_reason,
        "error_count": s.error_count,
        "entries": s.entry_count,
        "last_error": s.last_error,
        "last_warning": s.last_warning,
    }
