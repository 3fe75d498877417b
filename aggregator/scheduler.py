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

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from aggregator.config import WEEKDAYS, Config
from aggregator.digest import last_complete_week, run_digest
from aggregator.errors import AggregatorError
from aggregator.export import export_feeds
from aggregator.pipeline import Clock, poll, utc_now
from aggregator.store import Store
from aggregator.workers import WorkerPool

log = logging.getLogger(__name__)


def digest_due_at(config: Config, now: datetime) -> datetime:
    """This week's scheduled digest time, in the site's zone."""
    local = now.astimezone(config.site.zone)
    monday = local.date() - timedelta(days=local.weekday())
    day = monday + timedelta(days=WEEKDAYS.index(config.digest.day))
    return datetime.combine(day, config.digest.time, tzinfo=config.site.zone)


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

    def send_digest(self, catch_up: bool = False) -> None:
        if not self.config.digest.recipients:
            log.info("digest: no recipients configured, nothing sent")
            return

        def work(store: Store) -> None:
            now = self.clock()
            period = last_complete_week(now, self.config.site.zone)
            if catch_up and (
                now < digest_due_at(self.config, now) or store.digest_record(period.start_utc)
            ):
                return
            outcome = run_digest(self.config, store, now, period=period)
            if outcome.skipped_reason:
                log.info("digest %s: %s", period.slug, outcome.skipped_reason)
            else:
                log.info(
                    "digest %s sent to %d recipients (%d entries)",
                    period.slug,
                    len(outcome.sent_to),
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
        digest_time = self.config.digest.time
        self.scheduler.add_job(
            self.send_digest,
            CronTrigger(
                day_of_week=self.config.digest.day,
                hour=digest_time.hour,
                minute=digest_time.minute,
                timezone=zone,
            ),
            id="digest",
        )
        # A digest missed while the service was down goes out as soon as it is back.
        self.scheduler.add_job(self.send_digest, kwargs={"catch_up": True}, id="digest-catch-up")
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
            "aggregator running: %d feeds, digest %s %s",
            len(self.config.feeds),
            self.config.digest.day,
            self.config.digest.time.strftime("%H:%M"),
        )
        done.wait()
        self.stop()
