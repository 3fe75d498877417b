"""The parse equivalence test over the fixture corpus (harness: tests/equivalence.py).

For every fixture, the entries we would store equal feedparser's, field by field (ids, titles,
links, dates, authors, categories, enclosures, content text), except where BETTER says why we
differ on purpose; and the fast path never changes what is stored.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from lxml import etree

from aggregator.decode import to_utf8
from aggregator.parse import parse_feed, parse_with_feedparser
from aggregator.parse_fast import parse_fast
from tests.equivalence import (
    Fixture,
    corpus,
    differences,
    fast_path_taken,
    ours,
    own_corpus,
    slow,
)

# Where we are deliberately not what feedparser is: fixture -> fields that differ, and why.
BETTER: dict[str, tuple[set[str], str]] = {
    "enc-utf8-one-bad-byte.xml": (
        {"text"},
        "one invalid byte: feedparser reads the whole document as windows-1252 (æøå garbled); "
        "we replace only that byte",
    ),
    "enc-utf8-one-bad-byte-undeclared.xml": ({"text"}, "as enc-utf8-one-bad-byte.xml"),
    "enc-dotnet-declared-utf16.xml": (
        {"reference"},
        "UTF-8 bytes declared utf-16 (.NET's StringWriter): feedparser believes the declaration "
        "and reads nothing; we read the bytes",
    ),
    "rss-bare-ampersand.xml": (
        {"title", "text"},
        'a bare & ("Q&A"): feedparser\'s loose parser reads "&A" as an unknown entity and '
        'writes "Q&A;"; we read the & as itself',
    ),
    "rss-surrogate.xml": (
        {"reference"},
        "feedparser raises UnicodeEncodeError on &#xD800; and reads nothing; we replace it",
    ),
    **{
        name: ({"reference"}, "feedparser does not read JSON Feed")
        for name in (
            "json-feed-10.json",
            "json-feed-11.json",
            "json-feed-podcast.json",
            "json-feed-text.json",
        )
    },
}
ARTIFACTS = Path(__file__).parent.parent / "artifacts"
CORPUS = corpus()


def test_the_corpus_is_our_own_and_large_enough():
    assert len(own_corpus()) >= 60
    assert set(BETTER) <= {f.name for f in CORPUS}


@pytest.mark.parametrize("fixture", CORPUS, ids=[f.name for f in CORPUS])
def test_stored_entries_equal_feedparsers(fixture: Fixture):
    found = differences(fixture)
    expected = BETTER.get(fixture.name, (set(), ""))[0]
    assert {d.field for d in found} == expected, found


@pytest.mark.parametrize("fixture", CORPUS, ids=[f.name for f in CORPUS])
def test_the_fast_path_stores_what_feedparser_would(fixture: Fixture):
    assert ours(fixture) == slow(fixture)


def test_every_distinct_id_is_a_stored_entry():
    collapsed = {}
    for fixture in CORPUS:
        parsed = parse_feed(fixture.body, fixture.url, fixture.headers)
        ids = [e.guid for e in parsed.entries]
        if all(ids) and len(set(ids)) > 0.8 * len(ids):  # ids the feed means
            stored = len(ours(fixture))
            if stored != len(set(ids)):
                collapsed[fixture.name] = (len(set(ids)), stored)
    assert collapsed == {}


def test_json_feeds_are_read_item_for_item():
    for fixture in CORPUS:
        if fixture.name.endswith(".json"):
            items = json.loads(fixture.body)["items"]
            assert len(ours(fixture)) == len({str(item["id"]) for item in items})


def _well_formed(fixture: Fixture) -> bool:
    """XML that lxml reads without recovery once decoded (JSON Feeds are another road)."""
    if fixture.name.endswith(".json"):
        return False
    try:
        etree.fromstring(to_utf8(fixture.body, fixture.headers).content, etree.XMLParser())
    except etree.XMLSyntaxError:
        return False
    return True


def test_the_fast_path_takes_nearly_every_well_formed_fixture():
    """Written to artifacts/ for whoever widens the fast path next."""
    taken = {f.name: fast_path_taken(f) for f in CORPUS if _well_formed(f)}
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "fast-path.txt").write_text(
        "".join(f"{'fast' if fast else 'feedparser'}\t{name}\n" for name, fast in taken.items()),
        encoding="utf-8",
    )
    assert sum(taken.values()) >= 0.95 * len(taken)
    for shape in ("youtube.atom", "media-rss.xml", "podcast.xml", "atom-xhtml.atom",
                  "atom-xmlbase.atom", "blogger.atom", "ghost.xml", "drupal.xml",
                  "enc-latin1.xml", "enc-cp1252.xml", "rss10-full.rdf", "atom-xhtml-rich.atom",
                  "rss-media-itunes-dc.xml", "rss-order-quirks.xml", "rss-xmlbase-levels.xml",
                  "rss10-dc-rich.rdf", "atom-content-language.atom", "sitecore-a10.xml",
                  "dotnet-syndication.xml", "sharepoint-list.xml", "wordpress-plugins.xml",
                  "wordpress-com-jetpack.xml", "squarespace.xml", "blogger-thr.atom",
                  "podcast-acast.xml", "podcast-podbean.xml", "rss-charrefs.xml",
                  "enc-dotnet-declared-utf16-header.xml", "mastodon.xml",
                  "rss-sy-attributes.xml", "rss-cet-zones.xml",
                  "rss-day-first-dates.xml", "rss-bare-ampersand.xml",
                  "podcast-html-guess.xml", "rss-title-kinds.xml",
                  "atom-title-kinds.atom"):  # fmt: skip
        assert taken[shape], shape
    # What it must leave to feedparser: a date it cannot vouch for (Danish month names), a
    # DOCTYPE, Atom 0.3, an author feedparser would give the e-mail address of the one before.
    for shape in ("rss-bad-dates.xml", "fixtures/rss091.xml", "fixtures/atom03.xml",
                  "atom-authors-email-carried.atom", "rss-danish-dates.xml"):  # fmt: skip
        assert not taken[shape], shape


@pytest.mark.parametrize("fixture", CORPUS, ids=[f.name for f in CORPUS])
def test_the_fast_path_parses_what_feedparser_parses(fixture: Fixture):
    """Stricter than the stored fields: the very ParsedFeed, so that a feed moving between the
    two roads never looks changed."""
    decoded = to_utf8(fixture.body, fixture.headers)
    fast = parse_fast(decoded.content, fixture.url, decoded.headers)
    if fast is not None:
        reference = parse_with_feedparser(decoded.content, fixture.url, decoded.headers)
        assert fast == replace(reference, warning=None)
