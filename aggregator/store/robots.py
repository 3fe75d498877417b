"""robots.txt answers kept between runs (``robots_txt``, migration 13), so a ``poll`` run by
cron does not fetch every site's robots.txt again: a row holds the answer's status and body
until it expires (its ``max-age`` or ``Expires``, a day at most; see crawl.py).

The poll reads the live rows once, before it fetches, and hands them to whichever process
fetches; the answers fetched come back with the fetch results and are written by the poll's
one writer, in its batch, like the feed updates (``Store.kept_robots``/``keep_robots``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import datetime

from aggregator.store.times import from_db_time, to_db_time
from aggregator.types import RobotsAnswer


def live_answers(conn: sqlite3.Connection, now: datetime) -> tuple[RobotsAnswer, ...]:
    """Every answer not yet expired at ``now``: one row a site polled within a day."""
    rows = conn.execute(
        "SELECT origin, status, body, fetched_at, expires_at FROM robots_txt"
        " WHERE expires_at > ? ORDER BY origin",
        [to_db_time(now)],
    )
    return tuple(
        RobotsAnswer(
            origin=origin,
            status=int(status),
            body=None if body is None else bytes(body),
            fetched_at=from_db_time(fetched_at),
            expires_at=from_db_time(expires_at),
        )
        for origin, status, body, fetched_at, expires_at in rows
    )


def write_answers(conn: sqlite3.Connection, answers: Iterable[RobotsAnswer], now: datetime) -> None:
    """Keep ``answers`` (a newer answer replaces a site's row), and drop the expired rows of
    other sites: the table holds one row a live site."""
    conn.executemany(
        """INSERT INTO robots_txt (origin, status, body, fetched_at, expires_at)
           VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (origin) DO UPDATE SET status = excluded.status,
               body = excluded.body, fetched_at = excluded.fetched_at,
               expires_at = excluded.expires_at
           WHERE excluded.fetched_at >= robots_txt.fetched_at""",
        [
            (a.origin, a.status, a.body, to_db_time(a.fetched_at), to_db_time(a.expires_at))
            for a in answers
        ],
    )
    conn.execute("DELETE FROM robots_txt WHERE expires_at <= ?", [to_db_time(now)])
