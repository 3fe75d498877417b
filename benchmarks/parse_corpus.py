"""Parse benchmark and report over the fixture corpus (tests/corpus, tests/fixtures) and the
benchmark corpus presets (benchmarks/corpus.py: classic, wild).

    flock /work/bench.lock python -m benchmarks.parse_corpus            # 30 rounds
    flock /work/bench.lock python -m benchmarks.parse_corpus --rounds 5 --feeds 200

Prints what the issue-10 closing note reports: posts with distinct ids collapsed, JSON Feeds
read, content lost against feedparser, how many fixtures take the fast path, and its speed-up
over feedparser on those (both timed through parse_feed, decoding included, best of rounds);
then for each preset the share of feeds on the fast path, by shape, and the speed-up.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

from aggregator.parse import parse_feed
from benchmarks.corpus import PRESETS, document, shape_of
from tests.equivalence import Fixture, corpus, fast_path_taken, ours, reference


def _best_seconds(fixtures: list[Fixture], fast: bool, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for f in fixtures:
            parse_feed(f.body, f.url, f.headers, fast=fast)
        best = min(best, time.perf_counter() - started)
    return best


def _collapsed(fixture: Fixture) -> int:
    """Distinct ids in the document the store would not keep apart."""
    ids = [e.guid for e in parse_feed(fixture.body, fixture.url, fixture.headers).entries]
    if not all(ids) or len(set(ids)) <= 0.8 * len(ids):
        return 0  # ids the feed does not mean (blank or repeated): keyed by link instead
    return max(0, len(set(ids)) - len(ours(fixture)))


def _lost(fixture: Fixture) -> int:
    """Entries whose text feedparser has and we do not: missing, empty, or fewer words (a
    garbled charset has as many words, so a repaired one is not counted as lost)."""
    theirs = reference(fixture)
    if theirs is None:
        return 0
    mine = {e.key: e for e in ours(fixture)}
    return sum(
        1
        for e in theirs
        if e.text
        and (e.key not in mine or len(mine[e.key].text.split()) < 0.9 * len(e.text.split()))
    )


def _preset(preset: str, feeds: int, rounds: int) -> None:
    """Fast-path share by shape, and parse time both ways, over one preset's documents."""
    documents = []
    for feed in range(feeds):
        rendered = document(feed, 0, preset)
        headers = {"content-type": rendered.content_type}
        documents.append(Fixture(f"{preset}-{feed}.xml", rendered.body, headers))
    shapes = [shape_of(feed, preset) for feed in range(feeds)]
    taken = [fast_path_taken(d) for d in documents]
    total, fast = Counter(shapes), Counter(s for s, t in zip(shapes, taken, strict=True) if t)
    by_shape = ", ".join(f"{s} {fast[s] / n:.0%}" for s, n in sorted(total.items()))
    print(
        f"{preset}: fast path {sum(taken)} of {feeds} feeds ({sum(taken) / feeds:.0%}); {by_shape}"
    )
    fast_seconds = _best_seconds(documents, True, rounds)
    slow_seconds = _best_seconds(documents, False, rounds)
    print(
        f"{preset}: parse time, best of {rounds}: {fast_seconds * 1000:.0f} ms with the fast path, "
        f"{slow_seconds * 1000:.0f} ms feedparser only, speed-up {slow_seconds / fast_seconds:.1f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="Parse benchmark over the fixture corpus.")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--feeds", type=int, default=100, help="documents per preset")
    args = parser.parse_args()
    fixtures = list(corpus())
    fast = [f for f in fixtures if fast_path_taken(f)]
    json_read = [f for f in fixtures if f.name.endswith(".json") and ours(f)]
    fast_seconds = _best_seconds(fast, True, args.rounds)
    slow_seconds = _best_seconds(fast, False, args.rounds)
    entries = sum(len(ours(f)) for f in fast)
    print(f"fixtures: {len(fixtures)}")
    print(f"posts with distinct ids collapsed: {sum(map(_collapsed, fixtures))}")
    print(f"JSON Feeds read: {len(json_read)} of {sum(f.name.endswith('.json') for f in fixtures)}")
    print(f"entries whose content feedparser has and we lost: {sum(map(_lost, fixtures))}")
    print(f"fast path: {len(fast)} of {len(fixtures)} fixtures, {entries} entries")
    print(
        f"parse time on those, best of {args.rounds}: fast path {fast_seconds * 1000:.1f} ms, "
        f"feedparser {slow_seconds * 1000:.1f} ms, speed-up {slow_seconds / fast_seconds:.1f}x"
    )
    for preset in PRESETS:
        _preset(preset, args.feeds, max(1, args.rounds // 10))


if __name__ == "__main__":
    main()
