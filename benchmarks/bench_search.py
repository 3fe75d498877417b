"""Search at the size of a real archive: query latency, index size and build time.

    python -m benchmarks.bench_search                            # 1,000,000 entries
    python -m benchmarks.bench_search --entries 100000           # quicker
    python -m benchmarks.bench_search --cache DIR                # keep the database, reuse it
    python -m benchmarks.bench_search --cache DIR --rebuild      # and time the index again

Entries are written with bulk SQL into the real schema and indexed by the migration's own
rebuild, so a million take minutes, not the hours a poll of them would. With ``--cache`` the
database is kept (named by entry count and generator version) and reused by the next run; an
older schema is migrated on opening, which rebuilds the index where a migration asks.

Their words follow Zipf's law over a vocabulary of Danish words, their inflections and a
long tail of rarer words, as real text does; queries are drawn by how many posts a word is
in, from a word in a third of all posts to one in a few dozen. Prints one table: p50, p95
and max per kind of query, over every query of that kind, each run once warm.
"""

from __future__ import annotations

import argparse
import itertools
import random
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aggregator.archive_search import search_archive
from aggregator.config import Config, FeedConfig
from aggregator.normalise import canonical_url, entry_id
from aggregator.store import Store, to_db_time
from benchmarks.corpus import WORDS

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
FEEDS = 200
GENERATOR = 2  # bump when build() writes different data: the cache key
# Categories posts carry (feeds.yaml tags are regions, one per feed).
CATEGORIES = [
    "Digitalisering", "Økonomi", "Sundhed", "Skole", "Klima", "Data", "Sikkerhed",
    "Borgerservice", "Beskæftigelse", "Ældre", "Kultur", "Trafik", "Miljø", "Byggeri",
    "Erhverv", "Dagtilbud", "Handicap", "Indkøb", "Jura", "Organisation",
]  # fmt: skip
REGIONS = ["hovedstaden", "sjælland", "syddanmark", "midtjylland", "nordjylland"]


def feed_configs() -> tuple[FeedConfig, ...]:
    return tuple(
        FeedConfig(
            name=f"Kommune {i:03d}",
            url=f"https://kommune{i}.example.dk/feed",
            tags=(REGIONS[i % len(REGIONS)],),
        )
        for i in range(FEEDS)
    )


SPAN = timedelta(days=10 * 365)
TITLE_WORDS, BODY_WORDS = 7, 60
FUNCTION_WORDS = [
    "og",
    "i",
    "at",
    "er",
    "det",
    "til",
    "på",
    "af",
    "med",
    "som",
    "den",
    "en",
    "for",
    "de",
    "har",
    "om",
    "vi",
    "kan",
    "der",
    "ikke",
    "et",
    "skal",
    "fra",
    "også",
    "nye",
    "blev",
    "være",
    "efter",
    "ved",
]
SUFFIXES = ("", "en", "er", "erne", "ens", "et", "s", "ernes")
SYLLABLES = [
    "ka",
    "ko",
    "ki",
    "ru",
    "ra",
    "sto",
    "tel",
    "fo",
    "bær",
    "dan",
    "lø",
    "ga",
    "mi",
    "ne",
    "sa",
    "vi",
    "mø",
    "hå",
    "rå",
    "tu",
    "ar",
    "en",
    "ve",
    "lo",
    "ste",
    "pe",
    "ni",
    "bo",
    "da",
    "fa",
]


def vocabulary(rng: random.Random, size: int) -> list[str]:
    """Function words first (the most frequent), then inflected topic words, then a tail of
    made-up words of two to four syllables, as rare as words in real text get."""
    words = list(FUNCTION_WORDS)
    words += [w + s for s in SUFFIXES for w in WORDS]
    seen = set(words)
    while len(words) < size:
        made = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        if made not in seen:
            seen.add(made)
            words.append(made)
    return words


def build(path: Path, entries: int, rng: random.Random) -> Store:
    store = Store.open(path)
    feeds = feed_configs()
    store.sync_feeds(feeds, NOW)
    store.db.execute("PRAGMA synchronous = OFF")  # a benchmark's scratch data
    vocab = vocabulary(rng, 60_000)
    weights = list(itertools.accumulate(1 / (rank + 1) ** 1.05 for rank in range(len(vocab))))
    seen, step = to_db_time(NOW), SPAN / entries
    category_weights = list(itertools.accumulate(1 / (r + 1) for r in range(len(CATEGORIES))))
    rows: list[tuple[object, ...]] = []
    sources: list[tuple[object, ...]] = []
    categories: list[tuple[object, ...]] = []

    def flush() -> None:
        with store.db.atomic():
            store.db.conn.executemany(
                """INSERT INTO entries (id, canonical_url, link, title, title_key, author,
                       content_html, summary_text, language, published, updated, first_seen,
                       last_changed, primary_feed_url, backfill, never_merge, sketch)
                   VALUES (?, ?, ?, ?, '', NULL, ?, ?, 'da', ?, ?, ?, ?, ?, 0, 0, '')""",
                rows,
            )
            store.db.conn.executemany(
                """INSERT INTO entry_sources (feed_url, entry_key, entry_id, link, canonical_url,
                       content_hash, published, first_seen, last_seen)
                   VALUES (?, ?, ?, ?, ?, '', ?, ?, ?)""",
                sources,
            )
            store.db.conn.executemany(
                "INSERT INTO entry_categories (entry_id, position, term) VALUES (?, ?, ?)",
                categories,
            )
        rows.clear()
        sources.clear()
        categories.clear()

    for n in range(entries):
        feed_url = feeds[n % FEEDS].url
        link = f"https://kommune{n % FEEDS}.example.dk/nyt/{n}"
        drawn = rng.choices(vocab, cum_weights=weights, k=TITLE_WORDS + BODY_WORDS)
        title = " ".join(drawn[:TITLE_WORDS]).capitalize()
        body = " ".join(drawn[TITLE_WORDS:])
        published = to_db_time(NOW - SPAN + step * n)
        uid = entry_id(feed_url, link, canonical_url(link))
        rows.append(
            (
                uid,
                link,
                link,
                title,
                f"<p>{body}.</p>",
                body[:300],
                published,
                published,
                seen,
                seen,
                feed_url,
            )
        )
        sources.append((feed_url, link, uid, link, link, published, seen, seen))
        terms = rng.choices(CATEGORIES, cum_weights=category_weights, k=rng.randint(0, 2))
        categories += [(uid, i, term) for i, term in enumerate(dict.fromkeys(terms))]
        if len(rows) >= 20_000:
            flush()
    flush()
    store.db.execute("PRAGMA synchronous = NORMAL")
    return store


def document_frequencies(store: Store, sample: int = 20_000) -> tuple[Counter[str], int]:
    """How many of a sample of posts each (lower-cased) word is in."""
    counts: Counter[str] = Counter()
    step = max(1, store.entry_count() // sample)
    rows = store.db.execute(
        "SELECT title || ' ' || summary_text FROM entries WHERE rowid % ? = 0", [step]
    ).fetchall()
    for (text,) in rows:
        counts.update(set(text.lower().split()))
    return counts, len(rows)


def query_set(counts: Counter[str], sampled: int, rng: random.Random) -> dict[str, list[str]]:
    def band(low: float, high: float) -> list[str]:
        found = [
            w for w, c in counts.items() if low <= c / sampled < high and w not in FUNCTION_WORDS
        ]
        rng.shuffle(found)
        return found[:40]

    common, frequent = band(0.08, 0.5), band(0.02, 0.08)
    uncommon, rare = band(0.002, 0.02), band(0.0001, 0.002)
    pairs = list(zip(common, frequent, strict=False))
    return {
        "word in 8-50% of posts": common,
        "word in 2-8%": frequent,
        "word in 0.2-2%": uncommon,
        "word in < 0.2%": rare,
        "two words (common AND frequent)": [f"{a} {b}" for a, b in pairs],
        '"phrase" of two common words': [f'"{a} {b}"' for a, b in itertools.pairwise(common)],
        "a OR b (frequent)": [f"{a} OR {b}" for a, b in itertools.pairwise(frequent)],
        "common -frequent": [f"{a} -{b}" for a, b in pairs],
        "common kilde:NAME (1 of 200 feeds)": [
            f'{a} kilde:"Kommune {i * 7 % FEEDS:03d}"' for i, a in enumerate(common)
        ],
        "frequent kilde:NAME": [
            f'{b} kilde:"Kommune {i * 7 % FEEDS:03d}"' for i, b in enumerate(frequent)
        ],
        "common tag:CATEGORY (post's own)": [
            f"{a} tag:{CATEGORIES[-1 - i % 8]}" for i, a in enumerate(common)
        ],
        "common tag:REGION (40 feeds)": [
            f"{a} tag:{REGIONS[i % len(REGIONS)]}" for i, a in enumerate(common)
        ],
        "kilde:NAME alone": [f'kilde:"Kommune {i * 7 % FEEDS:03d}"' for i in range(40)],
        "common fra:DATE": [f"{a} fra:2026-01-01" for a in common],
    }


def timed_queries(run: Callable[[str], object], queries: Sequence[str]) -> list[float]:
    samples = []
    for query in queries:
        run(query)  # warm: a service has its pages cached
        start = time.perf_counter()
        run(query)
        samples.append(time.perf_counter() - start)
    return samples


def row(label: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"{label:<40} | {len(samples):>3} | {statistics.median(samples) * 1000:8.2f} | "
        f"{p95 * 1000:8.2f} | {ordered[-1] * 1000:8.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument(
        "--cache", type=Path, help="directory to keep the database in and reuse it from"
    )
    parser.add_argument(
        "--rebuild", action="store_true", help="rebuild the index of a reused database"
    )
    args = parser.parse_args()
    rng = random.Random(16)
    directory = tempfile.TemporaryDirectory()
    folder = args.cache or Path(directory.name)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"search-{args.entries}-g{GENERATOR}.db"
    reuse = path.exists()
    started = time.perf_counter()
    store = Store.open(path) if reuse else build(path, args.entries, rng)
    built = time.perf_counter() - started
    indexed_in = None
    if not reuse or args.rebuild:
        started = time.perf_counter()
        store.rebuild_search_index()
        indexed_in = time.perf_counter() - started
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    total = store.entry_count()
    config = Config(feeds=feed_configs())
    written = f"reused (opened in {built:.0f} s)" if reuse else f"written in {built:.0f} s"
    indexed = "" if indexed_in is None else f"; index built in {indexed_in:.0f} s"
    print(f"entries: {total:,}; {written}{indexed}")
    counts, sampled = document_frequencies(store)
    queries = query_set(counts, sampled, random.Random(17))  # the same queries on a reuse

    def ranked(query: str) -> object:
        return search_archive(store, config, query, NOW, limit=20)

    def newest(query: str) -> object:
        return search_archive(store, config, query, NOW, limit=50, order="newest")

    index_bytes = store.search_index_bytes()
    db_bytes = path.stat().st_size
    print(
        f"search index: {index_bytes / 2**20:,.0f} MiB ({index_bytes / total:,.0f} B/entry) "
        f"of a {db_bytes / 2**20:,.0f} MiB database"
    )
    print(f"{'query (20 ranked results, snippets)':<40} |   n |  p50 ms |  p95 ms |  max ms")
    everything: list[float] = []
    for label, texts in queries.items():
        if not texts:
            print(f"{label:<40} |   0 | (no such words at this size)")
            continue
        samples = timed_queries(ranked, texts)
        everything += samples
        print(row(label, samples))
    print(row("all of the above", everything))
    feed_samples = timed_queries(newest, queries["word in 8-50% of posts"])
    if feed_samples:
        print(row("newest 50 of a common word (a feed)", feed_samples))
    store.close()
    directory.cleanup()


if __name__ == "__main__":
    main()
