"""The database file's safety: one service per database, integrity checks, online backups.

The service lock is an OS lock on a file beside the database, so the kernel releases it
when the process ends however it ends (SIGKILL included); no stale pid file to clean up.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from aggregator.errors import DigestError, StorageError

RECOVERY_HINT = "see Recovery in the README (aggregator db backup, restore)"


def lock_path(database: Path) -> Path:
    return database.with_name(database.name + ".lock")


@contextlib.contextmanager
def _try_lock(path: Path, what: str) -> Iterator[IO[str] | None]:
    """``path`` opened and locked, or None when another process holds it. An OS lock: the
    kernel releases it however its holder ends (SIGKILL included)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+")  # noqa: SIM115 - held for the whole block
    except OSError as exc:
        raise StorageError(f"{path}: cannot create the {what}: {exc}") from exc
    with handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield None
            return
        yield handle


@contextlib.contextmanager
def service_lock(database: Path) -> Iterator[None]:
    """Held while ``aggregator run`` runs; a second one on the same database is refused."""
    with _try_lock(lock_path(database), "service lock") as handle:
        if handle is None:
            with open(lock_path(database)) as held:
                holder = held.read().strip() or "another process"
            raise StorageError(
                f"another aggregator run ({holder}) is already serving {database}; "
                "stop it first, one service per database"
            )
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}\n")
        handle.flush()
        try:
            yield
        finally:
            handle.truncate(0)


@contextlib.contextmanager
def digest_sender_lock(database: Path) -> Iterator[None]:
    """Held while digests are sent from ``database``: two senders at once (the service and a
    hand-run ``aggregator digest``, or overlapping cron runs) would both send the rows
    neither had finished. The second is refused; nothing is sent twice."""
    path = database.with_name(database.name + ".digest.lock")
    with _try_lock(path, "digest lock") as handle:
        if handle is None:
            raise DigestError(
                f"another aggregator process is sending digests from {database} right now; "
                "nothing was sent: run again when it has finished"
            )
        yield


def problems(conn: sqlite3.Connection, full: bool = False) -> list[str]:
    """What ``PRAGMA quick_check`` (or the full ``integrity_check``) finds; empty when sound."""
    pragma = "integrity_check" if full else "quick_check"
    try:
        rows = [str(row[0]) for row in conn.execute(f"PRAGMA {pragma}(20)")]
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    return [] if rows == ["ok"] else rows


def damaged(database: Path, found: list[str]) -> StorageError:
    more = f" (and {len(found) - 1} more problems)" if len(found) > 1 else ""
    return StorageError(
        f"{database} is damaged: {found[0]}{more}; nothing was written; {RECOVERY_HINT}"
    )


def backup(conn: sqlite3.Connection, target: Path) -> None:
    """An online, consistent copy through SQLite's backup API: writers may go on meanwhile
    (the copy restarts its pass if they change a page it has copied)."""
    partial = target.with_name(f".{target.name}.partial")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial.unlink(missing_ok=True)
        copy = sqlite3.connect(partial)
        try:
            conn.backup(copy, pages=1024)
            found = problems(copy)
            if found:
                raise StorageError(f"the backup in {partial} fails its check: {found[0]}")
            copy.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
        finally:
            copy.close()
        os.replace(partial, target)
    except sqlite3.DatabaseError as exc:
        partial.unlink(missing_ok=True)
        raise StorageError(f"backup to {target} failed: {exc}") from exc
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise StorageError(f"backup to {target} failed: {exc}") from exc
