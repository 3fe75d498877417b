"""A feed's stored state as ``aggregator status`` shows it (also importable from
aggregator.types). Alone in its module: status reads nothing else of the types, and building
the other dataclasses of aggregator.types costs more than the rest of its start-up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class FeedStatus:
    url: str
    name: str
    title: str | None
    state: str  # new, ok, failing, gone
    last_fetched_at: datetime | None
    last_success_at: datetime | None
    last_status: int | None
    last_error: str | None
    error_count: int
    entry_count: int
    failing_since: datetime | None = None
    next_poll_at: datetime | None = None
    interval_seconds: int | None = None
    interval_reason: str | None = None
    moved_to: str | None = None
    last_warning: str | None = None  # of the last successful poll: fields dropped, repairs
    site_url: str | None = None
