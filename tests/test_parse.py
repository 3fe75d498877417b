from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aggregator.errors import ParseError
from aggregator.parse import parse_feed
from tests.conftest import FIXTURES, fixture_text


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


CORPUS = FIXTURES.parent / "corpus"


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "feedparser"])
def test_a_mastodon_post_is_its_text_not_its_image_description(fast):
    """feedparser reads the image's media:description as a second description (content)."""
    document = (CORPUS / "mastodon.xml").read_bytes()
    headers = {"content-type": "application/rss+xml; charset=utf-8"}
    feed = parse_feed(document, "https://social.example.dk/x.rss", headers, fast=fast)
    assert feed.entries[0].content_html.startswith("<p>Nu kan borgerne se deres sager ét sted.")
    assert "Skærmbillede" not in feed.entries[0].content_html


_PODCAST = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"><channel>
<title>Podcast</title><link>https://kl.example.dk/</link>
<item><title>Afsnit 4</title><guid>a4</guid>
<description>&lt;p&gt;Shownoter med &lt;a href="https://kl.example.dk/"&gt;link&lt;/a&gt;&lt;/p&gt;</description>
<itunes:summary>{summary}</itunes:summary></item>
</channel></rss>"""


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "feedparser"])
@pytest.mark.parametrize(
    ("summary", "body"),
    [
        # plain text after the HTML description: the description is the body
        ("Kort resumé på dansk", '<p>Shownoter med <a href="https://kl.example.dk/">link</a></p>'),
        # text feedparser takes for HTML (a close tag, known entities) is content proper
        ("&lt;p&gt;Resumé &amp;amp; noter&lt;/p&gt;", "<p>Resumé &amp; noter</p>"),
    ],
    ids=["plain", "html-looking"],
)
def test_a_podcasts_plain_itunes_summary_yields_to_its_html_description(fast, summary, body):
    document = _PODCAST.format(summary=summary).encode()
    feed = parse_feed(document, "https://kl.example.dk/podcast.xml",
                      {"content-type": "application/rss+xml"}, fast=fast)  # fmt: skip
    assert feed.entries[0].content_html == body


def test_the_html_guess_vouches_only_for_elements_feedparser_accepts():
    from feedparser.sanitizer import _HTMLSanitizer

    from aggregator.parse_rules import _COMMON_ELEMENTS, plain_text_kind

    assert set(_HTMLSanitizer.acceptable_elements) >= _COMMON_ELEMENTS
    from feedparser.mixin import _FeedParserMixin

    for text in ("Ingen tags", "<p>Et afsnit</p>", "Æ &aelig; ø", "&bogus; ord", "a < b", "<br/>",
                 "&#230;", "<P>Stort</P>", "<em>x</em> &amp;"):  # fmt: skip
        expected = "text/html" if _FeedParserMixin.looks_like_html(text) else "text/plain"
        assert plain_text_kind(text) == expected, text
    with pytest.raises(Exception, match="may not take for HTML"):
        plain_text_kind("<details>mere</details>")
