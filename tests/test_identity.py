"""Identity within one feed, through the real server and store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aggregator.normalise import entry_key, ids_are_broken
from aggregator.pipeline import poll
from aggregator.types import ParsedEntry
from tests.feedgen import Item, rss

WHEN = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def parsed(guid, link="https://x.dk/a", title="T") -> ParsedEntry:
    return ParsedEntry(guid=guid, link=link, title=title, author=None, content_html="c",
                       published=WHEN, updated=None)  # fmt: skip


@pytest.mark.parametrize(
    ("guids", "broken"),
    [
        (["a", "b", "c", "d", "e"], False),
        (["a", "b", "c", "d", None], False),
        (["a", "b", "c", None, None], False),  # blanks say nothing about the other ids
        ([None, None, None, None, "a"], False),
        ([None, None, None], False),
        (["1", "1", "1", "1", "1"], True),
        (["1", "1", "b", None, None], True),  # one repeat in three ids
        (["a", "a", "b", "c", "d", "e"], False),
        ([], False),
    ],
)
def test_broken_ids_are_detected(guids, broken):
    assert ids_are_broken([parsed(g, f"https://x.dk/{i}") for i, g in enumerate(guids)]) is broken


@pytest.mark.parametrize(
    ("entry", "trust", "key"),
    [
        (parsed("guid-1"), True, "guid-1"),
        (parsed("guid-1"), False, "https://x.dk/a"),
        (parsed(None), True, "https://x.dk/a"),
        (parsed("", link=None), True, None),
    ],
)
def test_entry_key_rules(entry, trust, key):
    result = entry_key(entry, trust)
    if key is None:
        assert result.startswith("sha256:")
    else:
        assert result == key


@pytest.fixture
def feed(server, make_config, store, clock):
    def publish(items: list[Item]):
        url = server.static_feed("/f", rss("F", "https://os2.eu/", items))
        clock.advance(timedelta(hours=2))
        return poll(make_config([{"name": "F", "url": url}]), store, clock=clock)

    return publish


@pytest.mark.parametrize(
    ("before", "after"),
    [
        # WordPress: the shortlink id becomes the permalink, the link stays.
        (("https://os2.eu/?p=123", "https://os2.eu/2026/11/cloud/"),
         ("https://os2.eu/2026/11/cloud/", "https://os2.eu/2026/11/cloud/")),
        # The id moves from http to https.
        (("http://os2.eu/?p=123", "https://os2.eu/2026/11/cloud/"),
         ("https://os2.eu/?p=123", "https://os2.eu/2026/11/cloud/")),
        # The link moves from http to https with utm tags, the id stays.
        (("tag:os2.eu,2026:123", "http://os2.eu/2026/11/cloud/"),
         ("tag:os2.eu,2026:123", "https://os2.eu/2026/11/cloud/?utm_source=rss")),
    ],
)  # fmt: skip
def test_changed_id_with_the_same_link_is_the_same_entry(feed, store, before, after):
    body = "<p>Kommunerne går sammen om en fælles cloud.</p>"
    feed([Item("Fælles cloud", before[1], body, WHEN, guid=before[0])])
    report = feed([Item("Fælles cloud", after[1], body, WHEN, guid=after[0])])
    assert report.new == 0
    assert store.entry_count() == 1
    keys = store.db.execute("SELECT entry_key FROM entry_sources").fetchall()
    assert keys == [(after[0],)]


def test_feed_with_one_guid_for_everything_keeps_every_post(feed, store):
    items = [
        Item(f"Indlæg {n}", f"https://kommune.dk/nyt/{n}", f"<p>Tekst {n}</p>", WHEN, guid="1")
        for n in range(5)
    ]
    assert feed(items).new == 5
    assert feed(items).new == 0
    assert store.entry_count() == 5


def test_entries_without_guid_or_link_are_kept_apart_by_content(feed, store):
    items = [Item(f"Uden link {n}", None, f"<p>Tekst {n}</p>", WHEN) for n in range(3)]
    assert feed(items).new == 3
    assert feed(items).new == 0


def test_an_entry_that_leaves_the_feed_stays_stored(feed, store):
    first = Item("Første", "https://os2.eu/1", "<p>1</p>", WHEN, guid="1")
    second = Item("Anden", "https://os2.eu/2", "<p>2</p>", WHEN, guid="2")
    feed([first, second])
    feed([second])
    assert sorted(e.title for e in store.recent_entries(10)) == ["Anden", "Første"]


def test_content_that_changes_every_poll_stops_being_rewritten(feed, store):
    for n in range(8):
        report = feed([Item("Live", "https://os2.eu/live", f"<p>Opdateret kl. {n}</p>", WHEN,
                            guid="live")])  # fmt: skip
        if n == 0:
            assert report.new == 1
        elif n <= 5:
            assert report.updated == 1
        else:
            assert report.updated == 0
    assert store.recent_entries(1)[0].summary_text == "Opdateret kl. 5"


def test_old_undated_entries_of_a_new_feed_are_not_news(feed, store):
    feed([Item("Arkiv", "https://os2.eu/arkiv", "<p>gammelt</p>", None, guid="old")])
    assert store.recent_entries(10) == []  # archive, not news
    feed([Item("Arkiv", "https://os2.eu/arkiv", "<p>gammelt</p>", None, guid="old"),
          Item("Nyt", "https://os2.eu/nyt", "<p>nyt</p>", None, guid="new")])  # fmt: skip
    assert [e.title for e in store.recent_entries(10)] == ["Nyt"]


def _news(edited: bool, guids: bool = True) -> list[Item]:
    """Three posts with ids and an event without one, as Drupal feeds mix them; post 0's title
    edit regenerates its slug when ``edited``."""
    items = []
    for k in range(3):
        slug, title = f"nyt-om-emne-{k}", f"Nyt om emne {k}"
        if k == 0 and edited:
            slug, title = "nyt-om-emne-0-rettet", "Nyt om emne 0 (rettet)"
        body = f"<p>Tekst om emne {k} med flere ord om digitalisering</p>"
        guid = f"node/{k}" if guids else None
        link = f"https://kommune.dk/nyheder/{slug}"
        items.append(Item(title, link, body, WHEN + timedelta(hours=k), guid=guid))
    items.append(Item("Arrangement uden id", "https://kommune.dk/arr", "<p>Tekst x</p>", WHEN))
    return items


def test_an_item_without_a_guid_leaves_the_others_trusted(feed, store):
    assert feed(_news(edited=False)).new == 4
    report = feed(_news(edited=True))
    assert (report.new, report.updated) == (0, 1)
    rows = store.db.execute(
        "SELECT s.entry_key, e.title FROM entry_sources s JOIN entries e ON e.id = s.entry_id"
        " ORDER BY s.entry_key"
    ).fetchall()
    assert rows == [
        ("https://kommune.dk/arr", "Arrangement uden id"),
        ("node/0", "Nyt om emne 0 (rettet)"),
        ("node/1", "Nyt om emne 1"),
        ("node/2", "Nyt om emne 2"),
    ]


def test_entries_stored_under_their_links_move_to_their_guids(feed, store):
    """What the earlier rule stored for such a feed (every entry keyed by its link) is found
    again by link when the guids are trusted: updated in place, not stored twice."""
    assert feed(_news(edited=False, guids=False)).new == 4
    report = feed(_news(edited=False))
    assert report.new == 0
    keys = {key for (key,) in store.db.execute("SELECT entry_key FROM entry_sources")}
    assert keys == {"node/0", "node/1", "node/2", "https://kommune.dk/arr"}
    assert feed(_news(edited=True)).new == 0
    assert store.entry_count() == 4
