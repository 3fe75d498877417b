"""Search compares words case folded and in compatibility form, in the index and the query."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest
import sqlite_utils

from aggregator.archive_search import search_archive
from aggregator.config import FeedConfig, feed_data
from aggregator.search import fold, words
from aggregator.store import SCHEMA_VERSION, Store
from aggregator.types import EntryPlan, UpdatePlan
from tests.schema_history import roll_back_later_migrations


@pytest.mark.parametrize(
    ("written", "typed"),
    [
        ("Straße", "STRASSE"),
        ("ﬁnansloven", "FINANSLOVEN"),
        ("İstanbul", "istanbul"),
        ("Ærø og Åbenrå", "ÆRØ OG ÅBENRÅ"),
        ("Aarhus", "århus"),
        ("ＫＬ", "kl"),  # fullwidth letters
        ("CO₂-udledning", "co2-udledning"),
    ],
)
def test_both_spellings_fold_alike(written, typed):
    assert words(written) == words(typed)


def test_danish_letters_stay_letters_of_their_own():
    assert fold("År") == "år"
    assert fold("ØL") != fold("ol")


NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
FEED = FeedConfig(name="Kommune", url="https://kommune.dk/rss")
TITLES = ("Straße og ﬁnansloven", "Møde i İstanbul", "CO₂-regnskab for ＫＬ")


def _entry(key: str, title: str) -> EntryPlan:
    link = f"https://kommune.dk/{key}"
    return EntryPlan(key=key, canonical_url=link, link=link, title=title, author=None,
                     content_html="<p>Tekst</p>", summary_text="Tekst", published=NOW,
                     updated=NOW, content_hash=key, language="da")  # fmt: skip


def _found(store: Store, config, query: str) -> list[str]:
    return [hit.entry.title for hit in search_archive(store, config, query, NOW, limit=10).hits]


def test_search_finds_either_spelling_and_migration_19_rebuilds_the_index(make_config, tmp_path):
    config = make_config([feed_data(FEED)])
    path = tmp_path / "aggregator.db"
    store = Store.open(path)
    store.sync_feeds((FEED,), NOW)
    entries = tuple(_entry(f"e{i}", title) for i, title in enumerate(TITLES))
    plan = UpdatePlan(
        feed_url=FEED.url,
        fetched_at=NOW,
        status=200,
        etag=None,
        last_modified=None,
        not_modified=False,
        error=None,
        entries=entries,
    )
    store.apply(plan, NOW)
    for query, title in [
        ("STRASSE", TITLES[0]),
        ("FINANSLOVEN", TITLES[0]),
        ("istanbul", TITLES[1]),
        ("co2", TITLES[2]),
        ("kl", TITLES[2]),
    ]:
        assert _found(store, config, query) == [title], query  # fmt: skip
    store.close()
    # A database of schema 18 has its index in the older fold: here, none at all.
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM search_index")
        db.execute("DELETE FROM search_docs")
        roll_back_later_migrations(sqlite_utils.Database(db), 18)
        db.execute("PRAGMA user_version = 18")
    store = Store.open(path)
    try:
        assert store.schema_version == SCHEMA_VERSION
        assert _found(store, config, "STRASSE") == [TITLES[0]]
    finally:
        store.close()
