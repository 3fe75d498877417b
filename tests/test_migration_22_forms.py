"""Migration 22 writes a stored canonical URL in the form canonical_url gives today, also for
a host whose IDNA mapping begins with ``www.`` (full-width ``ｗｗｗ.ærø.dk``), which
canonical_url strips after the conversion."""

from __future__ import annotations

import pytest
import sqlite_utils

from aggregator.canonical import _canonical, canonical_url
from aggregator.store.migrations import _v22_ascii_hosts


@pytest.mark.parametrize(
    "link",
    [
        "https://ｗｗｗ.ærø.dk/nyheder/bro",
        "https://www.ærø.dk/nyheder/bro",
        "https://ærø.dk:8443/a",
    ],
)
def test_migration_22_gives_the_form_of_today(link: str) -> None:
    db = sqlite_utils.Database(memory=True)
    for table in ("entries", "entry_sources"):
        db.execute(f"CREATE TABLE {table} (canonical_url TEXT)")
        db.execute(f"INSERT INTO {table} VALUES (?)", [_canonical(link, False, False)])
    _v22_ascii_hosts(db)
    for table in ("entries", "entry_sources"):
        assert db.execute(f"SELECT canonical_url FROM {table}").fetchall() == [
            (canonical_url(link),)
        ]
