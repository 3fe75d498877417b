"""Sending a digest exactly once per recipient, and previewing it by the same road.

The ledger (store/digests.py) decides what is still to do; a run's window of first-seen times
is fixed when the run is created, so a retry, a rerun after a crash or a preview of that
period rebuild the same digest.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urljoin

from aggregator.config import Config, DigestSettings, SmtpSettings
from aggregator.digest.archive import write_archive
from aggregator.digest.build import (
    Digest,
    DigestLinks,
    FailedSource,
    FeedFacts,
    Window,
    choose,
    digest_from,
    failed_sources,
    matches_feed,
)
from aggregator.digest.periods import (
    Period,
    check_sendable,
    kind_of,
    last_complete,
    period_containing,
)
from aggregator.digest.render import (
    PREVIEW_ADDRESS,
    RenderedDigest,
    compose,
    message_bytes,
    new_message_id,
    render_digest,
)
from aggregator.digest.send import Answer, SmtpSession
from aggregator.errors import DigestError, SmtpSettingRefused
from aggregator.export.view import ATOM_FILE
from aggregator.store import Delivery, DigestRun, Store
from aggregator.store.safety import digest_sender_lock

log = logging.getLogger(__name__)

PREVIEW_DIR = "digest-previews"


@dataclass(frozen=True, slots=True)
class DigestOutcome:
    name: str
    period: Period
    entry_count: int
    deliveries: tuple[Delivery, ...] = ()
    files: tuple[Path, ...] = ()
    skipped_reason: str | None = None

    @property
    def sent_to(self) -> tuple[str, ...]:
        return tuple(d.recipient for d in self.deliveries if d.state == "sent")

    def in_state(self, state: str) -> tuple[Delivery, ...]:
        return tuple(d for d in self.deliveries if d.state == state)


def links(config: Config) -> DigestLinks:
    base = (
        config.site.base_url if config.site.base_url.endswith("/") else config.site.base_url + "/"
    )
    return DigestLinks(page=base, feed=urljoin(base, ATOM_FILE), archive=urljoin(base, "digests/"))


def feed_facts(config: Config) -> dict[str, FeedFacts]:
    return {f.url: FeedFacts(f.name, f.tags) for f in config.feeds}


def assemble(
    config: Config, store: Store, settings: DigestSettings, period: Period, window: Window
) -> Digest:
    """Read the window's posts and the feeds' health, then build (pure)."""
    facts = feed_facts(config)
    failed: tuple[FailedSource, ...] = ()
    if settings.failed_sources:
        names = frozenset(f.name for f in facts.values() if matches_feed(f, settings))
        failed = failed_sources(store.feed_statuses(count_entries=False), period, names)
    # Chosen on the light WindowPost rows; only the posts shown are read whole (a week of a
    # large archive holds tens of thousands, a message shows at most a few thousand).
    filtered = bool(settings.tags or settings.sources)
    posts = store.window_posts(window.start, window.end, with_feeds=filtered)
    choice = choose(posts, window, settings, facts)
    entries = store.entries_by_id(choice.ids, content=False)
    return digest_from(
        choice,
        {e.id: e for e in entries},
        period,
        settings.title or config.site.title,
        settings,
        window=window,
        failed=failed,
        links=links(config),
    )


def render(config: Config, settings: DigestSettings, digest: Digest) -> RenderedDigest:
    language = settings.language or config.site.language
    unsubscribe = bool(settings.unsubscribe_url or settings.unsubscribe_mailto)
    return render_digest(digest, language, settings, with_unsubscribe=unsubscribe)


def _window_for_new_run(store: Store, settings: DigestSettings, period: Period) -> Window:
    latest = store.ledger.latest_run(settings.name)
    if latest is None:
        return Window(period.start_utc, period.end_utc)
    if period.end_utc <= latest.window_end:
        raise DigestError(
            f"{period.slug} is not after the last {settings.name!r} digest (cut off "
            f"{latest.window_end:%Y-%m-%d %H:%M} UTC): its posts were in that one"
        )
    return Window(latest.window_end, period.end_utc)


def send_digest(
    config: Config,
    store: Store,
    now: datetime,
    *,
    name: str = "default",
    period: Period | None = None,
    force: bool = False,
    clock: Callable[[], datetime] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    wait_for_retries: bool = True,
    retry_now: bool = False,
    stop: Callable[[], bool] | None = None,
) -> DigestOutcome:
    """Send the digest of ``period`` (default: the last complete one) to each recipient not
    yet sent to. 4xx answers are retried in this run while the next try is within
    ``smtp.retry_wait_seconds``; later ones are left to the service or the next run.
    ``retry_now`` (a person running the command) tries deferred recipients at once.
    ``stop``, asked before each recipient, ends the pass early: the rest wait, uncharged."""
    with digest_sender_lock(config.database_path):  # one sender at a time
        settings = config.named_digest(name)
        zone = config.site.zone
        clock = clock or (lambda: datetime.now(UTC))
        period = period or last_complete(now, kind_of(settings.day), zone)
        check_sendable(period, now)
        ledger = store.ledger
        run = ledger.run(name, period.start_utc)
        if run is None:
            window = _window_for_new_run(store, settings, period)
            digest = assemble(config, store, settings, period, window)
            if digest.is_empty and settings.empty == "skip":
                ledger.create_run(_new_run(settings, period, window, 0, "nothing new"), [], now)
                return DigestOutcome(name, period, 0, skipped_reason="nothing new: not sent")
            if not settings.recipients:
                raise DigestError(f"digest {name!r} has no recipients: set its recipients")
            run = ledger.create_run(
                _new_run(settings, period, window, digest.entry_count, None),
                _with_ids(config, settings.recipients),
                now,
            )
        else:
            if force:
                if not settings.recipients:
                    raise DigestError(f"digest {name!r} has no recipients: set its recipients")
                ledger.force_again(run.id, _with_ids(config, settings.recipients), now)
            elif run.skipped:
                return DigestOutcome(
                    name, period, 0, skipped_reason=f"{run.skipped}: not sent (use --force to send)"
                )
            deliveries = ledger.deliveries(run.id)
            if not any(d.state in ("pending", "sending", "retry") for d in deliveries):
                sent = [d.sent_at for d in deliveries if d.sent_at]
                reason = (
                    f"already sent at {max(sent):%Y-%m-%d %H:%M} UTC (use --force to send again)"
                    if sent
                    else "not sent: every recipient failed (see digest --status; "
                    "use --force to try them again)"
                )
                return DigestOutcome(
                    name, period, run.entry_count, tuple(deliveries), skipped_reason=reason
                )
            window = Window(run.window_start, run.window_end)
            digest = assemble(config, store, settings, period, window)
        rendered = render(config, settings, digest)
        wait = config.smtp.retry_wait_seconds if wait_for_retries else -1.0
        give_up_at = run.created_at + timedelta(hours=max(settings.catch_up_hours, 1.0))
        stale = now >= give_up_at
        _deliver_all(config, store, settings, run, rendered, clock, sleep, wait, retry_now,
                     stale, give_up_at, stop)  # fmt: skip
        deliveries = ledger.deliveries(run.id)
        files: tuple[Path, ...] = ()
        if settings.archive and any(d.state == "sent" for d in deliveries):
            files = write_archive(config, store, settings, digest, now)
        return DigestOutcome(name, period, digest.entry_count, tuple(deliveries), files)


def _new_run(
    settings: DigestSettings, period: Period, window: Window, count: int, skipped: str | None
) -> DigestRun:
    return DigestRun(
        id=0,
        digest=settings.name,
        kind=period.kind,
        period_start=period.start_utc,
        period_end=period.end_utc,
        window_start=window.start,
        window_end=window.end,
        entry_count=count,
        created_at=period.end_utc,
        skipped=skipped,
    )


def _with_ids(config: Config, recipients: tuple[str, ...]) -> list[tuple[str, str]]:
    """A Message-ID per recipient, fixed before the first try so a resend carries the same
    one (mail clients then show one copy)."""
    return [(address, new_message_id(config.smtp.sender)) for address in recipients]


def _deliver_all(
    config: Config,
    store: Store,
    settings: DigestSettings,
    run: DigestRun,
    rendered: RenderedDigest,
    clock: Callable[[], datetime],
    sleep: Callable[[float], None],
    wait_seconds: float,
    retry_now: bool,
    stale: bool,
    give_up_at: datetime,
    stop: Callable[[], bool] | None = None,
) -> None:
    ledger = store.ledger
    smtp = config.smtp
    started = clock()
    with SmtpSession(smtp) as session:
        judge = _Judge(store, run, smtp, clock, stale, give_up_at, session.where)
        for attempt in range(smtp.retry_attempts):  # a pass tries every due delivery once
            judge.new_pass()
            for delivery in ledger.deliveries(run.id):
                eager = retry_now and attempt == 0 and delivery.state == "retry"
                if not (eager or delivery.due(clock())):
                    continue
                if stop is not None and stop():
                    judge.set_aside()
                    log.info("digest %s: pass ended (time limit or stopping); the rest wait "
                             "for the next", run.digest)  # fmt: skip
                    return
                try:
                    session.connect()  # before any recipient is charged with an attempt
                except DigestError as exc:
                    raise judge.outage(exc, judge.undecided) from exc
                now = clock()
                ledger.mark_sending(run.id, delivery.recipient, now)
                message = compose(
                    rendered,
                    settings,
                    smtp,
                    title=settings.title or config.site.title,
                    base_url=config.site.base_url,
                    recipient=delivery.recipient,
                    message_id=delivery.message_id,
                    now=now,
                )
                try:
                    answer = session.deliver(
                        smtp.sender, delivery.recipient, message_bytes(message)
                    )
                except DigestError as exc:  # a new connection, after this one's limit
                    raise judge.outage(exc, (*judge.undecided, delivery.recipient)) from exc
                if judge.answered(delivery, answer):
                    break  # the server is busy: everyone waits
            else:
                judge.end_of_pass()
            waiting = [d for d in ledger.deliveries(run.id) if d.state == "retry"]
            if not waiting:
                return
            next_at = min(d.next_attempt_at or started for d in waiting)
            if (next_at - started).total_seconds() > wait_seconds:
                return
            sleep(max(0.0, (next_at - clock()).total_seconds()))


# A server that loses this many connections in a row (a tarpit, a relay that stalls each
# transaction past smtp.timeout_seconds) is down for this run: everyone waits, as when it
# cannot be reached, instead of paying the timeout once per recipient. As many refusals at
# RCPT with one policy code (554 5.7.1 relay access denied) before any recipient got past
# RCPT are the server's setting, not the recipients'; as many of one 4xx at RCPT, or 4xx
# answers to the message at DATA in a row, are the server being busy.
_OUTAGE_AFTER = 3


class _Judge:
    """Tells the server's failures from a recipient's over one run's passes, and records
    each answer accordingly. A policy refusal or a 4xx at RCPT, or a 5xx to the message at
    DATA, is held undecided while the next ones may tell whether it is everyone's; a 4xx to
    the message at DATA is the server's (the same message for everyone), never charged."""

    def __init__(self, store: Store, run: DigestRun, smtp: SmtpSettings,
                 clock: Callable[[], datetime], stale: bool, give_up_at: datetime,
                 where: str) -> None:  # fmt: skip
        self.store, self.run, self.smtp, self.clock = store, run, smtp, clock
        self.stale, self.give_up_at, self.where = stale, give_up_at, where
        self.tried = 0  # in this pass
        # A recipient got past RCPT (in this run, or sent in an earlier one): the server
        # takes this sender, so a refusal now is the recipient's.
        self.accepted = any(d.state == "sent" for d in store.ledger.deliveries(run.id))
        self.delivered = self.accepted  # a message was taken: it is not the content
        self.lost: list[str] = []  # recipients whose connection was lost, in a row
        self.busy: list[str] = []  # recipients the server answered busy, in a row
        self.held: list[tuple[Delivery, Answer, str]] = []  # undecided, with one key

    @property
    def undecided(self) -> tuple[str, ...]:
        return tuple(d.recipient for d, _, _ in self.held)

    def new_pass(self) -> None:
        self.tried = 0

    def outage(self, error: DigestError, uncount: Sequence[str]) -> DigestError:
        """The server failed everyone: nobody is charged (see ``_server_failed``)."""
        _server_failed(self.store, self.run, error, self.clock(), self.smtp, self.stale,
                       self.give_up_at, uncount)  # fmt: skip
        return error

    def _hold_key(self, answer: Answer) -> str | None:
        if answer.policy_refusal and not self.accepted:
            return f"refused {answer.policy_refusal}"
        if answer.message_refused and not self.delivered:
            return f"message {answer.key}"
        return f"temporary {answer.key}" if answer.temporary_at_rcpt else None

    def answered(self, delivery: Delivery, answer: Answer) -> bool:
        """Record one recipient's answer. True when the pass is to end because the server
        is busy (everyone waits, uncharged); raises DigestError when the server refuses
        the sender, the message's size or every recipient."""
        self.tried += 1
        if answer.too_big:
            too_big = SmtpSettingRefused(
                f"the digest is too large for {self.where} ({answer.reply}): raise the "
                "server's limit or show fewer posts (digest.max_items_per_group), then run "
                "aggregator digest"
            )
            raise self.outage(too_big, (*self.undecided, delivery.recipient))
        if answer.sender_needs_smtputf8:
            needs_utf8 = SmtpSettingRefused(
                f"smtp.from {answer.reply}: give smtp.from an address in ASCII (or send "
                "through a server that offers SMTPUTF8), then run aggregator digest"
            )
            raise self.outage(needs_utf8, (*self.undecided, delivery.recipient))
        if answer.sender_refused:
            raise self.outage(self._sender_refused(answer), (*self.undecided, delivery.recipient))
        key = self._hold_key(answer)
        if key:
            if any(k != key for _, _, k in self.held):
                self._release()
            self.held.append((delivery, answer, key))
            if len(self.held) >= _OUTAGE_AFTER:
                return self._everyone(answer)
            return False
        self._release()
        self.accepted = self.accepted or answer.stage == "DATA"  # DATA comes after RCPT
        self.delivered = self.delivered or answer.verdict == "sent"
        self.lost = [*self.lost, delivery.recipient] if answer.connection_lost else []
        if answer.server_busy:
            self.busy.append(delivery.recipient)
            if answer.system_busy or len(self.busy) >= _OUTAGE_AFTER:  # the earlier ones
                return self._server_busy(answer, (delivery.recipient,))  # are uncharged
            self._defer_uncharged(delivery, answer)
            return False
        self.busy = []
        _record(self.store, self.run, delivery, answer, self.clock(), self.smtp)
        if len(self.lost) >= _OUTAGE_AFTER:
            lost = DigestError(
                f"{self.where} lost the connection {len(self.lost)} times in a row, taken as "
                f"a server outage ({answer.reply})"
            )
            raise self.outage(lost, self.lost)
        return False

    def end_of_pass(self) -> None:
        """Every recipient tried in this pass was held with one key, and none was ever
        accepted: the server's doing."""
        if self.held and self.tried == len(self.held):
            answer, key = self.held[-1][1], self.held[-1][2]
            if not (self.delivered if key.startswith("message") else self.accepted):
                self._everyone(answer)
                return
        self._release()

    def set_aside(self) -> None:
        """The pass is cut short: undecided answers wait for the next, uncounted."""
        if not self.held:
            return
        now = self.clock()
        later = now + timedelta(seconds=self.smtp.retry_seconds)
        for delivery, answer, _ in self.held:
            self.store.ledger.defer(self.run.id, now, {delivery.recipient: later},
                                    answer.reply, uncount=(delivery.recipient,))  # fmt: skip
        self.held.clear()

    def _everyone(self, answer: Answer) -> bool:
        """The held answers were the server's: a refusal raises, a 4xx ends the pass."""
        if answer.temporary_at_rcpt:
            return self._server_busy(answer, self.undecided)
        if answer.message_refused:
            refused = SmtpSettingRefused(
                f"{self.where} refused the digest itself for every recipient "
                f"({answer.reply}): its content filter or a limit, not the recipients'; see "
                "the server's log, then run aggregator digest"
            )
            raise self.outage(refused, self.undecided)
        raise self.outage(self._refused_all(answer), self.undecided)

    def _server_busy(self, answer: Answer, uncount: Sequence[str]) -> bool:
        """Every unsent recipient waits, as for a server that cannot be reached, and the
        ones this answer came for are not charged; the run itself goes on (a retry in it,
        or the next tick), no error."""
        busy = DigestError(
            f"{self.where} is busy ({answer.reply}): the server's condition, not the "
            "recipients', no attempt counted"
        )
        # Not an error (the exit status stays 0), but nobody got the digest: the admin is
        # to see it without -v, as the README says.
        _server_failed(self.store, self.run, busy, self.clock(), self.smtp, self.stale,
                       self.give_up_at, uncount, level=logging.WARNING)  # fmt: skip
        self.held.clear()
        self.busy = []
        return True

    def _defer_uncharged(self, delivery: Delivery, answer: Answer) -> None:
        now = self.clock()
        later = now + _server_wait(delivery, self.smtp)
        reply = f"{answer.reply} (the server's condition, no attempt counted)"
        log.info("digest %s: %s deferred (%s), again in %s", self.run.digest,
                 delivery.recipient, reply, later - now)  # fmt: skip
        self.store.ledger.defer(self.run.id, now, {delivery.recipient: later}, reply,
                                uncount=(delivery.recipient,))  # fmt: skip

    def _sender_refused(self, answer: Answer) -> DigestError:
        """A 5xx at MAIL is a setting (smtp.from, a login), not tried again every tick;
        a 4xx, or a 5xx about the mail system (5.3.x, a sending quota 5.4.x), may pass."""
        refused = f"{self.where} refused the sender {self.smtp.sender}: {answer.reply}"
        enhanced = answer.enhanced
        system = enhanced is not None and enhanced[1] in "34"
        if answer.verdict == "failed" and not system:
            return SmtpSettingRefused(
                f"{refused}; check smtp.from (and smtp.username), then run aggregator digest"
            )
        return DigestError(refused)

    def _release(self) -> None:
        for delivery, answer, _ in self.held:  # another answer came: each was the recipient's
            _record(self.store, self.run, delivery, answer, self.clock(), self.smtp)
        self.held.clear()

    def _refused_all(self, answer: Answer) -> DigestError:
        return DigestError(
            f"{self.where} refused every recipient at RCPT ({answer.reply}): a setting of "
            f"the server (relaying for {self.smtp.sender}, a login), not the recipients': "
            "check smtp.host, smtp.username and smtp.from"
        )


# However long the server is away, it is tried again at least this often.
_LONGEST_SERVER_WAIT = timedelta(hours=1)
# A recipient's own wait doubles with each attempt; at 50 attempts (retry_attempts' largest)
# it passed what a date holds (review 10 R10-6). A year is longer than any digest is kept.
_LONGEST_RECIPIENT_WAIT = timedelta(days=366)


def _server_failed(
    store: Store,
    run: DigestRun,
    error: DigestError,
    now: datetime,
    smtp: SmtpSettings,
    stale: bool,
    give_up_at: datetime,
    uncount: Sequence[str] = (),
    *,
    level: int = logging.INFO,
) -> None:
    """The server could not be reached, refused the login or the sender, or is busy: the
    recipients in ``uncount`` are not charged for the attempt just made. Every unsent one
    waits (retry_seconds, doubling, at most an hour) until the digest is ``stale``
    (digest.catch_up_hours after its run began, at least an hour); then they are failed
    with the server's reason. A refused setting (the login, where each try counts towards
    locking the account; the sender; the size) is not tried again by itself before then: a
    person's ``aggregator digest`` tries it at once."""
    ledger = store.ledger
    unsent = [d for d in ledger.deliveries(run.id) if d.state in ("pending", "sending", "retry")]
    reason = str(error)
    if stale:
        reply = f"gave up: the server still fails when the digest is too old: {reason}"
        log.warning("digest %s: %s", run.digest, reply)
        for delivery in unsent:
            ledger.mark_failed(run.id, delivery.recipient, now, None, reply)
        return
    if isinstance(error, SmtpSettingRefused):
        next_attempts = {d.recipient: max(now, give_up_at) for d in unsent}
        log.error("digest %s: %s (not tried again by itself before %s UTC)", run.digest,
                  reason, f"{give_up_at:%Y-%m-%d %H:%M}")  # fmt: skip
    else:
        next_attempts = {d.recipient: now + _server_wait(d, smtp) for d in unsent}
        wait = min(next_attempts.values()) - now if next_attempts else timedelta(0)
        log.log(level, "digest %s: %s; trying again in %s", run.digest, reason, wait)
    ledger.defer(run.id, now, next_attempts, reason, uncount=uncount)


def _server_wait(delivery: Delivery, smtp: SmtpSettings) -> timedelta:
    """Twice the last wait, from retry_seconds up to an hour."""
    shortest = timedelta(seconds=smtp.retry_seconds)
    last = (
        delivery.next_attempt_at - delivery.updated_at
        if delivery.state == "retry" and delivery.next_attempt_at
        else timedelta(0)
    )
    return min(_LONGEST_SERVER_WAIT, max(shortest, 2 * last))


def _record(
    store: Store,
    run: DigestRun,
    delivery: Delivery,
    answer: Answer,
    now: datetime,
    smtp: SmtpSettings,
) -> None:
    ledger = store.ledger
    recipient = delivery.recipient
    if answer.verdict == "sent":
        ledger.mark_sent(run.id, recipient, now, answer.code or 250, answer.reply)
        return
    attempts = delivery.attempts + 1  # mark_sending counted this one
    if answer.verdict == "failed":
        log.warning("digest %s: %s refused for good: %s", run.digest, recipient, answer.reply)
        ledger.mark_failed(run.id, recipient, now, answer.code, answer.reply)
    elif attempts >= smtp.retry_attempts:
        reply = f"gave up after {attempts} attempts: {answer.reply}"
        log.warning("digest %s: %s: %s", run.digest, recipient, reply)
        ledger.mark_failed(run.id, recipient, now, answer.code, reply)
    else:
        doubled = smtp.retry_seconds * 2 ** (attempts - 1)
        wait = timedelta(seconds=min(doubled, _LONGEST_RECIPIENT_WAIT.total_seconds()))
        log.info(
            "digest %s: %s deferred (%s), again in %s", run.digest, recipient, answer.reply, wait
        )
        ledger.mark_retry(run.id, recipient, now, now + wait, answer.code, answer.reply)


# ---------------------------------------------------------------------------------------------
# Preview


def coming_period(config: Config, store: Store, settings: DigestSettings, now: datetime) -> Period:
    """The period the next send will be about: the last complete one if it has no run yet,
    else the one now running."""
    kind = kind_of(settings.day)
    zone = config.site.zone
    last = last_complete(now, kind, zone)
    latest = store.ledger.latest_run(settings.name)
    if latest is None or latest.window_end < last.end_utc:
        return last
    return period_containing(now, kind, zone)


def preview_dir(config: Config, out_dir: Path | None) -> Path:
    """Beside the database by default: private, and never inside the published output."""
    folder = (out_dir or config.database_path.parent / PREVIEW_DIR).resolve()
    published = config.output_dir.resolve()
    if folder == published or published in folder.parents:
        raise DigestError(f"{folder} is inside the published output directory: choose another")
    return folder


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def preview_window(store: Store, settings: DigestSettings, period: Period, now: datetime) -> Window:
    """The window a send of ``period`` would have (so far, if it has not ended)."""
    run = store.ledger.run(settings.name, period.start_utc)
    if run is not None:
        return Window(run.window_start, run.window_end)
    latest = store.ledger.latest_run(settings.name)
    start = latest.window_end if latest and latest.window_end < period.end_utc else None
    # The end is exclusive: a post first seen at ``now`` is in.
    return Window(start or period.start_utc, min(period.end_utc, now + timedelta(microseconds=1)))


def make_digest(
    config: Config,
    store: Store,
    period: Period,
    now: datetime,
    *,
    name: str = "default",
    recipient: str = PREVIEW_ADDRESS,
) -> tuple[Digest, RenderedDigest, EmailMessage]:
    """The digest of ``period`` and one recipient's message, as a send would make them."""
    settings = config.named_digest(name)
    digest = assemble(config, store, settings, period, preview_window(store, settings, period, now))
    rendered = render(config, settings, digest)
    message = compose(
        rendered,
        settings,
        config.smtp,
        title=settings.title or config.site.title,
        base_url=config.site.base_url,
        recipient=recipient,
        message_id=new_message_id(config.smtp.sender),
        now=now,
    )
    return digest, rendered, message


def preview_digest(
    config: Config,
    store: Store,
    now: datetime,
    *,
    name: str = "default",
    period: Period | None = None,
    out_dir: Path | None = None,
) -> DigestOutcome:
    """Write the coming digest as it would be sent (a placeholder address instead of the
    recipients'), without touching the ledger: ``.eml``, ``.html`` and ``.txt``."""
    settings = config.named_digest(name)
    folder = preview_dir(config, out_dir)
    period = period or coming_period(config, store, settings, now)
    digest, _, message = make_digest(config, store, period, now, name=name)
    stem = f"{name}-{period.slug}"
    html = message.get_body(("html",))
    text = message.get_body(("plain",))
    assert html is not None
    assert text is not None
    files = (folder / f"{stem}.eml", folder / f"{stem}.html", folder / f"{stem}.txt")
    _write_private(files[0], message_bytes(message))
    _write_private(files[1], html.get_content().encode("utf-8"))
    _write_private(files[2], text.get_content().encode("utf-8"))
    return DigestOutcome(name, period, digest.entry_count, files=files)
