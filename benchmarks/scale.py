"""Scale simulation: 10,000 and 100,000 feeds on many hosts, as ``aggregator`` processes.

    python -m benchmarks.scale --feeds 10000 100000
    python -m benchmarks.scale --feeds 2000 --hosts 100      # a quick look

The feeds live on the loopback "internet" of scale_server.py (a thousand hosts, 50–200 ms
an answer, 2% failing in four ways). Phases, each a whole process:

cold     the database the first poll (cycle 0) leaves: by default seeded without the
         network (scale_seed.py: the product's plan and store fed the server's answers,
         minutes at 100,000 feeds), with ``--cold poll`` a whole ``aggregator poll`` of an
         empty database (over an hour); kept under ``--cache`` and reused;
cycle    one full hourly cycle on a copy, ``aggregator poll --no-export``: every feed
         polled, one in ten changed (cycle 1), the rest 304 or failing;
         with ``--export``, first ``aggregator export`` into an empty folder (the output
         of the hour before), then the cycle as ``aggregator poll`` with its export;
restart  ``aggregator run`` for ``--restart`` seconds on the database of a service that was
         down for two hours (every feed overdue), then where the next polls fall (a herd?).

Each phase reports wall time, CPU of the whole process tree (user + system, from the
rusage of reaped children), peak PSS of the tree and the database size.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aggregator.store.times import to_db_time
from benchmarks.run import TreeMemory
from benchmarks.scale_server import fate, feed_url, host_address

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path("/work/benchdata/scale")
GENERATION = 1  # bump when the server's documents change: old cached databases are stale


@dataclass(frozen=True)
class Figures:
    phase: str
    feeds: int
    wall: float
    cpu: float
    pss_mib: float
    db_mib: float
    note: str = ""

    def row(self) -> str:
        return (f"| {self.phase} | {self.feeds:,} | {self.wall:.0f} s | {self.cpu:.0f} s "
                f"| {self.pss_mib:.0f} MiB | {self.db_mib:.0f} MiB | {self.note} |")  # fmt: skip


def settings(feeds: int, hosts: int, port: int, db: Path, workers: int) -> dict[str, object]:
    return {
        "site": {"database": str(db), "output_dir": str(db.parent / "out")},
        # Hourly, not adaptive, so "a cycle" is one hour; the most connections the settings
        # allow, as an admin of 100,000 feeds would set; the default per-host limit.
        "poll": {"allow_private_hosts": [host_address(h) for h in range(hosts)],
                 "concurrency": 100, "per_host_concurrency": 2, "workers": workers,
                 "adaptive": False, "interval_minutes": 60, "startup_spread_seconds": 60},
        "feeds": [{"name": f"Blog {i}", "url": feed_url(i, hosts, port)} for i in range(feeds)],
    }  # fmt: skip


class Server:
    def __init__(self, hosts: int, port: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.scale_server", "--hosts", str(hosts),
             "--port", str(port)],
            cwd=ROOT, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != "ready":
            raise SystemExit("the scale server did not start")
        self.base = f"http://{host_address(0)}:{port}"

    def cycle(self, number: int) -> None:
        import urllib.request

        with urllib.request.urlopen(f"{self.base}/_cycle/{number}", timeout=10) as response:
            response.read()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def db_mib(db: Path) -> float:
    return sum(p.stat().st_size for p in db.parent.glob(db.name + "*")) / 2**20


def aggregator(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("aggregator")), *args]


def measured_poll(
    phase: str, feeds: int, config: Path, db: Path, command: tuple[str, ...] = ("poll",)
) -> Figures:
    cpu, start = children_cpu(), time.perf_counter()
    process = subprocess.Popen(
        aggregator(*command, "-q", "-c", str(config)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    with TreeMemory(process.pid, interval=0.2) as memory:
        _, stderr = process.communicate()
    wall = time.perf_counter() - start
    if process.returncode not in (0, 3):
        raise SystemExit(f"aggregator poll failed ({process.returncode}): {stderr[-2000:]}")
    counts = outcome_counts(db)
    return Figures(phase, feeds, wall, children_cpu() - cpu, memory.peak_mib, db_mib(db), counts)


def outcome_counts(db: Path) -> str:
    with closing(sqlite3.connect(db)) as connection, connection:
        entries = connection.execute("SELECT count(*) FROM entries").fetchone()[0]
        failing = connection.execute("SELECT count(*) FROM feeds WHERE error_count > 0")
        return f"{entries:,} entries stored, {failing.fetchone()[0]:,} feeds failing"


def restart(
    feeds: int, config: Path, db: Path, server: Server, seconds: float
) -> tuple[Figures, str]:
    """``seconds`` of a service that was down two hours (every feed overdue), and where
    the next polls fall after it: all in its first ticks, or spread out."""
    down = datetime.now(UTC) - timedelta(hours=2)
    with closing(sqlite3.connect(db)) as connection, connection:
        connection.execute(
            "UPDATE feeds SET next_poll_at = ? WHERE state != 'gone'", [to_db_time(down)]
        )
    server.cycle(2)
    cpu, start = children_cpu(), time.perf_counter()
    service = subprocess.Popen(aggregator("run", "-c", str(config), "--tick", "5"),
                               stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert service.stderr is not None
    polled = 0
    deadline = time.monotonic() + seconds
    with TreeMemory(service.pid, interval=0.2) as memory:
        stopper = threading.Timer(seconds, service.send_signal, [signal.SIGTERM])
        stopper.start()
        for line in service.stderr:
            if "polled " in line and " feeds" in line and time.monotonic() < deadline:
                polled += int(line.split("polled ", 1)[1].split()[0])
        service.wait(timeout=600)
        stopper.cancel()
        wall = time.perf_counter() - start
    note = f"{polled:,} feeds polled in the first {seconds:.0f} s after 2 h down"
    figures = Figures("restart", feeds, wall, children_cpu() - cpu, memory.peak_mib,
                      db_mib(db), note)  # fmt: skip
    return figures, spread(db, datetime.now(UTC))


def spread(db: Path, now: datetime) -> str:
    """Where the next polls fall: per minute from now, the busiest minute against the mean."""
    with closing(sqlite3.connect(db)) as connection, connection:
        times = [
            datetime.fromisoformat(value)
            for (value,) in connection.execute(
                "SELECT next_poll_at FROM feeds WHERE next_poll_at IS NOT NULL"
            )
        ]
    minutes = Counter(int((t - now).total_seconds() // 60) for t in times)
    hour = [minutes.get(m, 0) for m in range(0, 90)]
    used = [count for count in hour if count]
    mean = sum(used) / len(used) if used else 0
    return (
        f"next polls over the following 90 min: busiest minute {max(hour):,} feeds, "
        f"{len(used)} minutes with polls, {mean:,.0f} a minute in those; "
        f"{sum(hour):,} of {len(times):,} due within 90 min"
    )


def migrate(db: Path) -> None:
    from aggregator.store import Store

    Store.open(db).close()


def seeded(feeds: int, config: Path, db: Path) -> Figures:
    """The cold phase without the network (scale_seed.py): its figures are the build's."""
    from aggregator.config import load_config
    from benchmarks.scale_seed import seed

    cpu, own, start = children_cpu(), time.process_time(), time.perf_counter()
    seed(load_config(config), db)
    wall = time.perf_counter() - start
    spent = children_cpu() - cpu + time.process_time() - own
    note = outcome_counts(db) + "; seeded without the network, not a poll"
    return Figures("cold (seeded)", feeds, wall, spent, 0, db_mib(db), note)


def run(
    feeds: int,
    hosts: int,
    port: int,
    workers: int,
    cache: Path,
    restart_seconds: float,
    seed: bool = True,
    cold_only: bool = False,
    export: bool = False,
) -> Iterator[str]:
    cached = cache / f"g{GENERATION}-{feeds}-{hosts}-{port}{'-seed' if seed else ''}"
    server = Server(hosts, port)
    try:
        with tempfile.TemporaryDirectory(dir=cache) as directory:
            db = Path(directory) / "feeds.db"
            config = Path(directory) / "feeds.yaml"
            config.write_text(json.dumps(settings(feeds, hosts, port, db, workers)))
            if not (cached / "feeds.db").exists():
                server.cycle(0)
                cold = (
                    seeded(feeds, config, db) if seed else measured_poll("cold", feeds, config, db)
                )
                yield cold.row()
                cached.mkdir(parents=True, exist_ok=True)
                shutil.copy(db, cached / "feeds.db")
                (cached / "cold.txt").write_text(cold.row())
                if cold_only:
                    return
            else:
                yield (cached / "cold.txt").read_text() + " (cached)"
                migrate(cached / "feeds.db")  # a schema change since: once, not in a phase
                shutil.copy(cached / "feeds.db", db)
            server.cycle(1)
            if export:
                # The output of the hour before (every source's pages, from an empty folder),
                # then the cycle as cron runs it: the poll and its export of what changed.
                yield measured_poll("first export", feeds, config, db, ("export",)).row()
                yield measured_poll("cycle + export", feeds, config, db, ("poll",)).row()
            else:
                yield measured_poll("cycle", feeds, config, db, ("poll", "--no-export")).row()
            if restart_seconds > 0:
                figures, where = restart(feeds, config, db, server, seconds=restart_seconds)
                yield figures.row()
                yield f"restart: {where}"
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--feeds", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--port", type=int, default=18473)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cache", type=Path, default=CACHE, help="where cold databases are kept")
    parser.add_argument(
        "--restart", type=float, default=120, help="seconds the service runs (0: no restart phase)"
    )
    parser.add_argument(
        "--cold",
        choices=["seed", "poll"],
        default="seed",
        help="make the cold database without the network (seed) or by a whole cold poll"
        " (poll: over an hour at 100,000 feeds)",
    )
    parser.add_argument(
        "--export",
        action="store_true",
        help="time `aggregator export` into an empty output folder, then the cycle with its"
        " export (`aggregator poll`)",
    )
    parser.add_argument(
        "--cold-only",
        action="store_true",
        help="make (and cache) the cold databases, measure nothing else",
    )
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    failing = Counter(fate(i) for i in range(max(args.feeds)))
    print(f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; failure mix of "
          f"{max(args.feeds):,} feeds: {dict(failing)}")  # fmt: skip
    print("| phase | feeds | wall | CPU (tree) | peak PSS (tree) | database | |")
    print("|---|---|---|---|---|---|---|")
    for feeds in args.feeds:
        lines = run(feeds, args.hosts, args.port, args.workers, args.cache, args.restart,
                    seed=args.cold == "seed", cold_only=args.cold_only,
                    export=args.export)  # fmt: skip
        for line in lines:
            print(line, flush=True)
    print(f"load after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
