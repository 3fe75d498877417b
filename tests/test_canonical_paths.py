"""Two spellings of one path are one canonical URL (left over from review 8): an unreserved
character percent-encoded is that character (RFC 3986 6.2.2.2: ``%7E`` is ``~``, ``%41`` is
``A``), while a reserved one (``%2F``) stays; dot segments are resolved (5.2.4: ``/a/./b/../c``
is ``/a/c``). So feeds.yaml refuses one feed listed in both, a post linked in both from two
feeds is one post, and a database stored before is migrated to the new form (migration 23),
while an HTML source's item ids keep theirs."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from aggregator.canonical import canonical_url, canonical_url_of_many, item_id
from aggregator.config import config_from_text
from aggregator.errors import ConfigError
from aggregator.pipeline import poll
from aggregator.store import SCHEMA_VERSION, Store
from tests.feedgen import Item, rss
from tests.feedserver import FeedServer
from tests.schema_history import roll_back_later_migrations

WHEN = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)
ESCAPED = "https://kommune.dk/%7Ejens/nyheder/./2026/../ny-bro"
PLAIN = "https://kommune.dk/~jens/nyheder/ny-bro"


@pytest.mark.parametrize(
    ("spelling", "form"),
    [
        (ESCAPED, PLAIN),
        ("https://kommune.dk/%7ejens/nyheder/ny-bro", PLAIN),
        ("https://kommune.dk/~jens/%6Eyheder/ny%2Dbro", PLAIN),
        ("https://kommune.dk/%41", "https://kommune.dk/A"),
        ("https://kommune.dk/a/%2E%2E/b", "https://kommune.dk/b"),  # %2E is "."
        ("https://kommune.dk/a/b/c/./../../g", "https://kommune.dk/a/g"),
        ("https://kommune.dk/../../g", "https://kommune.dk/g"),  # none above the root
        ("https://kommune.dk/a/b/..", "https://kommune.dk/a"),
        ("https://kommune.dk/a/.", "https://kommune.dk/a"),
        # Reserved characters keep their escape, written in capitals: %2F is not a "/".
        ("https://kommune.dk/a%2fb", "https://kommune.dk/a%2Fb"),
        ("https://kommune.dk/a%2Fb/%3F", "https://kommune.dk/a%2Fb/%3F"),
        ("https://kommune.dk/%C3%A6", "https://kommune.dk/%C3%A6"),
        ("https://kommune.dk/.well-known/..x/a..", "https://kommune.dk/.well-known/..x/a.."),
    ],
)
def test_spellings_of_one_path_are_one_canonical_url(spelling: str, form: str) -> None:
    assert canonical_url(spelling) == form
    assert canonical_url_of_many(spelling) == form
    assert canonical_url(form) == form


def test_feeds_yaml_refuses_one_feed_in_its_two_spellings(tmp_path: Path) -> None:
    text = (
        "feeds:\n"
        "  - name: Jens\n    url: https://kommune.dk/~jens/feed\n"
        "  - name: Jens igen\n    url: https://kommune.dk/%7Ejens/./feed\n"
    )
    with pytest.raises(ConfigError, match="'Jens igen' is the same feed as 'Jens'"):
        config_from_text(tmp_path / "feeds.yaml", text)


def _two_feeds(server: FeedServer, make_config: Any) -> Any:
    """One post, linked in each spelling, with words of each feed's own (no near copy)."""
    a = Item("Ny bro over åen", ESCAPED, "<p>Broen åbner i december.</p>", WHEN, guid="a-1")
    b = Item("Indvielse af broen", PLAIN, "<p>Kom til fest ved vandet lørdag.</p>", WHEN,
             guid="b-1")  # fmt: skip
    url_a = server.static_feed("/a", rss("Kommunen", "https://kommune.dk/", [a]))
    url_b = server.static_feed("/b", rss("Avisen", "https://avis.example/", [b]))
    return make_config([{"name": "A", "url": url_a}, {"name": "B", "url": url_b}])


def _merge_reasons(store: Store) -> list[str | None]:
    return [r for (r,) in store.db.execute("SELECT merge_reason FROM entry_sources ORDER BY 1")]


def test_a_post_linked_in_both_spellings_from_two_feeds_is_one_post(
    server: FeedServer, make_config: Any, store: Store
) -> None:
    config = _two_feeds(server, make_config)
    assert poll(config, store, clock=lambda: WHEN + timedelta(hours=1)).new == 1
    assert store.db.execute("SELECT count(*) FROM entries").fetchone() == (1,)
    assert _merge_reasons(store) == [None, "same canonical URL"]


def test_a_database_stored_before_is_migrated_to_the_new_form(
    server: FeedServer, make_config: Any, tmp_path: Path
) -> None:
    config = _two_feeds(server, make_config)
    path = tmp_path / "migrated.db"
    store = Store.open(path)
    poll(config, store, feeds=[config.feeds[0]], clock=lambda: WHEN + timedelta(hours=1))
    store.close()
    # As schema 22 stored it: the path's escape and dot segments as written.
    stored = "https://kommune.dk/%7Ejens/nyheder/./2026/../ny-bro"
    with sqlite3.connect(path) as db:
        roll_back_later_migrations(sqlite_utils.Database(db), 22)
        db.execute("UPDATE entries SET canonical_url = ?", [stored])
        db.execute("UPDATE entry_sources SET canonical_url = ?", [stored])
        db.execute("PRAGMA user_version = 22")
    store = Store.open(path)
    try:
        assert store.schema_version == SCHEMA_VERSION
        for table in ("entries", "entry_sources"):
            assert store.db.execute(f"SELECT canonical_url FROM {table}").fetchall() == [(PLAIN,)]
        poll(config, store, feeds=[config.feeds[1]], clock=lambda: WHEN + timedelta(hours=2))
        assert store.db.execute("SELECT count(*) FROM entries").fetchone() == (1,)
        assert _merge_reasons(store) == [None, "same canonical URL"]
    finally:
        store.close()


@pytest.mark.parametrize(
    ("stored", "today"),
    [
        ("https://kommune.dk/a%7e?q=%25#x/./y", "https://kommune.dk/a~?q=%25#x/./y"),
        ("https://kommune.dk:8443/a/./b?x=/./", "https://kommune.dk:8443/a/b?x=/./"),
        ("https://kommune.dk/a%2Fb", "https://kommune.dk/a%2Fb"),
        ("https://kommune.dk/.well-known/x", "https://kommune.dk/.well-known/x"),
    ],
)
def test_migration_23_changes_the_path_alone(stored: str, today: str) -> None:
    from aggregator.store.migrations import _v23_normal_paths

    db = sqlite_utils.Database(memory=True)
    for table in ("entries", "entry_sources"):
        db.execute(f"CREATE TABLE {table} (canonical_url TEXT)")
        db.execute(f"INSERT INTO {table} VALUES (?)", [stored])
    _v23_normal_paths(db)
    for table in ("entries", "entry_sources"):
        assert db.execute(f"SELECT canonical_url FROM {table}").fetchall() == [(today,)]


def test_an_html_sources_item_ids_keep_their_stored_form() -> None:
    """Its ids are the keys stored for its posts: one that changed would be a new post."""
    assert item_id(ESCAPED) == ESCAPED
