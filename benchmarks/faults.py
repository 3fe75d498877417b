"""The fault report: more trials of what tests/faults/ checks, as a table.

    flock /work/bench.lock python -m benchmarks.faults [--kills 12] [--writers 4]

Everything runs through the installed ``aggregator`` entry point against a loopback feed
server and a real SQLite file. Columns: trials; lost, duplicated and corrupted (entries
missing, stored twice, databases failing integrity_check after the fault and a clean
re-poll); orphans (worker processes alive two seconds after their parent was killed);
active (things an HTML5 parser finds in the outputs that a browser would run or follow
somewhere unsafe, plus secrets or file contents that leaked); peak memory of the largest
process of the poll.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.faults.corpus import good_feeds, serve_corpus
from tests.faults.harness import (
    command,
    damage,
    ledger,
    output_problems,
    run,
    secrets_in,
    serve_known_feeds,
    set_fsize_limit,
    started,
    write_config,
)
from tests.faults.test_kill import kill_at, slow_down
from tests.feedserver import FeedServer

KNOWN_FEEDS = 50
Row = tuple[str, ...]


@contextmanager
def servers() -> Iterator[tuple[FeedServer, FeedServer]]:
    server, secret = FeedServer().start(), FeedServer().start()
    try:
        yield server, secret
    finally:
        server.stop()
        secret.stop()


def _known(directory: Path, server: FeedServer, slow: bool = False) -> Path:
    feeds = serve_known_feeds(server, KNOWN_FEEDS)
    if slow:
        slow_down(server, feeds)
    return write_config(directory, feeds, allow_private_hosts=["127.0.0.1"])


def kills(server: FeedServer, trials: int, whole_group: bool, rng: random.Random) -> Row:
    lost = duplicated = corrupted = orphans = 0
    for _ in range(trials):
        with tempfile.TemporaryDirectory() as name:
            directory = Path(name)
            config = _known(directory, server, slow=True)
            orphans += kill_at(command("poll", config=config), rng.uniform(0.3, 3.0),
                               whole_group)["orphans"]  # fmt: skip
            after = ledger(directory / "aggregator.db", KNOWN_FEEDS)
            corrupted += after.corrupt
            duplicated += after.duplicated
            run(command("poll", config=config))
            final = ledger(directory / "aggregator.db", KNOWN_FEEDS)
            lost += final.lost
            duplicated += final.duplicated
            corrupted += final.corrupt
    label = "SIGKILL poll, whole group" if whole_group else "SIGKILL poll, main PID only"
    return (label, str(trials), str(lost), str(duplicated), str(corrupted), str(orphans), "-", "-")


def writers(server: FeedServer, trials: int) -> Row:
    lost = duplicated = corrupted = failed = 0
    for _ in range(trials):
        with tempfile.TemporaryDirectory() as name:
            directory = Path(name)
            config = _known(directory, server)
            with (
                started(command("poll", config=config)) as one,
                started(command("poll", config=config)) as two,
            ):
                for process in (one, two):
                    process.communicate(timeout=300)
                    failed += process.returncode != 0
            final = ledger(directory / "aggregator.db", KNOWN_FEEDS)
            lost, duplicated = lost + final.lost, duplicated + final.duplicated
            corrupted += final.corrupt
    return ("two polls on one new database", str(trials), str(lost), str(duplicated),
            str(corrupted), "-", f"{failed} failed", "-")  # fmt: skip


def hostile(server: FeedServer, secret: FeedServer) -> list[Row]:
    """Each case polled alone beside two ordinary feeds, so its memory is its own."""
    rows: list[Row] = []
    cases = serve_corpus(server, secret)
    with tempfile.TemporaryDirectory() as name:
        baseline = Path(name)
        config = write_config(baseline, good_feeds(server), allow_private_hosts=["127.0.0.1"])
        ordinary = run(command("poll", config=config))
        rows.append(("(ordinary poll, 2 feeds)", "1", "-", "-", "-", "-", "-",
                     f"{ordinary.peak_rss_mib:.0f}"))  # fmt: skip
    for case in cases:
        with tempfile.TemporaryDirectory() as name:
            directory = Path(name)
            good = good_feeds(server)
            feeds = [{"name": case.name, "url": server.url(case.path)}, *good]
            config = write_config(directory, feeds, allow_private_hosts=["127.0.0.1"])
            polled = run(command("poll", config=config), timeout=300)
            conn = sqlite3.connect(directory / "aggregator.db")
            counts = dict(conn.execute(
                "SELECT feed_url, count(*) FROM entry_sources GROUP BY feed_url"
            ))  # fmt: skip
            sound = conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            conn.close()
            others = counts.get(good[0]["url"]) == 5 and counts.get(good[1]["url"]) == 2
            output = directory / "output"
            found = output_problems(output) + secrets_in(output, case.forbidden)
            survived = polled.returncode == 0 and sound
            rows.append((
                case.name, "1", "yes" if survived else f"NO ({polled.returncode})",
                "yes" if others else "NO", "0" if sound else "1", "-", str(len(found)),
                f"{polled.peak_rss_mib:.0f} ({polled.seconds:.1f} s)",
            ))  # fmt: skip
    return rows


def storage(server: FeedServer) -> list[Row]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        config = _known(directory, server)
        run(command("poll", config=config))
        database = directory / "aggregator.db"
        damage(database)
        before = database.read_bytes()
        said = [run(command(c, config=config)).returncode == 1 for c in ("status", "run")]
        rows.append(("damaged database (3 pages)", "2", "-", "-", "-", "-",
                     f"refused {sum(said)}/2, file unchanged {database.read_bytes() == before}",
                     "-"))  # fmt: skip
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        config = _known(directory, server)
        run(command("export", config=config))  # the file, migrated
        full = run(command("poll", config=config), preexec=set_fsize_limit(400 * 1024))
        run(command("poll", config=config))
        final = ledger(directory / "aggregator.db", KNOWN_FEEDS)
        one_line = full.returncode == 1 and full.stderr.count("\n") == 0
        rows.append(("disk full (RLIMIT_FSIZE 400 KiB), then re-poll", "1", str(final.lost),
                     str(final.duplicated), str(int(final.corrupt)), "-",
                     f"one line: {one_line}", "-"))  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=12, help="SIGKILL trials of each kind")
    parser.add_argument("--writers", type=int, default=4, help="two-writer trials")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    header = ("case", "trials", "lost / survived", "duplicated / others ok", "corrupted",
              "orphans", "active found", "peak MiB")  # fmt: skip
    rows: list[Row] = []
    with servers() as (server, secret):
        rows.append(kills(server, args.kills, True, rng))
        rows.append(kills(server, args.kills, False, rng))
        rows.append(writers(server, args.writers))
        rows.extend(storage(server))
        rows.extend(hostile(server, secret))
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print(" | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
