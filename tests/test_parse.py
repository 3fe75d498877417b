from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aggregator.errors import ParseError
from aggregator.parse import parse_feed
from aggregator.parse_rules import body
from tests.conftest import FIXTURES, fixture_text

CORPUS = FIXTURES.parent / "corpus"


@pytest.mark.parametrize(
    ("name", "version", "title", "first_entry_title"),
    [
        ("rss20.xml", "rss20", "OS2 – nyheder", "Fælles kommunal cloud: næste skridt"),
        ("rss10.rdf", "rss10", "KL – digitalisering", "Kunstig intelligens i borgerservice"),
        ("rss091.xml", "rss091", "KOMBIT nyt", "Støttesystemerne får ny brugerflade"),
        ("atom10.xml", "atom10", "Digitaliseringsstyrelsen", "Kommunernes fælles cloud"),
        ("atom03.xml", "atom03", "KIT@ – gammelt Atom", "Mødereferat fra årsmødet"),
    ],
)
def test_every_supported_format_parses(name, version, title, first_entry_title):
    parsed = parse_feed((FIXTURES / name).read_bytes(), f"https://example.dk/{name}")
    assert parsed.version.startswith(version)
    assert parsed.title == title
    assert parsed.entries[0].title == first_entry_title


def test_entry_fields_come_out_typed_and_in_utc():
    parsed = parse_feed((FIXTURES / "rss20.xml").read_bytes(), "https://os2.eu/feed")
    entry = parsed.entries[0]
    assert entry.guid == "https://os2.eu/?p=1412"
    assert entry.author == "Søren Ærø"
    assert entry.published == datetime(2026, 11, 17, 8, 0, tzinfo=UTC)
    assert "<strong>fælles platform</strong>" in entry.content_html
    assert parsed.language == "da"


@pytest.mark.parametrize(
    ("name", "encoding", "content_type", "expected_title"),
    [
        ("latin1.xml", "iso-8859-1", "application/rss+xml; charset=iso-8859-1",
         "Æbler, øl og ål på Ærø"),
        ("latin1.xml", "iso-8859-1", "application/xml", "Æbler, øl og ål på Ærø"),
        ("cp1252.xml", "windows-1252", "application/xml", "“Sådan går det” – årets økonomi"),
        ("rss20.xml", "utf-8", "text/xml; charset=utf-8", "Fælles kommunal cloud: næste skridt"),
    ],
)  # fmt: skip
def test_danish_letters_survive_each_encoding(name, encoding, content_type, expected_title):
    body = fixture_text(name).encode(encoding)
    parsed = parse_feed(body, "https://example.dk/feed", {"Content-Type": content_type})
    assert parsed.entries[0].title == expected_title


def test_http_charset_decides_when_the_document_does_not_say():
    body = fixture_text("latin1.xml").replace(' encoding="iso-8859-1"', "").encode("iso-8859-1")
    parsed = parse_feed(
        body, "https://example.dk/feed", {"Content-Type": "text/xml; charset=iso-8859-1"}
    )
    assert parsed.entries[0].title == "Æbler, øl og ål på Ærø"


def test_html_page_is_not_a_feed():
    with pytest.raises(ParseError, match="HTML page"):
        parse_feed(
            (FIXTURES / "page.html").read_bytes(),
            "https://example.dk/",
            {"Content-Type": "text/html; charset=utf-8"},
        )


def test_garbage_is_not_a_feed():
    with pytest.raises(ParseError, match="not a feed"):
        parse_feed(b"\x00\x01binary junk", "https://example.dk/feed")


_DOTNET = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:a10="http://www.w3.org/2005/Atom"><channel>
<title>Styrelsen</title><link>https://digst.example.dk/</link>
<item><guid isPermaLink="false">v1</guid><title>Ny vejledning</title>
<description>Styrelsen udgiver en ny vejledning.</description>
<a10:content type="text">Styrelsen udgiver i dag en vejledning om digital post,
som gælder fra 1. marts.</a10:content>
</item></channel></rss>"""


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "feedparser"])
def test_an_explicit_plain_text_content_is_the_body_not_the_short_description(fast):
    """.NET's syndication writer puts the whole text in a10:content and a line in description."""
    feed = parse_feed(_DOTNET.encode(), "https://digst.example.dk/rss",
                      {"content-type": "application/rss+xml"}, fast=fast)  # fmt: skip
    assert feed.entries[0].content_html.startswith("Styrelsen udgiver i dag en vejledning")


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "feedparser"])
def test_an_image_caption_is_not_taken_for_the_post(fast):
    """Mastodon puts the post in description and the image's alt text in media:description,
    which feedparser reads as a second description, so as content."""
    document = (CORPUS / "mastodon.xml").read_bytes()
    feed = parse_feed(document, "https://social.example.dk/@digifaelles.rss", fast=fast)
    first = feed.entries[0].content_html
    assert first.startswith("<p>Nu kan borgerne se deres sager ét sted.")
    assert "Skærmbillede" not in first


@pytest.mark.parametrize(
    ("contents", "summary", "expected"),
    [
        ([("text/plain", "Billedtekst")], "<p>Et langt opslag om <b>sager</b>.</p>", "summary"),
        (
            [("text/plain", "Hele teksten om digital post, som gælder fra 1. marts.")],
            "<p>En linje.</p>",
            "content",
        ),
        ([("text/plain", "Kort"), ("text/html", "<p>x</p>")], "<p>Meget længere</p>", "html"),
        ([("text/plain", "Samme tekst")], "Samme tekst", "content"),  # copied into summary
        ([], "<p>Kun et resumé</p>", "summary"),
        ([("text/plain", "")], "<p>Tomt indhold</p>", "summary"),
    ],
)
def test_which_body(contents, summary, expected):
    chosen = body(contents, summary)
    wanted = {"summary": summary, "html": "<p>x</p>"}.get(expected, contents and contents[0][1])
    assert chosen == wanted


_ITUNES = 'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"'
_SECOND_BODIES = {
    "description and a shorter itunes:summary": (
        "<description>&lt;p&gt;Vi taler med en arkitekt om &lt;strong&gt;FDA&lt;/strong&gt;."
        "&lt;/p&gt;&lt;hr&gt;&lt;p&gt;Hosted on Acast.&lt;/p&gt;</description><itunes:summary>"
        "&lt;p&gt;Vi taler med en arkitekt om &lt;strong&gt;FDA&lt;/strong&gt;.&lt;/p&gt;"
        "</itunes:summary>"
    ),
    "two descriptions, the second shorter": (
        "<description>&lt;p&gt;Første lange beskrivelse her.&lt;/p&gt;</description>"
        "<description>&lt;p&gt;Kort.&lt;/p&gt;</description>"
    ),
    "a plain description, then HTML": (
        "<description>Relative links løses som feedparser løser dem</description>"
        '<description>&lt;a href="2.png"&gt;to&lt;/a&gt;</description>'
    ),
    "an image caption after the post": (
        "<description>&lt;p&gt;Et langt opslag om sager og borgere.&lt;/p&gt;</description>"
        "<itunes:summary>Foto: R&amp;D-afdelingen</itunes:summary>"
    ),
}


@pytest.mark.parametrize("inner", _SECOND_BODIES.values(), ids=_SECOND_BODIES.keys())
def test_a_second_description_gives_one_body_on_both_roads(inner):
    """feedparser retypes a plain second description that looks like HTML: the fast path
    must give its body or decline (escaped markup, not CDATA)."""
    document = (
        f'<?xml version="1.0"?><rss version="2.0" {_ITUNES}><channel><title>T</title>'
        "<link>https://ex.dk/</link><item><title>x</title><link>https://ex.dk/1</link>"
        f"<guid>g</guid>{inner}</item></channel></rss>"
    ).encode()
    fast, slow = (
        parse_feed(document, "https://ex.dk/f", {"content-type": "application/rss+xml"}, fast=f)
        for f in (True, False)
    )
    assert fast.entries[0].content_html == slow.entries[0].content_html


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("headers", [{}, {"content-type": "application/rss+xml; charset=utf-8"}])
def test_sy_and_ttl_with_attributes_read_as_nothing_on_both_roads(fast, headers):
    """feedparser keeps such an element as its attributes: it is no period, and no crash (a
    namespace declaration is no attribute to it)."""
    document = (CORPUS / "rss-sy-attributes.xml").read_bytes()
    parsed = parse_feed(document, "https://sy.example.dk/feed", headers, fast=fast)
    assert (parsed.ttl_minutes, parsed.sy_period, parsed.sy_frequency) == (None, None, 2)
    assert [e.title for e in parsed.entries] == ["Første"]
