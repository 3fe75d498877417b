"""Dates as web pages write them: "27. november 2026", "27. nov. 2026", "27-11-2026", ISO 8601,
``<time datetime>``, or the publication date in a page's metadata.

dateparser reads the Danish and English forms; htmldate finds a page's own date. Both are
imported on first need, so feed polls never pay for them.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

LANGUAGES = ["da", "en"]


@functools.lru_cache(maxsize=8)
def _settings(zone: str) -> dict[str, Any]:
    return {
        "DATE_ORDER": "DMY",  # 03-04-2026 is 3 April here
        "TIMEZONE": zone,
        "RETURN_AS_TIMEZONE_AWARE": True,
        "TO_TIMEZONE": "UTC",
        "PREFER_DAY_OF_MONTH": "first",
        "PREFER_DATES_FROM": "past",
    }


def _iso(text: str) -> datetime | None:
    """ISO 8601 as written, with its zone if it names one; None if it is not ISO 8601."""
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _in_utc(value: datetime, zone: str) -> datetime | None:
    """``value`` in UTC, read in ``zone`` if it names none; None at the edge of the range
    (.NET's "no date", 0001-01-01T00:00:00, is before year 1 in UTC from Copenhagen):
    unreadable, like any other date that cannot be read."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(zone))
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


# "kl. 9" (an hour, no minutes) makes dateparser read the 9 as a month: "kl. 9.00" it reads.
_BARE_HOUR = re.compile(r"\bkl\.?\s*(\d{1,2})(?![.:]?\d)", re.I)
# 30.11.2026, 30-11-2026, 30/11/2026 (day first), with a time after it if one is given.
_NUMERIC_DATE = re.compile(
    r"(?<![\d.])(\d{1,2})[./-](\d{1,2})[./-](\d{4})(?![\d])(?:,?\s*(?:kl\.?\s*)?\d{1,2}[.:]\d{2})?"
)
# "3. nov. 2026", "Nov. 3, 2026" among other words: search_dates misses an abbreviated month
# with its dot ("Publiceret 3. nov. 2026"), so these are read on their own as well.
_WORDED_DATE = re.compile(
    r"(?<![\d.])(?:\d{1,2}\.?\s+[^\W\d_]{3,}\.?|[^\W\d_]{3,}\.?\s+\d{1,2}(?:st|nd|rd|th)?,?)"
    r"\s+\d{4}(?!\d)(?:,?\s*(?:kl\.?|at)?\s*\d{1,2}[.:]\d{2})?"
)
# "i dag", "i går kl. 14.30", "i forgårs": the day counted back from today, at the time given,
# else midnight; dateparser reads these but at the clock's time of day.
_DAY_WORD = re.compile(
    r"(i dag|i går|i forgårs|today|yesterday)(?:,?\s*(?:kl\.?|at)?\s*(\d{1,2})[.:](\d{2}))?",
    re.I,
)
_DAYS_BACK = {"i dag": 0, "today": 0, "i går": 1, "yesterday": 1, "i forgårs": 2}


def parse_date(
    text: str | None, zone: str = "Europe/Copenhagen", now: datetime | None = None
) -> datetime | None:
    """An aware UTC datetime, or None when the text holds no date; a date without a time of
    day is midnight in ``zone``. A whole date in the text wins over anything relative beside
    it ("3 min læsetid · 30. november 2026"), the earliest of several ("Høring (frist 15.
    januar 2027) – 30. november 2026"); a relative date counts only when it is the whole
    text ("i går kl. 14.30", "for 2 timer siden"), against ``now``."""
    text = " ".join((text or "").split())
    if not text or len(text) > 200:
        return None
    if text[:1].isdigit() and (written := _iso(text)) is not None:
        return _in_utc(written, zone)
    text = _BARE_HOUR.sub(r"kl. \1.00", text)
    if (found := _absolute(text, zone)) is not None:
        return found
    return _relative(text, zone, now or datetime.now(UTC))


def _absolute(text: str, zone: str) -> datetime | None:
    import dateparser
    from dateparser.search import search_dates

    settings = _feed_settings(zone)
    try:
        found: datetime | None = dateparser.parse(text, languages=LANGUAGES, settings=settings)
        if found is not None:
            return found.astimezone(UTC)
        # "Publiceret 27. november 2026 kl. 10.00": the dates inside words around them.
        hits = [hit for _, hit in search_dates(text, languages=LANGUAGES, settings=settings) or []]
        for match in [*_NUMERIC_DATE.finditer(text), *_WORDED_DATE.finditer(text)]:
            if hit := dateparser.parse(match.group(0), languages=LANGUAGES, settings=settings):
                hits.append(hit)
        return min(hits).astimezone(UTC) if hits else None
    except (OverflowError, ValueError):
        return None


def _relative(text: str, zone: str, now: datetime) -> datetime | None:
    local = now.astimezone(ZoneInfo(zone))
    if day := _DAY_WORD.fullmatch(text):
        date = local.date() - timedelta(days=_DAYS_BACK[day.group(1).lower()])
        hour, minute = int(day.group(2) or 0), int(day.group(3) or 0)
        if hour > 23 or minute > 59:
            return None
        when = datetime.combine(date, time(hour, minute), ZoneInfo(zone))
        return when.astimezone(UTC)
    import dateparser

    settings = {**_settings(zone), "RELATIVE_BASE": local.replace(tzinfo=None)}
    try:
        found = dateparser.parse(text, languages=LANGUAGES, settings=settings)
    except (OverflowError, ValueError):
        return None
    return found.astimezone(UTC) if found else None


@functools.lru_cache(maxsize=8)
def _feed_settings(zone: str) -> dict[str, Any]:
    # A feed's date says when a post was written: a whole date, never "i går" or "Monday",
    # which dateparser would read against the clock of whoever polls.
    return {
        **_settings(zone),
        "REQUIRE_PARTS": ["day", "month", "year"],
        "PARSERS": ["custom-formats", "absolute-time"],
    }


# "tor, ", "Tue, ", "tirsdag, ": a weekday adds nothing to a full date, and in another
# language than the month's ("Tue, 12 Maj 2026") it stops dateparser reading either.
_WEEKDAY = re.compile(r"^[^\W\d_]+\.?,\s*")


@functools.lru_cache(maxsize=4096)  # a feed repeats its dates poll after poll
def feed_date(text: str, zone: str = "Europe/Copenhagen") -> datetime | None:
    """A feed's date in Danish or English words that feedparser cannot read ("3. november
    2026", "tirsdag, 3. nov. 2026 10:00", "tor, 19 nov 2026 19:00:00 +0100"), or in ISO 8601
    with no zone, as an aware UTC datetime; its own zone if it names one, else ``zone``; None
    unless it has a day, a month and a year."""
    text = _WEEKDAY.sub("", " ".join(text.split()))
    if not text or len(text) > 200:
        return None
    if text[:1].isdigit() and (written := _iso(text)) is not None:
        # "2026-11-20T10:00:00": ISO 8601, no zone: local; never read again by dateparser.
        value = _in_utc(written, zone)
        return value.replace(microsecond=0) if value else None
    import dateparser

    try:
        found = dateparser.parse(text, languages=LANGUAGES, settings=_feed_settings(zone))
        return found.astimezone(UTC) if found else None
    except (OverflowError, ValueError):  # year 9999 less a zone, year 1 plus one
        return None


def page_date(html: str, zone: str = "Europe/Copenhagen") -> datetime | None:
    """A page's original publication date from its metadata and markup (htmldate)."""
    import htmldate

    try:
        found = htmldate.find_date(
            html, original_date=True, extensive_search=False, outputformat="%Y-%m-%dT%H:%M:%S"
        )
    except (ValueError, TypeError):
        return None
    written = _iso(found) if found else None
    return _in_utc(written, zone) if written else None
