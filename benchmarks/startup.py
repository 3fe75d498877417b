"""Start-up time of the commands an admin types most: ``aggregator --help`` and ``status``.

Run: ``flock /work/bench.lock python -m benchmarks.startup`` (a demo folder is made for
``status`` to read). Prints wall-clock and CPU seconds (user + system of the child), median of
the runs: on a busy shared machine the CPU time is the steadier figure.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXE = Path(sys.executable).with_name("aggregator")


def measure(args: list[str], cwd: Path, runs: int) -> tuple[list[float], list[float]]:
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([str(EXE), *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return walls, cpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="aggregator-startup-"))
    try:
        subprocess.run([str(EXE), "demo", "--out", str(folder)], check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        load = os.getloadavg()[0]
        python = sys.version.split()[0]
        print(f"machine: {os.cpu_count()} cores, load {load:.1f}, Python {python}; "
              f"{options.runs} runs, median (min-max)")  # fmt: skip
        print(f"{'command':<20} | {'wall s':<20} | {'cpu s':<20}")
        for label, args in (("aggregator --help", ["--help"]), ("aggregator status", ["status"])):
            walls, cpus = measure(args, folder, options.runs)
            cells = [
                f"{statistics.median(v):.3f} ({min(v):.3f}-{max(v):.3f})" for v in (walls, cpus)
            ]
            print(f"{label:<20} | {cells[0]:<20} | {cells[1]:<20}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
