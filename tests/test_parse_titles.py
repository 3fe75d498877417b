"""A title keeps its kind: markup is read only in an HTML title (review 5 #5).

In a plain-text title (JSON Feed, Atom ``type="text"``, an RSS title feedparser does not take
for HTML) ``<video>`` and ``&lt;`` are what the author wrote, and are stored as such. Both
parser roads decide the kind as feedparser does: outside Atom a nominally plain title is
HTML when it has an end tag or a reference and only tags and entities HTML knows.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from aggregator.decode import to_utf8
from aggregator.dedup import title_key
from aggregator.normalise import normalise_entry, raw_digest
from aggregator.parse import parse_feed
from aggregator.parse_fast import parse_fast
from aggregator.pipeline import poll
from tests.feedserver import feed_route

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
URL = "https://titler.example.dk/feed"


def _rss(title: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>T</title>'
        f"<item><title>{title}</title><link>https://titler.example.dk/1</link>"
        "<description>Om undervisning med video i folkeskolen.</description></item>"
        "</channel></rss>"
    ).encode()


def _atom(title: str, kind: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        "<title>T</title><id>urn:t</id><updated>2026-11-20T10:00:00Z</updated>"
        f'<entry><id>urn:t:1</id><title type="{kind}">{title}</title>'
        '<link href="https://titler.example.dk/1"/><updated>2026-11-20T10:00:00Z</updated>'
        "<summary>Om undervisning.</summary></entry></feed>"
    ).encode()


def _stored_title(document: bytes, fast: bool) -> str:
    headers = {"content-type": "application/xml; charset=utf-8"}
    if fast:  # the case is one the fast path reads, not one it leaves to feedparser
        decoded = to_utf8(document, headers)
        assert parse_fast(decoded.content, URL, decoded.headers) is not None
    parsed = parse_feed(document, URL, headers, fast=fast)
    return normalise_entry(parsed.entries[0], URL, NOW).title


ROADS = pytest.mark.parametrize("fast", [True, False], ids=["fast", "feedparser"])


@ROADS
@pytest.mark.parametrize(
    ("written", "stored"),
    [
        # no end tag and no reference: plain, "<video>" is the author's
        ("Brug af &lt;video&gt; i undervisning", "Brug af <video> i undervisning"),
        ("Hvad er &amp;lt;div&amp;gt;?", "Hvad er <div>?"),  # references: HTML
        ("&lt;b&gt;Fed&lt;/b&gt; titel", "Fed titel"),  # an end tag HTML knows: HTML
        ("C++ &amp;amp; &lt;T&gt;", "C++ &amp; <T>"),  # <T> is no HTML element: plain
        ("R&amp;D; &lt;/b&gt;", "R&D; </b>"),  # &D; is no HTML entity: plain
        ("Tid &amp; sted", "Tid & sted"),
        ("Æblekage &amp;amp; æøå", "Æblekage & æøå"),
    ],
)
def test_an_rss_title_is_html_only_where_feedparser_guesses_so(fast, written, stored):
    assert _stored_title(_rss(written), fast) == stored


@ROADS
@pytest.mark.parametrize(
    ("kind", "written", "stored"),
    [
        ("text", "Brug af &lt;video&gt; i undervisning", "Brug af <video> i undervisning"),
        ("text", "&lt;b&gt;Fed&lt;/b&gt; &amp;amp; &lt;/p&gt;", "<b>Fed</b> &amp; </p>"),
        ("html", "Brug af &lt;video&gt; i undervisning", "Brug af i undervisning"),
        ("html", "Hvad er &amp;lt;div&amp;gt;?", "Hvad er <div>?"),
        ("xhtml", '<div xmlns="http://www.w3.org/1999/xhtml">Om <b>fed</b> ø</div>', "Om fed ø"),
    ],
)
def test_an_atom_title_is_what_its_type_says(fast, kind, written, stored):
    assert _stored_title(_atom(written, kind), fast) == stored


def test_a_json_feed_title_is_plain_text():
    items = [
        {"id": "1", "title": "Brug af <video> i undervisning", "content_text": "x"},
        {"id": "2", "title": "C++ & <T> generics", "content_text": "x"},
        {"id": "3", "title": "Hvad er &lt;div&gt;?", "content_text": "x"},
    ]
    document = {"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": items}
    parsed = parse_feed(json.dumps(document).encode(), URL, {"content-type": "application/json"})
    titles = [normalise_entry(e, URL, NOW).title for e in parsed.entries]
    assert titles == [
        "Brug af <video> i undervisning",
        "C++ & <T> generics",
        "Hvad er &lt;div&gt;?",
    ]


def test_the_kind_is_part_of_what_the_feed_said():
    """An entry stored under the other reading is normalised again, not skipped as repeated."""
    entry = parse_feed(_rss("Brug af &lt;video&gt;"), URL).entries[0]
    assert not entry.title_is_html
    assert raw_digest(entry, "k") != raw_digest(replace(entry, title_is_html=True), "k")


def test_a_title_whose_kind_changes_updates_the_stored_entry(server, make_config, store, clock):
    """A real poll: the entry stored from an HTML title is updated in place, with its new
    title and title key, when the same post's title is plain text; no second entry."""
    written = "Brug af &lt;video&gt; i undervisning"
    route = server.route("/t", feed_route(_atom(written, "html"), "application/atom+xml"))
    config = make_config([{"name": "Titler", "url": route}])
    assert poll(config, store, clock=clock).new == 1
    row = store.db.execute("SELECT id, title, title_key FROM entries").fetchall()
    assert [r[1:] for r in row] == [("Brug af i undervisning", title_key("Brug af i undervisning"))]

    server.route("/t", feed_route(_atom(written, "text"), "application/atom+xml"))
    clock.now += timedelta(hours=1)
    report = poll(config, store, clock=clock)

    assert (report.new, report.updated) == (0, 1)
    title = "Brug af <video> i undervisning"
    after = store.db.execute("SELECT id, title, title_key FROM entries").fetchall()
    assert after == [(row[0][0], title, title_key(title))]
    assert [e.title for e in store.recent_entries(10)] == [title]
