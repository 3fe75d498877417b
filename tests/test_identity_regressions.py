"""Two entries of one document with different ids are two posts, in the first poll and in
every later one; found by tests/test_identity_in_document.py's property (5 ids stored as 4).
Through the loopback server, the parser and a real SQLite file."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from aggregator.config import FeedConfig
from aggregator.normalise import document_keys, plan_update
from aggregator.parse import parse_feed
from aggregator.pipeline import poll
from aggregator.store import Store
from aggregator.store.entries import MergeRules
from aggregator.types import FetchResult, ParsedEntry
from tests.feedgen import Item, rss
from tests.feedserver import feed_route

WHEN = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
SITE = "https://os2.eu/"
PAGE = "https://os2.eu/2017/06/26.html"
BODY = (
    "<p>Byrådet har vedtaget en ny strategi for digital velfærd, som skal gøre det lettere "
    "for borgerne at bruge selvbetjening. Strategien gælder fra næste år og omfatter "
    "både skoler, ældrepleje og jobcentre i hele kommunen.</p>"
)
EDITED = BODY.replace("lettere", "meget lettere")


def note(n: int, link: str, text: str) -> Item:
    return Item("Nyhed", link, f"<p>{text}</p>", WHEN, guid=f"tag:os2.eu,2026:{n}")


# The property's example: two posts of one title, date and text, one an anchor of a daily
# page and one the page itself, each repeated, next to three that share another anchor.
A = note(1, f"{PAGE}#a1", "Anden tekst.")
B = note(4, PAGE, "Anden tekst.")
OTHERS = [note(n, f"{PAGE}#a0", "Samme tekst.") for n in (0, 2, 3)]


@pytest.fixture
def publish(server, make_config, store, clock):
    config = make_config([{"name": "OS2", "url": server.url("/os2")}])

    def publish_to(items: list[Item]):
        server.route("/os2", feed_route(rss("OS2", SITE, items), last_modified=None))
        clock.advance(timedelta(hours=2))
        return poll(config, store, clock=clock)

    return publish_to


def _posts_of_keys(store: Store) -> dict[str, str]:
    return dict(store.db.execute("SELECT entry_key, entry_id FROM entry_sources").fetchall())


def test_a_repeated_post_keeps_its_link_and_another_of_its_words_is_not_lost(publish, store):
    # Repeats make the ids untrusted: the posts go by their links. A repeated post's link
    # was taken for a link that keys several posts, so it went by what it says, and the
    # other post of its title, date and text, also repeated, took that same key.
    document = [OTHERS[0], A, *OTHERS[1:], B, A, B]
    assert publish(document).new == 5
    assert store.entry_count() == 5
    assert _posts_of_keys(store).keys() >= {f"{PAGE}#a1", PAGE}
    assert publish(document[::-1]).new == 0
    assert store.entry_count() == 5


def test_a_post_then_a_document_with_it_and_another_of_its_words_is_two(publish, store):
    assert publish([A, *OTHERS]).new == 4
    (first,) = [e.id for e in store.recent_entries(10) if e.link == f"{PAGE}#a1"]
    assert publish([A, B, *OTHERS, A, B]).new == 1
    assert store.entry_count() == 5
    keys = _posts_of_keys(store)
    assert keys[f"{PAGE}#a1"] == first  # the post kept its entry, the other has its own
    assert len(set(keys.values())) == 5


def test_an_anchor_post_whose_id_changed_is_found_by_its_anchor(publish, store):
    # A daily page's posts are its anchors: the stored link keeps its fragment, and so must
    # the stored copies looked up by link. Read as the page, the post whose id changed was
    # not found (stored twice), and the page's own new post took it instead.
    first = Item("Nyhed", f"{PAGE}#a1", "<p>Anden tekst.</p>", WHEN, guid="?p=1")
    other = Item("Status", f"{PAGE}#a0", "<p>Samme tekst.</p>", WHEN, guid="?p=0")
    assert publish([first, other]).new == 2
    (stored,) = [e.id for e in store.recent_entries(10) if e.title == "Nyhed"]
    moved = Item("Nyhed, rettet", f"{PAGE}#a1", "<p>Anden tekst.</p>", WHEN,
                 guid=f"{PAGE}#a1")  # fmt: skip
    page = Item("Nyhed", PAGE, "<p>Anden tekst.</p>", WHEN, guid="?p=4")
    assert publish([moved, page, other]).new == 1
    assert store.entry_count() == 3
    keys = _posts_of_keys(store)
    assert keys[f"{PAGE}#a1"] == stored
    assert keys["?p=4"] != stored


@pytest.mark.parametrize("title", ["Nyhed", "Andet"])
def test_a_post_whose_key_changed_keeps_its_entry_beside_a_post_at_its_page(publish, store,
                                                                            title):  # fmt: skip
    # Alone on its page, the anchor post's link is the page's in canonical form. Its key
    # changes (repeats make the ids untrusted: links key the posts); a new post at the page
    # itself, with its text, took its entry, by the title and date or by the canonical link,
    # and the post was stored again as new.
    assert publish([A]).new == 1
    (stored,) = [e.id for e in store.recent_entries(10)]
    page = Item(title, PAGE, A.html, WHEN, guid=B.guid)
    assert publish([page, A, A, page]).new == 1
    keys = _posts_of_keys(store)
    assert keys[f"{PAGE}#a1"] == stored
    assert keys[PAGE] != stored
    (shown,) = [e.link for e in store.recent_entries(10) if e.id == stored]
    assert shown == f"{PAGE}#a1"


@pytest.mark.parametrize(
    ("title", "html"),
    [("Nyhed", "<p>Samme tekst.</p>"),  # re-keyed by its title and date
     ("Ny strategi for velfærd", EDITED)],  # by its date and text (R13)
)  # fmt: skip
def test_a_post_re_keyed_and_its_old_id_back_as_another_post_are_two(publish, store,
                                                                     title, html):  # fmt: skip
    # A post without a link has an id made from its key. Re-keyed, it keeps that id; when the
    # old key came back beside the new one, the new post took that id's entry as its own.
    old = Item("Nyhed", None, BODY if html == EDITED else html, WHEN, guid="tag:os2.eu,2026:0")
    new = Item(title, None, html, WHEN, guid="tag:os2.eu,2026:1")
    assert publish([old]).new == 1
    assert publish([new]).new == 0  # the same post under its new id
    assert store.entry_count() == 1
    assert publish([old, new]).new == 1
    assert store.entry_count() == 2
    keys = _posts_of_keys(store)
    assert sorted(keys) == ["tag:os2.eu,2026:0", "tag:os2.eu,2026:1"]
    assert len(set(keys.values())) == 2
    assert sorted(e.title for e in store.recent_entries(10)) == sorted([old.title, new.title])


def _entry(guid: str, link: str, title: str, text: str) -> ParsedEntry:
    return ParsedEntry(guid, link, title, None, text, WHEN, None)


@pytest.mark.parametrize("reverse", [False, True])
def test_ids_that_each_name_two_items_are_still_two_posts(reverse):
    # Each id names two items (so neither is an item's own), and two of those items share a
    # link and say the same: keyed by what they say, they were one key.
    shared = "https://os2.eu/nyheder"
    entries = [
        _entry("x", shared, "Nyhed", "<p>Samme tekst.</p>"),
        _entry("w", shared, "Nyhed", "<p>Samme tekst.</p>"),
        _entry("x", "https://os2.eu/x", "Andet", "<p>Et.</p>"),
        _entry("w", "https://os2.eu/w", "Andet", "<p>To.</p>"),
    ]
    keys = document_keys(entries[::-1] if reverse else entries, trust_guid=False)
    assert len(set(keys)) == 4
    assert sorted(keys) == sorted(document_keys(entries, trust_guid=False))
    # The same item twice is still one post.
    assert len(set(document_keys([entries[0], entries[0], entries[2]], False))) == 2


# A sequence of documents from one pool of posts: whatever the store holds from the earlier
# ones, the ids of the document just read are that many posts.
FEED = "https://os2.eu/feed"
LINKS = [f"{PAGE}#a{{n}}", PAGE, "https://www.example.org/rapport", FEED, None,
         "https://os2.eu/p/{n}"]  # fmt: skip
TEXTS = ["<p>Samme tekst.</p>", "<p>Anden tekst.</p>", BODY, EDITED]


@st.composite
def pools(draw):
    count = draw(st.integers(2, 8))
    posts = []
    for n in range(count):
        link = draw(st.sampled_from(LINKS))
        posts.append(
            Item(
                draw(st.sampled_from(["Nyhed", "Status"])),
                link.format(n=draw(st.integers(0, 2))) if link else None,
                draw(st.sampled_from(TEXTS)),
                WHEN - timedelta(days=draw(st.integers(0, 2))),
                guid=draw(st.sampled_from(["tag:os2.eu,2026:{n}", "https://os2.eu/?p={n}"])).format(
                    n=n
                ),
            )
        )
    documents = []
    for _ in range(draw(st.integers(2, 3))):
        listed = draw(st.lists(st.sampled_from(posts), min_size=1, max_size=count, unique=True))
        repeated = draw(st.lists(st.sampled_from(listed), max_size=3))
        documents.append(draw(st.permutations(listed + repeated)))
    return documents


def _read(store: Store, body: bytes, at: datetime) -> list[str]:
    """Apply one document as a poll does; the keys it lists."""
    headers = {"content-type": "application/rss+xml"}
    fetched = FetchResult(feed_url=FEED, fetched_at=at, final_url=FEED, status=200,
                          content=body, headers=headers)  # fmt: skip
    plan = plan_update(fetched, parse_feed(body, FEED, headers), at)
    store.apply(plan, at, MergeRules())
    return [e.key for e in plan.entries] + list(plan.unchanged_keys)


_LINKLESS = [Item("Nyhed", None, "<p>Samme tekst.</p>", WHEN, guid=f"tag:os2.eu,2026:{n}")
             for n in range(2)]  # fmt: skip


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pools())
@example([[A, B, A, B], [A, B, *OTHERS, B]])
@example([[A], [B, A, A, B]])
@example([[_LINKLESS[0]], [_LINKLESS[1]], _LINKLESS])
def test_the_ids_of_each_document_are_that_many_posts(documents):
    with tempfile.TemporaryDirectory() as directory:
        store = Store.open(Path(directory) / "a.db")
        store.sync_feeds([FeedConfig(name="OS2", url=FEED)], WHEN)
        for n, document in enumerate(documents):
            keys = _read(store, rss("OS2", SITE, document), WHEN + timedelta(days=1, hours=n))
            assert len(keys) == len({item.guid for item in document})
            rows = store.db.execute(
                "SELECT entry_key, entry_id FROM entry_sources WHERE feed_url = ?", [FEED]
            ).fetchall()
            post_of = dict(rows)
            assert set(keys) <= post_of.keys()
            assert len({post_of[key] for key in keys}) == len(keys)
            assert len(rows) == len({entry for _, entry in rows})  # one feed: no merging
        store.close()
