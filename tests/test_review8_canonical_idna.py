"""A Danish host's two spellings are one host in the canonical form (review 8 R8-9): ærø.dk
is xn--r-3fa9c.dk, as NO_PROXY and httpx already take it. So feeds.yaml refuses one feed
listed in both, a post linked in both spellings from two feeds is one post, and a database
stored before (canonical URLs with the host in Unicode) is migrated to the new form, while
an HTML source's item ids keep theirs."""

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
from tests.feedserver import FeedServer, feed_route
from tests.schema_history import roll_back_later_migrations

WHEN = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)
UNICODE, ASCII = "https://ærø.dk/nyheder/ny-bro", "https://xn--r-3fa9c.dk/nyheder/ny-bro"


@pytest.mark.parametrize(
    "spelling",
    ["https://xn--r-3fa9c.dk/feed", "https://ærø.dk/feed", "http://www.ÆRØ.dk/feed/",
     "https://XN--R-3FA9C.DK/feed", "https://www.xn--r-3fa9c.dk:443/feed"],
)  # fmt: skip
def test_both_spellings_of_a_danish_host_are_one_canonical_url(spelling: str) -> None:
    assert canonical_url(spelling) == "https://xn--r-3fa9c.dk/feed"
    assert canonical_url_of_many(spelling) == "https://xn--r-3fa9c.dk/feed"


def test_a_host_that_is_no_valid_name_is_compared_as_written() -> None:
    assert canonical_url("https://ä_b.dk/x") == "https://ä_b.dk/x"


def test_feeds_yaml_refuses_one_feed_in_its_two_spellings(tmp_path: Path) -> None:
    text = (
        "feeds:\n"
        "  - name: Ærø Kommune\n    url: https://ærø.dk/nyheder/feed\n"
        "  - name: Ærø nyheder\n    url: https://xn--r-3fa9c.dk/nyheder/feed\n"
    )
    with pytest.raises(ConfigError, match="'Ærø nyheder' is the same feed as 'Ærø Kommune'"):
        config_from_text(tmp_path / "feeds.yaml", text)


def _two_feeds(server: FeedServer, make_config: Any) -> Any:
    """One post, linked in each spelling, with words of each feed's own (no near copy)."""
    a = Item("Ny bro over åen", UNICODE, "<p>Broen åbner i december.</p>", WHEN, guid="a-1")
    b = Item("Indvielse af broen", ASCII, "<p>Kom til fest ved vandet lørdag.</p>", WHEN,
             guid="b-1")  # fmt: skip
    url_a = server.static_feed("/a", rss("Ærø Kommune", "https://ærø.dk/", [a]))
    url_b = server.static_feed("/b", rss("Ærø Avis", "https://avis.example/", [b]))
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


def test_a_database_stored_before_is_migrated_to_the_ascii_form(
    server: FeedServer, make_config: Any, tmp_path: Path
) -> None:
    config = _two_feeds(server, make_config)
    path = tmp_path / "migrated.db"
    store = Store.open(path)
    poll(config, store, feeds=[config.feeds[0]], clock=lambda: WHEN + timedelta(hours=1))
    store.close()
    with sqlite3.connect(path) as db:  # as schema 21 stored it: the host in Unicode
        roll_back_later_migrations(sqlite_utils.Database(db), 21)
        db.execute("UPDATE entries SET canonical_url = ?", [UNICODE])
        db.execute("UPDATE entry_sources SET canonical_url = ?", [UNICODE])
        db.execute("PRAGMA user_version = 21")
    store = Store.open(path)
    try:
        assert store.schema_version == SCHEMA_VERSION
        for table in ("entries", "entry_sources"):
            assert store.db.execute(f"SELECT canonical_url FROM {table}").fetchall() == [(ASCII,)]
        poll(config, store, feeds=[config.feeds[1]], clock=lambda: WHEN + timedelta(hours=2))
        assert store.db.execute("SELECT count(*) FROM entries").fetchone() == (1,)
        assert _merge_reasons(store) == [None, "same canonical URL"]
    finally:
        store.close()


def test_an_html_sources_item_ids_keep_their_stored_form(
    server: FeedServer, make_config: Any, store: Store
) -> None:
    """Its ids are the keys stored for its posts: one that changed would be a new post."""
    assert item_id(f"{UNICODE}/") == UNICODE
    assert item_id("https://www.kommune.dk/a/?utm_source=x") == canonical_url(
        "https://kommune.dk/a"
    )
    page = (
        '<html lang="da"><body><article><h3><a href="https://ærø.dk/nyheder/ny-bro">Ny bro'
        "</a></h3></article></body></html>"
    ).encode()
    url = server.route("/nyheder/", feed_route(page, content_type="text/html; charset=utf-8"))
    config = make_config([{"name": "K", "url": url, "type": "html", "items": "article"}])
    assert poll(config, store, clock=lambda: WHEN).new == 1
    rows = store.db.execute("SELECT entry_key, canonical_url FROM entry_sources").fetchall()
    assert rows == [(UNICODE, ASCII)]
