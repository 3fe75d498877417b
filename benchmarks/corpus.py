"""Deterministic synthetic corpora: N feeds of 20 entries (~2 KB of Danish HTML each).

Two presets, chosen with ``preset``:

- ``classic``: 55% RSS 2.0 (WordPress-like), 30% Atom 1.0, 15% RSS 1.0/RDF, each in one plain
  shape, with uniformly random words. The corpus the first benchmarks were tuned on.
- ``wild``: the shapes real feeds have, in the shares given in benchmarks/shapes.py (WordPress,
  RDF with dc:*/content:encoded/sy:*/admin:*, Atom with xhtml content and xml:base, Blogger,
  podcasts, YouTube, Ghost, Substack, Drupal, Odoo, ISO-8859-1 and windows-1252), with prose
  whose phrases recur as real prose does (benchmarks/prose.py), several authors and
  categories.

The same (N, preset) gives the same bytes on every machine. ``version`` 1 adds two entries to
every tenth feed (the 10%-changed phase).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from functools import cache
from xml.sax.saxutils import escape

from benchmarks.shapes import SHAPES, Post, Rendered

ENTRIES = 20
BASE_TIME = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
WORDS = [
    "kommune",
    "borger",
    "digitalisering",
    "løsning",
    "platform",
    "fællesskab",
    "økonomi",
    "sikkerhed",
    "strategi",
    "udbud",
    "aftale",
    "tidsplan",
    "ældrepleje",
    "sundhed",
    "skole",
    "børn",
    "velfærd",
    "data",
    "arkitektur",
    "integration",
    "identitet",
    "rettighed",
    "åben",
    "kildekode",
    "drift",
    "leverandør",
    "kontrakt",
    "gevinst",
    "pilot",
    "erfaring",
    "kvalitet",
    "brugerrejse",
    "selvbetjening",
    "tilgængelighed",
    "høring",
    "vejledning",
    "netværk",
    "konference",
    "samarbejde",
    "region",
    "stat",
    "styrelse",
    "forandring",
    "kompetence",
    "ansvar",
    "gennemsigtighed",
    "værdi",
]


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(8, 16))]
    return " ".join(words).capitalize() + "."


def _html(rng: random.Random, feed: int, entry: int) -> str:
    paragraphs: list[str] = []
    while sum(len(p) for p in paragraphs) < 2100:
        paragraphs.append("<p>" + " ".join(_sentence(rng) for _ in range(3)) + "</p>")
    paragraphs.insert(1, f'<p><a href="/blog/{feed}/{entry}/bilag">Læs bilaget</a> og '
                         f'<img src="/billeder/{feed}-{entry}.jpg" alt="Foto"></p>')  # fmt: skip
    return "\n".join(paragraphs)


def kind_of(feed: int) -> str:
    slot = feed % 20
    return "rss" if slot < 11 else "atom" if slot < 17 else "rdf"


def _entries(feed: int, version: int) -> list[tuple[int, str, str, datetime]]:
    count = ENTRIES + (2 if version and feed % 10 == 0 else 0)
    result = []
    for number in range(count):
        rng = random.Random(f"{feed}-{number}")
        title = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 7))).capitalize()
        when = BASE_TIME + timedelta(hours=number * 7 + feed % 13)
        result.append((number, title, _html(rng, feed, number), when))
    return list(reversed(result))


def feed_document(feed: int, version: int = 0) -> bytes:
    kind = kind_of(feed)
    site = f"https://kommune{feed}.example.dk"
    entries = _entries(feed, version)
    if kind == "rss":
        items = "".join(
            f"<item><title>{escape(t)}</title><link>{site}/blog/{feed}/{n}/</link>"
            f'<guid isPermaLink="false">{site}/?p={n}</guid>'
            f"<pubDate>{format_datetime(w)}</pubDate><dc:creator>Redaktionen</dc:creator>"
            f"<description>{escape(h[:200])}</description>"
            f"<content:encoded><![CDATA[{h}]]></content:encoded></item>"
            for n, t, h, w in entries
        )
        return (
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
            f"<title>Kommune {feed} – nyheder</title><link>{site}/</link>"
            f"<description>Digitalisering i kommune {feed}</description><language>da</language>"
            f"{items}</channel></rss>"
        ).encode()
    if kind == "atom":
        items = "".join(
            f"<entry><id>tag:kommune{feed}.example.dk,2026:{n}</id><title>{escape(t)}</title>"
            f'<link rel="alternate" href="{site}/nyt/{n}"/>'
            f"<published>{w.isoformat()}</published><updated>{w.isoformat()}</updated>"
            f"<author><name>Kommunikation</name></author>"
            f'<content type="html">{escape(h)}</content></entry>'
            for n, t, h, w in entries
        )
        return (
            '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom" '
            f'xml:lang="da"><id>{site}/</id><title>Kommune {feed} – Atom</title>'
            f'<link rel="alternate" href="{site}/"/><updated>{BASE_TIME.isoformat()}</updated>'
            f"{items}</feed>"
        ).encode()
    items = "".join(
        f'<item rdf:about="{site}/rdf/{n}"><title>{escape(t)}</title><link>{site}/rdf/{n}</link>'
        f"<description>{escape(h)}</description><dc:date>{w.isoformat()}</dc:date></item>"
        for n, t, h, w in entries
    )
    seq = "".join(f'<rdf:li rdf:resource="{site}/rdf/{n}"/>' for n, *_ in entries)
    return (
        '<?xml version="1.0" encoding="utf-8"?><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f'<channel rdf:about="{site}/"><title>Kommune {feed} – RDF</title><link>{site}/</link>'
        f"<description>RDF</description><items><rdf:Seq>{seq}</rdf:Seq></items></channel>"
        f"{items}</rdf:RDF>"
    ).encode()


PRESETS = ("classic", "wild")
CLASSIC_TYPE = "application/xml; charset=utf-8"
AUTHORS = ("Mette Kjær Sørensen", "Søren Ødegaard", "Åse Holm", "Jens Præstø", "Redaktionen")
CATEGORIES = ("Digitalisering", "Sundhed & omsorg", "Børn og unge", "Økonomi", "OS2",
              "Cybersikkerhed", "Kunstig intelligens", "Borgerservice")  # fmt: skip


@cache
def _slots() -> tuple[str, ...]:
    """Shape names dealt over 100 slots in a fixed shuffled order, so any N holds a mix."""
    slots = [name for name, (_, share) in SHAPES.items() for _ in range(share)]
    random.Random(17).shuffle(slots)
    return tuple(slots)


def shape_of(feed: int, preset: str = "wild") -> str:
    return _slots()[feed % 100] if preset == "wild" else kind_of(feed)


@cache
def _post(feed: int, number: int) -> Post:
    from benchmarks import prose

    rng = random.Random(f"wild-{feed}-{number}")
    paragraphs = prose.paragraphs(rng)
    paragraphs.insert(1, f'<a href="bilag/{number}.pdf">Læs bilaget</a> og se '
                         f'<img src="/billeder/{feed}-{number}.jpg" alt="Foto"/>')  # fmt: skip
    html = "".join(f"<p>{escape(p) if '<' not in p else p}</p>" for p in paragraphs)
    return Post(
        number=number,
        title=prose.title(rng) + (" & mere" if number % 7 == 0 else ""),
        html=html,
        published=BASE_TIME + timedelta(hours=number * 7 + feed % 13),
        author=rng.choice(AUTHORS),
        categories=tuple(rng.sample(CATEGORIES, rng.randint(1, 3))),
    )


def document(feed: int, version: int = 0, preset: str = "classic") -> Rendered:
    """One feed of the preset, with the Content-Type its server sends."""
    if preset == "classic":
        return Rendered(feed_document(feed, version), CLASSIC_TYPE)
    count = ENTRIES + (2 if version and feed % 10 == 0 else 0)
    posts = [_post(feed, number) for number in reversed(range(count))]
    render, _ = SHAPES[shape_of(feed)]
    return render(feed, posts)
