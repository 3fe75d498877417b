"""Precision and recall of cross-feed deduplication, through the real store.

    python -m benchmarks.dedup_quality

Pairs: the realistic cases of the test suite (tests/dedup_cases.py) plus generated ones:
copies (a title prefix, an excerpt, a reworded title, a re-dating) and different posts that
look alike (one title, a shared footer, one vocabulary). Each pair is two posts in two feeds;
a pair counts as merged when both end up in one entry.
"""

from __future__ import annotations

import random
import tempfile
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from aggregator.config import FeedConfig
from aggregator.normalise import plan_update
from aggregator.parse import parse_feed
from aggregator.store import MergeRules, Store
from aggregator.types import FetchResult
from benchmarks.corpus import WORDS
from tests.dedup_cases import CASES, FOOTER, T0, Case
from tests.feedgen import Item, rss

FEED_A = FeedConfig(name="A", url="https://a.example.dk/feed")
FEED_B = FeedConfig(name="B", url="https://b.example.dk/feed")


def generated(count: int, seed: int = 1) -> list[Case]:
    rng = random.Random(seed)

    def words(n: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(n))

    cases = []
    for i in range(count):
        title = words(5).capitalize()
        body = words(rng.randint(60, 160))
        html = f"<p>{body}</p>"
        a = Item(title, f"https://a.example.dk/nyt/{i}", html, T0)
        variant = i % 8
        if variant == 0:
            b, same = replace(a, title=f"Nyhed: {title}", link=f"https://b.example.dk/{i}"), True
        elif variant == 1:
            cut = " ".join(body.split()[: max(25, len(body.split()) // 3)])
            b, same = (
                Item(title, f"https://b.example.dk/{i}", f"<p>{cut}</p>", T0 + timedelta(days=1)),
                True,
            )
        elif variant == 2:
            shorter = " ".join(title.split()[:-1])
            b, same = (
                Item(shorter, f"https://b.example.dk/{i}", html, T0 + timedelta(hours=5)),
                True,
            )
        elif variant == 3:
            b, same = Item(title, f"https://b.example.dk/{i}", html, T0 + timedelta(days=3)), True
        elif variant == 4:  # the same title, a different post
            b, same = Item(title, f"https://b.example.dk/{i}", f"<p>{words(120)}</p>", T0), False
        elif variant == 5:  # a different post under a shared long footer
            a = replace(a, html=f"<p>{words(30)}</p>{FOOTER}")
            b, same = Item(words(5).capitalize(), f"https://b.example.dk/{i}",
                           f"<p>{words(30)}</p>{FOOTER}", T0), False  # fmt: skip
        elif variant == 6:  # same vocabulary, same day, different post
            b, same = Item(words(5).capitalize(), f"https://b.example.dk/{i}",
                           f"<p>{words(120)}</p>", T0), False  # fmt: skip
        else:  # a similar title, different text
            b, same = Item(f"{title} {words(1)}", f"https://b.example.dk/{i}",
                           f"<p>{words(120)}</p>", T0), False  # fmt: skip
        others: tuple[Item, ...] = ()
        if variant == 5:
            others = tuple(Item(words(4), f"https://x.example.dk/{i}/{k}",
                                f"<p>{words(30)}</p>{FOOTER}", T0 - timedelta(days=k + 1))
                           for k in range(3))  # fmt: skip
        b_others = tuple(replace(other, link=f"{other.link}b") for other in others)
        cases.append(
            Case(f"generated {i} ({variant})", a, b, same, a_site="https://a.example.dk/",
                 b_site="https://b.example.dk/", a_others=others, b_others=b_others)
        )  # fmt: skip
    return cases


def merged(case: Case, directory: Path) -> bool:
    store = Store.open(directory / "q.db")
    try:
        store.sync_feeds([FEED_A, FEED_B], T0)
        for feed, items, site in ((FEED_A, [*case.a_others, case.a], case.a_site),
                                  (FEED_B, [*case.b_others, case.b], case.b_site)):  # fmt: skip
            body = rss(feed.name, site, items)
            fetched = FetchResult(feed_url=feed.url, fetched_at=T0, final_url=feed.url,
                                  status=200, content=body)  # fmt: skip
            store.apply(plan_update(fetched, parse_feed(body, feed.url), T0 + timedelta(days=5)),
                        T0 + timedelta(days=5), MergeRules())  # fmt: skip
        row = store.db.execute(
            """SELECT count(DISTINCT s.feed_url) FROM entry_sources s
               WHERE s.entry_id IN (SELECT entry_id FROM entry_sources WHERE entry_key = ?)""",
            [case.b.link],
        ).fetchone()
        return bool(row and row[0] == 2)
    finally:
        store.close()
        for path in directory.glob("q.db*"):
            path.unlink()


def main() -> None:
    cases = [*CASES, *generated(160)]
    outcomes = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    misses = []
    with tempfile.TemporaryDirectory() as name:
        for case in cases:
            result = merged(case, Path(name))
            key = ("t" if result == case.same else "f") + ("p" if result else "n")
            outcomes[key] += 1
            if result != case.same:
                misses.append(case.name)
    precision = outcomes["tp"] / max(1, outcomes["tp"] + outcomes["fp"])
    recall = outcomes["tp"] / max(1, outcomes["tp"] + outcomes["fn"])
    print(f"pairs: {len(cases)} ({sum(c.same for c in cases)} the same post, "
          f"{sum(not c.same for c in cases)} different)")  # fmt: skip
    print(f"true merges {outcomes['tp']}, false merges {outcomes['fp']}, "
          f"missed {outcomes['fn']}, kept apart {outcomes['tn']}")  # fmt: skip
    print(f"precision {precision:.3f}, recall {recall:.3f}")
    for name in misses:
        print(f"  wrong: {name}")


if __name__ == "__main__":
    main()
