"""Dates as each output writes them: RFC 3339 (Atom, JSON Feed), RFC 822 (RSS), and words
for people through babel's CLDR data (the page)."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, tzinfo
from email.utils import format_datetime

from babel.dates import format_date, format_time

DAY_PATTERNS = {"da": "EEEE d. MMMM y", "en": "EEEE d MMMM y"}
MONTH_PATTERN = "MMMM y"


# A post's dates are written into every file it is in (its source's, its tags', its month's,
# the newest), several times each: each is formatted once, and babel is slow.
@functools.lru_cache(maxsize=16384)
def rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@functools.lru_cache(maxsize=16384)
def rfc822(value: datetime) -> str:
    return format_datetime(value.astimezone(UTC), usegmt=True)


def day_heading(value: datetime, zone: tzinfo, language: str) -> str:
    """``Tirsdag 1. december 2026``: CLDR's weekday and month names, capitalised as a
    heading."""
    text = str(format_date(value.astimezone(zone).date(), DAY_PATTERNS[language], locale=language))
    return text[:1].upper() + text[1:]


def month_name(year: int, month: int, language: str) -> str:
    text = str(format_date(datetime(year, month, 1).date(), MONTH_PATTERN, locale=language))
    return text[:1].upper() + text[1:]


@functools.lru_cache(maxsize=16384)
def local_time(value: datetime, zone: tzinfo, language: str) -> str:
    return str(format_time(value.astimezone(zone), "short", locale=language))


def local_date(value: datetime, zone: tzinfo, language: str) -> str:
    return str(format_date(value.astimezone(zone).date(), "long", locale=language))
