"""The worker processes of `aggregator poll` and `aggregator run`, through the real entry point:
reused, stopped with their parent whichever way it goes, never leaving a half-written feed."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from benchmarks.corpus import feed_document
from tests.feedserver import FeedServer, Response, feed_route

EXE = Path(sys.executable).with_name("aggregator")
FEEDS = 60


def _parents() -> dict[int, int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if fields[0] != "Z":  # a zombie has exited; only its exit status is left
                parents[int(entry.name)] = int(fields[1])
    return parents


def descendants(root: int) -> set[int]:
    parents = _parents()
    found: set[int] = set()
    grew = True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if pid not in found and (parent == root or parent in found):
                found.add(pid)
                grew = True
    return found


def alive(pids: set[int]) -> set[int]:
    return pids & set(_parents())


def wait_for(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def slow_feeds(server: FeedServer, delay: float) -> list[dict[str, str]]:
    def slow(body: bytes):
        conditional = feed_route(body, last_modified=None)

        def handle(request):
            response = conditional(request)
            return Response(response.status, response.body, response.headers, delay=delay)

        return handle

    return [{"name": f"K{i}", "url": server.route(f"/k{i}", slow(feed_document(i)))}
            for i in range(FEEDS)]  # fmt: skip


def write_config(directory: Path, feeds, **poll) -> Path:
    data = {
        "site": {"title": "Offentlig digitalisering", "base_url": "https://planet.example.dk/"},
        "poll": {"timeout_seconds": 5, "allow_private_hosts": ["127.0.0.1"], "concurrency": 2,
                 "workers": 2, **poll},
        "feeds": feeds,
    }  # fmt: skip
    path = directory / "feeds.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def start(*args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(EXE), *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )  # fmt: skip


def stored_per_feed(database: Path) -> dict[str, int]:
    with sqlite3.connect(database) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rows = db.execute("SELECT feed_url, count(*) FROM entry_sources GROUP BY feed_url")
        return dict(rows.fetchall())


@pytest.fixture
def poll_under_way(tmp_path):
    """An `aggregator poll` of slow feeds, caught in the middle with its two workers up."""
    server = FeedServer().start()
    try:
        config = write_config(tmp_path, slow_feeds(server, delay=0.06))
        process = start("poll", "-c", str(config), cwd=tmp_path)
        try:
            # its two workers (one poll: no spawner), and a few feeds already handed back
            wait_for(lambda: len(descendants(process.pid)) >= 2 and len(server.requests) >= 12)
            yield process, descendants(process.pid), tmp_path / "aggregator.db"
        finally:
            if process.poll() is None:
                process.kill()
            process.communicate(timeout=30)
    finally:
        server.stop()


def test_sigterm_stops_a_poll_cleanly(poll_under_way):
    """SIGTERM to the main process alone (as systemd's KillMode=process sends it): exit 143
    with one line, no worker left, every feed stored whole or not at all, nothing lost."""
    process, workers, database = poll_under_way
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 143, err
    assert err.strip().splitlines() == [
        "error: poll stopped by SIGTERM; the feeds polled so far are stored"
    ]
    wait_for(lambda: not alive(workers), timeout=5)
    stored = stored_per_feed(database)
    assert 0 < len(stored) < FEEDS
    assert set(stored.values()) == {20}


def test_ctrl_c_stops_a_poll_with_one_line(poll_under_way):
    """Ctrl-C reaches the whole process group: the workers end quietly, the main process
    says so in one line (no asyncio traceback from pipes closed under it)."""
    process, workers, database = poll_under_way
    for pid in {process.pid} | workers:  # the group, without this test process
        os.kill(pid, signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert err.strip().splitlines() == [
        "error: poll stopped by Ctrl-C; the feeds polled so far are stored"
    ]
    wait_for(lambda: not alive(workers), timeout=5)
    assert set(stored_per_feed(database).values()) <= {20}


def test_sigkill_of_the_main_process_leaves_no_worker(poll_under_way, tmp_path):
    """SIGKILL cannot be handled: the kernel ends the workers (parent-death signal); the next
    poll stores every feed exactly once."""
    process, workers, database = poll_under_way
    process.kill()
    process.communicate(timeout=30)
    wait_for(lambda: not alive(workers), timeout=5)
    assert set(stored_per_feed(database).values()) <= {20}
    again = subprocess.run(
        [str(EXE), "poll", "-c", str(tmp_path / "feeds.yaml")], cwd=tmp_path,
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert stored_per_feed(database) == dict.fromkeys(stored_per_feed(database), 20)
    assert len(stored_per_feed(database)) == FEEDS


def test_the_service_polls_in_its_workers_and_stops_them(tmp_path, server):
    """`aggregator run` starts its workers before the scheduler's threads and polls in them;
    SIGTERM stops the service and every worker."""
    feeds = [{"name": f"K{i}", "url": server.static_feed(f"/k{i}", feed_document(i))}
             for i in range(20)]  # fmt: skip
    config = write_config(tmp_path, feeds, startup_spread_seconds=0)
    log = tmp_path / "service.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [str(EXE), "-vv", "run", "-c", str(config), "--tick", "0.2"], cwd=tmp_path,
            stdout=sink, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        try:
            wait_for(lambda: "exported" in log.read_text(), timeout=60)
            workers = descendants(process.pid)
            assert len(workers) == 3  # the spawner and two workers
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    text = log.read_text()
    assert "polling 20 feeds in 2 worker processes" in text
    assert "Traceback" not in text
    assert not alive(workers)
    assert set(stored_per_feed(tmp_path / "aggregator.db").values()) == {20}


def test_the_command_stops_its_workers_before_the_export(tmp_path, server, monkeypatch):
    """`aggregator poll` makes one poll: its workers and spawner are gone before the export
    starts, so the export's memory is not added to theirs."""
    from click.testing import CliRunner

    import aggregator.export
    from aggregator.cli import cli

    export_feeds = aggregator.export.export_feeds
    during_export: list[set[int]] = []

    def watched(*args, **kwargs):
        during_export.append(alive(descendants(os.getpid())))
        return export_feeds(*args, **kwargs)

    monkeypatch.setattr(aggregator.export, "export_feeds", watched)
    feeds = [{"name": f"K{i}", "url": server.static_feed(f"/k{i}", feed_document(i))}
             for i in range(6)]  # fmt: skip
    config = write_config(tmp_path, feeds)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["poll", "-q", "-c", str(config)])
    assert result.exit_code == 0, result.output
    assert during_export == [set()]
    assert set(stored_per_feed(tmp_path / "aggregator.db").values()) == {20}
    assert any((tmp_path / "output").iterdir())


@pytest.mark.parametrize("respawn", [False, True], ids=["forked-here", "spawner"])
def test_a_pool_closed_as_it_starts_prints_nothing(respawn):
    """A SIGTERM from close() can reach a worker before it has its own handlers: it must not
    run the parent's (here one that raises), as `aggregator poll` failing at once did."""
    script = f"""
import signal
from aggregator.workers import WorkerPool

def parents_handler(signum, frame):
    raise RuntimeError("the parent's SIGTERM handler ran in a child")

signal.signal(signal.SIGTERM, parents_handler)
for _ in range(25):
    with WorkerPool(2, lambda request: request, respawn={respawn}):
        pass
print("closed")
"""
    result = subprocess.run(
        [sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=60
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "closed\n", "")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_a_started_pool_keeps_malloc_from_holding_freed_buffers():
    """Once a pool has started, the process and its workers give a freed large buffer back
    to the kernel at once, every time: glibc's default raises its mmap threshold after the
    first such free, and later buffers of that size then stay in the heap, freed or not."""
    script = """
import ctypes, os
from aggregator.workers import WorkerPool

class Info(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split())]

libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
libc.mallinfo2.restype = Info

def mapped_after_a_large_free():
    for _ in range(2):  # the first 1 MiB may still fit in memory the heap holds free
        libc.free(libc.malloc(4 << 20))  # mapped, and unmapped when freed
        buffer = libc.malloc(1 << 20)
        mapped = libc.mallinfo2().hblks
        libc.free(buffer)
    return mapped

def served(requests, results):
    results.send(mapped_after_a_large_free())

before = mapped_after_a_large_free()
with WorkerPool(1, served, respawn=False) as pool:
    in_worker = pool.workers[0].results.recv()
    print(before, mapped_after_a_large_free() - before, in_worker - before)
"""
    result = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True, timeout=60
    )
    before, here, in_worker = (int(word) for word in result.stdout.split())
    assert (here, in_worker) == (1, 1), f"mapped chunks before the pool: {before}"
