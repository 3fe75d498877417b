"""Store-side benchmarks: export latency against database size, the weekly digest build, and
the near-duplicate check for one new entry.

    python -m benchmarks.bench_store                     # 10k / 100k / 1M entries
    python -m benchmarks.bench_store --export-sizes 10000 100000 --dedup-size 20000

Databases are generated with bulk SQL (not through the poll, which benchmarks/run.py covers)
so a million entries take about a minute, not an hour. Prints one table.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aggregator.config import FeedConfig, parse_config
from aggregator.dedup import sketch, title_key
from aggregator.digest import make_digest
from aggregator.digest.periods import last_complete_week
from aggregator.export import FEED_RENDERERS
from aggregator.export.select import Selector, build_site
from aggregator.normalise import canonical_url, entry_id, normalise_entry
from aggregator.store import MergeRules, Store, to_db_time
from aggregator.store.entries import FeedRow
from aggregator.types import ParsedEntry
from benchmarks.corpus import WORDS

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
FEEDS = 1000


def text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


Texts = Callable[[random.Random], tuple[str, str]]


def random_words(content_words: int) -> Texts:
    """Title and body of uniformly random corpus words (no phrase recurs)."""
    return lambda rng: (text(rng, 6).capitalize(), text(rng, content_words))


def build(path: Path, entries: int, content_words: int, with_sketches: bool,
          span: timedelta, texts: Texts | None = None) -> Store:  # fmt: skip
    """A database of ``entries`` posts from FEEDS feeds, published over ``span``."""
    texts = texts or random_words(content_words)
    store = Store.open(path)
    store.sync_feeds(
        [FeedConfig(name=f"Kommune {i}", url=f"https://kommune{i}.example.dk/feed")
         for i in range(FEEDS)],
        NOW,
    )  # fmt: skip
    rng = random.Random(entries)
    step = span / entries
    batch_entries: list[tuple[object, ...]] = []
    batch_sources: list[tuple[object, ...]] = []
    batch_sketches: list[tuple[int, str]] = []
    seen = to_db_time(NOW)

    def flush() -> None:
        with store.db.atomic():
            store.db.conn.executemany(
                """INSERT INTO entries (id, canonical_url, link, title, title_key, author,
                       content_html, summary_text, language, published, updated, first_seen,
                       last_changed, primary_feed_url, backfill, never_merge, sketch)
                   VALUES (?, ?, ?, ?, ?, NULL, ?, ?, 'da', ?, ?, ?, ?, ?, 0, 0, ?)""",
                batch_entries,
            )
            store.db.conn.executemany(
                """INSERT INTO entry_sources (feed_url, entry_key, entry_id, link, canonical_url,
                       content_hash, published, first_seen, last_seen)
                   VALUES (?, ?, ?, ?, ?, '', ?, ?, ?)""",
                batch_sources,
            )
            store.db.conn.executemany(
                """INSERT OR IGNORE INTO entry_sketches (hash, entry_row)
                   SELECT ?, rowid FROM entries WHERE id = ?""",
                batch_sketches,
            )
        batch_entries.clear()
        batch_sources.clear()
        batch_sketches.clear()

    for n in range(entries):
        feed = n % FEEDS
        feed_url = f"https://kommune{feed}.example.dk/feed"
        link = f"https://kommune{feed}.example.dk/nyt/{n}"
        title, body = texts(rng)
        published = to_db_time(NOW - span + step * n)
        hashes = sketch(body) if with_sketches else ()
        uid = entry_id(feed_url, link, canonical_url(link))
        batch_entries.append((uid, canonical_url(link), link, title, title_key(title),
                              f"<p>{body}</p>", body[:300], published, published, seen, seen,
                              feed_url, " ".join(map(str, hashes))))  # fmt: skip
        batch_sources.append((feed_url, link, uid, link, canonical_url(link), published, seen,
                              seen))  # fmt: skip
        batch_sketches.extend((value, uid) for value in hashes)
        if len(batch_entries) >= 20_000:
            flush()
    flush()
    return store


def timed(work: Callable[[], object], runs: int) -> list[float]:
    work()  # warm the page cache once, as a long-running service has it
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        samples.append(time.perf_counter() - start)
    return samples


def ms(samples: list[float]) -> str:
    return (f"{statistics.median(samples) * 1000:.2f} ms "
            f"({min(samples) * 1000:.2f}–{max(samples) * 1000:.2f})")  # fmt: skip


def export_bench(size: int, directory: Path) -> list[float]:
    store = build(directory / f"export-{size}.db", size, 40, False, timedelta(days=3 * 365))
    feeds = [
        {"name": f"Kommune {i}", "url": f"https://kommune{i}.example.dk/feed"} for i in range(FEEDS)
    ]
    config = parse_config({"site": {"max_entries": 100}, "feeds": feeds})

    def export() -> None:
        site = build_site(config, store, NOW)
        recent = Selector(config, store, site).recent()
        for render in FEED_RENDERERS.values():
            render(recent, site)

    samples = timed(export, 30)
    store.close()
    return samples


def digest_bench(directory: Path) -> tuple[list[float], int]:
    week = last_complete_week(NOW, parse_config({}).site.zone)
    store = build(directory / "digest.db", 5000, 120, False, timedelta(days=7))
    # build() spreads entries over the 7 days before NOW; move them into the digest week, and
    # have each first seen an hour after it was published (the digest's window is by first
    # seen).
    shift = NOW - week.end_utc
    store.db.execute(
        """UPDATE entries SET published = strftime('%Y-%m-%dT%H:%M:%fZ', published, ?),
               first_seen = strftime('%Y-%m-%dT%H:%M:%fZ', published, ?, '+1 hour')""",
        [f"-{shift.total_seconds()} seconds"] * 2,
    )
    store.db.conn.commit()
    config = parse_config({"site": {"title": "Offentlig digitalisering"}})
    count = len(store.entries_first_seen_between(week.start_utc, week.end_utc))
    samples = timed(lambda: make_digest(config, store, week, NOW), 5)
    store.close()
    return samples, count


def dedup_bench(size: int, directory: Path) -> tuple[list[float], list[float]]:
    store = build(directory / "dedup.db", size, 120, True, timedelta(days=365))
    writer = store._entries
    rules = MergeRules()
    feed = FeedRow(url="https://ny.example.dk/feed", priority=0, merge=True, site_url=None,
                   last_success_at=None)  # fmt: skip
    rng = random.Random(7)

    def plan(body: str, title: str, link: str, published: datetime):  # type: ignore[no-untyped-def]
        return normalise_entry(
            ParsedEntry(guid=None, link=link, title=title, author=None,
                        content_html=f"<p>{body}</p>", published=published, updated=None),
            feed.url, NOW,
        )  # fmt: skip

    fresh = [plan(text(rng, 120), text(rng, 6), f"https://ny.example.dk/{i}",
                  NOW - timedelta(days=rng.randint(0, 365))) for i in range(300)]  # fmt: skip
    # Copies of stored posts under another address: the check must find them.
    rows = store.db.execute(
        "SELECT content_html, title, published FROM entries ORDER BY random() LIMIT 100"
    ).fetchall()
    copies = [plan(html[3:-4], title, f"https://ny.example.dk/kopi/{i}",
                   datetime.fromisoformat(published))
              for i, (html, title, published) in enumerate(rows)]  # fmt: skip

    def per_check(plans: list) -> list[float]:  # type: ignore[type-arg]
        samples = []
        for entry in plans:
            start = time.perf_counter()
            found = writer._same_post(feed, entry, rules)
            samples.append(time.perf_counter() - start)
            assert (found is not None) == (entry in copies), entry.link
        return samples

    per_check(fresh[:20])  # warm up
    result = per_check(fresh), per_check(copies)
    store.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--export-sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--dedup-size", type=int, default=100_000)
    args = parser.parse_args()  # fmt: skip
    rows = []
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        exports = {}
        for size in args.export_sizes:
            exports[size] = export_bench(size, directory)
            rows.append((f"export newest 100 (Atom+RSS+JSON), {size:,} entries", ms(exports[size])))
        smallest, largest = min(exports), max(exports)
        growth = statistics.median(exports[largest]) / statistics.median(exports[smallest])
        rows.append((f"export cost {largest:,} / {smallest:,} entries", f"{growth:.2f}×"))
        digest, count = digest_bench(directory)
        rows.append((f"digest build + render, week of {count:,} entries", ms(digest)))
        fresh, copies = dedup_bench(args.dedup_size, directory)
        rows.append((f"dedup check, new post vs {args.dedup_size:,} stored", ms(fresh)))
        rows.append((f"dedup check, copy of a stored post vs {args.dedup_size:,}", ms(copies)))
    width = max(len(r[0]) for r in rows)
    print("measure".ljust(width), "| median (min–max)")
    for label, value in rows:
        print(label.ljust(width), "|", value)


if __name__ == "__main__":
    main()
