"""Writers on one SQLite file: the write lock taken up front, and held no longer than a
batch needs, also when the poll waits for a slow feed."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time

import pytest

from aggregator.config import FeedConfig
from aggregator.errors import StorageError
from aggregator.store import Store
from tests.test_store import FEED, NOW, entry, plan


def _try_write(path) -> bool:
    """A write by another process-like connection that does not wait at all."""
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        other.close()


def test_a_batch_lets_go_of_the_write_lock_when_it_goes_idle(tmp_path):
    store = Store.open(tmp_path / "a.db")
    store.sync_feeds([FeedConfig(name="OS2", url=FEED)], NOW)

    async def poll_with_a_slow_feed() -> tuple[bool, bool]:
        with store.batch(max_seconds=0.2):
            store.apply(plan(entry("a", "Første")), NOW)
            held = not _try_write(tmp_path / "a.db")
            await asyncio.sleep(0.5)  # waiting for a slow feed, nothing to write
            released = _try_write(tmp_path / "a.db")
        return held, released

    held, released = asyncio.run(poll_with_a_slow_feed())
    assert held
    assert released
    assert store.entry_count() == 1
    store.close()


def test_a_batch_takes_the_lock_at_its_first_write_not_before(tmp_path):
    store = Store.open(tmp_path / "a.db")
    store.sync_feeds([FeedConfig(name="OS2", url=FEED)], NOW)
    with store.batch():
        assert _try_write(tmp_path / "a.db")
        store.apply(plan(entry("a", "Første")), NOW)
        assert not _try_write(tmp_path / "a.db")
    assert _try_write(tmp_path / "a.db")
    store.close()


def test_a_writer_waits_for_another_instead_of_failing(tmp_path):
    """A deferred transaction upgraded to a write failed at once with 'database is
    locked'; BEGIN IMMEDIATE waits for the other writer to commit."""
    first = Store.open(tmp_path / "a.db")
    second = Store.open(tmp_path / "a.db")
    first.sync_feeds([FeedConfig(name="OS2", url=FEED)], NOW)
    locked = threading.Event()

    def hold_the_lock() -> None:
        other = sqlite3.connect(tmp_path / "a.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        locked.set()
        time.sleep(0.3)
        other.execute("COMMIT")
        other.close()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    locked.wait()
    started = time.monotonic()
    second.apply(plan(entry("a", "Første")), NOW)
    assert time.monotonic() - started >= 0.2
    holder.join()
    assert second.entry_count() == 1
    for opened in (first, second):
        opened.close()


def test_a_failed_write_is_one_plain_line(tmp_path):
    store = Store.open(tmp_path / "a.db")
    store.sync_feeds([FeedConfig(name="OS2", url=FEED)], NOW)
    store.db.conn.execute("PRAGMA query_only = ON")
    with pytest.raises(StorageError, match=r"^database write failed: ") as raised:
        store.apply(plan(entry("a", "Første")), NOW)
    assert "\n" not in str(raised.value)
    store.close()
