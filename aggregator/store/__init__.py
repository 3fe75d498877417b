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
from aggregator.store.times import from_db_time, to_db_time

if TYPE_CHECKING:
    from aggregator.store.entries import MergeRules, source_rank
    from aggregator.store.prune import PruneReport, RemovedFeed

# Imported on first use: the entry writer brings the normaliser and dedup, and neither is
# needed to read feed states (``aggregator status``).
_LAZY = {
    "MergeRules": "aggregator.store.entries",
    "source_rank": "aggregator.store.entries",
    "PruneReport": "aggregator.store.prune",
    "RemovedFeed": "aggregator.store.prune",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
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
