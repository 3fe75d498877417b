"""One measured phase in a fresh process: prints a JSON line with seconds and peak RSS.

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


def run_aggregator(base: str, n: int, db: Path, workers: int) -> int:
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
    report = poll(config, store)
    store.close()
    if report.failed:
        raise SystemExit(f"{len(report.failed)} feeds failed: {report.failed[0].error}")
    return report.new


def run_reader(base: str, n: int, db: Path) -> int:
    from reader import make_reader  # type: ignore[import-not-found]

    reader = make_reader(str(db))
    for url in urls(base, n):
        reader.add_feed(url, exist_ok=True)
    before = reader.get_entry_counts().total
    reader.update_feeds()
    total = reader.get_entry_counts().total
    reader.close()
    return int(total - before)


def run_floor(base: str, n: int) -> int:
    """The physical floor: plain GETs, 8 threads, sync httpx, nothing parsed or stored."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    with httpx.Client() as client, ThreadPoolExecutor(8) as pool:
        sizes = list(pool.map(lambda u: len(client.get(u).content), urls(base, n)))
    return len(sizes)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("impl", choices=["aggregator", "reader", "floor"])
    parser.add_argument("--base", required=True)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    start = time.perf_counter()
    if args.impl == "aggregator":
        count = run_aggregator(args.base, args.n, args.db, args.workers)
    elif args.impl == "reader":
        count = run_reader(args.base, args.n, args.db)
    else:
        count = run_floor(args.base, args.n)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    json.dump({"seconds": seconds, "peak_rss_mib": peak, "count": count}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
