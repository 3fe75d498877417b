"""The shared reading rules' shortcuts give what the long way gives, for any input."""

from __future__ import annotations

from contextlib import suppress
from urllib.parse import urljoin

from hypothesis import example, given
from hypothesis import strategies as st

from aggregator.parse_rules import (
    _C1_POINTS,
    _C1_TABLE,
    _HTML_ELEMENTS,
    _SLASHES,
    finish,
    join,
    looks_like_html,
)


def _join_the_long_way(base: str, uri: str) -> str:
    try:
        return urljoin(base, _SLASHES.sub(r"\1\3", uri))
    except ValueError:
        return ""


def _finish_the_long_way(text: str) -> str:
    text = text.strip()
    if not text.isascii():
        with suppress(UnicodeEncodeError, UnicodeDecodeError):
            text = text.encode("iso-8859-1").decode("utf-8")
        if _C1_POINTS.search(text):
            text = text.translate(_C1_TABLE)
    return text


_URL_CHARACTERS = "aZ09./:?#;@%&=+-_~!$'()*,[] \t\nå\u00a0\x01"
_uris = st.tuples(
    st.sampled_from(["http://", "https://", "HTTP://", "http:///", "ftp://", "", "//", "/"]),
    st.text(_URL_CHARACTERS, max_size=30),
).map("".join)
_bases = st.sampled_from(
    ["", "http://127.0.0.1/feed/3", "https://blog.example.dk/a/b?x=1", "ftp://host/", "urn:x"]
)


@given(_bases, _uris)
@example("https://blog.example.dk/", "http://h/p?")
@example("https://blog.example.dk/", "http://h/p#")
@example("https://blog.example.dk/", "http://h/p;")
@example("https://blog.example.dk/", "http://[::1/p")
@example("https://blog.example.dk/", "http://h/a\tb")
@example("https://blog.example.dk/", "https://h?q=1")
def test_join_is_urljoin_after_feedparser_slashes(base: str, uri: str) -> None:
    assert join(base, uri) == _join_the_long_way(base, uri)


# Wide characters and a lone surrogate too: finish looks for U+0080-U+00BF in the UTF-8
# bytes, where a character of two, three or four bytes or a surrogate must not be taken
# for one (U+0100 begins with 0xC4, U+0800 with 0xE0 0xA0, U+D800 with 0xED 0xA0).
_TEXT_CHARACTERS = (
    "aæøåÆØÅé ½§«»\u00a0\u00c3\u00a6\u00c2\u0080\u0093\u2019\x9d\n"
    "\u00bf\u00c0\u00ff\u0100\u0142\u07ff\u0800\u20ac\ufffd\U0001f600\ud800\udcbf"
)


@given(st.text(_TEXT_CHARACTERS, max_size=20))
@example("Ã¦Ã¸Ã¥")  # UTF-8 read as Latin-1
@example("sm\u0093rrebr\u00f8d")  # a C1 point
@example(" Et indlæg om ærø ")
@example("\u20ac \u00bf")  # a wide text with one: no Latin-1 to repair, kept as it is
@example("\ud800 \u00c3\u00a6")  # a lone surrogate: the repair fails, as it does
def test_finish_is_the_long_way(text: str) -> None:
    assert finish(text) == _finish_the_long_way(text)


def test_the_html_elements_are_feedparsers():
    from feedparser.sanitizer import _HTMLSanitizer

    assert _HTMLSanitizer.acceptable_elements == _HTML_ELEMENTS


_MARKUP = st.text(alphabet="<>/&#;ab pæ1_-xX", max_size=24) | st.sampled_from(
    ["<p>x</p>", "&amp;", "&#8212;", "&euro; &foo;", "<video>x</video>", "<script>x</script>",
     "</ul_x>", "<æ>x</æ>", "&#x2014;", "Brug af <video>", "<P>X</P>", "a &nbsp b", "&AMP;"]
)  # fmt: skip


@given(_MARKUP)
@example("<p>R&D; ukendt</p>")
def test_looks_like_html_is_feedparsers_guess(text):
    from feedparser.mixin import _FeedParserMixin

    assert looks_like_html(text) == bool(_FeedParserMixin.looks_like_html(text))
