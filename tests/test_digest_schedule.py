"""The service's digest job through a real SMTP server: on schedule, once, catching up a missed
one within the grace period, never an unfinished period, and retrying deferred recipients."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from aggregator.digest.periods import week_containing
from aggregator.pipeline import poll
from aggregator.scheduler import Service, digest_due
from tests.conftest import Clock, serve_fixture

CPH = ZoneInfo("Europe/Copenhagen")
POLLED = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)  # Sunday of week 47
MONDAY_7 = datetime(2026, 11, 23, 7, 0, tzinfo=CPH)  # week 47's digest is due


def test_due_only_after_the_period_ended_and_within_the_grace(make_config):
    config = make_config([], digest={"day": "mon", "time": "07:00", "catch_up_hours": 24})
    [weekly] = config.all_digests

    def due(settings, moment):
        return [p.slug for p in digest_due(settings, moment.astimezone(UTC), CPH)]

    assert due(weekly, MONDAY_7 - timedelta(minutes=1)) == []
    assert due(weekly, MONDAY_7) == ["2026-W47"]
    assert due(weekly, MONDAY_7 + timedelta(hours=23)) == ["2026-W47"]
    assert due(weekly, MONDAY_7 + timedelta(hours=25)) == []
    daily = weekly.model_copy(update={"day": "daily", "time": time(6, 30)})
    tuesday = datetime(2026, 11, 24, 6, 30, tzinfo=CPH)
    assert due(daily, tuesday + timedelta(minutes=1)) == ["2026-11-23"]  # Sunday's: too late
    assert due(daily, tuesday - timedelta(minutes=1)) == ["2026-11-22"]  # still in its grace


def test_the_service_sends_each_digest_once_on_schedule_and_retries_later(
    server, make_config, store, inbox
):
    config = make_config(
        [{"name": "OS2", "url": serve_fixture(server, "rss20.xml", "/os2")}],
        digests=[
            {"name": "uge", "recipients": ["a@kommune.dk", "grey@kommune.dk"]},
            {"name": "dag", "day": "daily", "time": "06:00", "recipients": ["d@kommune.dk"],
             "empty": "send", "catch_up_hours": 1},
        ],
        smtp={"host": inbox.host, "port": inbox.port, "retry_seconds": 300},
    )  # fmt: skip
    poll(config, store, clock=lambda: POLLED)
    inbox.rcpt_replies["grey@kommune.dk"] = ["451 4.7.1 Greylisted"]
    clock = Clock((MONDAY_7 - timedelta(hours=2)).astimezone(UTC))  # Monday 05:00 local
    service = Service(config, clock=clock)

    service.send_digests()  # the daily digest of Sunday is not due before 06:00
    assert inbox.copies() == {}
    clock.advance(timedelta(hours=1, minutes=30))  # 06:30: Sunday's daily digest
    service.send_digests()
    assert inbox.copies() == {"d@kommune.dk": 1}
    clock.advance(timedelta(minutes=30))  # 07:00: the weekly one
    service.send_digests()
    service.send_digests()
    assert inbox.copies() == {"d@kommune.dk": 1, "a@kommune.dk": 1}
    clock.advance(timedelta(minutes=6))  # the deferred recipient's retry is due
    service.send_digests()
    assert inbox.copies() == {"d@kommune.dk": 1, "a@kommune.dk": 1, "grey@kommune.dk": 1}
    weekly = [m for m in inbox.messages if m.recipients != ["d@kommune.dk"]]
    assert all("uge 47" in m.message["Subject"] for m in weekly)
    week_48 = week_containing(MONDAY_7.date(), CPH)
    assert store.ledger.run("uge", week_48.start_utc) is None  # never an unfinished week


def test_a_digest_missed_beyond_the_grace_is_not_sent_but_its_posts_are_not_lost(
    server, make_config, store, inbox
):
    config = make_config(
        [{"name": "OS2", "url": serve_fixture(server, "rss20.xml", "/os2")}],
        digest={"recipients": ["a@kommune.dk"], "catch_up_hours": 24},
        smtp={"host": inbox.host, "port": inbox.port},
    )
    week_46_due = Clock((MONDAY_7 - timedelta(days=7)).astimezone(UTC))
    Service(config, clock=week_46_due).send_digests()  # nothing new: skipped, cut off
    assert inbox.copies() == {}
    poll(config, store, clock=lambda: POLLED)  # week 47's posts
    late = Clock((MONDAY_7 + timedelta(days=2)).astimezone(UTC))  # back on Wednesday
    Service(config, clock=late).send_digests()
    assert inbox.copies() == {}
    late.advance(timedelta(days=5))  # the next Monday: week 48's digest holds week 47's posts
    Service(config, clock=late).send_digests()
    [received] = inbox.messages
    assert "uge 48" in received.message["Subject"]
    assert "Fælles kommunal cloud" in received.message.get_body(("plain",)).get_content()
