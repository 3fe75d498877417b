"""Storage faults through the real entry point: two writers, a second service, a newer
schema, a damaged file, a full disk, a read-only directory, an online backup."""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

import pytest

from tests.faults.harness import (
    Ledger,
    command,
    damage,
    ledger,
    run,
    serve_known_feeds,
    set_fsize_limit,
    started,
    without_privileges,
    write_config,
)
from tests.feedserver import FeedServer

FEEDS = 8


def _config(directory: Path, server: FeedServer, **poll) -> Path:
    feeds = serve_known_feeds(server, FEEDS)
    return write_config(directory, feeds, allow_private_hosts=["127.0.0.1"], **poll)


@pytest.mark.parametrize("trial", range(2))
def test_two_polls_on_one_new_database_both_succeed_and_store_the_same(tmp_path, server, trial):
    """Both migrate-or-wait (an exclusive lock, the version read again) and both write
    (BEGIN IMMEDIATE waits its turn); the result is what one poll stores."""
    config = _config(tmp_path, server)
    with (
        started(command("poll", config=config)) as first,
        started(command("poll", config=config)) as second,
    ):
        outcomes = [p.communicate(timeout=120) for p in (first, second)]
        codes = [first.returncode, second.returncode]
    assert codes == [0, 0], outcomes
    assert ledger(tmp_path / "aggregator.db", FEEDS) == Ledger(0, 0, False)


def test_a_second_service_on_one_database_is_refused(tmp_path, server):
    config = _config(tmp_path, server)
    lock = tmp_path / "aggregator.db.lock"
    with started(command("run", "--tick", "0.2", config=config)) as service:
        _wait_for(lambda: lock.exists() and f"pid {service.pid}" in lock.read_text())
        second = run(command("run", "--tick", "0.2", config=config), timeout=60)
        assert second.returncode == 1
        assert second.stderr.count("\n") == 0, second.stderr
        assert "already serving" in second.stderr
    # The kernel let go of the lock when the first was killed: a new service may start.
    with started(command("run", "--tick", "0.2", config=config)) as third:
        _wait_for(lambda: f"pid {third.pid}" in lock.read_text())


def test_a_newer_schema_is_refused_without_touching_the_file(tmp_path, server):
    config = _config(tmp_path, server)
    database = tmp_path / "aggregator.db"
    conn = sqlite3.connect(database)
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.execute("CREATE TABLE from_the_future (x)")
    conn.execute("PRAGMA user_version = 999")
    conn.close()
    before = database.read_bytes()
    for args in (["poll"], ["status"], ["export"], ["run"]):
        result = run(command(*args, config=config), timeout=60)
        assert result.returncode == 1, (args, result)
        assert "newer than this program's" in result.stderr
        assert result.stderr.count("\n") == 0
    assert database.read_bytes() == before  # the journal mode was not switched either


def test_a_damaged_database_is_said_in_one_line_and_not_written(tmp_path, server):
    config = _config(tmp_path, server)
    assert run(command("poll", config=config)).returncode == 0
    database = tmp_path / "aggregator.db"
    damage(database)
    before = database.read_bytes()
    for args in (["status"], ["db", "check"], ["run"]):
        result = run(command(*args, config=config), timeout=60)
        assert result.returncode == 1, (args, result)
        assert "is damaged" in result.stderr
        assert "Recovery" in result.stderr
        assert result.stderr.count("\n") == 0, result.stderr
    assert database.read_bytes() == before


def test_a_full_disk_is_one_line_and_loses_nothing_committed(tmp_path, server):
    config = _config(tmp_path, server)
    assert run(command("export", config=config)).returncode == 0  # the file, migrated
    full = run(command("poll", config=config), preexec=set_fsize_limit(200 * 1024))
    assert full.returncode == 1, full
    assert full.stderr.startswith("error: database write failed: "), full.stderr
    assert full.stderr.count("\n") == 0
    assert "Traceback" not in full.stderr
    again = run(command("poll", config=config))
    assert again.returncode == 0, again
    assert ledger(tmp_path / "aggregator.db", FEEDS) == Ledger(0, 0, False)


def test_read_only_commands_work_in_a_read_only_directory(server):
    home = Path(tempfile.mkdtemp(prefix="aggregator-ro-"))
    try:
        data = home / "data"
        data.mkdir()
        config = write_config(
            home, serve_known_feeds(server, 3), database=data / "aggregator.db",
            allow_private_hosts=["127.0.0.1"],
        )  # fmt: skip
        assert run(command("poll", config=config)).returncode == 0
        data.chmod(0o555)
        previews = home / "previews"
        for args in (
            ["status"],
            ["export"],
            ["dupes"],
            ["digest", "--preview", "--out", str(previews)],
            ["db", "check"],
            ["db", "backup", str(home / "copy.db")],
        ):
            result = run(command(*args, config=config), preexec=without_privileges)
            assert result.returncode == 0, (args, result)
        refused = run(command("poll", config=config), preexec=without_privileges)
        assert refused.returncode == 1
        assert refused.stderr.count("\n") == 0, refused.stderr
        assert sorted(p.name for p in data.iterdir()) == ["aggregator.db"]
    finally:
        (home / "data").chmod(0o755)
        shutil.rmtree(home)


def test_an_online_backup_while_the_service_writes(tmp_path, server):
    config = _config(tmp_path, server)
    database = tmp_path / "aggregator.db"
    with started(command("run", "--tick", "0.2", config=config)):
        _wait_for(lambda: ledger(database, FEEDS).lost == 0, timeout=60)
        copy = tmp_path / "backup" / "copy.db"
        result = run(command("db", "backup", str(copy), config=config))
        assert result.returncode == 0, result
    assert ledger(copy, FEEDS) == Ledger(0, 0, False)
    assert not list(copy.parent.glob(".*"))  # no partial file left


def _wait_for(condition, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except (OSError, sqlite3.Error):
            pass
        time.sleep(0.1)
    raise AssertionError("timed out waiting")
