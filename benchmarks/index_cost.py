"""What keeping the search index costs a cold poll: 1,000 feeds of 20 entries each.

    python -m benchmarks.index_cost                  # 1,000 feeds, 3 runs
    python -m benchmarks.index_cost --feeds 100 --repeats 1

Each run polls every feed of the loopback benchmark server into a new database, in this
process, as ``aggregator poll`` does (worker processes parse and plan; this process writes).
Twice per run: as shipped, and with the index writes left out (``SearchIndex.reindex`` made
a no-op, which only a benchmark may do). Also times the main process's own time inside
``reindex`` (stemming and FTS5 inserts), which is what moving stemming into the workers
could save.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from aggregator.config import parse_config
from aggregator.pipeline import poll, worker_pool
from aggregator.store import Store
from aggregator.store.search import Prepared, SearchIndex
from benchmarks.run import feed_server
from benchmarks.workload import settings


@contextmanager
def reindex_timed(skip: bool) -> Iterator[list[float]]:
    """Seconds spent inside SearchIndex.reindex (or none at all with ``skip``)."""
    spent: list[float] = []
    original = SearchIndex.reindex

    def timed(
        self: SearchIndex, entry_ids: Iterable[str], prepared: Prepared | None = None
    ) -> None:
        if skip:
            return
        start = time.perf_counter()
        original(self, entry_ids, prepared)
        spent.append(time.perf_counter() - start)

    SearchIndex.reindex = timed  # type: ignore[method-assign]
    try:
        yield spent
    finally:
        SearchIndex.reindex = original  # type: ignore[method-assign]


def cold_poll(base: str, feeds: int, skip_index: bool) -> tuple[float, float, int]:
    with tempfile.TemporaryDirectory() as directory:
        db = Path(directory) / "cold.db"
        config = parse_config(settings(base, feeds, db, 2), source_path=Path(directory) / "f.yaml")
        with worker_pool(config) as pool, reindex_timed(skip_index) as spent:
            store = Store.open(config.database_path)
            start = time.perf_counter()
            report = poll(config, store, pool=pool)
            seconds = time.perf_counter() - start
            store.close()
        if report.failed:
            raise SystemExit(f"{len(report.failed)} feeds failed: {report.failed[0].error}")
        return seconds, sum(spent), report.new


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--corpus", default="classic")
    args = parser.parse_args()
    with_index: list[float] = []
    without: list[float] = []
    inside: list[float] = []
    new = 0
    with feed_server(args.feeds, 0.0, args.corpus) as base:
        for _ in range(args.repeats):
            seconds, spent, new = cold_poll(base, args.feeds, skip_index=False)
            with_index.append(seconds)
            inside.append(spent)
            without.append(cold_poll(base, args.feeds, skip_index=True)[0])
    median = statistics.median
    print(f"cold poll of {args.feeds:,} feeds ({new:,} new entries), {args.repeats} runs, median")
    print(f"with the search index    | {median(with_index):7.2f} s")
    print(f"without it               | {median(without):7.2f} s")
    print(f"inside reindex (main)    | {median(inside):7.2f} s "
          f"({median(inside) / median(with_index):.0%} of the poll)")  # fmt: skip
    per_entry = median(inside) / max(new, 1) * 1e6
    print(f"per new entry            | {per_entry:7.0f} µs")


if __name__ == "__main__":
    main()
