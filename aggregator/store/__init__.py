"""SQLite storage. All SQL of the package lives in this package."""

from typing import TYPE_CHECKING, Any

from aggregator.store.database import (
    REDIRECT_CONFIRMATIONS,
    GroupMember,
    MergedGroup,
    Store,
)
from aggregator.store.digests import Delivery, DigestLedger, DigestRun
from aggregator.store.migrations import MIGRATIONS, SCHEMA_VERSION
from aggregator.store.prune import PruneReport, RemovedFeed
from aggregator.store.times import from_db_time, to_db_time

if TYPE_CHECKING:
    from aggregator.store.entries import MergeRules, source_rank


def __getattr__(name: str) -> Any:
    """The entry writer's names on first use: it imports the normaliser and dedup, which
    reading feed states (``aggregator status``) does not need."""
    if name in ("MergeRules", "source_rank"):
        from aggregator.store import entries

        return getattr(entries, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "MIGRATIONS",
    "REDIRECT_CONFIRMATIONS",
    "SCHEMA_VERSION",
    "Delivery",
    "DigestLedger",
    "DigestRun",
    "GroupMember",
    "MergeRules",
    "MergedGroup",
    "PruneReport",
    "RemovedFeed",
    "Store",
    "from_db_time",
    "source_rank",
    "to_db_time",
]
