"""Weekly digest: build (pure) -> render (templates) -> send (SMTP) or write to disk."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

from aggregator.config import Config
from aggregator.digest.build import Digest, Period, build_digest, last_complete_week, parse_week
from aggregator.digest.render import RenderedDigest, build_message, render_digest
from aggregator.digest.send import send_message
from aggregator.export.files import write_atomic
from aggregator.store import DigestRecord, Store

__all__ = [
    "Digest",
    "DigestOutcome",
    "Period",
    "build_digest",
    "last_complete_week",
    "make_digest",
    "parse_week",
    "render_digest",
    "run_digest",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DigestOutcome:
    period: Period
    entry_count: int
    sent_to: tuple[str, ...] = ()
    files: tuple[Path, ...] = ()
    skipped_reason: str | None = None


def make_digest(
    config: Config, store: Store, period: Period, now: datetime
) -> tuple[Digest, RenderedDigest, EmailMessage]:
    entries = store.entries_published_between(period.start_utc, period.end_utc)
    digest = build_digest(entries, period, config.site.title)
    rendered = render_digest(digest, config.site.language)
    subject_prefix = config.digest.subject_prefix
    if subject_prefix:
        rendered = RenderedDigest(
            f"{subject_prefix} {rendered.subject}", rendered.html, rendered.text, rendered.language
        )
    message = build_message(rendered, config.smtp.sender, config.digest.recipients, now)
    return digest, rendered, message


def run_digest(
    config: Config,
    store: Store,
    now: datetime,
    *,
    period: Period | None = None,
    out_dir: Path | None = None,
    force: bool = False,
) -> DigestOutcome:
    """Write the digest to ``out_dir`` (a dry run), or send it once per week unless forced."""
    period = period or last_complete_week(now, config.site.zone)
    digest, rendered, message = make_digest(config, store, period, now)
    if out_dir is not None:
        stem = f"digest-{period.slug}"
        html_path, eml_path = out_dir / f"{stem}.html", out_dir / f"{stem}.eml"
        write_atomic(html_path, rendered.html.encode("utf-8"))
        write_atomic(eml_path, message.as_bytes())
        return DigestOutcome(period, digest.entry_count, files=(html_path, eml_path))

    previous = store.digest_record(period.start_utc)
    if previous is not None and not force:
        return DigestOutcome(
            period,
            digest.entry_count,
            skipped_reason=f"already sent at {previous.sent_at:%Y-%m-%d %H:%M} UTC "
            "(use --force to send again)",
        )
    recipients = config.digest.recipients
    refused = send_message(message, config.smtp, recipients)
    for address in refused:
        log.warning("digest for %s: the SMTP server refused %s", period.slug, address)
    delivered = tuple(r for r in recipients if r not in refused)
    store.record_digest(
        DigestRecord(
            period_start=period.start_utc,
            period_end=period.end_utc,
            sent_at=now,
            recipients=", ".join(delivered),
            entry_count=digest.entry_count,
            message_id=str(message["Message-ID"]),
        )
    )
    return DigestOutcome(period, digest.entry_count, sent_to=delivered)
