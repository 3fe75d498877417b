"""The merged export, the digest and the duplicate check against a large archive.

    python -m benchmarks.archive_scale                      # 10,000,000 entries (cached)
    python -m benchmarks.archive_scale --entries 200000     # a quick look

The archive is built by bulk SQL into the real schema (the store's migrations make it, then
rows go in sorted and the indexes are built afterwards), and cached under ``--cache``:
building 10M entries takes minutes, polling them in would take days. It holds
``--feeds`` feeds with ten years of posts each, Danish titles and text, eight sketch values
an entry (one in eight from a pool of stock-phrase values, shared by thousands of posts, as
real prose does) and the search index left empty (bench_search.py measures that).

Measured through the product's own functions, on a warm cache, median of repeats:

export   the merged newest-N selection rendered as Atom, RSS, JSON Feed and page (what a
         subscriber fetches), and the whole site export (every source, tag and month);
digest   ``make_digest`` of last week: select, group, render HTML and text, compose;
dedup    the near-duplicate check of one new post (index lookups and verification).
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aggregator.config import Config, parse_config
from aggregator.dedup import SKETCH_SIZE, title_key
from aggregator.store import Store
from aggregator.store.times import to_db_time
from benchmarks.scale_server import WORDS

CACHE = Path("/work/benchdata")
GENERATION = 1
NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
SPAN = timedelta(days=3650)
STOCK_VALUES = 1000


def config_for(db: Path, feeds: int) -> Config:
    values = {
        "site": {"database": str(db), "output_dir": str(db.parent / "out"),
                 "title": "Offentlig digitalisering"},
        "feeds": [{"name": f"Blog {f}", "url": _feed_url(f), "tags": [f"emne-{f % 20}"]}
                  for f in range(feeds)],
    }  # fmt: skip
    return parse_config(values, source_path=db.parent / "feeds.yaml")


def _feed_url(feed: int) -> str:
    return f"https://blog{feed}.example.dk/feed/"


def _texts(rng: random.Random, count: int = 4096) -> list[tuple[str, str, str]]:
    """A pool of (title start, its title key, text) that the rows draw from: generating
    10M texts one by one took most of the build."""
    pool = []
    for _ in range(count):
        words = rng.choices(WORDS, k=rng.randint(25, 60))
        start = " ".join(words[:5]).capitalize()
        pool.append((start, title_key(start), " ".join(words)))
    return pool


def _rows(feeds: int, per_feed: int, rng: random.Random) -> Iterator[tuple[tuple, tuple, list]]:  # type: ignore[type-arg]
    """Entry, source and sketch rows, feed by feed (so each table's key arrives in order)."""
    pool = _texts(rng)
    step = SPAN.total_seconds() / per_feed
    base = (NOW - SPAN).timestamp()
    serial = 0
    for feed in range(feeds):
        url = _feed_url(feed)
        offset = rng.uniform(0, step)
        for number in range(per_feed):
            serial += 1
            entry_id = f"{feed:06d}{number:07d}"
            published = datetime.fromtimestamp(base + offset + step * number, UTC)
            when = published.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
            seen_at = published + timedelta(minutes=5 + serial % 85)
            seen = seen_at.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
            start, key, text = pool[(serial * 2654435761) % len(pool)]
            tail = f"indlæg {number} fra blog {feed}"
            title = f"{start} – {tail}"
            link = f"https://blog{feed}.example.dk/{number}/"
            # Unique values in a scattered order, and one in eight from the stock pool.
            sketch = [
                (serial * 8 + i) % STOCK_VALUES
                if (serial + i) % 8 == 0
                else ((serial * 8 + i) * 0x9E3779B97F4A7C15) % (1 << 62)
                for i in range(SKETCH_SIZE)
            ]
            yield (
                (entry_id, link, link, title, None, f"<p>{text}.</p>", text, "da", when, when,
                 seen, seen, url, f"{key} {tail}", " ".join(map(str, sketch))),
                (url, f"guid-{number}", entry_id, link, f"{serial:016x}", seen, seen, link, when),
                [(value, entry_id) for value in sketch],
            )  # fmt: skip


def build(path: Path, feeds: int, per_feed: int) -> None:
    """The archive at ``path``: the real schema from the store, then bulk rows."""
    part = path.with_suffix(".part")
    part.unlink(missing_ok=True)
    Store.open(part).close()
    db = sqlite3.connect(part, isolation_level=None)
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("PRAGMA synchronous = OFF")
    db.execute("PRAGMA cache_size = -200000")
    indexes = [
        sql for (sql,) in db.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            " AND tbl_name IN ('entries', 'entry_sources', 'entry_sketches')")
    ]  # fmt: skip
    for (name,) in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        " AND tbl_name IN ('entries', 'entry_sources', 'entry_sketches')"
    ).fetchall():
        db.execute(f"DROP INDEX {name}")
    created = to_db_time(NOW - SPAN)
    db.execute("BEGIN")
    db.executemany(
        "INSERT INTO feeds (url, name, created_at, state, last_success_at, next_poll_at)"
        " VALUES (?, ?, ?, 'ok', ?, ?)",
        [(_feed_url(f), f"Blog {f}", created, to_db_time(NOW), to_db_time(NOW + timedelta(hours=1)))
         for f in range(feeds)],
    )  # fmt: skip
    # Sketch rows arrive in random key order; a temporary table sorted once is faster.
    db.execute("CREATE TEMP TABLE sketches (hash INTEGER, entry_id TEXT)")
    batch: list[tuple[tuple, tuple, list]] = []  # type: ignore[type-arg]

    def flush() -> None:
        db.executemany(
            "INSERT INTO entries (id, canonical_url, link, title, author, content_html,"
            " summary_text, language, published, updated, first_seen, last_changed,"
            " primary_feed_url, title_key, sketch) VALUES"
            " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [b[0] for b in batch],
        )
        db.executemany("INSERT INTO entry_sources (feed_url, entry_key, entry_id, link,"
                       " content_hash, first_seen, last_seen, canonical_url, published)"
                       " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", [b[1] for b in batch])  # fmt: skip
        db.executemany("INSERT INTO sketches VALUES (?, ?)", [r for b in batch for r in b[2]])
        batch.clear()

    first = next(_rows(1, 1, random.Random(17)))[0]
    assert title_key(first[3]) == first[13], "the pool's title keys must be the product's"
    for rows in _rows(feeds, per_feed, random.Random(17)):
        batch.append(rows)
        if len(batch) >= 20_000:
            flush()
    flush()
    db.execute("INSERT OR IGNORE INTO entry_sketches SELECT hash, entry_id FROM sketches"
               " ORDER BY hash, entry_id")  # fmt: skip
    db.execute("DROP TABLE sketches")
    db.execute("COMMIT")
    for sql in indexes:
        db.execute(sql)
    db.execute("ANALYZE")
    db.execute("PRAGMA journal_mode = WAL")
    db.close()
    part.rename(path)


def timed(work: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median and max milliseconds of ``repeats`` runs, after one warming run."""
    work()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), max(times)


def measure(path: Path, feeds: int, repeats: int) -> list[str]:
    from aggregator.digest import last_complete
    from aggregator.digest.deliver import make_digest
    from aggregator.export import FEED_RENDERERS, export_feeds
    from aggregator.export.page import PageRenderer, environment
    from aggregator.export.select import Selector, build_site
    from aggregator.pipeline import merge_rules

    lines = []
    with tempfile.TemporaryDirectory(dir=path.parent) as directory:
        config = config_for(Path(directory) / path.name, feeds)
        config = config.model_copy(
            update={"site": config.site.model_copy(update={"database": str(path)})}
        )
        store = Store.open(path)
        try:
            total = store.db.execute("SELECT count(*) FROM entries").fetchone()[0]
            lines.append(f"{total:,} entries from {feeds:,} feeds, "
                         f"{path.stat().st_size / 2**30:.1f} GiB")  # fmt: skip

            def merged() -> None:
                site = build_site(config, store, NOW)
                recent = Selector(config, store, site).recent()
                for render in FEED_RENDERERS.values():
                    render(recent, site)
                PageRenderer(site, environment(None)).render(recent)

            median, worst = timed(merged, repeats)
            lines.append(f"merged export (newest {config.site.max_entries}, 4 formats): "
                         f"median {median:.0f} ms, max {worst:.0f} ms")  # fmt: skip
            period = last_complete(NOW, "week", config.site.zone)

            def digest() -> None:
                make_digest(config, store, period, NOW)

            found = len(store.entries_first_seen_between(period.start_utc, period.end_utc))
            median, worst = timed(digest, repeats)
            lines.append(f"digest of last week ({found} posts in the window): "
                         f"median {median:.0f} ms, max {worst:.0f} ms")  # fmt: skip
            lines.append(_dedup(store, feeds, merge_rules(config), repeats * 20))
            start = time.perf_counter()
            export_feeds(config, store, NOW)
            first = time.perf_counter() - start
            start = time.perf_counter()
            export_feeds(config, store, NOW)
            again = time.perf_counter() - start
            lines.append(f"whole site export ({feeds:,} sources): first {first:.0f} s, "
                         f"again with nothing changed {again:.0f} s")  # fmt: skip
        finally:
            store.close()
    return lines


def _dedup(store: Store, feeds: int, rules: object, count: int) -> str:
    """The near-duplicate check of new posts, each sharing stock values as real ones do."""
    from aggregator.types import EntryPlan

    rng = random.Random(5)
    feed = store._feed_row(_feed_url(0))
    times = []
    for number in range(count):
        words = rng.choices(WORDS, k=40)
        title = f"{' '.join(words[:5]).capitalize()} – nyt indlæg {number}"
        text = " ".join(words)
        entry = EntryPlan(
            key=f"new-{number}", canonical_url=f"https://ny.example.dk/{number}/",
            link=f"https://ny.example.dk/{number}/", title=title, author=None,
            content_html=f"<p>{text}</p>", summary_text=text,
            published=NOW - timedelta(days=rng.uniform(0, 30)),
            updated=NOW, content_hash=str(number), language="da",
            sketch=tuple(rng.randrange(STOCK_VALUES) if rng.random() < 1 / 8
                         else rng.getrandbits(62) for _ in range(SKETCH_SIZE)),
            title_key=title_key(title),
        )  # fmt: skip
        start = time.perf_counter()
        store._entries._same_post(feed, entry, rules)  # type: ignore[arg-type]
        times.append((time.perf_counter() - start) * 1000)
    return (f"dedup check of a new post ({count} posts): median {statistics.median(times):.2f} ms,"
            f" p99 {sorted(times)[int(len(times) * 0.99)]:.2f} ms")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entries", type=int, default=10_000_000)
    parser.add_argument("--feeds", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--build-only", action="store_true")
    args = parser.parse_args()
    per_feed = max(1, args.entries // args.feeds)
    path = args.cache / f"archive-g{GENERATION}-{args.feeds}x{per_feed}.db"
    if not path.exists():
        args.cache.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        build(path, args.feeds, per_feed)
        print(f"built {path} in {time.perf_counter() - start:.0f} s", flush=True)
    if args.build_only:
        return
    for line in measure(path, args.feeds, args.repeats):
        print(line, flush=True)


if __name__ == "__main__":
    main()
