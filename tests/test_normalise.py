from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aggregator.normalise import (
    canonical_url,
    entry_id,
    entry_key,
    html_to_text,
    normalise_entry,
    person_name,
    sanitise_html,
    shorten,
)
from aggregator.types import ParsedEntry

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("https://os2.eu/blog/post", "https://os2.eu/blog/post"),
        ("http://os2.eu/blog/post", "https://os2.eu/blog/post"),
        ("https://WWW.OS2.eu/blog/post/", "https://os2.eu/blog/post"),
        ("https://os2.eu:443/blog/post#comments", "https://os2.eu/blog/post"),
        ("http://os2.eu:80/blog/post", "https://os2.eu/blog/post"),
        ("https://os2.eu/blog/post?utm_source=rss&utm_medium=feed", "https://os2.eu/blog/post"),
        ("https://os2.eu/p?b=2&a=1&fbclid=x&gclid=y&mc_cid=z", "https://os2.eu/p?a=1&b=2"),
        ("https://os2.eu:8443/blog/", "https://os2.eu:8443/blog"),
        ("https://os2.eu", "https://os2.eu/"),
        ("https://os2.eu/blog/Post", "https://os2.eu/blog/Post"),
        ("javascript:alert(1)", None),
        ("mailto:a@b.dk", None),
        ("", None),
        (None, None),
        ("https://[::1", None),
    ],
)
def test_canonical_url(url, canonical):
    assert canonical_url(url) == canonical


def test_sanitising_removes_everything_active():
    dirty = (
        '<p onclick="x()">Tekst</p><script>alert(1)</script><a href="javascript:alert(2)">a</a>'
        '<iframe src="https://evil.example/"></iframe><style>p{}</style>'
        '<img src="https://ok.example/a.png" onerror="alert(3)">'
    )
    clean = sanitise_html(dirty)
    for needle in ("onclick", "script", "javascript:", "iframe", "style", "onerror"):
        assert needle not in clean
    assert '<img src="https://ok.example/a.png">' in clean
    assert "<p>Tekst</p>" in clean


@pytest.mark.parametrize(
    ("image", "kept"),
    [
        ('<img src="https://x.dk/p.gif" width="1" height="1">', False),  # a tracking pixel
        ('<img src="/p.gif" width="0">', False),
        ('<img alt="Ærø">', False),  # shows nothing
        ('<img src="/a.png" width="600" height="1">', True),  # a rule, not a pixel
        ('<img src="/a.png" alt="Fotø: Søren">', True),
        ('<img src="/a.png" alt="width 1" title="height">', True),
    ],
)
def test_pixels_and_images_without_a_source_are_dropped(image, kept):
    clean = sanitise_html(f"<p>før{image}efter</p>", "https://blog.dk/indlaeg/")
    assert ("<img" in clean) is kept
    assert "før" in clean
    assert "efter" in clean


def test_links_are_made_safe_for_readers():
    assert 'rel="noopener noreferrer nofollow"' in sanitise_html('<a href="https://x.dk/">x</a>')


def test_html_to_text_keeps_block_boundaries_and_entities():
    assert html_to_text("<p>Første</p><p>Anden &amp; tredje</p>") == "Første Anden & tredje"
    assert html_to_text("<b>Kø</b>benhavn") == "København"


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("kort tekst", 300, "kort tekst"),
        ("ord " * 100, 30, "ord ord ord ord ord ord ord…"),
        ("Æbleskiver, gløgg og julehygge i Ålborg", 20, "Æbleskiver, gløgg…"),
    ],
)
def test_shorten_cuts_at_a_word_boundary(text, limit, expected):
    result = shorten(text.strip(), limit)
    assert result == expected
    assert len(result) <= limit


def _entry(**changes) -> ParsedEntry:
    values = {
        "guid": "id-1",
        "link": "https://os2.eu/a",
        "title": "Titel",
        "author": None,
        "content_html": "<p>Indhold</p>",
        "published": datetime(2026, 11, 20, tzinfo=UTC),
        "updated": None,
    }
    values.update(changes)
    return ParsedEntry(**values)  # type: ignore[arg-type]


def test_identity_falls_back_from_guid_to_link_to_content_hash():
    assert entry_key(_entry()) == "id-1"
    assert entry_key(_entry(guid=None)) == "https://os2.eu/a"
    hashed = entry_key(_entry(guid=None, link=None))
    assert hashed.startswith("sha256:")
    assert hashed == entry_key(_entry(guid=None, link=None))
    assert hashed != entry_key(_entry(guid=None, link=None, title="Anden titel"))


def test_repeated_entries_are_listed_as_unchanged_and_not_normalised():
    from aggregator.normalise import plan_update, raw_digest
    from aggregator.types import FetchResult, ParsedFeed

    same, edited, new = _entry(guid="a"), _entry(guid="b"), _entry(guid="c")
    known = frozenset({raw_digest(same, "a"), raw_digest(_entry(guid="b", title="Før"), "b")})
    parsed = ParsedFeed("f", None, None, None, "rss20", (same, edited, new))
    fetched = FetchResult(feed_url="f", fetched_at=NOW, status=200, content=b"<rss/>")
    plan = plan_update(fetched, parsed, NOW, known)
    assert plan.unchanged_keys == ("a",)
    assert [e.key for e in plan.entries] == ["b", "c"]
    assert plan.entries[0].raw_digest == raw_digest(edited, "b")
    assert raw_digest(same, "a") != raw_digest(same, "other key")


def test_entry_ids_are_stable_and_shared_through_the_canonical_url():
    a = entry_id("https://a.dk/feed", "x", "https://os2.eu/a")
    b = entry_id("https://b.dk/feed", "y", "https://os2.eu/a")
    assert a == b
    assert a.startswith("urn:uuid:")
    assert entry_id("https://a.dk/feed", "x", None) != entry_id("https://b.dk/feed", "x", None)


def test_missing_date_becomes_first_seen_and_future_is_clamped():
    assert normalise_entry(_entry(published=None), "f", NOW).published == NOW
    future = normalise_entry(_entry(published=NOW + timedelta(days=3000)), "f", NOW)
    assert future.published == NOW
    updated_only = normalise_entry(
        _entry(published=None, updated=datetime(2026, 11, 1, tzinfo=UTC)), "f", NOW
    )
    assert updated_only.published == datetime(2026, 11, 1, tzinfo=UTC)


def test_title_is_plain_text_and_never_empty():
    plan = normalise_entry(_entry(title="<b>Fed</b> &amp; klar"), "f", NOW)
    assert plan.title == "Fed & klar"
    untitled = normalise_entry(_entry(title="", content_html="<p>Kun indhold her</p>"), "f", NOW)
    assert untitled.title == "Kun indhold her"


def test_unsafe_links_are_dropped():
    plan = normalise_entry(_entry(link="javascript:alert(1)"), "f", NOW)
    assert plan.link is None
    assert plan.canonical_url is None


@pytest.mark.parametrize(
    "dirty",
    [
        "<p>Første</p><p>Anden &amp; tredje</p>",
        '<p title="a > b">Kø<b>ben</b>havn</p><ul><li>én</li><li>to</li></ul>',
        "<div><h2>Overskrift</h2>tekst&nbsp;med&nbsp;mellemrum<br>ny linje</div>",
        "<script>alert(1)</script><style>p{}</style>synligt",
        "ren tekst uden tags",
        "<table><tr><td>a</td><td>b</td></tr></table><p>&lt;kode&gt;</p>",
    ],
)
def test_text_of_clean_html_equals_the_full_parse(dirty):
    from aggregator.normalise import sanitised_text

    clean = sanitise_html(dirty)
    assert sanitised_text(clean) == html_to_text(clean)


@pytest.mark.parametrize(
    ("author", "name"),
    [
        ("Jens Ø (noreply@blogger.com)", "Jens Ø"),  # Blogger, as feedparser gives it
        ("aase@example.dk (Åse Øby)", "Åse Øby"),  # RSS 2.0 author
        ("Redaktionen <red@example.dk>", "Redaktionen"),
        ("bo@example.dk", "bo@example.dk"),
        ("noreply@blogger.com", ""),
        ("KL (Kommunernes Landsforening)", "KL (Kommunernes Landsforening)"),
    ],
)
def test_the_person_is_named_not_their_address(author, name):
    assert person_name(author) == name
