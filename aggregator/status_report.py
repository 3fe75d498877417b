"""What ``aggregator status`` says, as lines: each feed's health, the digests not delivered to
everyone, and the ``--check`` verdict with its exit status.

Built whole before a line is printed, from a view of feeds.yaml and a read-only look at the
database, with the standard library alone: the click command prints these lines, and so does
the console script's road for a plain ``status`` that does not import click (aggregator.entry).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING

from aggregator import health
from aggregator.exit_status import ExitCode
from aggregator.text import json_text, local_time, plural, table, terminal_text

if TYPE_CHECKING:
    from aggregator.config_view import ConfigView
    from aggregator.feed_status import FeedStatus
    from aggregator.health import FeedHealth
    from aggregator.store import Delivery, DigestRun


@dataclass(frozen=True, slots=True)
class StatusReport:
    lines: tuple[tuple[str, bool], ...]  # (text, whether it goes to stderr), in order
    exit_code: ExitCode


def status_report(
    config: ConfigView, *, as_json: bool, check: bool, quiet: bool, now: datetime
) -> StatusReport:
    """Reads only: a missing database is reported, not created; a damaged one raises
    StorageError (checked before it is read)."""
    from aggregator.store import Store

    stored: list[FeedStatus] = []
    unsent: list[tuple[DigestRun, Delivery]] = []
    exists = config.database_path.exists()
    if exists:
        store = Store.open_for_reading(config.database_path)
        try:
            store.check()  # a damaged file is said first, in one line, before it is read
            stored = store.feed_statuses()
            unsent = store.unsent_digests()
        finally:
            store.close()
    rows, removed = health.feed_health(config, stored)
    lines: list[tuple[str, bool]] = []
    if as_json:
        document = {
            "feeds": [health.health_json(h) for h in rows + removed],
            "undelivered_digests": [health.delivery_json(r, d) for r, d in unsent],
        }
        lines.append((json_text(document), False))
    elif not (check and quiet):
        if not exists:
            lines.append((f"no database yet ({config.database_path}): run aggregator poll", False))
        else:
            lines.extend((line, False) for line in _status_lines(rows, removed, config))
            lines.extend((line, False) for line in _unsent_lines(unsent, config.zone))
    code = ExitCode.OK
    if check:
        overdue = health.failing_too_long(rows, config, now)
        for row in overdue:
            s = row.status
            since = local_time(s.failing_since, config.zone)
            advice = health.what_to_do(s) or s.last_error
            lines.append((f"check: {s.name} has failed since {since} ({advice})", as_json))
        if overdue:
            code = ExitCode.CHECK_FAILED
    return StatusReport(tuple((terminal_text(text), err) for text, err in lines), code)


def _status_lines(
    rows: list[FeedHealth], removed: list[FeedHealth], config: ConfigView
) -> list[str]:
    lines = table(
        ("FEED", "STATE", "HTTP", "LAST SUCCESS", "NEXT POLL", "INTERVAL", "ENTRIES"),
        (
            (
                h.status.name,
                health.state_label(h, config),
                h.status.last_status or "-",
                local_time(h.status.last_success_at, config.zone),
                health.next_poll_label(h, config),
                health.duration(h.status.interval_seconds),
                h.status.entry_count,
            )
            for h in rows
        ),
    )
    first_note = True
    for row in rows:
        status = row.status
        notes = []
        if status.interval_reason and row.enabled:
            notes.append(f"interval: {status.interval_reason}")
        if status.moved_to:
            notes.append(f"moved permanently to {status.moved_to}: update feeds.yaml")
        if status.last_error and not row.retry_pending:
            notes.append(f"last error: {status.last_error}")
        if status.last_warning:
            notes.append(f"warning: {status.last_warning}")
        if notes:
            lines.append(("\n" if first_note else "") + f"{status.name}: " + "; ".join(notes))
            first_note = False
    if removed:
        lines.append(
            "\nNo longer configured (not polled; their entries are kept until "
            "aggregator prune --yes):"
        )
        lines.extend(
            f"  {line}"
            for line in table(
                ("FEED", "URL", "ENTRIES"),
                ((h.status.name, h.status.url, plural(h.status.entry_count, "entry"))
                 for h in removed),
            )
        )  # fmt: skip
    return lines


def _unsent_lines(unsent: list[tuple[DigestRun, Delivery]], zone: tzinfo) -> list[str]:
    """The latest digests' recipients not reached, as ``digest --status`` words them."""
    if not unsent:
        return []
    lines = ["\nDigests not delivered to everyone (details: aggregator digest --status):"]
    for run, delivery in unsent:
        where = f"  {run.digest}, {run.kind} from {local_time(run.period_start, zone)}:"
        if delivery.state == "failed":
            lines.append(f"{where} FAILED {delivery.recipient}  {delivery.last_reply}")
        elif delivery.state == "retry":
            when = local_time(delivery.next_attempt_at, zone)
            lines.append(f"{where} retry  {delivery.recipient}  next try {when}: "
                         f"{delivery.last_reply}")  # fmt: skip
        else:
            lines.append(f"{where} {delivery.state} {delivery.recipient}")
    return lines
