"""robots.txt answers kept between runs (``robots_txt``, migration 13), so a ``poll`` run by
cron does not fetch every site's robots.txt again: a row holds the answer's status and body
until it expires (its ``max-age`` or ``Expires``, a day at most; see crawl.py).

Read and written by whichever process fetches (a worker process, or the command's own), each
time on a short connection of its own: the rows are a cache, so a locked or read-only database
means only that robots.txt is fetched again.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from aggregator.store.times import from_db_time, to_db_time

log = logging.getLogger(__name__)

# A writer waits this long for the poll's own write transaction (committed every second).
WAIT_SECONDS = 3.0


@dataclass(frozen=True, slots=True)
class KeptRobots:
    status: int
    body: bytes | None
    expires_at: datetime


def read_robots(database: str, origin: str, now: datetime) -> KeptRobots | None:
    """The unexpired answer of ``origin``'s robots.txt, or None."""
    try:
        # as_uri quotes what a URI would read otherwise (# ? %) in the path
        uri = f"{Path(database).absolute().as_uri()}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, timeout=WAIT_SECONDS)
    except sqlite3.Error:
        return None
    try:
        row = conn.execute(
            "SELECT status, body, expires_at FROM robots_txt WHERE origin = ? AND expires_at > ?",
            [origin, to_db_time(now)],
        ).fetchone()
    except sqlite3.Error:  # no such table yet (an older database), or locked
        return None
    finally:
        conn.close()
    if row is None:
        return None
    return KeptRobots(int(row[0]), None if row[1] is None else bytes(row[1]), from_db_time(row[2]))


def keep_robots(
    database: str, origin: str, status: int, body: bytes | None, now: datetime, expires_at: datetime
) -> None:
    try:  # mode=rw: a database that has gone is not made again here
        uri = f"{Path(database).absolute().as_uri()}?mode=rw"
        conn = sqlite3.connect(uri, uri=True, timeout=WAIT_SECONDS)
    except sqlite3.Error:
        return
    try:
        with conn:
            conn.execute(
                """INSERT INTO robots_txt (origin, status, body, fetched_at, expires_at)
                   VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT (origin) DO UPDATE SET status = excluded.status,
                       body = excluded.body, fetched_at = excluded.fetched_at,
                       expires_at = excluded.expires_at""",
                [origin, status, body, to_db_time(now), to_db_time(expires_at)],
            )
            # The expired rows of other sites go too: the table holds one row a live site.
            conn.execute("DELETE FROM robots_txt WHERE expires_at <= ?", [to_db_time(now)])
    except sqlite3.Error as exc:
        log.debug("robots.txt of %s not kept: %s", origin, exc)
    finally:
        conn.close()
