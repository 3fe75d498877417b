"""What ``aggregator digest`` prints: a run's outcome, and the ledger (``--status``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import datetime

from aggregator.config import Config, DigestSettings
from aggregator.digest.archive import run_period
from aggregator.digest.deliver import DigestOutcome
from aggregator.store import Delivery, Store


def _local(value: datetime | None, config: Config) -> str:
    return value.astimezone(config.site.zone).strftime("%Y-%m-%d %H:%M") if value else "-"


def _problem(delivery: Delivery, config: Config) -> str:
    if delivery.state == "retry":
        when = _local(delivery.next_attempt_at, config)
        return f"    retry  {delivery.recipient}  next try {when}: {delivery.last_reply}"
    if delivery.state == "failed":
        return f"    FAILED {delivery.recipient}  {delivery.last_reply}"
    return f"    {delivery.state:<6} {delivery.recipient}"


def outcome_lines(outcome: DigestOutcome, config: Config) -> Iterator[str]:
    label = f"Digest {outcome.name} {outcome.period.slug} ({outcome.entry_count} entries)"
    if outcome.files and not outcome.deliveries:
        yield f"{label} preview written:"
        for path in outcome.files:
            yield f"  {path}"
        return
    if outcome.skipped_reason:
        yield f"{label} {outcome.skipped_reason}"
        return
    counts = Counter(d.state for d in outcome.deliveries)
    parts = [f"{counts[s]} {s}" for s in ("sent", "retry", "failed", "pending") if counts[s]]
    yield f"{label}: {', '.join(parts)}."
    for delivery in outcome.deliveries:
        if delivery.state != "sent":
            yield _problem(delivery, config)
    for path in outcome.files:
        yield f"  archive: {path}"


def digest_status_lines(
    config: Config, store: Store, digests: Sequence[DigestSettings], now: datetime
) -> Iterator[str]:
    for settings in digests:
        when = "daily" if settings.day == "daily" else f"{settings.day}"
        yield (
            f"{settings.name}: {when} {settings.time:%H:%M}, {len(settings.recipients)} recipients"
        )
        runs = store.ledger.runs(settings.name, 5)
        if not runs:
            yield "  never sent"
        for run in runs:
            period = run_period(run, config)
            cut_off = _local(run.window_end, config)
            head = f"  {period.slug}  {run.entry_count} entries, cut off {cut_off}"
            if run.skipped:
                yield f"{head}: {run.skipped}"
                continue
            deliveries = store.ledger.deliveries(run.id)
            counts = Counter(d.state for d in deliveries)
            summary = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
            yield f"{head}: {summary}"
            for delivery in deliveries:
                if delivery.state != "sent":
                    yield _problem(delivery, config)
