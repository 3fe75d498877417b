"""The parse equivalence test over the fixture corpus (harness: tests/equivalence.py).

For every fixture, the entries we would store equal feedparser's, field by field (ids, titles,
links, dates, authors, categories, enclosures, content text), except where BETTER says why we
differ on purpose; and the fast path never changes what is stored.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aggregator.parse import parse_feed
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


def test_which_fixtures_take_the_fast_path():
    """Written to artifacts/ for whoever widens the fast path next; the shapes below must
    keep going to feedparser until the fast path reads them exactly as it does."""
    taken = {f.name: fast_path_taken(f) for f in CORPUS}
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "fast-path.txt").write_text(
        "".join(f"{'fast' if fast else 'feedparser'}\t{name}\n" for name, fast in taken.items()),
        encoding="utf-8",
    )
    assert sum(taken.values()) >= 0.5 * len(taken)
    feedparser_shapes = (
        "youtube.atom",
        "media-rss.xml",
        "podcast.xml",
        "podcast-itunes-only.xml",
        "atom-xhtml.atom",
        "atom-xmlbase.atom",
        "rss-malformed.xml",
        "medium.xml",
    )
    for shape in feedparser_shapes:
        assert not taken[shape], shape
