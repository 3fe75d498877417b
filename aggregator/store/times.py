"""Times in the database: ISO 8601 text in UTC with a fixed width, so text order is time order
and the indexes on dates serve range queries directly."""

from __future__ import annotations

import functools
from datetime import UTC, datetime


@functools.lru_cache(maxsize=256)
def to_db_time(value: datetime) -> str:
    # Cached: a poll formats its own time and each entry's dates several times over.
    # isoformat with fixed microseconds is the strftime pattern "%Y-%m-%dT%H:%M:%S.%f" at a
    # fifth of its cost, and it zero-pads years below 1000, which strftime does not.
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def from_db_time(value: str) -> datetime:
    # fromisoformat reads the trailing Z as UTC and is many times faster than strptime.
    return datetime.fromisoformat(value)


def maybe_time(value: str | None) -> datetime | None:
    return from_db_time(value) if value else None
