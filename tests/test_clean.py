"""The defences against hostile feed text, through normalise as every entry goes."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from aggregator.clean import (
    MAX_CONTENT_BYTES,
    MAX_NESTING,
    MAX_TITLE_CHARS,
    flatten_nesting,
    safe_url,
    xml_text,
)
from aggregator.normalise import normalise_entry, plan_update
from aggregator.types import FetchResult, ParsedEntry, ParsedFeed

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
FEED = "https://blog.example.dk/feed.xml"


def _entry(**changes: object) -> ParsedEntry:
    values: dict[str, object] = {
        "guid": "id-1",
        "link": "https://blog.example.dk/post",
        "title": "Sikker titel",
        "author": "Åse Ørsted",
        "content_html": "<p>Indhold om digitalisering</p>",
        "published": NOW - timedelta(days=1),
        "updated": None,
    }
    values.update(changes)
    return ParsedEntry(**values)  # type: ignore[arg-type]


FORBIDDEN = ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1f", "\ud800", "\ufffe", "\uffff"]


@pytest.mark.parametrize("char", FORBIDDEN)
def test_every_text_field_loses_the_characters_xml_forbids(char):
    plan = normalise_entry(
        _entry(
            guid=f"id{char}1",
            title=f"Tit{char}el &#x1; æøå",
            author=f"Åse{char} Ørsted",
            content_html=f"<p>Ind{char}hold &#x1;&#1; &#0; her</p>",
            language=f"da{char}",
        ),
        FEED,
        NOW,
    )
    fields = [plan.key, plan.title, plan.author, plan.content_html, plan.summary_text]
    fields.append(plan.language)
    for value in fields:
        assert value is not None
        assert xml_text(value) == value, repr(value)
    assert plan.title == "Titel  æøå".replace("  ", " ") or "æøå" in plan.title
    assert "æøå" in plan.title
    assert plan.author == "Åse Ørsted"
    assert plan.language == "da"


def test_tab_newline_and_carriage_return_are_kept():
    assert xml_text("a\tb\nc\rd") == "a\tb\nc\rd"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("javascript:alert(document.cookie)", None),
        ("JaVaScRiPt:alert(1)", None),
        (" javascript:alert(1)", None),
        ("data:text/html,<script>alert(1)</script>", None),
        ("vbscript:msgbox", None),
        ("java\tscript:alert(1)", None),
        ("http://exa mple.dk/", None),
        ("http://[::1", None),
        ("http://host:99999/", None),
        ("https://", None),
        ("/indlaeg/1", "https://blog.example.dk/indlaeg/1"),
        ("indlaeg/1", "https://blog.example.dk/indlaeg/1"),
        ("//cdn.example.dk/x", "https://cdn.example.dk/x"),
        ("https://other.example.dk/æøå", "https://other.example.dk/æøå"),
    ],
)
def test_one_url_check_for_every_url(value, expected):
    assert safe_url(value, FEED) == expected


def test_unsafe_feed_and_entry_urls_never_reach_the_plan():
    fetched = FetchResult(feed_url=FEED, fetched_at=NOW, final_url=FEED, status=200, content=b"x")
    parsed = ParsedFeed(
        url=FEED,
        title="Blog",
        site_url="javascript:alert(document.cookie)",
        language="da",
        version="rss20",
        entries=(
            _entry(link="javascript:alert(1)", content_base="javascript:alert(2)"),
            _entry(guid="id-2", link="/relativ"),
        ),
    )
    plan = plan_update(fetched, parsed, NOW)
    assert plan.site_url is None
    assert plan.entries[0].link is None
    assert plan.entries[1].link == "https://blog.example.dk/relativ"


def test_relative_links_resolve_against_the_document_after_a_redirect():
    fetched = FetchResult(
        feed_url=FEED, fetched_at=NOW, final_url="https://new.example.dk/rss", content=b"x"
    )
    parsed = ParsedFeed(FEED, "Blog", "/", "da", "rss20", (_entry(link="post/1"),))
    plan = plan_update(fetched, parsed, NOW)
    assert plan.site_url == "https://new.example.dk/"
    assert plan.entries[0].link == "https://new.example.dk/post/1"


def test_title_author_and_content_are_capped():
    words = "digitalisering " * 200_000
    plan = normalise_entry(
        _entry(title=words, author=words, content_html=f"<p><b>{words}</b></p>" * 3), FEED, NOW
    )
    assert len(plan.title) <= MAX_TITLE_CHARS
    assert plan.title.endswith("digitalisering…")
    assert len(plan.author or "") <= 200
    assert len(plan.content_html.encode()) <= MAX_CONTENT_BYTES
    assert plan.content_html.startswith("<p><b>digitalisering")
    assert plan.content_html.endswith("</b></p>")


def test_a_feed_gives_at_most_its_newest_entries_per_poll():
    entries = tuple(
        _entry(guid=f"id-{i}", link=f"https://blog.example.dk/{i}", published=NOW - timedelta(i))
        for i in range(50)
    )
    shuffled = entries[25:] + entries[:25]
    fetched = FetchResult(feed_url=FEED, fetched_at=NOW, final_url=FEED, content=b"x")
    parsed = ParsedFeed(FEED, "B", None, None, "rss20", shuffled)
    plan = plan_update(fetched, parsed, NOW, max_entries=10)
    assert sorted(e.key for e in plan.entries) == sorted(f"id-{i}" for i in range(10))


@pytest.mark.parametrize("tag", ["div", "span", "blockquote", "b", "table"])
def test_deep_nesting_is_flattened_before_sanitising(tag):
    depth = 100_000
    fragment = f"<{tag}>" * depth + "dybt æøå" + f"</{tag}>" * depth
    plan = normalise_entry(_entry(content_html=fragment), FEED, NOW)
    assert "dybt æøå" in plan.content_html
    # Only the outer MAX_NESTING levels reach the sanitiser (whose cost grows with depth).
    assert 0 < plan.content_html.count(f"<{tag}") <= MAX_NESTING


def test_ordinary_markup_is_left_alone_by_the_depth_bound():
    fragment = "<ul>" + "<li><p>punkt <b>fed</b> <a href='/x'>link</a></p></li>" * 300 + "</ul>"
    assert flatten_nesting(fragment) == fragment
    unclosed = "<p>afsnit" * 1000
    assert flatten_nesting(unclosed) == unclosed


@pytest.mark.parametrize("length", [1, 127, 128, 3000])
def test_long_and_short_texts_lose_exactly_what_xml_forbids(length):
    """Long texts are checked by encoding, not by the regex: the same answer for every
    kind of string (ASCII, Latin-1 with æøå, wider, astral), wherever the character sits."""
    rng = random.Random(length)
    bodies = ["a" * length, "æøå " * (length // 4 + 1), "– æ 🐟 " * (length // 6 + 1)]
    for body in (b[:length] for b in bodies):
        assert xml_text(body) == body
        for char in [*FORBIDDEN, "\t", "\n", "\r", "\x7f", "\x85", "\u2028", "\ufffd"]:
            at = rng.randrange(len(body) + 1)
            value = body[:at] + char + body[at:]
            expected = value if char in "\t\n\r\x7f\x85\u2028\ufffd" else body
            assert xml_text(value) == expected, (length, repr(char), at)
