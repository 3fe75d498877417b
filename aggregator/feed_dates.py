"""Dates a feed writes in words feedparser cannot read ("3. november 2026", "tirsdag, 3. nov.
2026 10:00", "tor, 19 nov 2026 19:00:00 +0100"): read again with dateparser, in Danish and
English, once parsing is done, so the fast path and feedparser stay one road.

dateparser costs 0.4 s CPU to import and load its languages: it is imported only for a
feed that has such a date, never for the rest.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from aggregator.types import ParsedEntry, ParsedFeed

# A reading later than this past the poll is a misreading (a day and month swapped), not a
# clock a little ahead: it is not kept. One too early is dropped by normalise's own rule.
FUTURE_SKEW = timedelta(hours=1)


def read_worded_dates(parsed: ParsedFeed, zone: str, now: datetime) -> ParsedFeed:
    """``parsed`` with the dates the parser could not read read in words where they can be;
    ``zone`` for a date that names none (the site's)."""
    if not any(entry.unread_dates for entry in parsed.entries):
        return parsed
    return replace(parsed, entries=tuple(_read(entry, zone, now) for entry in parsed.entries))


def _read(entry: ParsedEntry, zone: str, now: datetime) -> ParsedEntry:
    if not entry.unread_dates:
        return entry
    from aggregator.page_dates import feed_date

    read: dict[str, datetime] = {}
    for name, text in entry.unread_dates:
        value = feed_date(text, zone)
        if value is not None and value <= now + FUTURE_SKEW:
            read[name] = value
    if not read:
        return entry
    return replace(
        entry,
        published=read.get("published", entry.published),
        updated=read.get("updated", entry.updated),
        unread_dates=tuple(pair for pair in entry.unread_dates if pair[0] not in read),
    )
