"""Where the memory of a cold poll goes: the peak PSS of the poll's process tree, and each
process's share of it at that moment, from /proc/<pid>/smaps_rollup.

    python -m benchmarks.memory_split                       # 300 feeds of the wild corpus
    python -m benchmarks.memory_split --feeds 1000 --runs 3

The poll is benchmarks/workload.py's in-process one (the main process and its workers; the
export is not part of it), against benchmarks.server. Private_Dirty is what a process has
written: its own allocations and its copies of pages it shared with the others at the fork.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.run import ROOT, feed_server

FIELDS = ("Rss", "Pss", "Shared_Clean", "Shared_Dirty", "Private_Dirty")


def rollup(pid: int) -> dict[str, int]:
    """A process's smaps_rollup, kB; empty once it has gone."""
    found: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as lines:
            for line in lines:
                key, _, value = line.partition(":")
                if value.strip().endswith("kB"):
                    found[key] = int(value.split()[0])
    except OSError:
        pass
    return found


def tree(root: int) -> list[int]:
    """The process and its descendants."""
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as children:
                    todo += [int(child) for child in children.read().split()]
        except OSError:
            continue
    return found


def peak(base: str, feeds: int) -> list[dict[str, int]]:
    """Each process's rollup at the moment the tree's PSS was highest, main process first."""
    with tempfile.TemporaryDirectory() as directory:
        db = Path(directory) / "aggregator.db"
        process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.workload", "aggregator", "--base", base,
             "--n", str(feeds), "--db", str(db)],
            cwd=ROOT, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        highest: list[dict[str, int]] = []
        while process.poll() is None:
            sample = [rollup(pid) for pid in tree(process.pid)]
            if sum(s.get("Pss", 0) for s in sample) > sum(s.get("Pss", 0) for s in highest):
                highest = sample
            time.sleep(0.05)
        if process.returncode != 0:
            raise SystemExit("the poll failed")
    return highest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=300)
    parser.add_argument("--corpus", default="wild")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    print("run | process | " + " | ".join(f"{name} MiB" for name in FIELDS))
    with feed_server(args.feeds, 0.0, args.corpus) as base:
        for run in range(1, args.runs + 1):
            processes = peak(base, args.feeds)
            names = ["main"] + [f"worker {n}" for n in range(1, len(processes))]
            for name, values in [*zip(names, processes, strict=True), ("tree", {
                key: sum(p.get(key, 0) for p in processes) for key in FIELDS
            })]:  # fmt: skip
                figures = " | ".join(f"{values.get(key, 0) / 1024:.1f}" for key in FIELDS)
                print(f"{run} | {name} | {figures}")


if __name__ == "__main__":
    main()
