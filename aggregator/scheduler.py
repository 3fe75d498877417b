"""APScheduler wiring only: when to poll, export and send; the work is done elsewhere.

Which feeds are due is kept in the database (``next_poll_at``), so a restart continues where
the last run left off; a frequent tick asks the store which feeds are due.

Jobs run one at a time (a single worker) so a digest never reads the database halfway
through a poll's writes, and each job opens its own Store because sqlite3 connections belong
to one thread.
"""

from __future__ import annotations

import logging
import random
import signal
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from types import FrameType
from zoneinfo import ZoneInfo

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from aggregator.config import Config, DigestSettings
from aggregator.digest import Period, last_complete, send_digest
from aggregator.digest.archive import run_period
from aggregator.digest.periods import due_at, kind_of
from aggregator.errors import AggregatorError
from aggregator.export import export_feeds
from aggregator.pipeline import Clock, poll, utc_now
from aggregator.store import Store
from aggregator.workers import WorkerPool

log = logging.getLogger(__name__)


def digest_due(settings: DigestSettings, now: datetime, zone: ZoneInfo) -> Period | None:
    """The period whose digest should go out now: its scheduled time has come and is no
    more than ``catch_up_hours`` ago (a service that was down sends a missed digest when it
    is back, within that grace). Never a period that has not ended."""
    period = last_complete(now, kind_of(settings.day), zone)
    due = due_at(period, settings.day, settings.time)
    if now < due or now - due > timedelta(hours=settings.catch_up_hours):
        return None
    return period


class Service:
    """The long-running ``aggregator run``."""

    def __init__(
        self,
        config: Config,
        clock: Clock = utc_now,
        tick_seconds: float = 60.0,
        rng: random.Random | None = None,
        pool: WorkerPool | None = None,
    ):
        self.config = config
        self.pool = pool  # started before the scheduler's threads, see workers.py
        self.rng = rng or random.Random()
        self.clock = clock
        self.tick_seconds = tick_seconds
        self.stopping = threading.Event()
        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
            timezone=config.site.zone,
        )

    def _with_store(self, work: Callable[[Store], None]) -> None:
        if self.stopping.is_set():
            return
        try:
            store = Store.open(self.config.database_path)
            try:
                work(store)
            finally:
                store.close()
        except AggregatorError as exc:
            log.error("%s", exc)

    def poll_due(self) -> None:
        def work(store: Store) -> None:
            now = self.clock()
            by_url = {f.url: f for f in self.config.feeds if f.enabled}
            store.sync_feeds(self.config.feeds, now)
            self._spread_new_feeds(store, now)
            feeds = [by_url[url] for url in store.due_feeds(now) if url in by_url]
            outputs_missing = not (self.config.output_dir / "atom.xml").exists()
            if feeds:
                report = poll(
                    self.config, store, feeds, clock=self.clock, rng=self.rng, pool=self.pool
                )
                log.info(
                    "polled %d feeds: %d new, %d updated, %d failed",
                    len(feeds),
                    report.new,
                    report.updated,
                    len(report.failed),
                )
                outputs_missing = outputs_missing or report.changed
            if outputs_missing:
                export = export_feeds(self.config, store, self.clock())
                log.info("exported %d entries", export.entries)

        self._with_store(work)

    def _spread_new_feeds(self, store: Store, now: datetime) -> None:
        """Feeds never polled start at random times in the first minute(s), not all at once."""
        spread = self.config.poll.startup_spread_seconds
        if spread <= 0:
            return
        for url in store.unscheduled_feeds():
            store.schedule(url, now + timedelta(seconds=self.rng.uniform(0, spread)))

    def send_digests(self) -> None:
        """Each digest whose time has come, and retries that are due; the ledger makes a
        repeated call a no-op, so this runs on every tick."""

        def work(store: Store) -> None:
            now = self.clock()
            zone = self.config.site.zone
            todo: dict[tuple[str, datetime], Period] = {}
            for settings in self.config.all_digests:
                period = digest_due(settings, now, zone) if settings.recipients else None
                if period is not None:
                    todo[(settings.name, period.start_utc)] = period
            names = {d.name for d in self.config.all_digests}
            for run, delivery in store.ledger.unfinished():
                if run.digest in names and delivery.due(now):
                    todo.setdefault((run.digest, run.period_start), run_period(run, self.config))
            for (name, _), period in todo.items():
                try:
                    outcome = send_digest(
                        self.config, store, now, name=name, period=period, wait_for_retries=False
                    )
                except AggregatorError as exc:
                    log.error("digest %s %s: %s", name, period.slug, exc)
                    continue
                if outcome.skipped_reason is None:
                    log.info(
                        "digest %s %s: %d sent, %d to retry, %d failed (%d entries)",
                        name,
                        period.slug,
                        len(outcome.in_state("sent")),
                        len(outcome.in_state("retry")),
                        len(outcome.in_state("failed")),
                        outcome.entry_count,
                    )

        self._with_store(work)

    def start(self) -> None:
        zone = self.config.site.zone
        self.scheduler.add_job(
            self.poll_due,
            IntervalTrigger(seconds=self.tick_seconds, timezone=zone),
            id="poll",
            next_run_time=datetime.now(zone),
        )
        self.scheduler.add_job(
            self.send_digests,
            IntervalTrigger(seconds=max(self.tick_seconds, 0.1), timezone=zone),
            id="digests",
            next_run_time=datetime.now(zone),
        )
        self.scheduler.start()

    def stop(self) -> None:
        self.stopping.set()
        if self.scheduler.running:
            # Waits for a running job: its transaction commits and files are renamed into place.
            self.scheduler.shutdown(wait=True)

    def run_until_signalled(self) -> None:
        done = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            log.info("received %s, stopping", signal.Signals(signum).name)
            done.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, on_signal)
        self.start()
        log.info(
            "aggregator running: %d feeds, digests %s",
            len(self.config.feeds),
            ", ".join(f"{d.name} ({d.day} {d.time:%H:%M})" for d in self.config.all_digests),
        )
        done.wait()
        self.stop()
