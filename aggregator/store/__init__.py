"""SQLite storage. All SQL of the package lives in this package."""

from aggregator.store.database import (
    REDIRECT_CONFIRMATIONS,
    GroupMember,
    MergedGroup,
    Store,
)
from aggregator.store.digests import Delivery, DigestLedger, DigestRun
from aggregator.store.entries import MergeRules, source_rank
from aggregator.store.migrations import MIGRATIONS, SCHEMA_VERSION
from aggregator.store.prune import PruneReport, RemovedFeed
from aggregator.store.times import from_db_time, to_db_time

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
