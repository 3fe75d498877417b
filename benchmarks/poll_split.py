"""CPU of a cold poll's two halves, each in this process alone: planning (what the worker
processes do: parse, normalise, sketch, stem) and storing (what the main process does:
``Store.apply`` of every plan in one batch, as the poll writes them).

    python -m benchmarks.poll_split                        # 1,000 feeds of each corpus
    python -m benchmarks.poll_split --feeds 300 --corpus wild

The corpus documents of benchmarks/corpus.py are planned from bytes in memory (no server,
no fetch), then written into a new database. CPU seconds (user + system) per entry, so the
figure is the work itself, less sensitive than wall time to other processes on the machine.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

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


def store_cpu(made: list[UpdatePlan]) -> float:
    """CPU seconds of writing the plans into a new database in one batch."""
    with tempfile.TemporaryDirectory() as directory:
        store = Store.open(Path(directory) / "split.db")
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
    args = parser.parse_args()
    print("corpus  | feeds | entries | planning µs/entry | storing µs/entry")
    for corpus in args.corpus:
        made, planning = plans(args.feeds, corpus)
        entries = sum(len(plan.entries) for plan in made)
        storing = store_cpu(made)
        print(f"{corpus:7} | {args.feeds:5} | {entries:7} | {planning / entries * 1e6:17.0f} | "
              f"{storing / entries * 1e6:16.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
