"""CPU of a cold poll's two halves, each in this process alone: planning (what the worker
processes do: parse, normalise, sketch, stem) and storing (what the main process does:
``Store.apply`` of every plan in one batch, as the poll writes them).

    python -m benchmarks.poll_split                        # 1,000 feeds of each corpus
    python -m benchmarks.poll_split --feeds 300 --corpus wild
    python -m benchmarks.poll_split --feeds 300 --corpus wild --statements   # the store's SQL

The corpus documents of benchmarks/corpus.py are planned from bytes in memory (no server,
no fetch), then written into a new database. CPU seconds (user + system) per entry, so the
figure is the work itself, less sensitive than wall time to other processes on the machine.
``--statements`` also times each SQL statement of the store's half (its rows fetched too),
grouped by its text with the lists of placeholders folded, and prints the costliest: wall
time through a wrapper, so the figures are relative, and a statement that makes SQLite
spill its cache or commit carries the cost of writing the pages out.
"""

from __future__ import annotations

import argparse
import os
import re
import sqlite3
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aggregator.config import FeedConfig
from aggregator.planning import plan_for
from aggregator.store import MergeRules, Store
from aggregator.types import FeedState, FetchResult, UpdatePlan
from benchmarks.corpus import PRESETS, document

NOW = datetime(2026, 11, 3, 12, tzinfo=UTC)


def _cpu() -> float:
    times = os.times()
    return times.user + times.system


def plans(feeds: int, corpus: str) -> tuple[list[UpdatePlan], float]:
    """Every feed's plan, and the CPU seconds planning took."""
    fetched = []
    for feed in range(feeds):
        rendered = document(feed, 0, corpus)
        url = f"http://127.0.0.1/feed/{feed}"
        fetched.append(FetchResult(url, NOW, final_url=url, status=200, content=rendered.body,
                                   headers={"content-type": rendered.content_type}))  # fmt: skip
    start = _cpu()
    made = [plan_for(f, FeedState(f.feed_url), NOW) for f in fetched]
    return made, _cpu() - start


class _Rows:
    """A cursor's rows, all fetched while the statement was timed."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self.rows, self.rowcount = cursor.fetchall(), cursor.rowcount
        self.lastrowid = cursor.lastrowid

    def __iter__(self) -> Iterator[Any]:
        return iter(self.rows)

    def fetchall(self) -> list[Any]:
        return self.rows

    def fetchone(self) -> Any:
        return self.rows[0] if self.rows else None


class TimedConnection:
    """The store's connection, timing each statement by its shape (see --statements)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self.seconds: defaultdict[str, list[float]] = defaultdict(lambda: [0, 0.0])

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def _count(self, sql: str, rows: int, start: float) -> None:
        shape = re.sub(r"\s+", " ", sql).strip()
        shape = re.sub(r"\?(\s*,\s*\?)+", "?…", re.sub(r"(\(\?[?, …]*\)\s*,?\s*)+", "(?…)", shape))
        found = self.seconds[shape[:100]]
        found[0] += rows
        found[1] += time.perf_counter() - start

    def execute(self, sql: str, parameters: Any = ()) -> _Rows:
        start = time.perf_counter()
        rows = _Rows(self._conn.execute(sql, parameters))
        self._count(sql, 1, start)
        return rows

    def executemany(self, sql: str, parameters: Iterable[Any]) -> sqlite3.Cursor:
        listed = list(parameters)
        start = time.perf_counter()
        cursor = self._conn.executemany(sql, listed)
        self._count(sql, len(listed), start)
        return cursor


def store_cpu(made: list[UpdatePlan], timed: TimedConnection | None = None) -> float:
    """CPU seconds of writing the plans into a new database in one batch; with ``timed``,
    through that wrapper of the store's connection."""
    with tempfile.TemporaryDirectory() as directory:
        store = Store.open(Path(directory) / "split.db")
        if timed is not None:
            timed._conn = store.conn
            store.conn = store.db.conn = timed  # type: ignore[assignment]
        store.sync_feeds([FeedConfig(name=f"F{i}", url=p.feed_url) for i, p in enumerate(made)],
                         NOW)  # fmt: skip
        rules = MergeRules()
        start = _cpu()
        with store.batch():
            for plan in made:
                store.apply(plan, NOW, rules)
        spent = _cpu() - start
        store.close()
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--corpus", nargs="+", choices=PRESETS, default=list(PRESETS))
    parser.add_argument("--statements", action="store_true",
                        help="also time the store's SQL statement by statement")  # fmt: skip
    args = parser.parse_args()
    print("corpus  | feeds | entries | planning µs/entry | storing µs/entry")
    for corpus in args.corpus:
        made, planning = plans(args.feeds, corpus)
        entries = sum(len(plan.entries) for plan in made)
        storing = store_cpu(made)
        print(f"{corpus:7} | {args.feeds:5} | {entries:7} | {planning / entries * 1e6:17.0f} | "
              f"{storing / entries * 1e6:16.0f}")  # fmt: skip
        if args.statements:
            _print_statements(made, entries)


def _print_statements(made: list[UpdatePlan], entries: int) -> None:
    timed = TimedConnection(sqlite3.connect(":memory:"))
    store_cpu(made, timed)
    print("  µs/entry |    rows | statement")
    costliest = sorted(timed.seconds.items(), key=lambda item: -item[1][1])
    for shape, (rows, seconds) in costliest[:20]:
        print(f"  {seconds / entries * 1e6:8.1f} | {int(rows):7} | {shape}")


if __name__ == "__main__":
    main()
