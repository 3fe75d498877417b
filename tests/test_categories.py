"""Categories and enclosures, carried from the feed to the stored entry the outputs read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aggregator.normalise import clean_categories, clean_enclosures
from aggregator.parse import parse_feed
from aggregator.pipeline import poll
from aggregator.types import Enclosure
from tests.feedgen import Item, rss
from tests.feedserver import feed_route

WHEN = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
PODCAST = Item(
    "Afsnit 7: Ærø får fibernet",
    "https://kl.dk/podcast/7",
    "<p>Vi taler om fibernet på Ærø.</p>",
    WHEN,
    guid="kl-podcast-7",
    categories=("Digitalisering", "Bredbånd", "digitalisering", " Ø-kommuner "),
    enclosures=(("https://kl.dk/lyd/7.mp3", "audio/mpeg", 48_213_112),),
)
ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:dc="http://purl.org/dc/elements/1.1/">
<title>Digst</title><link href="https://digst.dk/"/><id>urn:digst</id>
<updated>2026-11-20T09:00:00Z</updated>
<entry><id>urn:digst:1</id><title>MitID til erhverv</title>
<link href="https://digst.dk/nyt/mitid"/><link rel="enclosure" href="/filer/mitid.pdf"
 type="application/pdf" length="1200"/>
<category term="mitid" label="MitID"/><category label="Kun etiket"/>
<updated>2026-11-20T09:00:00Z</updated><content type="html">&lt;p&gt;Nyt.&lt;/p&gt;</content>
</entry></feed>"""


@pytest.fixture
def publish(server, make_config, store, clock):
    def publish_once(body: bytes, content_type: str = "application/rss+xml"):
        url = server.route("/f", feed_route(body, content_type, last_modified=None))
        clock.advance(timedelta(hours=2))
        return poll(make_config([{"name": "F", "url": url}]), store, clock=clock)

    return publish_once


def test_categories_and_enclosures_reach_the_stored_entry(publish, store):
    assert publish(rss("KL", "https://kl.dk/", [PODCAST])).new == 1
    (entry,) = store.recent_entries(10)
    assert entry.categories == ("Digitalisering", "Bredbånd", "Ø-kommuner")
    assert entry.enclosures == (Enclosure("https://kl.dk/lyd/7.mp3", "audio/mpeg", 48_213_112),)


def test_atom_categories_and_enclosure_links(publish, store):
    publish(ATOM.encode(), "application/atom+xml")
    (entry,) = store.recent_entries(10)
    assert entry.categories == ("mitid", "Kun etiket")
    # The relative href is resolved against the feed's URL, as the entry's link would be.
    assert entry.enclosures[0].url.endswith("/filer/mitid.pdf")
    assert entry.enclosures[0].url.startswith("http://127.0.0.1:")
    assert entry.enclosures[0].type == "application/pdf"
    assert entry.enclosures[0].length == 1200


def test_a_retagged_post_is_kept_current_without_counting_as_an_edit(publish, store):
    publish(rss("KL", "https://kl.dk/", [PODCAST]))
    retagged = Item(**{**PODCAST.__dict__, "categories": ("Podcast",), "enclosures": ()})
    report = publish(rss("KL", "https://kl.dk/", [retagged]))
    assert report.new == 0
    assert report.updated == 0
    (entry,) = store.recent_entries(10)
    assert entry.categories == ("Podcast",)
    assert entry.enclosures == ()


def test_an_edited_post_takes_its_new_categories(publish, store):
    publish(rss("KL", "https://kl.dk/", [PODCAST]))
    edited = Item(**{**PODCAST.__dict__, "html": "<p>Nu med mere.</p>", "categories": ("Ny",)})
    assert publish(rss("KL", "https://kl.dk/", [edited])).updated == 1
    (entry,) = store.recent_entries(10)
    assert entry.categories == ("Ny",)
    assert len(entry.enclosures) == 1


def test_the_feedparser_path_carries_them_too():
    # ISO-8859-1 is a charset the fast path leaves to feedparser.
    body = rss("KL", "https://kl.dk/", [PODCAST]).replace(b"utf-8", b"iso-8859-1")
    body = body.decode("utf-8").encode("iso-8859-1")
    (entry,) = parse_feed(body, "https://kl.dk/feed").entries
    assert entry.categories == ("Digitalisering", "Bredbånd", "digitalisering", "Ø-kommuner")
    assert entry.enclosures == (Enclosure("https://kl.dk/lyd/7.mp3", "audio/mpeg", 48_213_112),)


def test_cleaning_bounds_what_a_feed_can_say():
    many = [f"tag {n}" for n in range(500)]
    assert len(clean_categories(many)) == 50
    assert clean_categories(["<b>fed</b> &amp; glad", "", "  "]) == ("fed & glad",)
    kept = clean_enclosures(
        [
            Enclosure("javascript:alert(1)"),
            Enclosure("https://kl.dk/a.mp3", "text/html"),
            Enclosure("https://kl.dk/a.mp3", "audio/mpeg"),
            Enclosure("/relative.mp3"),
        ]
    )
    assert kept == (Enclosure("https://kl.dk/a.mp3", None, None),)
