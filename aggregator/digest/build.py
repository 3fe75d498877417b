"""Pure digest building: which week, and what it holds, grouped by source."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from aggregator.types import StoredEntry


@dataclass(frozen=True, slots=True)
class Period:
    """Monday 00:00 to the next Monday 00:00 in the site's time zone."""

    start: datetime  # aware, local zone
    end: datetime

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
        return f"{self.iso_year}-W{self.iso_week:02d}"


def week_containing(day: date, zone: ZoneInfo) -> Period:
    monday = day - timedelta(days=day.weekday())
    # Built from dates, not by adding 7×24 h, so a DST change inside the week is honoured.
    start = datetime(monday.year, monday.month, monday.day, tzinfo=zone)
    following = monday + timedelta(days=7)
    end = datetime(following.year, following.month, following.day, tzinfo=zone)
    return Period(start=start, end=end)


def last_complete_week(now: datetime, zone: ZoneInfo) -> Period:
    today = now.astimezone(zone).date()
    return week_containing(today - timedelta(days=7), zone)


def parse_week(text: str, zone: ZoneInfo) -> Period:
    """``2026-W47`` or any date inside the wanted week (``2026-11-18``)."""
    value = text.strip()
    try:
        if "W" in value.upper():
            year, week = value.upper().split("-W")
            return week_containing(date.fromisocalendar(int(year), int(week), 1), zone)
        return week_containing(date.fromisoformat(value), zone)
    except ValueError:
        raise ValueError(f"not a week: {text!r} (use e.g. 2026-W47 or 2026-11-18)") from None


@dataclass(frozen=True, slots=True)
class DigestItem:
    title: str
    link: str | None
    summary: str
    published: datetime  # local zone
    author: str | None
    also_in: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DigestGroup:
    source: str
    site_url: str | None
    items: tuple[DigestItem, ...]


@dataclass(frozen=True, slots=True)
class Digest:
    title: str
    period: Period
    groups: tuple[DigestGroup, ...]

    @property
    def entry_count(self) -> int:
        return sum(len(g.items) for g in self.groups)

    @property
    def is_empty(self) -> bool:
        return not self.groups


def build_digest(entries: Sequence[StoredEntry], period: Period, title: str) -> Digest:
    """Group a week's entries by primary source (sources by name, entries oldest first)."""
    zone = period.start.tzinfo
    groups: dict[str, tuple[str | None, list[DigestItem]]] = {}
    for entry in sorted(entries, key=lambda e: (e.published, e.id)):
        if not period.start_utc <= entry.published < period.end_utc:
            continue
        primary, *others = entry.sources
        name = primary.title or primary.name
        _, items = groups.setdefault(name, (primary.site_url, []))
        items.append(
            DigestItem(
                title=entry.title,
                link=entry.link,
                summary=entry.summary_text,
                published=entry.published.astimezone(zone),
                author=entry.author,
                also_in=tuple(o.title or o.name for o in others),
            )
        )
    return Digest(
        title=title,
        period=period,
        groups=tuple(
            DigestGroup(source=name, site_url=site, items=tuple(items))
            for name, (site, items) in sorted(groups.items(), key=lambda kv: kv[0].casefold())
        ),
    )
