"""Smoke runs of the benchmark scripts at tiny sizes: they run and print their tables.
The figures themselves belong in benchmarks/, never in assertions here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


def run(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300,
        check=True,
    )  # fmt: skip
    return done.stdout


def test_poll_benchmark_runs_at_n_10():
    out = run("benchmarks.run", "--sizes", "10", "--repeats", "1")
    lines = out.splitlines()
    assert lines[0].startswith("machine: ")
    phases = [line.split("|")[0].strip() for line in lines[3:]]
    assert phases[:3] == ["cold", "unchanged", "changed"]
    cold = lines[3].split("|")
    assert cold[1].strip() == "10"
    assert cold[3].strip() == "-"  # no reader given


def test_store_benchmark_runs_small():
    out = run("benchmarks.bench_store", "--export-sizes", "300", "600", "--dedup-size", "400")
    assert "export cost 600 / 300 entries" in out
    assert "dedup check, copy of a stored post vs 400" in out


def test_dedup_quality_on_the_test_pairs():
    out = run("benchmarks.dedup_quality")
    assert "precision 1.000, recall 1.000" in out


def test_archive_cost_benchmark_runs_small():
    out = run("benchmarks.archive_cost", "--sizes", "200", "400", "--new-feeds", "2",
              "--baseline")  # fmt: skip
    rows = [line.split("|") for line in out.splitlines()[1:]]
    assert [(r[0].strip(), r[1].strip()) for r in rows] == [
        ("cut-off", "200"), ("cut-off", "400"), ("no cut-off", "200"), ("no cut-off", "400")
    ]  # fmt: skip
    assert all(r[4].strip() == "4 of 4" for r in rows)  # every copy found
