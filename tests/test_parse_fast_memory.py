"""Parsing memory, measured as the peak resident size of a process of its own (ru_maxrss).

A long feed is read one entry at a time and only the newest ``max_entries`` are built; a
document declaring entities that could expand (the "billion laughs") is refused before any
parser sees it.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aggregator.errors import ParseError
from aggregator.normalise import plan_update
from aggregator.parse import parse_feed
from aggregator.types import FetchResult
from tests.feedgen import Item, rss

RSS = {"content-type": "application/rss+xml; charset=utf-8"}
PEAK = textwrap.dedent(
    """
    import resource, sys
    from pathlib import Path
    from aggregator.errors import ParseError
    from aggregator.parse import parse_feed
    body = Path(sys.argv[1]).read_bytes()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        kept = len(parse_feed(body, "https://many.example.dk/feed", {RSS!r},
                              max_entries=int(sys.argv[2])).entries)
    except ParseError:
        kept = -1
    print(kept, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
    """
).replace("{RSS!r}", repr(RSS))


def _peak(tmp_path: Path, body: bytes, max_entries: int) -> tuple[int, int]:
    """(entries kept or -1 when refused, MiB the parse added to the process's peak)."""
    document = tmp_path / "feed.xml"
    document.write_bytes(body)
    out = subprocess.run(
        [sys.executable, "-c", PEAK, str(document), str(max_entries)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parent.parent,
    ).stdout.split()
    return int(out[0]), int(out[1])


def _many(count: int, undated: int = 0) -> bytes:
    """Entries in no date order, some of them undated (between the others)."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    items = [
        Item(
            f"Indlæg {n} om æøå",
            f"https://many.example.dk/{n}",
            f"<p>indhold {n} med lidt mere tekst, så posten fylder</p>",
            guid=f"m{n}",
            published=None if n % 60 < undated else start + timedelta(minutes=(n * 7919) % count),
        )
        for n in range(count)
    ]
    return rss("Mange", "https://many.example.dk/", items)


def test_a_50000_entry_feed_costs_little_memory_beyond_its_bytes(tmp_path):
    body = _many(50_000)
    kept, added = _peak(tmp_path, body, 500)
    assert kept == 500
    # Building the whole tree alone costs about 6 times the document, feedparser ~8 times.
    assert added < len(body) / 2**20 + 8, added


def test_an_entity_bomb_is_refused_before_any_parser_expands_it(tmp_path):
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    )
    body = (
        f'<?xml version="1.0" encoding="utf-8"?><!DOCTYPE rss [{entities}]>'
        '<rss version="2.0"><channel><title>Latter</title><item><title>&lol9;</title>'
        "<guid>1</guid></item></channel></rss>"
    ).encode()
    kept, added = _peak(tmp_path, body, 500)
    assert kept == -1
    assert added < 4, added


@pytest.mark.parametrize(
    "declaration",
    [
        '<!ENTITY xxe SYSTEM "file:///etc/passwd">',
        '<!ENTITY % p "x">',
        '<!ENTITY big "' + "x" * 100 + '">',
        '<!ENTITY two "&#160;&#160;">',
    ],
)
def test_entity_declarations_that_could_grow_or_reach_out_are_refused(declaration):
    body = (
        f'<?xml version="1.0"?><!DOCTYPE rss [{declaration}]><rss version="2.0"><channel>'
        "<title>t</title></channel></rss>"
    ).encode()
    with pytest.raises(ParseError, match="declares entities"):
        parse_feed(body, "https://x.example.dk/", RSS)


def test_a_feed_naming_characters_in_its_dtd_is_read():
    body = (
        '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY nbsp "&#160;"><!ENTITY aring "å">]>'
        '<rss version="2.0"><channel><title>Bl&aring;b&#230;r&nbsp;gr&#248;d</title>'
        "<item><title>x</title><guid>1</guid></item></channel></rss>"
    ).encode()
    assert parse_feed(body, "https://x.example.dk/", RSS).title == "Blåbær\xa0grød"


@pytest.mark.parametrize("limit", [1, 7, 40, 500])
def test_the_entries_kept_are_the_ones_plan_update_takes_from_all(limit):
    body = _many(300, undated=2)
    url = "https://many.example.dk/feed"
    fetched = FetchResult(url, datetime(2026, 11, 27, tzinfo=UTC), url, 200, body, RSS)
    now = datetime(2026, 11, 27, tzinfo=UTC)
    limited = parse_feed(body, url, RSS, max_entries=limit)
    everything = parse_feed(body, url, RSS, fast=False)
    assert len(limited.entries) == min(limit, len(everything.entries))
    assert plan_update(fetched, limited, now, max_entries=limit) == plan_update(
        fetched, everything, now, max_entries=limit
    )
