"""Parse equivalence over the fixture corpus: a reusable harness.

Three readings of every fixture, each taken through the real normaliser, so what is compared
is what would be stored:

- ``ours``: ``parse_feed`` as the pipeline calls it (decoding, JSON Feed, the fast path);
- ``slow``: the same without the fast path (feedparser after our decoding);
- ``reference``: feedparser on the raw bytes and headers, as it would read them alone.

``ours == slow`` must hold for every fixture (the fast path is only ever faster); ``ours ==
reference`` must hold field by field except where ``BETTER`` documents why we differ on
purpose. Add a shape by adding a file to ``tests/corpus`` (and its headers, if any, to
``tests/corpus/headers.json``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from aggregator.decode import to_utf8
from aggregator.normalise import plan_update
from aggregator.parse import parse_feed, parse_with_feedparser
from aggregator.parse_fast import parse_fast
from aggregator.types import Enclosure, FetchResult, ParsedFeed

CORPUS = Path(__file__).parent / "corpus"
FIXTURES = Path(__file__).parent / "fixtures"
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Fixture:
    name: str
    body: bytes
    headers: dict[str, str]

    @property
    def url(self) -> str:
        return self.headers.get("content-location") or f"https://corpus.example/{self.name}"


@dataclass(frozen=True)
class Stored:
    """The fields of one entry as the store would keep them."""

    key: str
    title: str
    link: str | None
    published: datetime
    updated: datetime
    dated: bool
    author: str | None
    categories: tuple[str, ...]
    enclosures: tuple[Enclosure, ...]
    text: str
    content_html: str


FIELDS = tuple(f.name for f in fields(Stored))


@cache
def corpus() -> tuple[Fixture, ...]:
    headers = json.loads((CORPUS / "headers.json").read_text("utf-8"))
    found = [
        Fixture(path.name, path.read_bytes(), headers.get(path.name, {}))
        for path in sorted(CORPUS.iterdir())
        if path.name != "headers.json"
    ]
    found += [
        Fixture(f"fixtures/{path.name}", path.read_bytes(), {})
        for path in sorted(FIXTURES.iterdir())
        if path.is_file() and path.suffix != ".html"  # page.html is no feed at all
    ]
    return tuple(found)


def own_corpus() -> tuple[Fixture, ...]:
    """The fixtures written for this corpus, without the older ones in tests/fixtures."""
    return tuple(f for f in corpus() if not f.name.startswith("fixtures/"))


def stored(fixture: Fixture, parsed: ParsedFeed) -> list[Stored]:
    fetched = FetchResult(
        feed_url=fixture.url,
        fetched_at=NOW,
        final_url=fixture.url,
        status=200,
        content=fixture.body,
        headers=fixture.headers,
    )
    plan = plan_update(fetched, parsed, NOW)
    return [
        Stored(
            e.key,
            e.title,
            e.link,
            e.published,
            e.updated,
            e.dated,
            e.author,
            e.categories,
            e.enclosures,
            e.summary_text if len(e.summary_text) < 300 else e.content_html,
            e.content_html,
        )
        for e in plan.entries
    ]


def ours(fixture: Fixture) -> list[Stored]:
    return stored(fixture, parse_feed(fixture.body, fixture.url, fixture.headers))


def slow(fixture: Fixture) -> list[Stored]:
    return stored(fixture, parse_feed(fixture.body, fixture.url, fixture.headers, fast=False))


def reference(fixture: Fixture) -> list[Stored] | None:
    """feedparser alone, or None where it reads nothing (or fails)."""
    try:
        parsed = parse_with_feedparser(fixture.body, fixture.url, fixture.headers)
    except Exception:  # a failing reference is a finding, not an error of ours
        return None
    return stored(fixture, parsed) if parsed.entries else None


def fast_path_taken(fixture: Fixture) -> bool:
    decoded = to_utf8(fixture.body, fixture.headers)
    return parse_fast(decoded.content, fixture.url, decoded.headers) is not None


@dataclass(frozen=True)
class Difference:
    fixture: str
    field: str
    ours: object
    theirs: object


def differences(fixture: Fixture) -> list[Difference]:
    """Where our stored entries differ from feedparser's."""
    mine, theirs = ours(fixture), reference(fixture)
    if theirs is None:
        return [Difference(fixture.name, "reference", len(mine), None)]
    if len(mine) != len(theirs):
        return [Difference(fixture.name, "count", len(mine), len(theirs))]
    found = []
    for a, b in zip(mine, theirs, strict=True):
        for name in FIELDS:
            if name == "content_html":
                continue
            if getattr(a, name) != getattr(b, name):
                found.append(Difference(fixture.name, name, getattr(a, name), getattr(b, name)))
    return found
