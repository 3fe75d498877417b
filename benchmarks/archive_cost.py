"""Cost of storing a new entry against the size of the archive: it must stay flat.

    python -m benchmarks.archive_cost                        # 20,000 and 200,000 stored
    python -m benchmarks.archive_cost --sizes 2000 20000 --new-feeds 20   # smoke run

For each size, an archive of Danish-like prose (benchmarks/prose.py: Zipf vocabulary and
stock phrases, so sketch values recur as they do in real posts) is generated with bulk SQL,
all published within the last ``--span-days`` (the hard case: ten times the archive is ten
times as many posts inside the duplicate window). Then a cold poll's writes are timed: new
feeds of 20 entries each, every tenth entry a copy of a stored post under another address,
parsed and planned outside the clock, written with ``Store.apply`` in one batch as the poll
does. Prints the time per new entry, its ratio to the smallest archive, and the sketch
index's shape (how many posts the most common values are shared by).
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

from aggregator.config import FeedConfig
from aggregator.dedup import COMMON_VALUE
from aggregator.planning import plan_for
from aggregator.store import MergeRules, Store
from aggregator.store import entries as entries_module
from aggregator.types import FeedState, FetchResult, UpdatePlan
from benchmarks import prose
from benchmarks.bench_store import NOW, build

ENTRIES = 20
COPY_EVERY = 10


def _texts(rng: random.Random) -> tuple[str, str]:
    return prose.title(rng), " ".join(prose.paragraphs(rng))


def _document(feed: int, items: list[tuple[str, str, datetime]]) -> bytes:
    site = f"https://ny{feed}.example.dk"
    body = "".join(
        f"<item><title>{escape(title)}</title><link>{site}/nyt/{n}</link>"
        f"<guid>{site}/?p={n}</guid><pubDate>{format_datetime(published)}</pubDate>"
        f"<description>{escape(html)}</description></item>"
        for n, (title, html, published) in enumerate(items)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>Ny {feed}</title><link>{site}/</link><description>x</description>"
        f"{body}</channel></rss>"
    ).encode()


def _plans(store: Store, feeds: int, span: timedelta) -> list[UpdatePlan]:
    rng = random.Random(feeds)
    stored = store.db.execute(
        "SELECT title, content_html, published FROM entries ORDER BY random() LIMIT ?",
        [feeds * ENTRIES],
    ).fetchall()
    plans = []
    for feed in range(feeds):
        items = []
        for n in range(ENTRIES):
            if n % COPY_EVERY == 0:  # a copy, published the same day as the original
                title, html, published = stored[feed * ENTRIES + n]
                items.append((title, html, datetime.fromisoformat(published)))
            else:
                title, text = _texts(rng)
                items.append((title, f"<p>{text}</p>", NOW - span * rng.random()))
        url = f"https://ny{feed}.example.dk/feed"
        fetched = FetchResult(url, NOW, final_url=url, status=200,
                              content=_document(feed, items),
                              headers={"content-type": "application/rss+xml"})  # fmt: skip
        plans.append(plan_for(fetched, FeedState(url), NOW))
    store.sync_feeds(
        [FeedConfig(name=f"Ny {i}", url=f"https://ny{i}.example.dk/feed") for i in range(feeds)],
        NOW,
    )
    return plans


def index_shape(store: Store) -> tuple[int, int, int]:
    """Distinct sketch values, posts sharing the most common one, values shared by > 100."""
    rows = store.db.execute(
        "SELECT count(*) FROM entry_sketches GROUP BY hash ORDER BY 1 DESC"
    ).fetchall()
    counts = [n for (n,) in rows]
    return len(counts), counts[0] if counts else 0, sum(1 for n in counts if n > 100)


def measure(path: Path, feeds: int, span: timedelta, cutoff: int) -> dict[str, float]:
    """Time a cold poll's writes into the archive at ``path`` with the given cut-off."""
    store = Store.open(path)
    previous, entries_module.COMMON_VALUE = entries_module.COMMON_VALUE, cutoff  # type: ignore[attr-defined]
    try:
        plans = _plans(store, feeds, span)
        rules = MergeRules()
        start = time.process_time()
        with store.batch():
            for plan in plans:
                store.apply(plan, NOW, rules)
        seconds = time.process_time() - start
        (merged,) = store.db.execute(
            "SELECT count(*) FROM entry_sources WHERE merge_reason IS NOT NULL"
        ).fetchone()
        entries = sum(len(plan.entries) for plan in plans)
        return {"per_entry_us": seconds / entries * 1e6, "merged": merged,
                "expected_merged": entries // COPY_EVERY}  # fmt: skip
    finally:
        entries_module.COMMON_VALUE = previous  # type: ignore[attr-defined]
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 200_000])
    parser.add_argument("--new-feeds", type=int, default=100, help="feeds of 20 new entries")
    parser.add_argument("--span-days", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--baseline", action="store_true",
                        help="also measure without the document-frequency cut-off")  # fmt: skip
    args = parser.parse_args()
    span = timedelta(days=args.span_days)
    cutoffs = {"cut-off": COMMON_VALUE}
    if args.baseline:
        cutoffs["no cut-off"] = 1 << 62
    results: dict[tuple[str, int], list[dict[str, float]]] = {}
    shapes = {}
    with tempfile.TemporaryDirectory() as name:
        for size in args.sizes:
            built = Path(name) / f"archive-{size}.db"
            store = build(built, size, 0, True, span, _texts)
            shapes[size] = index_shape(store)
            store.close()
            for _ in range(args.repeats):
                for label, cutoff in cutoffs.items():
                    copy = Path(name) / "measured.db"
                    shutil.copy(built, copy)
                    results.setdefault((label, size), []).append(
                        measure(copy, args.new_feeds, span, cutoff)
                    )
                    copy.unlink()
            built.unlink()
    header = ("index", "stored", "µs per new entry", "ratio", "merged copies", "sketch values",
              "largest share", "values shared by > 100")  # fmt: skip
    rows = [header]
    for (label, size), runs in sorted(results.items()):
        median = statistics.median(r["per_entry_us"] for r in runs)
        base = statistics.median(r["per_entry_us"] for r in results[(label, min(args.sizes))])
        last = runs[-1]
        distinct, largest, common = shapes[size]
        rows.append((label, f"{size:,}", f"{median:.0f}", f"{median / base:.2f}×",
                     f"{last['merged']:.0f} of {last['expected_merged']:.0f}",
                     f"{distinct:,}", f"{largest}", f"{common}"))  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        print(" | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
