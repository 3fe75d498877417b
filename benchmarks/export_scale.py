"""The whole site export against the wild corpus's shape, at two sizes.

    python -m benchmarks.export_scale                     # 1,000 and 4,000 feeds
    python -m benchmarks.export_scale --feeds 1000 10000

A store of ``feeds`` x 20 posts is built by bulk SQL into the real schema (the store's
migrations make it; its triggers keep the feeds' change counters), shaped as the wild corpus
of benchmarks/corpus.py: Danish prose of about 2 KB a post, one to three categories, a post
every seven hours, so nearly every post falls in one month. Then, each in a fresh process:

first      the first export into an empty output folder (every page, feed and archive);
unchanged  the same export again, nothing changed in between;
changed    after 10% of the feeds got two new posts each (bulk SQL, as a poll writes them).

Each line gives the export's own time (``export_feeds``: wall and CPU; on a shared machine
the wall time is mostly waiting for a core or the disk), the time to load feeds.yaml and
open the store before it, the whole process's wall time (start-up included) and its peak
RSS (VmHWM of the child: its own, not the parent's pages it held before exec).
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from aggregator.store import Store
from aggregator.store.times import to_db_time
from benchmarks import prose

ENTRIES = 20
NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
FIRST_POST = datetime(2026, 11, 20, 0, tzinfo=UTC)
CATEGORIES = ("digitalisering", "it-sikkerhed", "data", "borgerservice", "kunstig intelligens",
              "arkitektur", "udbud", "sundhed-it", "kommuner", "åbne data")  # fmt: skip


def feed_url(feed: int) -> str:
    return f"https://blog{feed}.example.dk/feed/"


def _post(rng: random.Random, feed: int, number: int, every: float) -> tuple[object, ...]:
    html = "".join(f"<p>{p}</p>" for p in prose.paragraphs(rng))
    text = " ".join(prose.paragraphs(rng, 300))
    published = to_db_time(FIRST_POST + timedelta(hours=number * every + feed % 13))
    link = f"https://blog{feed}.example.dk/{number}/"
    return (f"{feed:06d}-{number:03d}", link, link, prose.title(rng), "Mette Æbelø", html,
            text, "da", published, published, published, published, feed_url(feed))  # fmt: skip


def insert_posts(db: sqlite3.Connection, posts: list[tuple[int, int]], every: float = 7) -> None:
    """(feed, number) posts, one every ``every`` hours, with a source row and categories."""
    rng = random.Random(len(posts))
    rows = [_post(random.Random(f"{f}-{n}"), f, n, every) for f, n in posts]
    db.executemany(
        "INSERT INTO entries (id, canonical_url, link, title, author, content_html, summary_text,"
        " language, published, updated, first_seen, last_changed, primary_feed_url)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    db.executemany(
        "INSERT INTO entry_sources (feed_url, entry_key, entry_id, link, content_hash,"
        " first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(r[12], r[1], r[0], r[1], r[0], r[10], r[10]) for r in rows],
    )
    db.executemany(
        "INSERT INTO entry_categories (entry_id, position, term) VALUES (?, ?, ?)",
        [(r[0], i, term) for r in rows
         for i, term in enumerate(rng.sample(CATEGORIES, rng.randint(1, 3)))],
    )  # fmt: skip


def build(path: Path, feeds: int, posts: int = ENTRIES, every: float = 7) -> None:
    Store.open(path).close()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN")
    created = to_db_time(FIRST_POST)
    db.executemany(
        "INSERT INTO feeds (url, name, title, site_url, created_at, state, last_success_at)"
        " VALUES (?, ?, ?, ?, ?, 'ok', ?)",
        [(feed_url(f), f"Blog {f}", f"Bloggen om digitalisering nr. {f}",
          f"https://blog{f}.example.dk/", created, created) for f in range(feeds)],
    )  # fmt: skip
    insert_posts(db, [(f, n) for f in range(feeds) for n in range(posts)], every)
    db.execute("COMMIT")
    db.close()


def change(path: Path, feeds: int) -> None:
    """Two new posts in every tenth feed, newer than any stored."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN")
    insert_posts(db, [(f, n) for f in range(0, feeds, 10) for n in (ENTRIES, ENTRIES + 1)])
    db.execute("COMMIT")
    db.close()


def write_config(folder: Path, feeds: int) -> Path:
    config = {
        "site": {"title": "Offentlig digitalisering", "database": str(folder / "store.db"),
                 "output_dir": str(folder / "out"), "base_url": "https://planet.example.dk/"},
        "feeds": [{"name": f"Blog {f}", "url": feed_url(f), "tags": [CATEGORIES[f % 10]]}
                  for f in range(feeds)],
    }  # fmt: skip
    path = folder / "feeds.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


CHILD = """
import json, sys, time
from pathlib import Path
from aggregator.config import load_config
from aggregator.export import export_feeds
from aggregator.store import Store
from benchmarks.export_scale import NOW
def peak_kib():
    # VmHWM: this process's own peak since exec. ru_maxrss (self or from wait4) also counts
    # the parent's pages the child held between fork and exec.
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
start = time.perf_counter()
config = load_config(Path(sys.argv[1]))
store = Store.open(config.database_path)
ready, cpu = time.perf_counter(), time.process_time()
report = export_feeds(config, store, NOW)
done, cpu = time.perf_counter(), time.process_time() - cpu
store.close()
print(json.dumps({"setup": ready - start, "seconds": done - ready, "cpu": cpu,
                  "files": len(report.files), "changed": len(report.changed),
                  "peak_kib": peak_kib()}))
"""


def measured_export(config: Path) -> dict[str, float]:
    """The export in a child process of its own: its time, wall time and peak RSS."""
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(config)], stdout=subprocess.PIPE)
    assert child.stdout is not None
    with child.stdout:
        output = child.stdout.read()
    status = child.wait()
    wall = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"the export failed: {status}")
    figures: dict[str, float] = json.loads(output)
    figures.update(wall=wall, rss_mib=figures["peak_kib"] / 1024)
    return figures


def run(feeds: int) -> list[str]:
    lines = []
    with tempfile.TemporaryDirectory(prefix="export-scale-") as directory:
        folder = Path(directory)
        config = write_config(folder, feeds)
        start = time.perf_counter()
        build(folder / "store.db", feeds)
        lines.append(f"N = {feeds:,} feeds, {feeds * ENTRIES:,} posts "
                     f"(built in {time.perf_counter() - start:.0f} s)")  # fmt: skip
        print(lines[-1], flush=True)
        for phase in ("first", "unchanged", "changed"):
            if phase == "changed":
                change(folder / "store.db", feeds)
            f = measured_export(config)
            lines.append(
                f"  {phase:<9} export {f['seconds']:7.3f} s ({f['cpu']:7.3f} s CPU), "
                f"config + store {f['setup']:5.2f} s, process {f['wall']:6.2f} s, "
                f"peak RSS {f['rss_mib']:4.0f} MiB, {f['changed']:.0f} of {f['files']:.0f} "
                "files written"
            )
            print(lines[-1], flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--feeds", type=int, nargs="+", default=[1000, 4000])
    args = parser.parse_args()
    for feeds in args.feeds:
        run(feeds)


if __name__ == "__main__":
    main()
