"""Review 10 R10-3: a poll whose database write fails (the disk is full) printed asyncio's
"Task was destroyed but it is pending! task: <Task pending ... async_generator_athrow ...>"
above its one line, "database write failed: disk is full". The fetches were an async generator
left open when the write raised: asyncio.run closed it at shutdown, while its fetch threads
were still finishing, and dropped the task. Now the generators are closed where they are used.

The disk fills for real: the poll runs as a command whose file size limit (RLIMIT_FSIZE)
makes the kernel refuse SQLite's writes past it (EFBIG: SQLite reports a disk I/O error)."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
from pathlib import Path
from typing import Any

from aggregator.store import Store
from tests.feedserver import FeedServer, Response
from tests.test_cli import EXE

FEEDS = 12
SLOW_SECONDS = 2.5


def rss(n: int) -> bytes:
    items = "".join(
        f"<item><title>Indlæg {n}.{i}</title><link>https://kommune{n}.dk/p/{i}</link>"
        f"<description>{'Et langt indlæg om digitalisering i kommunen. ' * 40} {n} {i}"
        "</description><pubDate>Thu, 26 Nov 2026 10:00:00 +0100</pubDate></item>"
        for i in range(40)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>K{n}</title>{items}'
        "</channel></rss>"
    ).encode()


def test_a_poll_on_a_full_disk_says_so_in_one_line(
    server: FeedServer, make_config: Any, tmp_path: Path
) -> None:
    feeds = [
        {"name": f"K{n}", "url": server.static_feed(f"/k{n}.xml", rss(n))} for n in range(FEEDS)
    ]
    # Slow ones are still being fetched when the first batch is written (after a second).
    slow = Response(200, rss(99), {"Content-Type": "application/rss+xml"}, delay=SLOW_SECONDS)
    feeds += [{"name": f"L{n}", "url": server.static(f"/l{n}.xml", slow)} for n in range(3)]
    make_config(feeds, poll={"workers": 0, "concurrency": 4, "per_host_concurrency": 4})
    Store.open(tmp_path / "aggregator.db").close()  # created, with its schema
    limit = (tmp_path / "aggregator.db").stat().st_size + 64 * 1024

    def full_disk() -> None:  # in the child: the disk is full past ``limit``
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    result = subprocess.run(
        [str(EXE), "-c", str(tmp_path / "feeds.yaml"), "poll", "--no-export"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "PYTHONWARNINGS": "error"}, preexec_fn=full_disk,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("error: database write failed:"), result.stderr
    assert "Task was destroyed" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
