"""Charset decoding: the declared or detected charset, only a bad byte replaced, UTF-8 over a
legacy declaration that the bytes contradict."""

from __future__ import annotations

import pytest

from aggregator.decode import to_utf8
from aggregator.parse import parse_feed

TITLE = "Blåbær og æbler på Ærø, øl"


def rss(declaration: str | None, title: str = TITLE) -> str:
    head = f'<?xml version="1.0" encoding="{declaration}"?>' if declaration else ""
    return (
        f"{head}<rss version='2.0'><channel><title>Ærø</title><link>https://aeroe.dk/</link>"
        f"<item><title>{title}</title><link>https://aeroe.dk/1</link>"
        "<description>Søndag på Ærø</description></item>"
        "<item><title>Øl</title><link>https://aeroe.dk/2</link></item></channel></rss>"
    )


def titles(body: bytes, content_type: str = "application/rss+xml") -> list[str]:
    parsed = parse_feed(body, "https://aeroe.dk/feed", {"Content-Type": content_type})
    return [entry.title for entry in parsed.entries]


@pytest.mark.parametrize("declaration", ["UTF-8", None])
def test_one_bad_byte_replaces_only_that_byte(declaration):
    body = rss(declaration).encode().replace(", øl".encode(), b"\xe6 \xf8l")
    first, second = titles(body)
    assert first == "Blåbær og æbler på Ærø\ufffd \ufffdl"
    assert second == "Øl"
    assert to_utf8(body).notes == ("2 invalid UTF-8 bytes replaced",)


@pytest.mark.parametrize(
    ("declaration", "content_type"),
    [
        ("ISO-8859-1", "application/rss+xml"),
        ("windows-1252", "text/xml"),
        (None, "text/xml; charset=iso-8859-1"),
        ("UTF-8", "application/xml; charset=ISO-8859-1"),
    ],
)
def test_a_legacy_declaration_contradicted_by_utf8_bytes(declaration, content_type):
    assert titles(rss(declaration).encode("utf-8"), content_type) == [TITLE, "Øl"]


@pytest.mark.parametrize(
    ("declaration", "encoding", "content_type"),
    [
        ("ISO-8859-1", "iso-8859-1", "application/rss+xml"),
        ("ISO-8859-15", "iso-8859-15", "application/rss+xml"),
        (None, "iso-8859-1", "application/rss+xml; charset=iso-8859-1"),
        ("windows-1252", "cp1252", "text/xml"),
        (None, "cp1252", "application/xml"),  # nothing says: a guess, and a good one
        ("UTF-16", "utf-16", "application/xml"),  # with a byte order mark
        ("UTF-16", "utf-16-le", "application/xml"),  # without one
    ],
)
def test_legacy_and_wide_charsets_keep_their_letters(declaration, encoding, content_type):
    assert titles(rss(declaration).encode(encoding), content_type) == [TITLE, "Øl"]


def test_valid_utf8_passes_through_untouched():
    body = rss("utf-8").encode()
    decoded = to_utf8(body, {"Content-Type": "application/rss+xml; charset=utf-8"})
    assert decoded.content is body
    assert decoded.notes == ()


def test_a_misdeclaration_is_noted_for_the_feed_status():
    parsed = parse_feed(rss("ISO-8859-1").encode(), "https://aeroe.dk/feed", {})
    assert parsed.warning == "declared ISO-8859-1 but sent UTF-8: read as UTF-8"


def test_surrogate_references_become_replacement_characters():
    body = rss("utf-8", title="Før &#xD800; og &#55296; efter").encode()
    first, second = titles(body)
    assert first == "Før \ufffd og \ufffd efter"
    assert second == "Øl"


@pytest.mark.parametrize(
    ("body", "title"),
    [
        (rss("utf-16").encode(), TITLE),
        (rss("us-ascii", "Bl&#229;b&#230;r").encode(), "Blåbær"),
    ],
)
def test_a_declaration_the_header_and_bytes_contradict_is_rewritten(body, title):
    """.NET's StringWriter declares utf-16 on UTF-8 bytes served as UTF-8: no parser may
    believe the declaration over them (feedparser alone reads nothing of it)."""
    content_type = "application/rss+xml; charset=utf-8"
    decoded = to_utf8(body, {"Content-Type": content_type})
    assert decoded.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    assert titles(body, content_type) == [title, "Øl"]


@pytest.mark.parametrize("label", ["ISO-8859-1", "latin1", "us-ascii"])
def test_latin1_labels_are_read_as_windows_1252_as_browsers_read_them(label):
    # Word's curly quotes and the euro sign in a feed that says Latin-1.
    title = "“Ærø” sparer 2 mio. € på én løsning – også i år"
    body = rss(label, title).encode("cp1252")
    assert (to_utf8(body).encoding, titles(body)[0]) == ("cp1252", title)
