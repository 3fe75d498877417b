"""Inside one document, two entries with different ids are two posts, always; through the
real server, parser and store."""

from __future__ import annotations

import random as random_module
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from aggregator.config import FeedConfig
from aggregator.pipeline import poll
from aggregator.store import Store
from tests.feedgen import Item, rss
from tests.feedserver import feed_route
from tests.test_properties import apply

WHEN = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
def publish(server, make_config, store, clock):
    def publish_to(path: str, body: bytes, content_type: str = "application/rss+xml"):
        url = server.route(path, feed_route(body, content_type, last_modified=None))
        clock.advance(timedelta(hours=2))
        return poll(make_config([{"name": path.strip("/"), "url": url}]), store, clock=clock)

    return publish_to


def anchor_posts(count: int, guids: bool) -> list[Item]:
    """A daily-page blog: each post is an anchor on the page of its day."""
    items = []
    for n in range(count):
        day = 26 - n // 8
        link = f"https://blog.example.dk/2017/06/{day}.html#a{n:02d}0605"
        items.append(
            Item(
                f"Kort note {n}",
                link,
                f"<p>Note nummer {n} om noget helt andet end de andre noter.</p>",
                WHEN - timedelta(hours=n),
                guid=link if guids else None,
            )
        )
    return items


@pytest.mark.parametrize("guids", [True, False])
def test_posts_that_are_anchors_on_one_page_stay_apart(publish, store, guids):
    items = anchor_posts(48, guids)
    assert publish("/daily", rss("Daily", "https://blog.example.dk/", items)).new == 48
    assert store.entry_count() == 48
    entries = store.recent_entries(100)
    assert len({e.link for e in entries}) == 48
    assert publish("/daily", rss("Daily", "https://blog.example.dk/", items)).new == 0
    assert store.entry_count() == 48
    (status,) = store.feed_statuses()
    assert status.entry_count == 48


def test_two_posts_linking_to_one_outside_page_are_two_posts(publish, store):
    outside = "https://www.example.org/rapport-2026"
    sponsor = Item("Sponsor: rapporten", outside, "<p>Tak til vores sponsor.</p>",
                   WHEN - timedelta(days=4), guid="https://linkblog.dk/?p=10")  # fmt: skip
    linked = Item("Læst: ny rapport om cloud", outside, "<p>En rapport værd at læse.</p>",
                  WHEN, guid="https://linkblog.dk/?p=14")  # fmt: skip
    assert publish("/links", rss("Links", "https://linkblog.dk/", [linked, sponsor])).new == 2
    titles = sorted(e.title for e in store.recent_entries(10))
    assert titles == ["Læst: ny rapport om cloud", "Sponsor: rapporten"]


def test_empty_alternate_links_are_no_link(publish, store):
    entries = "".join(
        f"""<entry><id>tag:notes.dk,2026:{n}</id><title>Note {n}</title>
            <link rel="alternate" href=""/>
            <updated>{(WHEN - timedelta(days=17 * n)).isoformat()}</updated>
            <content type="html">&lt;p&gt;Indhold {n}&lt;/p&gt;</content></entry>"""
        for n in range(3)
    )
    body = f"""<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">
        <title>Noter</title><id>urn:notes</id><updated>{WHEN.isoformat()}</updated>
        {entries}</feed>"""
    assert publish("/notes", body.encode(), "application/atom+xml").new == 3
    stored = sorted(store.recent_entries(10), key=lambda e: e.title)
    assert [e.title for e in stored] == ["Note 0", "Note 1", "Note 2"]
    assert all(e.link is None for e in stored)


def test_a_link_to_the_feed_itself_is_no_link(publish, store, server):
    feed_url = server.url("/self")
    items = [Item(f"Punkt {n}", feed_url, f"<p>Punkt {n}</p>", WHEN, guid=f"p{n}")
             for n in range(3)]  # fmt: skip
    assert publish("/self", rss("Selv", "https://selv.dk/", items)).new == 3
    assert all(e.link is None for e in store.recent_entries(10))


def test_an_id_is_rekeyed_only_when_the_old_id_has_left_the_document(publish, store):
    link = "https://os2.eu/2026/11/cloud/"
    old = Item("Fælles cloud", link, "<p>Kommunerne går sammen.</p>", WHEN, guid="?p=1")
    publish("/f", rss("F", "https://os2.eu/", [old]))
    (first_id,) = store.db.execute("SELECT entry_id FROM entry_sources").fetchone()
    # A second post with the same link and a new id, while the old id is still there.
    newer = Item("Fælles cloud, del 2", link, "<p>Anden del.</p>", WHEN, guid="?p=2")
    assert publish("/f", rss("F", "https://os2.eu/", [newer, old])).new == 1
    rows = dict(store.db.execute("SELECT entry_key, entry_id FROM entry_sources").fetchall())
    assert sorted(rows) == ["?p=1", "?p=2"]
    assert rows["?p=1"] == first_id  # the old post kept its entry, not handed to the new one
    assert store.entry_count() == 2


def test_distinct_ids_with_one_link_survive_a_feed_whose_ids_look_broken(publish, store):
    # Half the items have no guid, so ids are not trusted and links key the entries; two
    # items that share a link but have ids of their own are still two posts.
    shared = "https://kommune.dk/nyheder"
    items = [
        Item("Nyhed A", shared, "<p>A</p>", WHEN, guid="a"),
        Item("Nyhed B", shared, "<p>B</p>", WHEN, guid="b"),
        Item("Nyhed C", "https://kommune.dk/c", "<p>C</p>", WHEN),
        Item("Nyhed D", "https://kommune.dk/d", "<p>D</p>", WHEN),
    ]
    assert publish("/k", rss("K", "https://kommune.dk/", items)).new == 4
    assert publish("/k", rss("K", "https://kommune.dk/", items)).new == 0


def test_link_merging_across_feeds_honours_the_date_window(publish, store):
    link = "https://digst.dk/nyheder/aarlig-status"
    first = Item("Årlig status", link, "<p>Status for året der gik, del et.</p>", WHEN,
                 guid="digst-1")  # fmt: skip
    publish("/digst", rss("Digst", "https://digst.dk/", [first]))
    # Another feed links the same URL a month later: the page was reused, not the post.
    later = Item("Årlig status", link, "<p>Et helt andet indlæg om et andet år.</p>",
                 WHEN + timedelta(days=30), guid="other-1")  # fmt: skip
    publish("/other", rss("Other", "https://other.dk/", [later]))
    assert store.entry_count() == 2
    # Within the window the same link is still the same post.
    soon = Item("Årlig status", link, "<p>Status.</p>", WHEN + timedelta(days=2), guid="x-1")
    publish("/third", rss("Third", "https://third.dk/", [soon]))
    assert store.entry_count() == 2


FEED = "https://os2.eu/feed"
LINKS = [
    "https://os2.eu/2017/06/26.html#a{n}",
    "https://os2.eu/2017/06/26.html",
    "https://www.example.org/rapport",
    FEED,
    None,
    "https://os2.eu/p/{n}",
    "https://os2.eu/p/{n}#more",
]


@st.composite
def documents(draw):
    """Items with distinct ids but links, titles and text drawn from small pools, so that they
    collide on everything else; some repeated exactly, as feeds do."""
    count = draw(st.integers(1, 12))
    guids = draw(st.lists(st.sampled_from(GUID_SHAPES), min_size=count, max_size=count))
    items = []
    for n, shape in enumerate(guids):
        link = draw(st.sampled_from(LINKS))
        items.append(
            Item(
                draw(st.sampled_from(["Nyhed", "Nyhed", "Status"])),
                link.format(n=draw(st.integers(0, 3))) if link else None,
                draw(st.sampled_from(["<p>Samme tekst.</p>", "<p>Anden tekst.</p>"])),
                WHEN - timedelta(days=draw(st.integers(0, 30))),
                guid=shape.format(n=n),
            )
        )
    repeated = draw(st.lists(st.sampled_from(items), max_size=3))
    order = draw(st.permutations(items + repeated))
    return items, order


GUID_SHAPES = [
    "tag:os2.eu,2026:{n}",
    "https://os2.eu/?p={n}",
    "https://os2.eu/2017/06/26.html#a{n}",
    "https://os2.eu/p/{n}",
]


def _note(n: int, link: str, text: str) -> Item:
    return Item("Nyhed", link, f"<p>{text}</p>", WHEN, guid=f"tag:os2.eu,2026:{n}")


# Found by this property: two posts of one title, date and text (1 and 4), each repeated;
# repeated, 1 went by what it says, not its link, and so did 4: they were one post.
_PAGE = "https://os2.eu/2017/06/26.html"
_ITEMS = [_note(0, f"{_PAGE}#a0", "Samme tekst."), _note(1, f"{_PAGE}#a1", "Anden tekst."),
          _note(2, f"{_PAGE}#a0", "Samme tekst."), _note(3, f"{_PAGE}#a0", "Samme tekst."),
          _note(4, _PAGE, "Anden tekst.")]  # fmt: skip


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents(), st.randoms(use_true_random=False))
@example((_ITEMS, [*_ITEMS, _ITEMS[1], _ITEMS[4]]), random_module.Random(0))
def test_distinct_ids_in_are_that_many_entries_stored(document, random):
    items, order = document
    with tempfile.TemporaryDirectory() as directory:
        store = Store.open(Path(directory) / "a.db")
        store.sync_feeds([FeedConfig(name="OS2", url=FEED)], WHEN)
        feed = FeedConfig(name="OS2", url=FEED)
        apply(store, feed, rss("OS2", "https://os2.eu/", order))
        assert store.entry_count() == len(items)
        # Polled again in another order: the same posts, none new, none lost.
        random.shuffle(order)
        apply(store, feed, rss("OS2", "https://os2.eu/", order))
        assert store.entry_count() == len(items)
        (count,) = store.db.execute("SELECT count(*) FROM entry_sources").fetchone()
        assert count == len(items)
        store.close()


def test_a_post_keyed_by_its_id_does_not_take_a_third_posts_link_key(publish, store):
    # Repeats make the ids look broken, so links key the posts. One post's id is the URL a
    # second post links to; going by its own id instead, the second post's key becomes a
    # fragment URL that a third post links to; that third post goes by its id too.
    page = "https://os2.eu/2017/06/26.html"
    a = Item("Nyhed", f"{page}#a0", "<p>Samme tekst.</p>", WHEN, guid="https://os2.eu/p/1")
    b = Item("Nyhed", f"{page}#a0", "<p>Samme tekst.</p>", WHEN, guid="tag:os2.eu,2026:2")
    c = Item("Nyhed", "https://os2.eu/p/1", "<p>Samme tekst.</p>", WHEN, guid=f"{page}#a3")
    d = Item("Nyhed", f"{page}#a3", "<p>Samme tekst.</p>", WHEN, guid="tag:os2.eu,2026:9")
    body = rss("OS2", "https://os2.eu/", [a, b, c, d, b, b, d])
    assert publish("/os2", body).new == 4
    assert store.entry_count() == 4
    assert publish("/os2", body).new == 0
