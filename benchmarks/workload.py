"""One measured phase in a fresh process: prints a JSON line with seconds and peak RSS.
The memory of its whole process tree is sampled from outside, by run.py, so that sampling
takes no time from the process being measured.

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


def settings(base: str, n: int, db: Path, workers: int | None) -> dict[str, object]:
    chosen = {} if workers is None else {"workers": workers}
    return {
        "site": {"database": str(db), "output_dir": str(db.parent / "out")},
        # The default concurrency; the per-host limit raised, as every feed here is on one
        # host, which no real configuration comes near.
        "poll": {"allow_private_hosts": ["127.0.0.1"], "concurrency": 8,
                 "per_host_concurrency": 8, **chosen},
        "feeds": [{"name": f"F{i}", "url": u} for i, u in enumerate(urls(base, n))],
    }  # fmt: skip


def run_process(base: str, n: int, db: Path, workers: int | None) -> tuple[float, int]:
    """``aggregator poll`` as an admin runs it, timed as a whole process: interpreter start,
    imports, the poll and the export after it."""
    import subprocess

    config = db.parent / "feeds.yaml"
    config.write_text(json.dumps(settings(base, n, db, workers)))  # JSON is YAML
    command = [str(Path(sys.executable).with_name("aggregator")), "poll", "-q", "-c", str(config)]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"aggregator poll failed: {done.stderr[-2000:]}")
    return seconds, 0


def run_service(base: str, n: int, db: Path, workers: int | None) -> tuple[float, int]:
    """A poll inside a running ``aggregator run``: from the service's start to its log line
    of the poll's end (start-up, starting the workers and the poll; the export after it is
    left out). Every feed is made due first with ``aggregator retry --all``, which keeps the
    validators, as the service otherwise polls only the feeds whose time has come."""
    import signal
    import subprocess

    exe = str(Path(sys.executable).with_name("aggregator"))
    config = db.parent / "feeds.yaml"
    values = settings(base, n, db, workers)
    values["poll"] = {**values["poll"], "startup_spread_seconds": 0}  # type: ignore[dict-item]
    config.write_text(json.dumps(values))
    if db.exists():
        subprocess.run([exe, "retry", "--all", "-q", "-c", str(config)], check=True,
                       capture_output=True)  # fmt: skip
    start = time.perf_counter()
    service = subprocess.Popen([exe, "run", "-c", str(config), "--tick", "0.2"],
                               stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert service.stderr is not None
    try:
        for line in service.stderr:
            if "polled " in line and " feeds" in line:
                seconds = time.perf_counter() - start
                break
        else:
            raise SystemExit("aggregator run stopped before polling")
    finally:
        service.send_signal(signal.SIGTERM)
        service.communicate(timeout=120)
    return seconds, 0


def run_aggregator(base: str, n: int, db: Path, workers: int | None) -> tuple[float, int]:
    from aggregator.config import parse_config
    from aggregator.pipeline import poll, worker_pool
    from aggregator.store import Store

    config = parse_config(settings(base, n, db, workers), source_path=db.parent / "feeds.yaml")
    with worker_pool(config, respawn=False) as pool:  # as `aggregator poll` starts it: first
        store = Store.open(config.database_path)
        start = time.perf_counter()
        report = poll(config, store, pool=pool)
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("impl", choices=["aggregator", "process", "service", "reader", "floor"])
    parser.add_argument("--base", required=True)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--workers", type=int, help="default: poll.workers' own")
    parser.add_argument("--conditional", action="store_true", help="floor: 304 pass")
    args = parser.parse_args()
    if args.impl == "aggregator":
        seconds, count = run_aggregator(args.base, args.n, args.db, args.workers)
    elif args.impl == "process":
        seconds, count = run_process(args.base, args.n, args.db, args.workers)
    elif args.impl == "service":
        seconds, count = run_service(args.base, args.n, args.db, args.workers)
    elif args.impl == "reader":
        seconds, count = run_reader(args.base, args.n, args.db)
    else:
        seconds, count = run_floor(args.base, args.n, args.conditional)
    who = resource.RUSAGE_CHILDREN if args.impl in ("process", "service") else resource.RUSAGE_SELF
    peak = resource.getrusage(who).ru_maxrss / 1024
    json.dump({"seconds": seconds, "peak_rss_mib": peak, "count": count}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
