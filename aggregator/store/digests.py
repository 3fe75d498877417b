"""The digest ledger: one run per (digest, period), one delivery row per recipient.

A delivery moves ``pending -> sending -> sent | failed | retry``; each move is its own
committed transaction, so a crash leaves the truth on disk: ``sending`` means "handed to the
server, answer not recorded" and is sent again (the one-recipient window documented in the
README).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from aggregator.store.times import from_db_time, maybe_time, to_db_time

if TYPE_CHECKING:  # annotations only: reading feed states does not import it
    import sqlite3

    import sqlite_utils

DeliveryState = Literal["pending", "sending", "sent", "failed", "retry"]


@dataclass(frozen=True, slots=True)
class DigestRun:
    id: int
    digest: str
    kind: str
    period_start: datetime
    period_end: datetime
    window_start: datetime
    window_end: datetime
    entry_count: int
    created_at: datetime
    skipped: str | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    run_id: int
    recipient: str
    state: DeliveryState
    message_id: str
    attempts: int
    next_attempt_at: datetime | None
    last_code: int | None
    last_reply: str | None
    updated_at: datetime
    sent_at: datetime | None

    def due(self, now: datetime) -> bool:
        if self.state in ("pending", "sending"):
            return True
        return self.state == "retry" and (
            self.next_attempt_at is None or self.next_attempt_at <= now
        )


_RUN_COLUMNS = (
    "id, digest, kind, period_start, period_end, window_start, window_end, entry_count,"
    " created_at, skipped"
)
_DELIVERY_COLUMNS = (
    "run_id, recipient, state, message_id, attempts, next_attempt_at, last_code, last_reply,"
    " updated_at, sent_at"
)


def _run(row: Sequence[object]) -> DigestRun:
    return DigestRun(
        id=int(str(row[0])),
        digest=str(row[1]),
        kind=str(row[2]),
        period_start=from_db_time(str(row[3])),
        period_end=from_db_time(str(row[4])),
        window_start=from_db_time(str(row[5])),
        window_end=from_db_time(str(row[6])),
        entry_count=int(str(row[7])),
        created_at=from_db_time(str(row[8])),
        skipped=None if row[9] is None else str(row[9]),
    )


def _delivery(row: Sequence[object]) -> Delivery:
    state = str(row[2])
    assert state in ("pending", "sending", "sent", "failed", "retry")
    return Delivery(
        run_id=int(str(row[0])),
        recipient=str(row[1]),
        state=state,  # type: ignore[arg-type]
        message_id=str(row[3]),
        attempts=int(str(row[4])),
        next_attempt_at=maybe_time(None if row[5] is None else str(row[5])),
        last_code=None if row[6] is None else int(str(row[6])),
        last_reply=None if row[7] is None else str(row[7]),
        updated_at=from_db_time(str(row[8])),
        sent_at=maybe_time(None if row[9] is None else str(row[9])),
    )


def unsent_in_latest_runs(conn: sqlite3.Connection) -> list[tuple[DigestRun, Delivery]]:
    """The recipients each digest's latest run has not reached (failed, waiting for a retry,
    not yet tried), for ``status``: through the plain connection, as status reads."""
    rows = conn.execute(
        f"""SELECT r.{_RUN_COLUMNS.replace(", ", ", r.")},
                   d.{_DELIVERY_COLUMNS.replace(", ", ", d.")}
            FROM digest_deliveries d JOIN digest_runs r ON r.id = d.run_id
            WHERE d.state != 'sent' AND r.period_end = (
                SELECT max(period_end) FROM digest_runs l WHERE l.digest = r.digest)
            ORDER BY r.digest, d.recipient"""
    ).fetchall()
    return [(_run(row[:10]), _delivery(row[10:])) for row in rows]


class DigestLedger:
    """All SQL of digest runs and deliveries."""

    def __init__(
        self, db: sqlite_utils.Database, writing: Callable[..., AbstractContextManager[None]]
    ) -> None:
        self.db = db
        self._writing = writing

    def run(self, digest: str, period_start: datetime) -> DigestRun | None:
        row = self.db.execute(
            f"SELECT {_RUN_COLUMNS} FROM digest_runs WHERE digest = ? AND period_start = ?",
            [digest, to_db_time(period_start)],
        ).fetchone()
        return _run(row) if row else None

    def runs(self, digest: str, limit: int = 10) -> list[DigestRun]:
        rows = self.db.execute(
            f"""SELECT {_RUN_COLUMNS} FROM digest_runs WHERE digest = ?
                ORDER BY period_end DESC LIMIT ?""",
            [digest, limit],
        ).fetchall()
        return [_run(r) for r in rows]

    def latest_run(self, digest: str) -> DigestRun | None:
        runs = self.runs(digest, 1)
        return runs[0] if runs else None

    def sent_runs(self, digest: str, limit: int = 100) -> list[DigestRun]:
        """Runs at least one recipient received, newest first (the public archive)."""
        rows = self.db.execute(
            f"""SELECT {_RUN_COLUMNS} FROM digest_runs r WHERE digest = ? AND EXISTS (
                    SELECT 1 FROM digest_deliveries d WHERE d.run_id = r.id AND d.state = 'sent')
                ORDER BY period_end DESC LIMIT ?""",
            [digest, limit],
        ).fetchall()
        return [_run(r) for r in rows]

    def create_run(
        self,
        run: DigestRun,
        recipients: Sequence[tuple[str, str]],
        now: datetime,
    ) -> DigestRun:
        """The run and a pending row per (recipient, Message-ID), in one transaction."""
        with self._writing():
            cursor = self.db.execute(
                """INSERT INTO digest_runs (digest, kind, period_start, period_end,
                       window_start, window_end, entry_count, created_at, skipped)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                [
                    run.digest,
                    run.kind,
                    to_db_time(run.period_start),
                    to_db_time(run.period_end),
                    to_db_time(run.window_start),
                    to_db_time(run.window_end),
                    run.entry_count,
                    to_db_time(now),
                    run.skipped,
                ],
            )
            run_id = int(cursor.lastrowid or 0)
            self._insert_deliveries(run_id, recipients, now)
        created = self.run(run.digest, run.period_start)
        assert created is not None
        return created

    def _insert_deliveries(
        self, run_id: int, recipients: Sequence[tuple[str, str]], now: datetime
    ) -> None:
        self.db.conn.executemany(
            """INSERT OR IGNORE INTO digest_deliveries
                   (run_id, recipient, state, message_id, updated_at)
               VALUES (?, ?, 'pending', ?, ?)""",
            [(run_id, address, message_id, to_db_time(now)) for address, message_id in recipients],
        )

    def force_again(
        self, run_id: int, recipients: Sequence[tuple[str, str]], now: datetime
    ) -> None:
        """``--force``: every recipient, old and new, is pending again."""
        with self._writing():
            self.db.execute(
                """UPDATE digest_deliveries SET state = 'pending', next_attempt_at = NULL,
                       attempts = 0, updated_at = ? WHERE run_id = ?""",
                [to_db_time(now), run_id],
            )
            self._insert_deliveries(run_id, recipients, now)
            self.db.execute(
                "UPDATE digest_runs SET skipped = NULL WHERE id = ?",
                [run_id],
            )

    def deliveries(self, run_id: int) -> list[Delivery]:
        rows = self.db.execute(
            f"""SELECT {_DELIVERY_COLUMNS} FROM digest_deliveries WHERE run_id = ?
                ORDER BY recipient""",
            [run_id],
        ).fetchall()
        return [_delivery(r) for r in rows]

    def delivery(self, run_id: int, recipient: str) -> Delivery:
        row = self.db.execute(
            f"SELECT {_DELIVERY_COLUMNS} FROM digest_deliveries WHERE run_id = ? AND recipient = ?",
            [run_id, recipient],
        ).fetchone()
        assert row is not None
        return _delivery(row)

    def unfinished(self) -> Iterator[tuple[DigestRun, Delivery]]:
        """Deliveries not yet sent or failed, for the service's retries."""
        rows = self.db.execute(
            f"""SELECT r.{_RUN_COLUMNS.replace(", ", ", r.")},
                       d.{_DELIVERY_COLUMNS.replace(", ", ", d.")}
                FROM digest_deliveries d JOIN digest_runs r ON r.id = d.run_id
                WHERE d.state IN ('pending', 'sending', 'retry')"""
        ).fetchall()
        for row in rows:
            yield _run(row[:10]), _delivery(row[10:])

    def _set(self, run_id: int, recipient: str, assignments: str, values: list[object]) -> None:
        with self._writing(single_statement=True):
            self.db.execute(
                f"UPDATE digest_deliveries SET {assignments}, updated_at = ?"
                " WHERE run_id = ? AND recipient = ?",
                [*values, run_id, recipient],
            )

    def mark_sending(self, run_id: int, recipient: str, now: datetime) -> None:
        self._set(
            run_id, recipient, "state = 'sending', attempts = attempts + 1", [to_db_time(now)]
        )

    def mark_sent(self, run_id: int, recipient: str, now: datetime, code: int, reply: str) -> None:
        self._set(
            run_id,
            recipient,
            "state = 'sent', sent_at = ?, next_attempt_at = NULL, last_code = ?, last_reply = ?",
            [to_db_time(now), code, reply, to_db_time(now)],
        )

    def mark_failed(
        self, run_id: int, recipient: str, now: datetime, code: int | None, reply: str
    ) -> None:
        self._set(
            run_id,
            recipient,
            "state = 'failed', next_attempt_at = NULL, last_code = ?, last_reply = ?",
            [code, reply, to_db_time(now)],
        )

    def defer(
        self,
        run_id: int,
        now: datetime,
        next_attempts: Mapping[str, datetime],
        reply: str,
        *,
        uncount: Collection[str] = (),
    ) -> None:
        """The server, not these recipients, failed: each is tried again at its time, and
        the attempts just made for ``uncount`` do not count against them."""
        with self._writing():
            self.db.conn.executemany(
                """UPDATE digest_deliveries SET state = 'retry', next_attempt_at = ?,
                       last_code = NULL, last_reply = ?, attempts = attempts - ?, updated_at = ?
                   WHERE run_id = ? AND recipient = ?""",
                [
                    (to_db_time(at), reply, int(r in uncount), to_db_time(now), run_id, r)
                    for r, at in next_attempts.items()
                ],
            )

    def mark_retry(
        self,
        run_id: int,
        recipient: str,
        now: datetime,
        next_attempt_at: datetime,
        code: int | None,
        reply: str,
    ) -> None:
        self._set(
            run_id,
            recipient,
            "state = 'retry', next_attempt_at = ?, last_code = ?, last_reply = ?",
            [to_db_time(next_attempt_at), code, reply, to_db_time(now)],
        )
