"""JSON Feed 1.0 and 1.1 input: the same ParsedFeed the XML parsers give."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from aggregator.errors import ParseError
from aggregator.export.jsonfeed import render_json_feed
from aggregator.export.select import Selector, build_site
from aggregator.parse import parse_feed
from aggregator.pipeline import poll
from aggregator.store.times import from_db_time
from aggregator.types import Enclosure
from tests.conftest import FIXTURES
from tests.feedserver import feed_route

FEED_11 = {
    "version": "https://jsonfeed.org/version/1.1",
    "title": "Kommunernes Landsforening – digitalisering",
    "home_page_url": "https://www.kl.dk/",
    "feed_url": "https://www.kl.dk/feed.json",
    "language": "da",
    "authors": [{"name": "KL Redaktionen"}],
    "next_url": "https://www.kl.dk/feed.json?page=2",
    "items": [
        {
            "id": "kl-2026-118",
            "url": "https://www.kl.dk/nyheder/faelles-cloud",
            "title": "Fælles cloud på Ærø",
            "content_html": "<p>Kommunerne går sammen om <b>cloud</b>.</p>",
            "summary": "Kort om cloud",
            "date_published": "2026-11-17T09:00:00+01:00",
            "date_modified": "2026-11-18T10:30:00Z",
            "authors": [{"name": "Søren Ærø"}, {"name": "Åse Øby"}],
            "tags": ["cloud", "økonomi"],
            "language": "da-DK",
            "attachments": [
                {"url": "/lyd/118.mp3", "mime_type": "audio/mpeg", "size_in_bytes": 1024}
            ],
        },
        {
            "id": 119,
            "external_url": "https://digst.dk/rapport",
            "content_text": "Første afsnit.\n\nAndet afsnit med <tegn> & mere.",
        },
    ],
}
FEED_10 = {
    "version": "https://jsonfeed.org/version/1",
    "title": "OS2 blog",
    "home_page_url": "https://os2.eu/",
    "author": {"name": "OS2"},
    "items": [
        {
            "id": "https://os2.eu/?p=7",
            "url": "https://os2.eu/blog/7",
            "title": "OS2 møde",
            "summary": "Kun et resumé",
            "date_published": "2026-11-10T08:00:00Z",
        }
    ],
}


def test_json_feed_11_fields():
    parsed = parse_feed(json.dumps(FEED_11).encode(), "https://www.kl.dk/feed.json")
    assert parsed.version == "json11"
    assert parsed.title == "Kommunernes Landsforening – digitalisering"
    assert parsed.site_url == "https://www.kl.dk/"
    assert parsed.language == "da"
    first, second = parsed.entries
    assert first.guid == "kl-2026-118"
    assert first.link == "https://www.kl.dk/nyheder/faelles-cloud"
    assert first.title == "Fælles cloud på Ærø"
    assert first.author == "Søren Ærø, Åse Øby"
    assert first.content_html == "<p>Kommunerne går sammen om <b>cloud</b>.</p>"
    assert first.published == datetime(2026, 11, 17, 8, 0, tzinfo=UTC)
    assert first.updated == datetime(2026, 11, 18, 10, 30, tzinfo=UTC)
    assert first.language == "da-DK"
    assert first.categories == ("cloud", "økonomi")
    assert first.enclosures == (Enclosure("https://www.kl.dk/lyd/118.mp3", "audio/mpeg", 1024),)
    # A numeric id is still an id; external_url is the link when there is no url; plain text
    # is shown as escaped paragraphs; the feed's authors stand in for the item's.
    assert second.guid == "119"
    assert second.link == "https://digst.dk/rapport"
    assert (
        second.content_html
        == "<p>Første afsnit.</p><p>Andet afsnit med &lt;tegn&gt; &amp; mere.</p>"
    )
    assert second.author == "KL Redaktionen"
    assert second.language == "da"
    assert parsed.warning is None


def test_json_feed_10_author_and_summary():
    parsed = parse_feed(json.dumps(FEED_10).encode(), "https://os2.eu/feed.json")
    assert parsed.version == "json1"
    (entry,) = parsed.entries
    assert entry.author == "OS2"
    assert entry.content_html == "Kun et resumé"
    assert entry.published == datetime(2026, 11, 10, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize("content_type", ["application/feed+json", "application/json", ""])
def test_chosen_by_media_type_or_by_its_first_byte(content_type):
    body = b"\xef\xbb\xbf\n  " + json.dumps(FEED_10).encode()
    parsed = parse_feed(body, "https://os2.eu/feed.json", {"Content-Type": content_type})
    assert parsed.entries[0].title == "OS2 møde"


@pytest.mark.parametrize("body", [b'{"title": "x", "items": []}', b"[1, 2]", b'{"version": 2}'])
def test_json_that_is_not_a_json_feed(body):
    with pytest.raises(ParseError, match=r"^not a feed: JSON but not a JSON Feed \(no version\)$"):
        parse_feed(body, "https://x.dk/feed.json", {"Content-Type": "application/json"})


def test_broken_json_served_as_json_says_so():
    with pytest.raises(ParseError, match="not valid JSON"):
        # Broken, not cut short (a body that ends early is a cut-off response: test_truncation).
        parse_feed(b'{"version": ]}', "https://x.dk/f.json", {"Content-Type": "application/json"})


def test_an_html_page_keeps_its_own_message():
    with pytest.raises(ParseError, match="HTML page"):
        parse_feed((FIXTURES / "page.html").read_bytes(), "https://x.dk/",
                   {"Content-Type": "text/html; charset=utf-8"})  # fmt: skip


def test_a_bad_field_is_dropped_and_its_siblings_kept():
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": ["not", "a", "string"],
        "items": [
            {"id": "1", "title": "God", "date_published": "i går", "tags": "cloud"},
            "not an item",
            {"id": "2", "title": {"x": 1}, "content_text": "Tekst \ud800 her",
             "attachments": [{"mime_type": "audio/mpeg"}, {"url": "https://x.dk/a.mp3",
                             "size_in_bytes": -4}]},
            {"id": "3", "date_published": "9999-12-31T23:00:00-05:00"},
        ],
    }  # fmt: skip
    parsed = parse_feed(json.dumps(feed).encode(), "https://x.dk/feed.json")
    assert [e.guid for e in parsed.entries] == ["1", "2", "3"]
    first, second, third = parsed.entries
    assert first.title == "God"
    assert first.published is None
    assert first.categories == ()
    assert second.title == ""
    assert "\ufffd" in second.content_html
    assert second.enclosures == (Enclosure("https://x.dk/a.mp3", None, None),)
    assert third.published is None
    assert parsed.title is None
    assert parsed.warning is not None
    for field in ("title", "date_published", "tags", "attachments.url", "size_in_bytes"):
        assert field in parsed.warning


def test_a_json_feed_is_polled_and_stored(server, make_config, store, clock):
    url = server.route(
        "/feed.json",
        feed_route(json.dumps(FEED_11).encode(), "application/feed+json", last_modified=None),
    )
    clock.advance(timedelta(hours=1))
    config = make_config([{"name": "KL", "url": url}])
    report = poll(config, store, clock=clock)
    assert report.new == 2
    assert not report.failed
    by_title = {e.title: e for e in store.recent_entries(10)}
    cloud = by_title["Fælles cloud på Ærø"]
    assert cloud.categories == ("cloud", "økonomi")
    assert cloud.enclosures[0].url == server.url("/lyd/118.mp3")  # relative to the feed
    (status,) = store.feed_statuses()
    assert status.state == "ok"
    assert status.title == "Kommunernes Landsforening – digitalisering"

    # What we publish ourselves reads back as the same posts.
    site = build_site(config, store, clock.now)
    ours = render_json_feed(Selector(config, store, site).recent(), site)
    again = parse_feed(ours, "https://aggregator.example/feed.json", {})
    assert sorted(e.title for e in again.entries) == sorted(by_title)
    assert {e.link for e in again.entries} == {e.link for e in by_title.values()}


def test_a_date_in_another_form_is_read_as_on_the_xml_roads(server, make_config, store, clock):
    """An RFC 822 date (a common generator mistake) or Danish words: the worded-date reader."""
    items = [
        {"id": "1", "title": "RFC 822", "date_published": "Tue, 24 Nov 2026 10:00:00 +0100"},
        {"id": "2", "title": "Dansk", "date_published": "24. november 2026"},
        {"id": "3", "title": "Ulæselig", "date_published": "i går"},
    ]
    feed = {"version": "https://jsonfeed.org/version/1.1", "title": "Datoer", "items": items}
    body = json.dumps(feed).encode()
    parsed = parse_feed(body, "https://x.dk/feed.json")
    assert [e.unread_dates for e in parsed.entries] == [
        (("published", "Tue, 24 Nov 2026 10:00:00 +0100"),),
        (("published", "24. november 2026"),),
        (("published", "i går"),),
    ]
    url = server.route("/d.json", feed_route(body, "application/feed+json", last_modified=None))
    poll(make_config([{"name": "Datoer", "url": url}]), store, clock=clock)
    rows = dict(store.db.execute("SELECT title, published FROM entries").fetchall())
    assert from_db_time(rows["RFC 822"]) == datetime(2026, 11, 24, 9, tzinfo=UTC)
    assert from_db_time(rows["Dansk"]) == datetime(2026, 11, 23, 23, tzinfo=UTC)
    assert from_db_time(rows["Ulæselig"]) == clock.now
