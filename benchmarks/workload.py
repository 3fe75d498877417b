"""One measured phase in a fresh process: prints a JSON line with seconds and peak RSS.

Only the poll itself is timed, for every contender: interpreter start, imports and setup
(creating the reader, loading the config) are outside the clock.

Imports only the standard library at the top, so the same file runs under the reader
interpreter (which has reader, not aggregator, installed).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path


def urls(base: str, n: int) -> list[str]:
    return [f"{base}/feed/{i}" for i in range(n)]


def run_aggregator(base: str, n: int, db: Path, workers: int) -> tuple[float, int]:
    from aggregator.config import parse_config
    from aggregator.pipeline import poll
    from aggregator.store import Store

    config = parse_config(
        {
            "site": {"database": str(db), "output_dir": str(db.parent / "out")},
            "poll": {"allow_private_hosts": ["127.0.0.1"], "concurrency": 16,
                     "per_host_concurrency": 16, "workers": workers},
            "feeds": [{"name": f"F{i}", "url": u} for i, u in enumerate(urls(base, n))],
        },
        source_path=db.parent / "feeds.yaml",
    )  # fmt: skip
    store = Store.open(config.database_path)
    start = time.perf_counter()
    report = poll(config, store)
    seconds = time.perf_counter() - start
    store.close()
    if report.failed:
        raise SystemExit(f"{len(report.failed)} feeds failed: {report.failed[0].error}")
    return seconds, report.new


def run_reader(base: str, n: int, db: Path) -> tuple[float, int]:
    from reader import make_reader  # type: ignore[import-not-found]

    reader = make_reader(str(db))
    for url in urls(base, n):
        reader.add_feed(url, exist_ok=True)
    before = reader.get_entry_counts().total
    start = time.perf_counter()
    reader.update_feeds(scheduled=False)  # every feed, as our poll does
    seconds = time.perf_counter() - start
    total = reader.get_entry_counts().total
    reader.close()
    return seconds, int(total - before)


def run_floor(base: str, n: int, conditional: bool) -> tuple[float, int]:
    """The physical floor: plain GETs, 8 threads, sync httpx, nothing parsed or stored.
    ``conditional`` sends the ETags of a first pass, so the server answers 304."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    with httpx.Client() as client, ThreadPoolExecutor(8) as pool:
        tags = dict.fromkeys(urls(base, n), "")
        if conditional:
            tags = {u: client.get(u).headers.get("etag", "") for u in tags}

        def get(url: str) -> int:
            headers = {"If-None-Match": tags[url]} if tags[url] else {}
            return len(client.get(url, headers=headers).content)

        start = time.perf_counter()
        sizes = list(pool.map(get, tags))
        seconds = time.perf_counter() - start
    return seconds, len(sizes)


class TreeMemory:
    """Peak proportional set size (PSS: shared pages split between the processes sharing
    them) of this process and all its descendants (parser workers are grandchildren, via
    the forkserver), sampled every 20 ms from /proc."""

    def __init__(self) -> None:
        import threading

        self.peak_mib = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _tree_rss_kib() -> int:
        import os

        parents: dict[int, int] = {}
        rss: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/status") as status:
                    fields = dict(line.split(":", 1) for line in status if ":" in line)
            except OSError:
                continue
            parents[int(entry)] = int(fields.get("PPid", "0").strip())
            try:
                with open(f"/proc/{entry}/smaps_rollup") as rollup:
                    pss = next((line for line in rollup if line.startswith("Pss:")), "")
            except OSError:
                continue
            rss[int(entry)] = int(pss.split()[1]) if pss else 0
        root = os.getpid()
        total = 0
        for pid, kib in rss.items():
            ancestor = pid
            while ancestor and ancestor != root:
                ancestor = parents.get(ancestor, 0)
            if ancestor == root:
                total += kib
        return total

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak_mib = max(self.peak_mib, self._tree_rss_kib() / 1024)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("impl", choices=["aggregator", "reader", "floor"])
    parser.add_argument("--base", required=True)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--conditional", action="store_true", help="floor: 304 pass")
    args = parser.parse_args()
    with TreeMemory() as memory:
        if args.impl == "aggregator":
            seconds, count = run_aggregator(args.base, args.n, args.db, args.workers)
        elif args.impl == "reader":
            seconds, count = run_reader(args.base, args.n, args.db)
        else:
            seconds, count = run_floor(args.base, args.n, args.conditional)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    json.dump(
        {"seconds": seconds, "peak_rss_mib": peak, "tree_peak_rss_mib": memory.peak_mib,
         "count": count},
        sys.stdout,
    )  # fmt: skip
    print()


if __name__ == "__main__":
    main()
