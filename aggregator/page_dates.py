"""Dates as web pages write them: "27. november 2026", "27. nov. 2026", "27-11-2026", ISO 8601,
``<time datetime>``, or the publication date in a page's metadata.

dateparser reads the Danish and English forms; htmldate finds a page's own date. Both are
imported on first need, so feed polls never pay for them.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime
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


def _iso(text: str, zone: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(zone))
    return value.astimezone(UTC)


def parse_date(text: str | None, zone: str = "Europe/Copenhagen") -> datetime | None:
    """An aware UTC datetime, or None when the text holds no date; a date without a time of
    day is midnight in ``zone``."""
    text = " ".join((text or "").split())
    if not text or len(text) > 200:
        return None
    if text[:1].isdigit() and (value := _iso(text, zone)):
        return value
    import dateparser
    from dateparser.search import search_dates

    settings = _settings(zone)
    found = dateparser.parse(text, languages=LANGUAGES, settings=settings)
    if found is None:
        # "Publiceret 27. november 2026 kl. 10.00": the date inside words around it.
        hits = search_dates(text, languages=LANGUAGES, settings=settings) or []
        found = hits[0][1] if hits else None
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
    2026", "tirsdag, 3. nov. 2026 10:00", "tor, 19 nov 2026 19:00:00 +0100"), as an aware
    UTC datetime; its own zone if it names one, else ``zone``; None unless it has a day, a
    month and a year."""
    text = _WEEKDAY.sub("", " ".join(text.split()))
    if not text or len(text) > 200:
        return None
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
    return _iso(found, zone) if found else None
