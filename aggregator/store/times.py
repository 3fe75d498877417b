"""Times in the database: ISO 8601 text in UTC with a fixed width, so text order is time order
and the indexes on dates serve range queries directly."""

from __future__ import annotations

from datetime import UTC, datetime


def to_db_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_db_time(value: str) -> datetime:
    # fromisoformat reads the trailing Z as UTC and is many times faster than strptime.
    return datetime.fromisoformat(value)


def maybe_time(value: str | None) -> datetime | None:
    return from_db_time(value) if value else None
