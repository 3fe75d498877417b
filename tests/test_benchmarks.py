"""Smoke runs of the benchmark scripts at tiny sizes: they run and print their tables.
The figures themselves belong in benchmarks/, never in assertions here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import free_port

ROOT = Path(__file__).parent.parent


def run(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300,
        check=True,
    )  # fmt: skip
    return done.stdout


def test_poll_benchmark_runs_at_n_10():
    out = run("benchmarks.run", "--sizes", "10", "--repeats", "1", "--corpus", "wild")
    lines = out.splitlines()
    assert lines[0].startswith("machine: ")
    rows = [[cell.strip() for cell in line.split("|")] for line in lines[3:]]
    assert [row[0] for row in rows[:3]] == ["cold", "unchanged", "changed"]
    cold = rows[0]
    assert cold[1:3] == ["wild", "10"]
    assert all(cell != "-" for cell in cold[3:6])  # in-process, whole process, service
    assert cold[6] == "-"  # no reader given
    assert rows[-1][0] == "fast path"
    assert rows[-1][3].endswith("of 10 feeds")


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


def test_every_shape_of_the_wild_corpus_is_a_feed_feedparser_reads_whole():
    """Each shape is well-formed, in its declared encoding, and feedparser (the parser of
    record) reads its 20 entries with Danish letters intact and no warning."""
    from aggregator.parse import parse_feed
    from benchmarks.corpus import document, shape_of
    from benchmarks.shapes import SHAPES

    first: dict[str, int] = {}
    for feed in range(100):
        first.setdefault(shape_of(feed), feed)
    assert set(first) == set(SHAPES)
    for name, feed in first.items():
        rendered = document(feed, 0, "wild")
        parsed = parse_feed(rendered.body, f"https://kommune{feed}.example.dk/feed",
                            {"content-type": rendered.content_type}, fast=False)  # fmt: skip
        assert parsed.warning is None, name
        assert len(parsed.entries) == 20, name
        assert any("ø" in e.content_html or "æ" in e.content_html for e in parsed.entries), name
    assert len(document(0, 1, "wild").body) > len(document(0, 0, "wild").body)  # changed phase


def test_scale_simulation_runs_small_and_its_seeded_cold_database_is_the_polled_one(tmp_path):
    import sqlite3
    from contextlib import closing

    port = free_port()  # below the ephemeral range: no outgoing connection can hold it
    common = ("--feeds", "40", "--hosts", "4", "--port", str(port), "--cache", str(tmp_path))
    out = run("benchmarks.scale", *common, "--cold", "poll", "--restart", "8")
    rows = {line.split("|")[1].strip(): line for line in out.splitlines() if line.startswith("| ")}
    assert {"cold", "cycle", "restart"} <= set(rows)
    assert "120 entries stored" in rows["cold"]  # 40 feeds of three entries, none failing
    assert "restart: next polls" in out
    out = run("benchmarks.scale", *common, "--restart", "0", "--export")
    rows = {line.split("|")[1].strip(): line for line in out.splitlines() if line.startswith("| ")}
    assert {"cold (seeded)", "first export", "cycle + export"} <= set(rows)
    assert "120 entries stored" in rows["cold (seeded)"]
    from benchmarks.scale_server import changed

    new = sum(changed(feed, 1) for feed in range(40))
    # one new entry a changed feed, polled and exported by the one command
    assert f"{120 + new:,} entries stored" in rows["cycle + export"]

    def rows_of(db: Path, sql: str) -> list[tuple[object, ...]]:
        with closing(sqlite3.connect(db)) as connection:
            return connection.execute(sql).fetchall()

    polled, seeded = (tmp_path / f"g1-40-4-{port}{way}" / "feeds.db" for way in ("", "-seed"))
    for sql in (
        "SELECT url, title, site_url, etag, state, last_status, error_count, body_hash,"
        " interval_seconds, last_error IS NULL FROM feeds ORDER BY url",
        "SELECT id, title, title_key, summary_text, content_html, sketch, published FROM entries"
        " ORDER BY id",
        "SELECT feed_url, entry_key, entry_id, content_hash, raw_digest FROM entry_sources"
        " ORDER BY feed_url, entry_key",
        "SELECT k.hash, e.id FROM entry_sketches k JOIN entries e ON e.rowid = k.entry_row"
        " ORDER BY 1, 2",
    ):
        assert rows_of(seeded, sql) == rows_of(polled, sql)


def test_archive_scale_benchmark_runs_small(tmp_path):
    out = run("benchmarks.archive_scale", "--entries", "2000", "--feeds", "20", "--repeats", "1",
              "--cache", str(tmp_path), "--whole-site")  # fmt: skip
    assert "built " in out
    assert "2,000 entries from 20 feeds" in out
    assert "merged export, the store's newest 100: median" in out
    assert "merged export, select the newest 100 (+ the site of 20 sources): median" in out
    assert "merged export, select + 3 feeds + page: median" in out
    assert "digest of last week (" in out
    assert "build + render + compose: median" in out
    assert "dedup check of a new post" in out
    assert "whole site export (20 sources)" in out


def test_service_memory_benchmark_runs_small():
    out = run("benchmarks.service_memory", "--feeds", "10", "--polls", "3")
    rows = [line.split("|") for line in out.splitlines()[2:]]
    assert [r[1].strip() for r in rows] == ["1", "2", "3"]
    assert all(float(r[4]) > 0 for r in rows)


def test_memory_split_benchmark_runs_small():
    out = run("benchmarks.memory_split", "--feeds", "10")
    rows = [[cell.strip() for cell in line.split("|")] for line in out.splitlines()[1:]]
    assert [row[1] for row in rows] == ["main", "worker 1", "worker 2", "tree"]
    assert all(float(cell) > 0 for row in rows for cell in row[2:4])
