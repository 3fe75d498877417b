"""Each fetching rule through the real loopback server, the real store and an injected clock."""

from __future__ import annotations

import itertools
import random
from datetime import timedelta
from email.utils import format_datetime

import pytest

from aggregator.pipeline import poll
from aggregator.scheduler import Service
from aggregator.store import Store
from tests.conftest import FIXTURES, Clock
from tests.feedserver import FeedServer, Request, Response, feed_route

RSS = (FIXTURES / "rss20.xml").read_bytes()
HOUR = timedelta(hours=1)
CALM = {"jitter": 0, "adaptive": False}


def status_of(store: Store, url: str):
    return next(s for s in store.feed_statuses() if s.url == url)


def poll_once(config, store, clock):
    return poll(config, store, clock=clock, rng=random.Random(3)).results[0]


@pytest.mark.parametrize("use_etag", [True, False])
def test_conditional_requests_give_304(server, make_config, store, clock, use_etag):
    url = server.route("/f", feed_route(RSS, etag=use_etag))
    config = make_config([{"name": "F", "url": url}], poll=CALM)
    poll_once(config, store, clock)
    clock.advance(2 * HOUR)
    assert poll_once(config, store, clock).not_modified
    sent = server.requests_to("/f")[1].headers
    assert ("if-none-match" in sent) == use_etag
    assert sent["if-modified-since"] == "Wed, 18 Nov 2026 10:00:00 GMT"
    assert status_of(store, url).last_status == 304


def test_unchanged_body_is_not_parsed_or_written_when_validators_are_ignored(
    server, make_config, store, clock
):
    url = server.static("/f", Response(200, RSS, {"Content-Type": "application/rss+xml"}))
    config = make_config([{"name": "F", "url": url}], poll=CALM)
    poll_once(config, store, clock)
    seen_before = store.db.execute("SELECT max(last_seen) FROM entry_sources").fetchone()[0]
    clock.advance(2 * HOUR)
    assert poll_once(config, store, clock).not_modified
    seen_after = store.db.execute("SELECT max(last_seen) FROM entry_sources").fetchone()[0]
    assert seen_after == seen_before  # the entries were not touched
    server.static("/f", Response(200, RSS.replace(b"Tilmeld dig", b"Husk at tilmelde dig")))
    clock.advance(2 * HOUR)
    assert poll_once(config, store, clock).updated == 1


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize("form", ["seconds", "date"])
def test_retry_after_is_obeyed(server, make_config, store, clock, status, form):
    server_clock_skew = timedelta(minutes=10)
    server_now = clock.now + server_clock_skew
    headers = {"Date": format_datetime(server_now, usegmt=True)}
    if form == "seconds":
        headers["Retry-After"] = "10800"
    else:
        headers["Retry-After"] = format_datetime(server_now + 3 * HOUR, usegmt=True)
    url = server.static("/f", Response(status, b"busy", headers))
    config = make_config([{"name": "F", "url": url}], poll=CALM)
    poll_once(config, store, clock)
    feed = status_of(store, url)
    assert feed.next_poll_at == clock.now + 3 * HOUR
    assert feed.interval_reason == "Retry-After 10800 s"
    assert store.due_feeds(clock.now + 2 * HOUR) == []
    assert store.due_feeds(clock.now + 3 * HOUR) == [url]


@pytest.mark.parametrize(
    ("headers", "body", "interval", "reason"),
    [
        ({"Cache-Control": "max-age=10800"}, RSS, 3 * HOUR, "Cache-Control max-age"),
        ({"Cache-Control": "no-cache, max-age=10800"}, RSS, HOUR, "default interval"),
        ({}, RSS.replace(b"<language>da</language>", b"<ttl>240</ttl>"), 4 * HOUR,
         "RSS ttl 240 min"),
    ],
)  # fmt: skip
def test_server_hints_raise_the_interval(
    server, make_config, store, clock, headers, body, interval, reason
):
    url = server.static(
        "/f", Response(200, body, {"Content-Type": "application/rss+xml", **headers})
    )
    poll_once(make_config([{"name": "F", "url": url}], poll=CALM), store, clock)
    feed = status_of(store, url)
    assert (feed.interval_seconds, feed.interval_reason) == (interval.total_seconds(), reason)
    assert feed.next_poll_at == clock.now + interval


def test_ttl_survives_a_304(server, make_config, store, clock):
    url = server.route("/f", feed_route(RSS.replace(b"<language>da</language>", b"<ttl>240</ttl>")))
    config = make_config([{"name": "F", "url": url}], poll=CALM)
    poll_once(config, store, clock)
    clock.advance(5 * HOUR)
    assert poll_once(config, store, clock).not_modified
    assert status_of(store, url).interval_reason == "RSS ttl 240 min"


@pytest.mark.parametrize("code", [301, 308])
def test_permanent_redirect_that_holds_moves_the_feed(server, make_config, store, clock, code):
    new = server.route("/new", feed_route(RSS))
    old = server.redirect("/old", new, status=code)
    config = make_config([{"name": "F", "url": old}], poll=CALM)
    poll_once(config, store, clock)
    assert status_of(store, old).moved_to is None  # once could be a mistake
    clock.advance(2 * HOUR)
    poll_once(config, store, clock)
    assert status_of(store, old).moved_to == new
    clock.advance(2 * HOUR)
    before = len(server.requests_to("/old"))
    poll_once(config, store, clock)
    assert len(server.requests_to("/old")) == before  # now fetched from the new address
    assert store.entry_count() == 3


def test_a_redirect_that_changes_between_polls_moves_nothing(server, make_config, store, clock):
    first = server.route("/a", feed_route(RSS))
    second = server.route("/b", feed_route(RSS))
    old = server.redirect("/old", first, status=301)
    config = make_config([{"name": "F", "url": old}], poll=CALM)
    poll_once(config, store, clock)
    server.redirect("/old", second, status=301)
    poll_once(config, store, clock)
    assert status_of(store, old).moved_to is None


@pytest.mark.parametrize("code", [302, 307])
def test_temporary_redirect_changes_nothing(server, make_config, store, clock, code):
    new = server.route("/new", feed_route(RSS))
    old = server.redirect("/old", new, status=code)
    config = make_config([{"name": "F", "url": old}], poll=CALM)
    for _ in range(3):
        poll_once(config, store, clock)
        clock.advance(2 * HOUR)
    assert status_of(store, old).moved_to is None
    assert len(server.requests_to("/old")) == 3


def test_redirect_loop_is_a_failure(server, make_config, store, clock):
    server.redirect("/a", server.url("/b"))
    loop = server.redirect("/b", server.url("/a"))
    result = poll_once(make_config([{"name": "F", "url": loop}]), store, clock)
    assert result.error == "too many redirects"


def test_gone_feed_is_not_polled_until_the_admin_acts(server, make_config, store, clock):
    url = server.static("/f", Response(410, b"gone"))
    config = make_config([{"name": "F", "url": url}], poll=CALM)
    poll_once(config, store, clock)
    feed = status_of(store, url)
    assert feed.state == "gone"
    assert feed.next_poll_at is None
    assert store.due_feeds(clock.now + timedelta(days=365)) == []
    assert store.reset_feed(url)
    assert store.due_feeds(clock.now) == [url]


def test_body_over_the_cap_and_gzip_bomb_are_refused(server, make_config, store, clock):
    import gzip

    big = server.static("/big", Response(200, b"<rss>" + b" " * 300_000))
    bomb = server.static("/bomb", Response(200, gzip.compress(b" " * 5_000_000),
                                           {"Content-Encoding": "gzip"}))  # fmt: skip
    config = make_config([{"name": "Big", "url": big}, {"name": "Bomb", "url": bomb}],
                         poll={"max_body_bytes": 200_000})  # fmt: skip
    results = poll(config, store, clock=clock).results
    assert [r.error for r in results] == ["response body larger than the limit of 200000 bytes"] * 2


def test_trickling_response_hits_the_total_deadline(server, make_config, store, clock):
    url = server.static("/slow", Response(200, RSS, trickle=0.05))
    config = make_config([{"name": "F", "url": url}],
                         poll={"total_timeout_seconds": 0.5, "timeout_seconds": 5})  # fmt: skip
    result = poll_once(config, store, clock)
    assert result.error == "took longer than the total limit of 0.5 s"


def test_redirect_to_the_metadata_address_is_refused(server, make_config, store, clock):
    url = server.redirect("/f", "http://169.254.169.254/latest/meta-data/")
    result = poll_once(make_config([{"name": "F", "url": url}]), store, clock)
    assert result.error is not None
    assert result.error.startswith("refused to connect to 169.254.169.254 (169.254.169.254)")
    assert "link-local" in result.error


def test_loopback_is_refused_unless_allowed(server, make_config, store, clock):
    url = server.route("/f", feed_route(RSS))
    config = make_config([{"name": "F", "url": url}], poll={"allow_private_hosts": []})
    result = poll_once(config, store, clock)
    assert result.error is not None
    assert "a loopback address" in result.error
    assert server.requests_to("/f") == []  # refused before any connection was made


def test_per_host_limit_keeps_requests_to_one_host_apart(make_config, store, clock):
    spans: list[tuple[float, float]] = []
    server = FeedServer().start()
    try:

        def slow(request: Request) -> Response:
            spans.append((request.at, request.at + 0.3))
            return Response(200, RSS, {"Content-Type": "application/rss+xml"}, delay=0.3)

        feeds = [{"name": f"F{i}", "url": server.route(f"/f{i}", slow)} for i in range(3)]
        config = make_config(feeds, poll={"per_host_concurrency": 1, "concurrency": 8})
        poll(config, store, clock=clock)
    finally:
        server.stop()
    spans.sort()
    assert len(spans) == 3
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end - 0.01  # the next request began only after the last was answered


def test_failing_feed_backs_off_and_recovers(server, make_config, store, clock):
    url = server.static("/f", Response(500, b"oops"))
    config = make_config([{"name": "F", "url": url}],
                         poll={**CALM, "backoff_cap_minutes": 240})  # fmt: skip
    waits = []
    for _ in range(5):
        poll_once(config, store, clock)
        feed = status_of(store, url)
        waits.append(feed.next_poll_at - clock.now)
        clock.now = feed.next_poll_at
    assert waits == [HOUR, 2 * HOUR, 4 * HOUR, 4 * HOUR, 4 * HOUR]
    assert status_of(store, url).state == "failing"
    assert status_of(store, url).error_count == 5

    server.route("/f", feed_route(RSS))
    poll_once(config, store, clock)
    feed = status_of(store, url)
    assert (feed.state, feed.error_count, feed.failing_since) == ("ok", 0, None)
    assert feed.next_poll_at == clock.now + HOUR


def test_next_poll_survives_a_restart(server, make_config, tmp_path, clock):
    url = server.route("/f", feed_route(RSS))
    config = make_config([{"name": "F", "url": url}], poll=CALM)
    first = Store.open(config.database_path)
    poll_once(config, first, clock)
    first.close()

    again = Store.open(config.database_path)
    try:
        assert again.due_feeds(clock.now + 30 * timedelta(minutes=1)) == []
        assert again.due_feeds(clock.now + HOUR) == [url]
    finally:
        again.close()


def test_service_polls_only_what_is_due(server, make_config, clock):
    due_url = server.route("/due", feed_route(RSS))
    later_url = server.route("/later", feed_route(RSS))
    config = make_config(
        [{"name": "Due", "url": due_url}, {"name": "Later", "url": later_url,
                                            "interval_minutes": 600}],
        poll={**CALM, "startup_spread_seconds": 0},
    )  # fmt: skip
    service = Service(config, clock=Clock(clock.now), rng=random.Random(5))
    service.poll_due()  # first tick: both are new, both polled
    assert len(server.requests) == 2
    service.clock.advance(2 * HOUR)  # type: ignore[attr-defined]
    service.poll_due()
    assert [r.path for r in server.requests[2:]] == ["/due"]


def test_new_feeds_are_spread_over_the_startup_window(server, make_config, clock):
    feeds = [{"name": f"F{i}", "url": server.route(f"/f{i}", feed_route(RSS))} for i in range(20)]
    config = make_config(feeds, poll={**CALM, "startup_spread_seconds": 600})
    service = Service(config, clock=clock, rng=random.Random(11))
    service.poll_due()
    assert len(server.requests) < 20  # not all at once
    clock.advance(timedelta(seconds=601))
    service.poll_due()
    assert sorted({r.path for r in server.requests}) == sorted(f"/f{i}" for i in range(20))


def test_feeds_overdue_after_a_restart_are_spread_over_the_interval(server, make_config, clock):
    """A service down for two hours finds every feed overdue: it polls them over the next
    interval, not all in its first tick (which would make them due together every hour)."""
    feeds = [{"name": f"F{i}", "url": server.route(f"/f{i}", feed_route(RSS))} for i in range(40)]
    config = make_config(feeds, poll={**CALM, "startup_spread_seconds": 0})
    Service(config, clock=clock, rng=random.Random(3)).poll_due()
    assert len(server.requests) == 40
    clock.advance(3 * HOUR)  # down since an hour after that poll
    restarted = Service(config, clock=clock, rng=random.Random(4))
    restarted.poll_due()
    first = len(server.requests) - 40
    assert first < 10
    for _ in range(6):
        clock.advance(timedelta(minutes=10, seconds=1))
        restarted.poll_due()
    paths = [r.path for r in server.requests[40:]]
    assert sorted(paths) == sorted(f"/f{i}" for i in range(40))  # each once, within the hour


def test_a_short_stop_polls_the_few_overdue_feeds_at_once(server, make_config, clock):
    """One hourly feed of thirty overdue: a window of two minutes, less than a tick."""
    feeds = [{"name": "Hourly", "url": server.route("/hourly", feed_route(RSS))}]
    feeds += [{"name": f"F{i}", "url": server.route(f"/f{i}", feed_route(RSS)),
               "interval_minutes": 600} for i in range(29)]  # fmt: skip
    config = make_config(feeds, poll={**CALM, "startup_spread_seconds": 0})
    Service(config, clock=clock, rng=random.Random(3)).poll_due()
    clock.advance(HOUR + timedelta(seconds=30))
    Service(config, clock=clock, rng=random.Random(4), tick_seconds=300).poll_due()
    assert [r.path for r in server.requests[30:]] == ["/hourly"]
