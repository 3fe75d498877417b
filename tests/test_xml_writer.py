"""Atom and RSS are written as text (export/xmltree.py): held here to be the very bytes
libxml2 writes for the same document. lxml parses each feed, blanks dropped, and
pretty-prints it again; any difference in escaping, indentation or empty elements shows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from lxml import etree

from aggregator.clean import xml_text
from aggregator.export.atom import render_atom
from aggregator.export.rss import render_rss
from aggregator.export.view import (
    ArchiveLinks,
    ArchivePage,
    Copy,
    Entry,
    Month,
    Selection,
    Site,
    Source,
    Sources,
    Tag,
)
from aggregator.export.xmltree import Lines
from aggregator.types import Enclosure

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
# What XML escapes, what it forbids (dropped), whitespace that attributes must keep, æøå.
HOSTILE = "Æble & <b>\"ørred\"</b> 'å' ]]> a\rb\nc\td \x00\x08\x0b\ud800\ufffe\uffff 🐟 \x85\u2028"


def _source(number: int, title: str | None) -> Source:
    return Source(
        name=f"Kilde {number} {HOSTILE}",
        slug=f"kilde-{number}",
        feed_url=f'https://kilde{number}.example.dk/feed/?a=1&b="2"',
        title=title,
        site_url=f"https://kilde{number}.example.dk/" if number % 2 else None,
        tags=(Tag("Åbne data", "abne-data"),),
        enabled=True,
        state="ok",
    )


def _entry(number: int) -> Entry:
    one, two = _source(1, None), _source(2, f"Bloggen {HOSTILE}")
    enclosures = (
        Enclosure(f"https://example.dk/{number}.mp3?a&b", "audio/mpeg", 1234),
        Enclosure("https://example.dk/x.bin", None, None),
    )
    return Entry(
        id=f"urn:{number}:{HOSTILE}",
        title=f"Titel {number} {HOSTILE}" if number % 3 else "",
        link=f"https://example.dk/{number}?x=1&y=<2>" if number % 2 else None,
        author=f"Mette {HOSTILE}" if number % 2 else None,
        content_html=f"<p>Indhold {number} {HOSTILE}</p>" if number % 4 else " ",
        summary=f"Resumé {HOSTILE}" if number % 5 else "",
        published=NOW - timedelta(hours=number),
        updated=NOW - timedelta(hours=number) + timedelta(minutes=number % 3),
        language="en-GB" if number % 2 else "da",
        categories=(f"kategori {HOSTILE}", "Åbne data") if number % 3 else (),
        enclosures=enclosures if number % 2 else (),
        copies=(Copy(one, None), Copy(two, f"https://kilde2.example.dk/{number}"))
        if number % 2
        else (Copy(two, None),),
    )


def _site(hub: str | None) -> Site:
    return Site(
        title=f"Planet {HOSTILE}",
        description=f"Om {HOSTILE}" if hub else "",
        base_url="https://planet.example.dk/",
        language="da",
        zone=UTC,
        sources=Sources((), lambda urls: {}),
        tags=(),
        months=(Month(2026, 10), Month(2026, 11)),
        updated=NOW,
        websub_hub=hub,
    )


def _selections() -> list[Selection]:
    entries = tuple(_entry(n) for n in range(1, 13))
    november = ArchivePage(Month(2026, 11), 2)
    links = ArchiveLinks(ArchivePage(Month(2026, 11)), ArchivePage(Month(2026, 11), 3), november)
    return [
        Selection("recent", "", f"Nyt {HOSTILE}", entries, NOW,
                  archive=ArchiveLinks(november, None, november)),
        Selection("month", "2026-11", "2026-11", entries, NOW, archive=links,
                  month=Month(2026, 11), page=2, pages=3),
        Selection("tag", "abne-data", "Åbne data", entries[1::2], NOW),  # no author: no dc
        Selection("source", "kilde-1", "Kilde", (), NOW),  # no entries
    ]  # fmt: skip


def _as_libxml2_writes_it(data: bytes) -> bytes:
    parser = etree.XMLParser(remove_blank_text=True)
    tree = etree.fromstring(data, parser)
    written: bytes = etree.tostring(tree, encoding="utf-8", xml_declaration=True, pretty_print=True)
    return written


@pytest.mark.parametrize("render", [render_atom, render_rss], ids=["atom", "rss"])
@pytest.mark.parametrize("hub", [None, "https://hub.example.dk/?a=1&b=2"])
def test_feeds_are_the_bytes_libxml2_writes_for_them(render, hub):
    site = _site(hub)
    for selection in _selections():
        data = render(selection, site)
        assert data == _as_libxml2_writes_it(data), (selection.kind, data.decode())


def test_what_xml_forbids_is_dropped_and_the_rest_kept_exactly():
    site = _site(None)
    selection = _selections()[0]
    atom = etree.fromstring(render_atom(selection, site))
    ns = {"a": "http://www.w3.org/2005/Atom"}
    first = selection.entries[0]
    assert atom.findtext("a:entry/a:id", namespaces=ns) == xml_text(first.id)
    assert atom.findtext("a:entry/a:content", namespaces=ns) == xml_text(first.content_html)
    via = atom.find("a:entry/a:link[@rel='via']", namespaces=ns)
    assert via.get("title") == xml_text(first.copies[1].source.display_name)  # TAB, LF kept
    rss = etree.fromstring(render_rss(selection, site))
    assert rss.findtext("channel/item/category") == xml_text(f"kategori {HOSTILE}")
    assert "\r" in rss.findtext("channel/item/category")  # written as &#13;, read back as CR
    assert rss.find("channel/item/enclosure").get("url") == "https://example.dk/1.mp3?a&b"


def test_an_element_without_children_is_written_empty():
    lines = Lines(1)
    with lines.element("author", {"x": "1"}):
        pass
    lines.leaf("name", "")
    assert lines.text() == '  <author x="1"/>\n  <name></name>\n'
