"""Start-up time of the commands an admin types most: ``aggregator --help`` and ``status``.

Run: ``flock /work/bench.lock python -m benchmarks.startup`` (a demo folder is made for
``status`` to read). Prints wall-clock and CPU seconds (user + system of the child), median of
the runs: on a busy shared machine the CPU time is the steadier figure.

The children run as an installed package runs: with its bytecode compiled (pip compiles it on
install; an editable checkout under ``PYTHONDONTWRITEBYTECODE`` would compile every module on
every run), kept in a temporary ``PYTHONPYCACHEPREFIX``, and with a temporary cache directory.
``status`` is timed twice: as usual (feeds.yaml validated before, its view cached) and just
after feeds.yaml changed (every run validates it in full with pydantic).

``--exe PATH`` (repeatable) times other entry points in the same runs, interleaved, each with
its own cache: for a before/after, install main's wheel into a second venv and pass both. An
editable install (``pip install -e``) starts slower than a normal one: its import finder costs
15-20 ms in ``site`` before aggregator is imported. The ``python -c pass`` row is the
interpreter's own start-up (site included) beside each entry point, the floor of every row.
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


def run_cpu(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall-clock and CPU seconds (user + system) of one run of ``command``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def cell(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--exe", type=Path, action="append", help="an aggregator entry point")
    options = parser.parse_args()
    exes: list[Path] = options.exe or [EXE]
    folder = Path(tempfile.mkdtemp(prefix="aggregator-startup-"))
    base = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    base["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")
    # A cache each: the cached view is keyed by the code, so sharing one would thrash it.
    envs = [base | {"XDG_CACHE_HOME": str(folder / f"cache{i}")} for i in range(len(exes))]
    config = folder / "demo" / "feeds.yaml"

    def touch_config() -> None:  # new bytes, so the cached view no longer fits
        with config.open("a", encoding="utf-8") as file:
            file.write("# changed\n")

    try:
        subprocess.run([str(exes[0]), "demo", "--out", str(folder / "demo")], check=True,
                       env=envs[0], stdout=subprocess.DEVNULL)  # fmt: skip
        for exe, env in zip(exes, envs, strict=True):
            for warm_up in (["--help"], ["status"]):  # compiles the bytecode, caches the view
                subprocess.run([str(exe), *warm_up], cwd=config.parent, env=env, check=True,
                               stdout=subprocess.DEVNULL)  # fmt: skip
        load = os.getloadavg()[0]
        python = sys.version.split()[0]
        print(f"machine: {os.cpu_count()} cores, load {load:.1f}, Python {python}; "
              f"{options.runs} runs, median (min-max)")  # fmt: skip
        cases: tuple[tuple[str, list[str] | None, Callable[[], None]], ...] = (
            ("python -c pass", None, lambda: None),
            ("aggregator --help", ["--help"], lambda: None),
            ("aggregator status", ["status"], lambda: None),
            ("aggregator status, feeds.yaml changed", ["status"], touch_config),
        )
        for label, args, before_each in cases:
            times: list[tuple[list[float], list[float]]] = [([], []) for _ in exes]
            for _ in range(options.runs):  # interleaved: a change of load hits every exe alike
                for (walls, cpus), exe, env in zip(times, exes, envs, strict=True):
                    before_each()
                    command = [str(exe.with_name("python")), "-c", "pass"] if args is None else [
                        str(exe), *args]  # fmt: skip
                    wall, cpu = run_cpu(command, config.parent, env)
                    walls.append(wall)
                    cpus.append(cpu)
            for (walls, cpus), exe in zip(times, exes, strict=True):
                where = f"  [{exe}]" if len(exes) > 1 else ""
                print(f"{label:<38} | wall {cell(walls):<20} | cpu {cell(cpus):<20}{where}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
