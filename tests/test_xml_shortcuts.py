"""The XML writer's shortcuts (export/xmltree.py), each held to the long way: the characters
XML 1.0 forbids are dropped from the whole document at once, not from each string, and a
long text's escaped form is kept and reused. A feed of any text is the very feed the writer
made when it cleaned every string before escaping it, and every shortcut gives what the
plain function gives."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from hypothesis import example, given, settings
from hypothesis import strategies as st
from lxml import etree

from aggregator.clean import xml_text
from aggregator.export import fragments
from aggregator.export.atom import render_atom
from aggregator.export.rss import render_rss
from aggregator.export.view import Copy, Entry, Selection, Site, Source, Sources, Tag
from aggregator.export.xmltree import (
    LONG_TEXT,
    _encoded,
    _escape_text,
    escape_attribute,
    escape_text,
)
from aggregator.types import Enclosure

NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)
FORBIDDEN = ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1f", "\ud800", "\udfff", "\ufffe", "\uffff"]
# What XML escapes, what it forbids, whitespace attributes keep, letters beyond ASCII.
ALPHABET = [*"aZ æøå🐟&<>\"']\r\n\t", "\x85", "\u2028", "\ufffd", *FORBIDDEN]
texts = st.text(st.sampled_from(ALPHABET), max_size=40)
# Past clean.py's 128 characters (checked by encoding) and xmltree's LONG_TEXT (kept).
long_texts = st.text(st.sampled_from(ALPHABET), min_size=LONG_TEXT - 8, max_size=LONG_TEXT + 90)
any_text = st.one_of(texts, long_texts)


def _source(name: str, number: int) -> Source:
    return Source(
        name=name or "kilde",
        slug=f"kilde-{number}",
        feed_url=f"https://kilde{number}.example.dk/feed?{name}",
        title=None,
        site_url=f"https://kilde{number}.example.dk/" if number % 2 else None,
        tags=(Tag(f"Tag {name}", f"tag-{number}"),),
        enabled=True,
        state="ok",
    )


@st.composite
def entries(draw: st.DrawFn, number: int) -> Entry:
    one, two = _source(draw(texts), 1), _source(draw(texts), 2)
    return Entry(
        id=f"urn:{number}:{draw(texts)}",
        title=draw(texts),
        link=f"https://example.dk/{number}?{draw(texts)}",
        author=draw(st.one_of(st.none(), texts)),
        content_html=draw(any_text),
        summary=draw(any_text),
        published=NOW - timedelta(hours=number),
        updated=NOW - timedelta(hours=number),
        language=draw(st.sampled_from([None, "da", "en-GB"])),
        categories=tuple(draw(st.lists(texts, max_size=2))),
        enclosures=(Enclosure(f"https://example.dk/{number}.mp3?{draw(texts)}", "audio/mpeg", 9),),
        copies=(Copy(one, None), Copy(two, f"https://kilde2.example.dk/{draw(texts)}")),
    )


def _site(title: str, description: str) -> Site:
    return Site(
        title=title,
        description=description,
        base_url="https://planet.example.dk/",
        language="da",
        zone=UTC,
        sources=Sources((), lambda urls: {}),
        tags=(),
        months=(),
        updated=NOW,
    )


@contextmanager
def _cleaning_each_piece() -> Iterator[None]:
    """The long way, as the writer was: every string through ``xml_text`` before it is
    escaped, and the document encoded as it stands."""
    from aggregator.export import atom, rss, xmltree

    def text(value: str) -> str:
        return xmltree._escape_text(xml_text(value))

    def attribute(value: str) -> str:
        return escape_attribute(xml_text(value))

    swaps: list[tuple[object, str, object]] = [
        (m, "escape_text", text) for m in (atom, rss, xmltree)
    ]
    swaps += [(m, "escape_attribute", attribute) for m in (atom, rss, xmltree)]
    swaps.append((xmltree, "_encoded", str.encode))
    kept = [(module, name, getattr(module, name)) for module, name, _ in swaps]
    for module, name, value in swaps:
        setattr(module, name, value)
    fragments.forget()
    try:
        yield
    finally:
        for module, name, value in kept:
            setattr(module, name, value)
        fragments.forget()


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(1, 9), min_size=1, max_size=3).flatmap(
    lambda numbers: st.tuples(*(entries(n) for n in numbers))
), texts, texts)  # fmt: skip
@example(
    (
        Entry(
            "urn:\x00",
            "\ud800",
            None,
            "\x0b",
            "<p>" + "æ&\x00" * 120,
            "\uffff" * 300,
            NOW,
            NOW,
            None,
            ("\x01",),
            (),
            (Copy(_source("\ufffe", 1), None),),
        ),
    ),
    "\x1f",
    "\udfff",
)
@example(  # a noncharacter the only character to drop
    (
        Entry("urn:1", "Titel \uffff", None, None, "<p>" + "æ&" * 150, "", NOW, NOW, None, (),
              (), (Copy(_source("Kilde", 1), None),)),
    ),
    "Planet",
    "",
)  # fmt: skip
def test_a_feed_of_any_text_is_the_feed_cleaned_piece_by_piece(stored, title, description):
    site = _site(title, description)
    selection = Selection("recent", "", title, stored, NOW)
    for render in (render_atom, render_rss):
        fragments.forget()
        data = render(selection, site)
        with _cleaning_each_piece():
            assert data == render(selection, site)
        etree.fromstring(data)  # and it is XML


@settings(max_examples=300, deadline=None)
@given(st.one_of(any_text, st.text(), st.text(st.characters(codec=None), max_size=300)))
@example("a\ud800b")
@example("\udc00" * 300)
@example("x\ufffe" * 200)
def test_a_document_is_encoded_as_cleaning_it_first_would(text):
    assert _encoded(text) == xml_text(text).encode()


@settings(max_examples=200, deadline=None)
@given(any_text)
def test_a_kept_escape_is_the_escape_of_that_very_text(text):
    again = "".join(list(text))  # an equal string that is another object
    first = escape_text(text)
    assert first == _escape_text(text)
    assert escape_text(again) == first
    other = text + "&"
    assert escape_text(other) == _escape_text(other) == first + "&amp;"
