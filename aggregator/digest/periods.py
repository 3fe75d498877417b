"""Digest periods: ISO weeks or calendar days in the site's zone, and when each is due.

Built from local dates, never by adding 24 h steps, so a DST change inside a period is
honoured (a week in late October has 169 hours).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from aggregator.errors import DigestError

PeriodKind = Literal["week", "day"]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# A period older than this is refused: nobody wants a digest of posts from years ago, and
# a typo such as 1999-W01 should not be mailed to everyone.
OLDEST_DAYS = 366


@dataclass(frozen=True, slots=True)
class Period:
    """From ``start`` (inclusive) to ``end`` (exclusive), aware, in the local zone."""

    start: datetime
    end: datetime
    kind: PeriodKind = "week"

    @property
    def start_utc(self) -> datetime:
        return self.start.astimezone(UTC)

    @property
    def end_utc(self) -> datetime:
        return self.end.astimezone(UTC)

    @property
    def iso_year(self) -> int:
        return self.start.isocalendar().year

    @property
    def iso_week(self) -> int:
        return self.start.isocalendar().week

    @property
    def last_day(self) -> date:
        return (self.end - timedelta(days=1)).date()

    @property
    def slug(self) -> str:
        if self.kind == "day":
            return self.start.date().isoformat()
        return f"{self.iso_year}-W{self.iso_week:02d}"


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone)


def week_containing(day: date, zone: ZoneInfo) -> Period:
    monday = day - timedelta(days=day.weekday())
    return Period(
        _local_midnight(monday, zone), _local_midnight(monday + timedelta(days=7), zone), "week"
    )


def day_period(day: date, zone: ZoneInfo) -> Period:
    return Period(_local_midnight(day, zone), _local_midnight(day + timedelta(1), zone), "day")


def period_containing(moment: datetime, kind: PeriodKind, zone: ZoneInfo) -> Period:
    today = moment.astimezone(zone).date()
    return week_containing(today, zone) if kind == "week" else day_period(today, zone)


def last_complete(now: datetime, kind: PeriodKind, zone: ZoneInfo) -> Period:
    current = period_containing(now, kind, zone)
    return period_containing(current.start - timedelta(hours=1), kind, zone)


def last_complete_week(now: datetime, zone: ZoneInfo) -> Period:
    return last_complete(now, "week", zone)


def kind_of(day: str) -> PeriodKind:
    """The schedule's ``day``: a weekday sends weekly digests, ``daily`` daily ones."""
    return "day" if day == "daily" else "week"


def due_at(period: Period, day: str, at: dt.time) -> datetime:
    """When the digest of ``period`` is sent: the scheduled time after the period ended."""
    zone = period.end.tzinfo
    assert isinstance(zone, ZoneInfo)
    first = period.end.date()
    offset = 0 if period.kind == "day" else WEEKDAYS.index(day)
    return datetime.combine(first + timedelta(days=offset), at, tzinfo=zone)


def parse_period(text: str, kind: PeriodKind, zone: ZoneInfo) -> Period:
    """``2026-W47`` or a date inside it (``2026-11-18``); a date for a daily digest."""
    value = text.strip().upper()
    try:
        if "W" in value:
            if kind == "day":
                raise DigestError(f"{text!r} is a week, and this digest is daily: give a date")
            year, week = value.split("-W")
            return week_containing(date.fromisocalendar(int(year), int(week), 1), zone)
        day = date.fromisoformat(value)
    except ValueError:
        raise DigestError(
            f"not a week or a date: {text!r} (use e.g. 2026-W47 or 2026-11-18)"
        ) from None
    return week_containing(day, zone) if kind == "week" else day_period(day, zone)


def parse_week(text: str, zone: ZoneInfo) -> Period:
    try:
        return parse_period(text, "week", zone)
    except DigestError as exc:
        raise ValueError(str(exc).replace("not a week or a date", "not a week")) from None


def check_sendable(period: Period, now: datetime) -> None:
    """Refuse a period that has not ended (it would block the real one) or is absurdly old."""
    if period.end_utc > now:
        when = period.end.strftime("%Y-%m-%d %H:%M %Z")
        raise DigestError(f"{period.slug} has not ended yet (it ends {when}): not sent")
    if period.end_utc < now - timedelta(days=OLDEST_DAYS):
        raise DigestError(f"{period.slug} ended more than {OLDEST_DAYS} days ago: not sent")
