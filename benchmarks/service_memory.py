"""Memory of a long-running service: PSS of the process tree over many polls.

    python -m benchmarks.service_memory                 # 200 feeds, 60 polls
    python -m benchmarks.service_memory --feeds 50 --polls 10

The service's own poll job (``Service.poll_due``: poll what is due, then export) runs
against the loopback benchmark server with the long-lived worker pool, as in ``aggregator
run``; a clock of its own moves two hours between polls, so every feed is due each time, and
every other poll one feed in ten has changed. After each poll the PSS of this process and
its workers is read from /proc: a leak shows as a line that keeps rising.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aggregator.config import parse_config
from aggregator.pipeline import worker_pool
from aggregator.scheduler import Service
from benchmarks.run import TreeMemory, feed_server, set_version


def _pss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/smaps_rollup") as rollup:
        line = next((line for line in rollup if line.startswith("Pss:")), "Pss: 0 kB")
    return int(line.split()[1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--polls", type=int, default=60)
    parser.add_argument("--corpus", default="classic")
    args = parser.parse_args()
    with feed_server(args.feeds, 0.0, args.corpus) as base, tempfile.TemporaryDirectory() as d:
        db = Path(d) / "feeds.db"
        values = {
            "site": {"database": str(db), "output_dir": str(Path(d) / "out")},
            "poll": {"allow_private_hosts": ["127.0.0.1"], "per_host_concurrency": 8,
                     "startup_spread_seconds": 0, "adaptive": False, "jitter": 0},
            "feeds": [{"name": f"F{i}", "url": f"{base}/feed/{i}"} for i in range(args.feeds)],
        }  # fmt: skip
        (Path(d) / "feeds.yaml").write_text(json.dumps(values))
        config = parse_config(values, source_path=Path(d) / "feeds.yaml")
        now = [datetime.now(UTC)]
        with worker_pool(config) as pool:  # first, as `aggregator run` starts it
            service = Service(config, clock=lambda: now[0], pool=pool)
            assert pool._spawner is not None, "a pool of workers: poll.workers > 0"
            workers = TreeMemory(pool._spawner)  # the spawner and the workers it forks
            print("| poll | main PSS MiB | workers PSS MiB (with the spawner) | tree MiB |")
            print("|---|---|---|---|")
            for number in range(1, args.polls + 1):
                set_version(base, number % 2)
                service.poll_due()
                now[0] += timedelta(hours=2)
                main, rest = _pss_kib(os.getpid()) / 1024, workers._tree_pss_kib() / 1024
                if number in (1, 2, 5) or number % 10 == 0 or number == args.polls:
                    print(f"| {number} | {main:.0f} | {rest:.0f} | {main + rest:.0f} |",
                          flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
