"""Each entry's feed text is made once and reused (export/fragments.py): the whole site
export of a real store is byte for byte the same whether the fragments are kept from an
earlier export (of another language, base URL and time zone) or made afresh, and its
XML is what libxml2 writes for the same document, as the lxml renderers wrote it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from lxml import etree

from aggregator.export import export_feeds, fragments
from aggregator.pipeline import poll
from tests.feedgen import Item, rss
from tests.feedserver import feed_route

WHEN = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
HOSTILE = "R&D <b>\"citat\"</b> 'å' ]]> a\tb æøå 🐟"


def _rss_posts(site: str, count: int) -> list[Item]:
    return [
        Item(
            f"{HOSTILE} {site} {n}" if n % 2 else f"Indlæg {n} fra {site}",
            f"https://{site}/p/{n}",
            f"<p>Om {HOSTILE}, del {n}.</p>\n<p>{'Mere om sagen. ' * n}</p>",
            WHEN - timedelta(days=7 * n, hours=n),
            guid=f"{site}-{n}",
            author=f"Åse Ørsted {n}" if n % 3 else None,
            categories=("cloud", "Åbne data") if n % 2 else ("Kommuner",),
            enclosures=((f"https://{site}/lyd/{n}.mp3?a=1&b=2", "audio/mpeg", 1000 + n),)
            if n % 4 == 1
            else (),
        )
        for n in range(count)
    ]


def _atom(count: int) -> bytes:
    entries = "".join(
        f"""<entry><id>urn:c:{n}</id><title type="text">Report {n} &amp; more</title>
<link href="https://c.example/{n}"/><updated>{(WHEN - timedelta(days=5 * n)).isoformat()}</updated>
<summary>Summary {n} – “quoted”</summary>
<content type="html">&lt;p&gt;English text {n}&lt;/p&gt;</content></entry>"""
        for n in range(count)
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en"><title>C</title>
<id>urn:c</id><updated>{WHEN.isoformat()}</updated>
<link href="https://c.example/"/>{entries}</feed>""".encode()


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


def test_kept_fragments_change_no_byte_of_the_export(server, make_config, store, clock, tmp_path):
    a, b = _rss_posts("a.dk", 9), _rss_posts("b.dk", 4)
    b[1] = Item(b[1].title, a[1].link, a[1].html, a[1].published, guid="b-copy")  # a copy
    server.route("/a", feed_route(rss("A", "https://a.dk/", a), last_modified=None))
    server.route("/b", feed_route(rss("B", "https://b.dk/", b), last_modified=None))
    server.route("/c", feed_route(_atom(5), "application/atom+xml", last_modified=None))
    feeds = [
        {"name": "A", "url": server.url("/a"), "tags": ["fælles", "cloud"]},
        {"name": "B", "url": server.url("/b"), "tags": ["fælles"]},
        {"name": "C", "url": server.url("/c"), "tags": ["stat"]},
    ]
    config = make_config(feeds)
    poll(config, store, clock=clock)

    def export(name: str, **site: object) -> dict[str, bytes]:
        folder = tmp_path / name
        made = make_config(feeds, site={"output_dir": str(folder), **site})
        export_feeds(made, store, clock())
        return _tree(folder)

    other = {"language": "en", "base_url": "https://andet.example/planet/", "timezone": "UTC"}
    fragments.forget()
    danish = export("danish")
    english = export("english", **other)  # with the Danish export's fragments kept
    danish_again = export("danish-again")  # with the English export's kept
    fragments.forget()
    english_fresh = export("english-fresh", **other)

    assert danish_again == danish
    assert english == english_fresh
    assert danish != english
    feeds_written = [name for name in danish if name.endswith((".xml", ".atom", ".rss"))]
    assert len(feeds_written) == 20, sorted(danish)  # newest, 3 tags, 3 sources, 3 months
    assert any(name.startswith("archive/2026-10") for name in danish)
    parser = etree.XMLParser(remove_blank_text=True)
    for name in feeds_written:
        data = danish[name]
        tree = etree.fromstring(data, parser)
        libxml2 = etree.tostring(tree, encoding="utf-8", xml_declaration=True, pretty_print=True)
        assert data == libxml2, name
    for name in (n for n in danish if n.endswith(".json")):
        data = danish[name]
        again = json.dumps(json.loads(data), ensure_ascii=False, separators=(",", ":"))
        assert data == again.encode() + b"\n", name
    text = danish["atom.xml"].decode()
    assert '<title type="text">R&amp;D "citat" \'å\' ]]&gt; a b æøå 🐟 a.dk 1</title>' in text
    assert "&lt;p&gt;Om R&amp;amp;D &lt;b&gt;\"citat\"&lt;/b&gt; 'å' ]]&amp;gt; a\tb" in text
    for part in ('rel="via"', 'rel="enclosure"', 'xml:lang="en"'):
        assert part in text, part
    assert "https://andet.example/planet/" in english["atom.xml"].decode()
    assert "andet.example" not in text
