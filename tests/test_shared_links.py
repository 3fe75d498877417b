"""Items without a guid that all link one page (a news index, the front page, a SharePoint
list) are as many posts as they are, through the real server, parser, store and CLI."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from aggregator.normalise import document_keys
from aggregator.pipeline import poll
from aggregator.types import ParsedEntry
from tests.feedgen import Item, rss
from tests.test_cli import EXE, run

WHEN = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)  # before the test clock: dates kept
INDEX = "https://kommune.dk/nyheder"
TOPICS = ["Vejarbejde på Ærøvej", "Julemarked", "Budget 2027", "Skolestart", "Affald"]


def news(count: int = 5, edited: int | None = None, link: str = INDEX) -> list[Item]:
    items = []
    for k, topic in enumerate(TOPICS[:count]):
        text = f"<p>Helt forskellig tekst nummer {k} om {topic.lower()} i kommunen.</p>"
        if k == edited:
            text = text.replace("</p>", " Rettet: nye tider.</p>")
        items.append(Item(f"Nyhed {k}: {topic}", link, text, WHEN - timedelta(hours=k)))
    return items


@pytest.fixture
def publish(server, make_config, store, clock):
    def publish_to(items: list[Item], path: str = "/k", site: str = "https://kommune.dk/"):
        url = server.static_feed(path, rss(path.strip("/").upper(), site, items))
        clock.advance(timedelta(hours=2))
        return poll(make_config([{"name": path.strip("/"), "url": url}]), store, clock=clock)

    return publish_to


def _rows(store) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = store.db.execute(
        "SELECT e.id, e.title, e.content_html FROM entries e ORDER BY e.title"
    ).fetchall()
    return rows


def test_the_cli_stores_every_post_and_reports_a_repeated_one(tmp_path, server):
    items = news()
    url = server.static_feed("/k", rss("Kommunen", "https://kommune.dk/", [*items, items[0]]))
    (tmp_path / "feeds.yaml").write_text(
        "site: {title: T, base_url: 'https://planet.example.dk/'}\n"
        "poll: {timeout_seconds: 3, allow_private_hosts: ['127.0.0.1']}\n"
        f"feeds: [{{name: Kommunen, url: '{url}'}}]\n",
        encoding="utf-8",
    )
    assert EXE.exists()
    polled = run("-c", "feeds.yaml", "poll", "--no-export", cwd=tmp_path)
    assert polled.returncode == 0, polled.stderr
    assert "5 new" in polled.stdout
    with sqlite3.connect(tmp_path / "aggregator.db") as db:
        rows = db.execute("SELECT title, link FROM entries ORDER BY title").fetchall()
    assert rows == [(f"Nyhed {k}: {topic}", INDEX) for k, topic in enumerate(TOPICS)]
    status = run("-c", "feeds.yaml", "status", cwd=tmp_path)
    assert "dropped 1 repeated entry" in status.stdout
    again = run("-c", "feeds.yaml", "poll", "--no-export", cwd=tmp_path)
    assert "0 new, 0 updated" in again.stdout


def test_an_edit_of_one_post_updates_it(publish, store):
    assert publish(news()).new == 5
    before = {title: entry_id for entry_id, title, _ in _rows(store)}
    report = publish(news(edited=3))
    assert (report.new, report.updated) == (0, 1)
    rows = _rows(store)
    assert {title: entry_id for entry_id, title, _ in rows} == before
    (edited,) = [html for _, title, html in rows if title.startswith("Nyhed 3")]
    assert "Rettet: nye tider." in edited
    assert publish(news(edited=3)).new == 0
    assert store.entry_count() == 5


def test_a_post_stored_under_its_link_is_found_again(publish, store):
    """What the earlier rule stored (one entry, keyed by the shared link), and a post that was
    alone with its link until others came: the same entry, not a copy of it."""
    assert publish(news(count=1)).new == 1
    ((first_id, _, _),) = _rows(store)
    assert store.db.execute("SELECT entry_key FROM entry_sources").fetchall() == [(INDEX,)]
    report = publish(news())
    assert (report.new, report.updated) == (4, 0)
    assert store.entry_count() == 5
    assert [entry_id for entry_id, title, _ in _rows(store) if title.startswith("Nyhed 0")] == [
        first_id
    ]
    # And back: the others leave the feed, the one left is keyed by its link again.
    assert publish(news(count=1)).new == 0
    assert store.entry_count() == 5


def test_a_new_post_is_not_the_one_that_left_the_index(publish, store):
    """The index lists the newest few: as a post comes, the oldest leaves. The new one is a
    new post, and the one that left keeps what it said."""
    assert publish(news(count=4)).new == 4
    newest = Item("Nyhed 9: Vinterberedskab", INDEX, "<p>Saltvogne og snerydning i vinter.</p>",
                  WHEN + timedelta(hours=1))  # fmt: skip
    report = publish([newest, *news(count=3)])
    assert (report.new, report.updated) == (1, 0)
    titles = [title for _, title, _ in _rows(store)]
    assert titles == sorted(["Nyhed 9: Vinterberedskab",
                             *(f"Nyhed {k}: {TOPICS[k]}" for k in range(4))])  # fmt: skip


def test_other_feeds_posts_at_the_same_index_are_not_merged(publish, store):
    assert publish(news(count=3), "/a").new == 3
    others = [
        Item(f"Arrangement {k}", INDEX, f"<p>Et arrangement {k} i kulturhuset med musik.</p>",
             WHEN - timedelta(hours=k))
        for k in range(3)
    ]  # fmt: skip
    assert publish(others, "/b").new == 3
    assert store.entry_count() == 6


def _entry(title: str, text: str, link: str | None = INDEX, guid: str | None = None):
    return ParsedEntry(guid, link, title, None, text, WHEN, None)


@pytest.mark.parametrize("trust", [True, False])
def test_keys_of_a_shared_link_are_the_posts_own_and_order_free(trust):
    entries = [_entry(f"Nyhed {k}", f"<p>Tekst {k}</p>") for k in range(4)]
    entries.append(_entry("Med id", "<p>Tekst med id</p>", guid="node/9"))
    entries.append(_entry("Alene", "<p>Alene</p>", link="https://kommune.dk/alene"))
    keys = document_keys(entries, trust)
    assert len(set(keys)) == 6
    assert keys[5] == "https://kommune.dk/alene"
    assert keys[4] == "node/9"  # an id of its own, told apart from the others' link
    assert all(key.startswith("sha256:") for key in keys[:4])
    reordered = document_keys(entries[::-1], trust)
    assert reordered == keys[::-1]
    # The same item twice is one post.
    assert len(set(document_keys([entries[0], entries[0]], trust))) == 1
