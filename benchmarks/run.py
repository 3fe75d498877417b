"""Poll benchmark: aggregator against the plain-GET floor and, when given, lemon24/reader.

    python -m benchmarks.run                              # N = 200 and 1000, 3 runs each
    python -m benchmarks.run --reader-python /path/to/reader-venv/bin/python
    python -m benchmarks.run --sizes 10 --repeats 1       # smoke run
    python -m benchmarks.run --corpus wild                # one corpus preset only

Every phase runs in a fresh process (see workload.py) against one loopback server process
(see server.py), on each corpus preset (see corpus.py). Two aggregator figures: the poll
alone, timed inside the process, and ``aggregator poll`` timed as a whole process (start-up,
poll and export). Prints one table: median and min-max per phase, the ratios measured in the
same run, peak memory, database size, and the share of feeds the fast parser reads.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PHASES = ("cold", "unchanged", "changed")


@dataclass
class Samples:
    seconds: dict[str, list[float]] = field(default_factory=lambda: {p: [] for p in PHASES})
    peak_rss: list[float] = field(default_factory=list)
    worker_rss: list[float] = field(default_factory=list)
    db_bytes: list[int] = field(default_factory=list)


@contextmanager
def feed_server(n: int, latency: float, corpus: str) -> Iterator[str]:
    with tempfile.TemporaryDirectory() as directory:
        port_file = Path(directory) / "port"
        process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.server", "--n", str(n), "--port-file",
             str(port_file), "--latency", str(latency), "--corpus", corpus],
            cwd=ROOT,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 120
            while not port_file.exists() or not port_file.read_text():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the benchmark server did not start")
                time.sleep(0.05)
            yield f"http://127.0.0.1:{port_file.read_text()}"
        finally:
            process.terminate()
            process.wait(timeout=10)


def set_version(base: str, version: int) -> None:
    with urllib.request.urlopen(f"{base}/_version/{version}", timeout=10) as response:
        response.read()


class TreeMemory:
    """Peak proportional set size (PSS: shared pages split between the processes sharing
    them) of a process and all its descendants (the workers are grandchildren, via the
    spawner), sampled every 20 ms from /proc by a thread of this process."""

    def __init__(self, root: int, interval: float = 0.02) -> None:
        self.root = root
        self.interval = interval  # long runs sample less often: each sample reads /proc
        self.peak_mib = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _tree_pss_kib(self) -> int:
        parents: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as stat:
                        # pid (comm) state ppid ...: comm may hold spaces, so split after it
                        parents[int(entry)] = int(stat.read().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
        total = 0
        for pid in parents:
            ancestor = pid
            while ancestor and ancestor != self.root:
                ancestor = parents.get(ancestor, 0)
            if ancestor != self.root:
                continue
            try:
                with open(f"/proc/{pid}/smaps_rollup") as rollup:
                    pss = next((line for line in rollup if line.startswith("Pss:")), "")
            except OSError:
                continue
            total += int(pss.split()[1]) if pss else 0
        return total

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak_mib = max(self.peak_mib, self._tree_pss_kib() / 1024)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def workload(python: str, impl: str, base: str, n: int, db: Path, *extra: str) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [python, str(ROOT / "benchmarks" / "workload.py"), impl, "--base", base, "--n", str(n),
         "--db", str(db), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    with TreeMemory(process.pid) as memory:
        stdout, stderr = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"{impl} failed:\n{stderr[-2000:]}")
    result: dict[str, float] = json.loads(stdout.strip().splitlines()[-1])
    result["tree_peak_rss_mib"] = memory.peak_mib
    return result


def run_contender(python: str, impl: str, base: str, n: int, samples: Samples,
                  extra: tuple[str, ...] = ()) -> None:  # fmt: skip
    with tempfile.TemporaryDirectory() as directory:
        db = Path(directory) / "feeds.db"
        set_version(base, 0)
        runs = {"cold": workload(python, impl, base, n, db, *extra)}
        samples.db_bytes.append(sum(p.stat().st_size for p in Path(directory).glob("feeds.db*")))
        runs["unchanged"] = workload(python, impl, base, n, db, *extra)
        set_version(base, 1)
        runs["changed"] = workload(python, impl, base, n, db, *extra)
        set_version(base, 0)
        for phase, run in runs.items():
            samples.seconds[phase].append(run["seconds"])
        # The peak of the three phases: later polls start workers too, on a larger database.
        samples.peak_rss.append(max(run["peak_rss_mib"] for run in runs.values()))
        samples.worker_rss.append(max(run["tree_peak_rss_mib"] for run in runs.values()))


def floor(base: str, n: int) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory() as directory:
        db = Path(directory) / "x"
        return {
            "cold": [workload(sys.executable, "floor", base, n, db)["seconds"]],
            "unchanged": [
                workload(sys.executable, "floor", base, n, db, "--conditional")["seconds"]
            ],
        }


def fmt(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})"


def ratio(a: list[float], b: list[float]) -> str:
    return f"{statistics.median(a) / statistics.median(b):.1f}×" if a and b else "-"


def fast_share(n: int, corpus: str) -> str:
    """The share of the corpus's feeds the lxml fast path reads (the rest go to feedparser)."""
    from aggregator.decode import to_utf8
    from aggregator.parse_fast import parse_fast
    from benchmarks.corpus import document

    fast = 0
    for feed in range(n):
        rendered = document(feed, 0, corpus)
        # Decoded first, as parse_feed does: a Latin-1 feed reaches the fast path as UTF-8.
        decoded = to_utf8(rendered.body, {"content-type": rendered.content_type})
        url = f"http://127.0.0.1/feed/{feed}"
        fast += parse_fast(decoded.content, url, decoded.headers) is not None
    return f"{fast / n:.0%} of {n} feeds"


def main() -> None:
    from benchmarks.corpus import PRESETS

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[200, 1000])
    parser.add_argument("--corpus", nargs="+", choices=PRESETS, default=list(PRESETS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added per request")
    parser.add_argument(
        "--workers",
        type=int,
        help="aggregator worker processes (default: poll.workers' default)",
    )
    parser.add_argument("--reader-python", help="a Python >= 3.12 with reader 3.27 installed")
    args = parser.parse_args()
    reader = args.reader_python
    if reader is None:
        print("reader comparison skipped: no --reader-python given (a Python >= 3.12 with "
              "`pip install reader==3.27`)", file=sys.stderr)  # fmt: skip
    elif not shutil.which(reader) and not Path(reader).exists():
        raise SystemExit(f"--reader-python {reader}: no such interpreter")

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, {platform.platform()}")  # fmt: skip
    rows = []
    workers = () if args.workers is None else ("--workers", str(args.workers))
    for corpus in args.corpus:
        for n in args.sizes:
            ours, whole, service, theirs = Samples(), Samples(), Samples(), Samples()
            floors: dict[str, list[float]] = {"cold": [], "unchanged": []}
            with feed_server(n, args.latency, corpus) as base:
                for _ in range(args.repeats):
                    for phase, values in floor(base, n).items():
                        floors[phase] += values
                    run_contender(sys.executable, "aggregator", base, n, ours, workers)
                    run_contender(sys.executable, "process", base, n, whole, workers)
                    run_contender(sys.executable, "service", base, n, service, workers)
                    if reader:
                        run_contender(reader, "reader", base, n, theirs)
            for phase in PHASES:
                rows.append((
                    phase, corpus, n, fmt(ours.seconds[phase]), fmt(whole.seconds[phase]),
                    fmt(service.seconds[phase]), fmt(theirs.seconds[phase]),
                    fmt(floors.get(phase, [])),
                    ratio(theirs.seconds[phase], ours.seconds[phase]),
                    ratio(theirs.seconds[phase], whole.seconds[phase]),
                    ratio(ours.seconds[phase], floors.get(phase, [])),
                ))  # fmt: skip
            rows.append((
                "peak MiB (RSS main / PSS tree)", corpus, n,
                f"{max(ours.peak_rss):.0f} / {max(ours.worker_rss):.0f}",
                f"{max(whole.peak_rss):.0f} / {max(whole.worker_rss):.0f}",
                f"{max(service.peak_rss):.0f} / {max(service.worker_rss):.0f}",
                f"{max(theirs.peak_rss):.0f}" if theirs.peak_rss else "-", "", "", "", "",
            ))  # fmt: skip
            rows.append(("database MiB", corpus, n, f"{max(ours.db_bytes) / 2**20:.1f}", "", "",
                         f"{max(theirs.db_bytes) / 2**20:.1f}" if theirs.db_bytes else "-",
                         "", "", "", ""))  # fmt: skip
            rows.append(("fast path", corpus, n, fast_share(n, corpus), *[""] * 7))
    header = ("phase", "corpus", "N", "aggregator s", "aggregator poll s", "service s",
              "reader s", "floor s", "reader/agg", "reader/poll", "agg/floor")  # fmt: skip
    table = [header, *[tuple(str(c) for c in row) for row in rows]]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    print(f"runs per phase: {args.repeats}; seconds as median (min–max); aggregator = the "
          "poll in-process; aggregator poll = the whole `aggregator poll` process; service = "
          "`aggregator run` from its start to the end of its poll")  # fmt: skip
    for row in table:
        print(" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
