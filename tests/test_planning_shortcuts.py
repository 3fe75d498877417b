"""Planning's shortcuts give what the long way gives, for any input: URLs resolved in
sanitised HTML, canonical URLs, the scan left out of sanitising, stems through the cache,
the language count and dates in UTC."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import pytest
import Stemmer
from hypothesis import example, given
from hypothesis import strategies as st

from aggregator.canonical import _DEFAULT_PORTS, TRACKING_PARAMS
from aggregator.clean import (
    _IMG,
    _NEEDS_LOOK,
    _NOSCRIPT,
    _attributes,
    _lazy_source,
    _reveal,
    _unwrap,
    reveal_lazy_images,
    xml_text,
)
from aggregator.dedup import SHINGLE_WORDS, SKETCH_CHARS, SKETCH_WORDS, sketch
from aggregator.normalise import (
    canonical_url,
    resolve,
    sanitise_html,
    sanitised_content,
)
from aggregator.parse_rules import _stamp
from aggregator.search import _ALGORITHMS, _DANISH_WORDS, _ENGLISH_WORDS, _language_of, stems


def _resolve_the_long_way(value: str, base: str | None) -> tuple[str, str, str]:
    absolute = urljoin(base, value) if base else value
    parts = urlsplit(absolute)
    return absolute, parts.scheme, (parts.hostname or "").lower()


_URL_CHARACTERS = "aZ09./:?#;@%&=+-_~!$'()*,[]\\ \tå\u00a0\x01"
_values = st.tuples(
    st.sampled_from(["http://", "https://", "HTTP://", "https:///", "ftp://", "", "//", "/",
                     "./", "../", "bilag/", "a:", "javascript:"]),
    st.text(_URL_CHARACTERS, max_size=24),
).map("".join)  # fmt: skip
_bases = st.sampled_from(
    [None, "", "http://127.0.0.1/feed/3", "https://Blog.Example.dk/a/b?x=1#f", "https://h",
     "https://h/", "https://u@h:8080/a/b/", "https://h/a//b/c", "https://h/a/./b",
     "https://h/a/../b", "https://h/a;p/b", "https://h/a/b;p", "HTTPS://H/x/y", "ftp://host/x",
     "urn:x", "https://h/æø/å", "https://[::1]/a/b", "https://h:99999/a"]
)  # fmt: skip


@given(_values, _bases)
@example("bilag/9.pdf", "https://kommune.dk/nyheder/indlaeg")
@example("bilag/", "https://kommune.dk/")
@example("a/../b", "https://h/x/y")
@example("a//b", "https://h/x/y")
@example("https://U@Host.DK:8/p?q#f", "https://h/")
@example("https://h%AB/p", None)
@example("/rod/sti", "https://h/x/y")
def test_resolve_is_urljoin_and_urlsplit(value: str, base: str | None) -> None:
    assert _outcome(resolve, value, base) == _outcome(_resolve_the_long_way, value, base)


def _outcome(resolver: Callable[[str, str | None], tuple[str, str, str]], value: str,
             base: str | None) -> tuple[str, str, str] | str:  # fmt: skip
    try:
        return resolver(value, base)
    except ValueError as exc:
        return f"ValueError: {exc}"


def _canonical_the_long_way(url: str | None, keep_fragment: bool = False) -> str | None:
    import re

    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    if scheme not in ("http", "https") or not host:
        return None
    if not host.isascii():  # ærø.dk is xn--r-3fa9c.dk (review 8 R8-9)
        import idna

        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except idna.IDNAError:
            host = host.lower()  # no valid name: as written
    host = host.removeprefix("www.")
    if port and port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    path = re.sub(r"/{2,}", "/", parts.path or "/")
    if len(path) > 1:
        path = path.rstrip("/")
    query = sorted(
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if not key.lower().startswith("utm_") and key.lower() not in TRACKING_PARAMS
    )
    fragment = parts.fragment if keep_fragment else ""
    return urlunsplit(("https", host, path, urlencode(query), fragment))


@given(_values, st.booleans())
@example("https://www.Kommune.dk:443//a//b/?utm_source=x&b=2&a=1#top", True)
@example("https://h/p?", False)
@example("https://h/p?&", False)
@example(None, False)
@example("https://www.Ærø.dk/nyheder/", False)
@example("http://å", False)
def test_canonical_url_is_the_long_way(url: str | None, keep_fragment: bool) -> None:
    assert canonical_url(url, keep_fragment) == _canonical_the_long_way(url, keep_fragment)
    assert canonical_url(url) == _canonical_the_long_way(url)


_HTML_PIECES = st.sampled_from(
    ["<p>", "</p>", "<a href='/x'>", "</a>", "<img src='x' alt='ø'>", "<br>", "&amp;", "&lt;",
     "&nbsp;", "&Tab;", "&NewLine;", "&", "#", "&x1;", "<!-- c -->", "<script>", "</script>",
     "\x85", "\ufffd", "æøå", "\r", "\n", " ", "<td title='&quot;'>", "&#", "x"]
)  # fmt: skip


@given(st.lists(_HTML_PIECES, max_size=12).map("".join))
@example("&#1;")  # the form that does bring one: read, and then removed
@example("<p title='&#x1f;'>&#xFFFE;&#55296;</p>")
def test_only_a_numeric_reference_brings_a_forbidden_character(fragment: str) -> None:
    """sanitised_content leaves out its second xml_text scan when the fragment has no
    ``&#``: nh3 then writes no character XML forbids (its input has none)."""
    cleaned = sanitise_html(fragment, "https://h/")
    if "&#" not in fragment:
        assert xml_text(cleaned) == cleaned
    assert xml_text(sanitised_content(fragment, "https://h/")) == sanitised_content(
        fragment, "https://h/"
    )


def _reveal_the_long_way(fragment: str) -> str:
    if _NEEDS_LOOK.search(fragment) is None:
        return fragment
    lowered = fragment.lower()
    if "<noscript" in lowered:
        shown = {
            source
            for match in _IMG.finditer(fragment)
            if (source := _lazy_source(_attributes(match.group(0)))) is not None
        }
        fragment = _NOSCRIPT.sub(lambda match: _unwrap(match, shown), fragment)
    elif "data-" not in lowered and "srcset" not in lowered:
        return fragment
    return _IMG.sub(_reveal, fragment)


# The words reveal_lazy_images looks for, in any case, split and with the characters that
# lower to ASCII (U+0130, U+212A) or match ASCII letters in other case-blind reading
# (U+0131, U+017F) in their place.
_LAZY_PIECES = st.sampled_from(
    ["<img ", "<IMG ", "<Img", "src='/a.jpg' ", 'src="data:x" ', "data-src='/b.jpg' ",
     "DATA-SRC=/c.jpg ", "Data-", "srcset='/d.jpg 800w' ", "SrcSet=", "ſrcset=", ">", "<",
     "<noscript>", "<NoScript>", "</noscript>", "<noscr\u0130pt>", "<no\u017fcript>",
     "<noscr\u0131pt>", "\u212a", "\u0130", "ø", "x", " ", "data", "-", "src", "set",
     "\ud800", "\U0001f600"]
)  # fmt: skip


@given(st.lists(_LAZY_PIECES, max_size=14).map("".join))
@example("<img src='/a.jpg'><noscript><img src='/a.jpg'></noscript>")
@example("<IMG SRC='x' DATA-SRC='/b.jpg'>")
@example("<img src='x'><noscr\u0130pt>")
def test_lazy_images_are_looked_for_as_str_lower_finds_them(fragment: str) -> None:
    assert reveal_lazy_images(fragment) == _reveal_the_long_way(fragment)


_WORDS = st.lists(st.sampled_from(["løsningerne", "kommunens", "året", "the", "og", "systems",
                                   "x", "ærø", "digitalisering"]), max_size=40)  # fmt: skip


@given(st.lists(_WORDS, min_size=1, max_size=4), st.sampled_from(["da", "en"]))
def test_stems_are_the_stemmer_s_through_the_cache(texts: list[list[str]], language: str) -> None:
    for folded in texts:
        expected = Stemmer.Stemmer(_ALGORITHMS[language]).stemWords(folded)
        assert stems(folded, language) == expected  # type: ignore[arg-type]


def test_stems_are_right_when_the_cache_is_emptied(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("aggregator.search.STEM_CACHE_WORDS", 3)
    folded = ["løsningerne", "kommunens", "året", "løsningerne", "ærø"]
    expected = Stemmer.Stemmer("danish").stemWords(folded)
    assert stems(folded[:2], "da") == expected[:2]
    assert stems(folded, "da") == expected


# Every function word of both lists, so a word put in both would be counted here for both.
_SAMPLE_WORDS = [*sorted(_DANISH_WORDS | _ENGLISH_WORDS), "x", "kommunen", "The", "ög"]


@given(st.lists(st.sampled_from(_SAMPLE_WORDS), max_size=40),
       st.sampled_from([None, "en-US", "da", "EN"]))  # fmt: skip
def test_language_counts_function_words(sample: list[str], declared: str | None) -> None:
    danish = sum(word in _DANISH_WORDS for word in sample)
    english = sum(word in _ENGLISH_WORDS for word in sample)
    if english >= max(3 * danish, 3):
        expected = "en"
    elif danish >= max(3 * english, 3):
        expected = "da"
    else:
        expected = "en" if (declared or "").lower().startswith("en") else "da"
    assert _language_of(sample, declared) == expected


@given(st.integers(0, 2), st.integers(-720, 840))
@example(0, 0)
def test_a_date_in_utc_is_stamped_as_one_with_an_offset(second: int, east: int) -> None:
    stamped = _stamp(("2026", "11", "3", "12", "0", str(second)), east)
    assert stamped == datetime(2026, 11, 3, 12, 0, second, tzinfo=UTC) - timedelta(minutes=east)
    assert stamped.tzinfo is UTC


def _sketch_the_long_way(text: str, size: int) -> tuple[int, ...]:
    import re
    import unicodedata
    import zlib

    folded = unicodedata.normalize("NFKC", text[:SKETCH_CHARS]).casefold()
    ids = [zlib.crc32(word.encode()) for word in re.findall(r"\w+", folded)[:SKETCH_WORDS]]
    if len(ids) < SHINGLE_WORDS:
        return (hash(tuple(ids)) & 0xFFFFFFFF,) if ids else ()
    grams = [tuple(ids[i : i + SHINGLE_WORDS]) for i in range(len(ids) - SHINGLE_WORDS + 1)]
    return tuple(sorted({hash(gram) & 0xFFFFFFFF for gram in grams})[:size])


# Words and every kind of space between them: ASCII separators, which the splitter blanks in
# the bytes, and others (no-break, thin, ideographic, NEL, U+001C) it does not; letters that
# NFKC or case folding change (ﬁ, ß, full-width digits), a combining mark, an underscore.
_SKETCH_PIECES = st.sampled_from(
    ["kommunen", "og", "at", "digital", "ærø", "Å", "ﬁre", "Straße", "１２", "x_y", "e\u0301",
     " ", "  ", "\n", "\t", ",", ". ", "–", "“", "\u00a0", "\u2009", "\u3000", "\x85", "\x1c",
     "\U0001f600", "2026"]
)  # fmt: skip


@given(st.lists(_SKETCH_PIECES, max_size=400).map("".join), st.integers(-2, 12))
@example("ord " * 200, 8)  # more than SKETCH_WORDS words
@example("a " * 4, 8)  # fewer than SHINGLE_WORDS
@example(("æ" * 9 + " ") * 200, 8)  # cut at SKETCH_CHARS
@example("kommunen\u00a0og kommunen", 8)
def test_sketch_is_the_long_way(text: str, size: int) -> None:
    """sketch hashes the words' UTF-8 bytes as the splitter finds them, and sorts only the
    5-gram hashes below 2**30 when there are enough: the values are those of every word
    found by \\w+ and every hash sorted."""
    assert sketch(text, size) == _sketch_the_long_way(text, size)
