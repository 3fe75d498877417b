"""The merged export, the digest and the duplicate check against a large archive.

    python -m benchmarks.archive_scale                      # 10,000,000 entries (cached)
    python -m benchmarks.archive_scale --entries 200000     # a quick look

The archive is the real schema (the store's migrations make it) filled inside SQLite: one
``INSERT ... SELECT`` over a recursive CTE per table, no Python per row, with the indexes
and triggers off during the load and rebuilt after it, journal and fsync off for the build
only. It is cached under ``--cache``: 10M entries take minutes, polling them in would take
days. The default is what ten years of 20,000 feeds that each post about once a week hold:
500 posts a feed, evenly spread, so a week holds about 19,000 posts (1/520 of the archive)
and the merged feed's newest 100 are the last few hours. Each post has a Danish title and
12-24 words of Danish text (content and summary), one in fifty a second copy from the next
feed (a merged post), eight sketch values (one in eight from a pool of 1,000 stock-phrase
values, shared by thousands of posts as real prose does); no categories or enclosures, and
the search index empty (bench_search.py measures that). No ANALYZE: the store never runs
it, so the plans are the ones a user's database gets.

Measured through the product's own functions, on a warm cache, median and max of repeats:

export   the merged newest-N selection (``build_site`` + ``Selector.recent``), then rendered
         as Atom, RSS and JSON Feed, then also the page (what a subscriber fetches);
         ``--whole-site`` adds the export of every source, tag and month;
digest   ``assemble`` of last week (read the window, group: the build), then ``make_digest``
         (build, render HTML and text, compose the message);
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
GENERATION = 3
NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
SPAN = timedelta(days=3650)
STOCK_VALUES = 1000
TEXTS = 4096


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


def _texts(rng: random.Random, count: int = TEXTS) -> list[tuple[int, str, str, str]]:
    """A pool of (number, title start, its title key, text) the rows draw from: SQLite builds
    the rows, and calling Python per row would be most of the build."""
    pool = []
    for number in range(count):
        words = rng.choices(WORDS, k=rng.randint(12, 24))
        start = " ".join(words[:5]).capitalize()
        pool.append((number, start, title_key(start), " ".join(words)))
    return pool


def _db_time(seconds: str) -> str:
    """SQL for a Unix time as the store writes times (microseconds, ``Z``)."""
    return f"strftime('%Y-%m-%dT%H:%M:%f', {seconds}, 'unixepoch') || '000Z'"


def _sketch_value(serial: str, i: int | str) -> str:
    """SQL for an entry's ``i``-th sketch value: one in eight from the stock pool, the others
    unique and scattered (the multiplier keeps them distinct and below 2**63)."""
    k = f"({serial} * {SKETCH_SIZE} + {i})"
    return (f"CASE WHEN ({serial} + {i}) % 8 = 0 THEN {k} % {STOCK_VALUES}"
            f" ELSE {k} * 2654435761 END")  # fmt: skip


def build(path: Path, feeds: int, per_feed: int) -> None:
    """The archive at ``path``: the real schema from the store's migrations, then one
    ``INSERT ... SELECT`` per table, generated inside SQLite, with the indexes and triggers
    the store keeps taken off during the load and put back after it (every trigger on
    entry_sources looks entries up by an index the load has dropped)."""
    part = path.with_suffix(".part")
    part.unlink(missing_ok=True)
    Store.open(part).close()
    db = sqlite3.connect(part, isolation_level=None)
    for pragma in ("journal_mode = OFF", "synchronous = OFF", "cache_size = -400000",
                   "temp_store = FILE"):  # fmt: skip
        db.execute(f"PRAGMA {pragma}")
    kept = db.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger')"
        " AND sql IS NOT NULL AND tbl_name IN ('entries', 'entry_sources')"
    ).fetchall()
    for kind, name, _ in kept:
        db.execute(f"DROP {kind} {name}")
    db.execute("BEGIN")
    created = to_db_time(NOW - SPAN)
    db.executemany(
        "INSERT INTO feeds (url, name, created_at, state, last_success_at, next_poll_at)"
        " VALUES (?, ?, ?, 'ok', ?, ?)",
        [(_feed_url(f), f"Blog {f}", created, to_db_time(NOW), to_db_time(NOW + timedelta(hours=1)))
         for f in range(feeds)],
    )  # fmt: skip
    db.execute("CREATE TEMP TABLE texts (n INTEGER PRIMARY KEY, start, key, body)")
    db.executemany("INSERT INTO texts VALUES (?, ?, ?, ?)", _texts(random.Random(17)))
    step = SPAN.total_seconds() / per_feed
    base = (NOW - SPAN).timestamp()
    # One row per entry in the order they were polled in, as a store's rows lie on disk (a
    # week's posts are neighbours): every feed's first post, then every feed's second, ...;
    # each feed starts at its own offset within a step, so the feeds' posts interleave.
    published = f"round({base} + (feed * 7919 % 1000) * {step / 1000} + {step} * num, 3)"
    seen = f"{published} + 60 * (5 + serial % 85)"
    sketch = " || ' ' || ".join(_sketch_value("serial", i) for i in range(SKETCH_SIZE))
    db.execute(
        f"""INSERT INTO entries (id, canonical_url, link, title, author, content_html,
                summary_text, language, published, updated, first_seen, last_changed,
                primary_feed_url, title_key, sketch)
            WITH RECURSIVE n(serial) AS (
                SELECT 0 UNION ALL SELECT serial + 1 FROM n WHERE serial < {feeds * per_feed - 1}
            ), e AS (
                SELECT serial, serial % {feeds} AS feed, serial / {feeds} AS num,
                       (serial * 2654435761) % {TEXTS} AS text FROM n
            ), dated AS (
                SELECT e.*, {_db_time(published)} AS published, {_db_time(seen)} AS seen,
                       'https://blog' || feed || '.example.dk/' || num || '/' AS link,
                       'indlæg ' || num || ' fra blog ' || feed AS tail
                FROM e
            )
            SELECT printf('%06d%07d', feed, num), link, link,
                   t.start || ' – ' || tail, NULL, '<p>' || t.body || '.</p>', t.body, 'da',
                   published, published, seen, seen,
                   'https://blog' || feed || '.example.dk/feed/', t.key || ' ' || tail, {sketch}
            FROM dated JOIN texts t ON t.n = dated.text"""
    )
    # Each entry's own source, and one in fifty copied by the next feed (a merged post,
    # shown with "also in"), in the entries' order.
    db.execute(
        """INSERT INTO entry_sources (feed_url, entry_key, entry_id, link, content_hash,
                first_seen, last_seen, canonical_url, published)
            SELECT primary_feed_url, 'guid-' || substr(id, 7), id, link, printf('%016x', rowid),
                   first_seen, first_seen, canonical_url, published
            FROM entries"""
    )
    db.execute(
        f"""INSERT INTO entry_sources (feed_url, entry_key, entry_id, link, content_hash,
                first_seen, last_seen, canonical_url, published, merge_reason)
            SELECT 'https://blog' || ((substr(id, 1, 6) + 1) % {feeds}) || '.example.dk/feed/',
                   'copy-' || id, id, replace(link, '.dk/', '.dk/kopi/'), printf('%016x', rowid),
                   first_seen, first_seen, NULL, published, 'similar text'
            FROM entries WHERE rowid % 50 = 0"""
    )
    db.execute(
        f"""INSERT INTO entry_sketches (hash, entry_row)
            SELECT {_sketch_value("(e.rowid - 1)", "i.i")}, e.rowid
            FROM entries e, (WITH RECURSIVE i(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM i
                             WHERE i < {SKETCH_SIZE - 1}) SELECT i FROM i) i
            ORDER BY 1, 2"""
    )
    db.execute("COMMIT")
    for _, _, sql in kept:
        db.execute(sql)
    db.execute("PRAGMA journal_mode = WAL")
    db.close()
    part.rename(path)


def timed(work: Callable[[], object], repeats: int) -> str:
    """Median and max milliseconds of ``repeats`` runs, after one warming run, wall and CPU
    (on a shared machine the wall time is mostly waiting for a core)."""
    work()
    walls, cpus = [], []
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        work()
        walls.append((time.perf_counter() - start) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    return (f"median {statistics.median(walls):.1f} ms, max {max(walls):.1f} ms"
            f" (CPU median {statistics.median(cpus):.1f} ms, max {max(cpus):.1f} ms)")  # fmt: skip


def measure(path: Path, feeds: int, repeats: int, whole_site: bool) -> Iterator[str]:
    from aggregator.export import export_feeds
    from aggregator.pipeline import merge_rules

    with tempfile.TemporaryDirectory(dir=path.parent) as directory:
        config = config_for(Path(directory) / path.name, feeds)
        config = config.model_copy(
            update={"site": config.site.model_copy(update={"database": str(path)})}
        )
        store = Store.open(path)
        try:
            total = store.entry_count()
            yield (f"{total:,} entries from {feeds:,} feeds, "
                   f"{path.stat().st_size / 2**30:.1f} GiB")  # fmt: skip
            yield from _merged(config, store, repeats)
            yield from _digest(config, store, repeats)
            yield _dedup(store, feeds, merge_rules(config), repeats * 40)
            if whole_site:
                start = time.perf_counter()
                export_feeds(config, store, NOW)
                first = time.perf_counter() - start
                start = time.perf_counter()
                export_feeds(config, store, NOW)
                again = time.perf_counter() - start
                yield (f"whole site export ({feeds:,} sources): first {first:.0f} s, "
                       f"again with nothing changed {again:.0f} s")  # fmt: skip
        finally:
            store.close()


def _merged(config: Config, store: Store, repeats: int) -> Iterator[str]:
    from aggregator.export import FEED_RENDERERS
    from aggregator.export.page import PageRenderer, environment
    from aggregator.export.select import Selector, build_site
    from aggregator.export.view import Selection, Site

    newest = config.site.max_entries

    def from_store() -> None:
        store.recent_entries(newest)

    def selected() -> tuple[Site, Selection]:
        site = build_site(config, store, NOW)
        return site, Selector(config, store, site).recent()

    def feeds_rendered() -> None:
        site, recent = selected()
        for render in FEED_RENDERERS.values():
            render(recent, site)

    def with_page() -> None:
        site, recent = selected()
        for render in FEED_RENDERERS.values():
            render(recent, site)
        PageRenderer(site, environment(None)).render(recent)

    yield f"merged export, the store's newest {newest}: {timed(from_store, repeats)}"
    yield (f"merged export, select the newest {newest} (+ the site of {len(config.feeds):,}"
           f" sources): {timed(selected, repeats)}")  # fmt: skip
    yield f"merged export, select + Atom, RSS, JSON Feed: {timed(feeds_rendered, repeats)}"
    yield f"merged export, select + 3 feeds + page: {timed(with_page, repeats)}"


def _digest(config: Config, store: Store, repeats: int) -> Iterator[str]:
    from aggregator.digest import last_complete
    from aggregator.digest.deliver import assemble, make_digest, preview_window

    settings = config.named_digest("default")
    period = last_complete(NOW, "week", config.site.zone)
    window = preview_window(store, settings, period, NOW)
    found = len(store.entries_first_seen_between(window.start, window.end, content=False))

    def built() -> None:
        assemble(config, store, settings, period, window)

    def whole_digest() -> None:
        make_digest(config, store, period, NOW)

    yield f"digest of last week ({found:,} posts), build: {timed(built, repeats)}"
    yield (f"digest of last week, build + render + compose: "
           f"{timed(whole_digest, max(1, repeats // 2))}")  # fmt: skip


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
    ordered = sorted(times)
    p99 = ordered[int(len(times) * 0.99)]
    return (f"dedup check of a new post ({count} posts): median {statistics.median(times):.2f}"
            f" ms, p99 {p99:.2f} ms, max {ordered[-1]:.2f} ms")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entries", type=int, default=10_000_000)
    parser.add_argument("--feeds", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument("--whole-site", action="store_true",
                        help="also export every source, tag and month (hours at 10M)")  # fmt: skip
    args = parser.parse_args()
    per_feed = max(1, args.entries // args.feeds)
    path = args.cache / f"archive-g{GENERATION}-{args.feeds}x{per_feed}.db"
    if not path.exists():
        args.cache.mkdir(parents=True, exist_ok=True)
        start, cpu = time.perf_counter(), time.process_time()
        build(path, args.feeds, per_feed)
        print(f"built {path} in {time.perf_counter() - start:.0f} s"
              f" ({time.process_time() - cpu:.0f} s CPU), {path.stat().st_size / 2**30:.1f} GiB",
              flush=True)  # fmt: skip
    if args.build_only:
        return
    for line in measure(path, args.feeds, args.repeats, args.whole_site):
        print(line, flush=True)


if __name__ == "__main__":
    main()
