"""Start-up time of the commands an admin types most: ``aggregator --help`` and ``status``.

Run: ``flock /work/bench.lock python -m benchmarks.startup`` (a demo folder is made for
``status`` to read). Prints wall-clock and CPU seconds (user + system of the child), median of
the runs: on a busy shared machine the CPU time is the steadier figure.

The children run as an installed package runs: with its bytecode compiled (pip compiles it on
install; an editable checkout under ``PYTHONDONTWRITEBYTECODE`` would compile every module on
every run), kept in a temporary ``PYTHONPYCACHEPREFIX``, and with a temporary cache directory.
``status`` is timed twice: as usual (feeds.yaml validated before, its view cached) and just
after feeds.yaml changed (every run validates it in full with pydantic).
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
from collections.abc import Callable
from pathlib import Path

EXE = Path(sys.executable).with_name("aggregator")


def measure(
    args: list[str], cwd: Path, env: dict[str, str], runs: int, before_each: Callable[[], None]
) -> tuple[list[float], list[float]]:
    walls, cpus = [], []
    for _ in range(runs):
        before_each()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([str(EXE), *args], cwd=cwd, env=env, check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return walls, cpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="aggregator-startup-"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env |= {"PYTHONPYCACHEPREFIX": str(folder / "pycache"), "XDG_CACHE_HOME": str(folder / "cache")}
    config = folder / "demo" / "feeds.yaml"

    def touch_config() -> None:  # new bytes, so the cached view no longer fits
        with config.open("a", encoding="utf-8") as file:
            file.write("# changed\n")

    try:
        subprocess.run([str(EXE), "demo", "--out", str(folder / "demo")], check=True, env=env,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        for warm_up in (["--help"], ["status"]):  # compiles the bytecode, caches the view
            subprocess.run([str(EXE), *warm_up], cwd=config.parent, env=env, check=True,
                           stdout=subprocess.DEVNULL)  # fmt: skip
        load = os.getloadavg()[0]
        python = sys.version.split()[0]
        print(f"machine: {os.cpu_count()} cores, load {load:.1f}, Python {python}; "
              f"{options.runs} runs, median (min-max)")  # fmt: skip
        print(f"{'command':<38} | {'wall s':<20} | {'cpu s':<20}")
        cases = (
            ("aggregator --help", ["--help"], lambda: None),
            ("aggregator status", ["status"], lambda: None),
            ("aggregator status, feeds.yaml changed", ["status"], touch_config),
        )
        for label, args, before_each in cases:
            walls, cpus = measure(args, config.parent, env, options.runs, before_each)
            cells = [
                f"{statistics.median(v):.3f} ({min(v):.3f}-{max(v):.3f})" for v in (walls, cpus)
            ]
            print(f"{label:<38} | {cells[0]:<20} | {cells[1]:<20}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
