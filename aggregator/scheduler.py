"""APScheduler wiring only: when to poll, export and send; the work is done elsewhere.

Which feeds are due is kept in the database (``next_poll_at``), so a restart continues where
the last run left off; a frequent tick asks the store which feeds are due.

Polling (with exporting) and sending digests have a worker each, so a slow or stalling SMTP
server never holds up a poll, nor a long cold poll the digest; SQLite's write lock and the
store's short transactions keep them apart, and each job opens its own Store because sqlite3
connections belong to one thread. A digest pass is bounded in time (the rest wait for the
next tick, nobody charged) so a stop never waits for a whole list of recipients.

feeds.yaml is read again on SIGHUP and whenever a tick sees the file changed. The reload runs
as a job on that same worker, so no job sees half of one config and half of another; a file
that does not validate is logged with its problems and the running config is kept.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import signal
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType
from zoneinfo import ZoneInfo

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from aggregator.config import Config, DigestSettings, FeedConfig, load_config
from aggregator.digest import Period, last_complete, send_digest
from aggregator.digest.archive import run_period
from aggregator.digest.periods import due_at, kind_of
from aggregator.errors import AggregatorError, ConfigError
from aggregator.export import export_feeds
from aggregator.pipeline import Clock, poll, utc_now
from aggregator.store import Store
from aggregator.workers import WorkerPool

log = logging.getLogger(__name__)

# The longest one digest pass of the service runs before the rest wait for the next tick
# (a stalling server at smtp.timeout_seconds a recipient would otherwise hold it for hours).
DIGEST_PASS_SECONDS = 300.0


def digest_due(settings: DigestSettings, now: datetime, zone: ZoneInfo) -> list[Period]:
    """The periods whose digest should go out now, oldest first: the scheduled time has come
    and is no more than ``catch_up_hours`` ago (a service that was down sends a missed
    digest when it is back, within that grace). Never a period that has not ended."""
    kind = kind_of(settings.day)
    last = last_complete(now, kind, zone)
    before = last_complete(last.start, kind, zone)
    grace = timedelta(hours=settings.catch_up_hours)
    return [
        period
        for period in (before, last)
        if timedelta(0) <= now - due_at(period, settings.day, settings.time) <= grace
    ]


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
        self.config_path = config.source_path
        self._config_stamp = _file_stamp(self.config_path)
        self._changing_stamp: tuple[int, int, int] | None = None  # seen changed at the last tick
        self._backlog_spread = False
        self.digest_pass_seconds = DIGEST_PASS_SECONDS
        self._poll_began: datetime | None = None  # set while a poll job runs
        self.scheduler = BackgroundScheduler(
            executors={
                "default": ThreadPoolExecutor(max_workers=1),  # polls, exports, reloads
                "digest": ThreadPoolExecutor(max_workers=1),
            },
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
        stamp = _file_stamp(self.config_path)
        if stamp != self._config_stamp:
            # Read once it has stayed the same for a tick: an editor that writes in place
            # leaves the file empty or cut for a moment, and that must not become the config.
            if stamp == self._changing_stamp:
                self.reload("it changed on disk", guarded=True)
            self._changing_stamp = stamp

        def work(store: Store) -> None:
            config = self.config
            now = self.clock()
            self._poll_began = now
            try:
                poll_feeds(store, config, now)
            finally:
                self._poll_began = None

        def poll_feeds(store: Store, config: Config, now: datetime) -> None:
            by_url = {f.url: f for f in config.feeds if f.enabled}
            store.sync_feeds(config.feeds, now)
            if not self._backlog_spread:
                self._spread_backlog(store, now)
                self._backlog_spread = True
            self._spread_new_feeds(store, now)
            feeds = [by_url[url] for url in store.due_feeds(now) if url in by_url]
            export_now = not (config.output_dir / "atom.xml").exists()
            summary = ""
            if feeds:
                report = poll(config, store, feeds, clock=self.clock, rng=self.rng, pool=self.pool,
                              keep_results=False)  # fmt: skip
                for failed in report.failed:
                    name = by_url[failed.feed_url].name if failed.feed_url in by_url else "?"
                    log.warning("poll failed: %s", failed.error, extra={"feed": name})
                summary = (
                    f"polled {len(feeds)} feeds: {report.new} new, {report.updated} updated, "
                    f"{len(report.failed)} failed"
                )
                # Also when nothing new arrived: a feed's health or the month may have changed,
                # and an export that changes nothing writes nothing.
                export_now = True
            if export_now:
                export = export_feeds(config, store, self.clock())
                summary += ("; " if summary else "") + f"exported {export.entries} entries"
            if summary:
                log.info("%s; next due %s", summary, self._next_due(store, config))
            else:
                log.debug("nothing due; next due %s", self._next_due(store, config))

        self._with_store(work)

    @staticmethod
    def _next_due(store: Store, config: Config) -> str:
        enabled = {f.url for f in config.feeds if f.enabled}
        times = [
            s.next_poll_at
            for s in store.feed_statuses(count_entries=False)
            if s.url in enabled and s.next_poll_at
        ]
        known = [t for t in times if t is not None]
        if len(known) < len(times) or not known:
            return "now"
        return min(known).astimezone(config.site.zone).isoformat(timespec="seconds")

    def reload(self, reason: str, guarded: bool = False) -> None:
        """Read feeds.yaml again; keep the running config if the new one is not valid, or,
        when ``guarded`` (a change seen on disk, not a SIGHUP), if it drops most feeds."""
        path = self.config_path
        if path is None:
            return
        self._config_stamp = _file_stamp(path)
        try:
            new = load_config(path)
        except ConfigError as exc:
            log.error("feeds.yaml not reloaded (%s), the running config is kept:\n%s", reason, exc)
            return
        old = self.config
        if guarded and old.feeds and len(new.feeds) * 2 < len(old.feeds):
            log.error(
                "feeds.yaml not reloaded (%s): it has %d of the %d feeds running, which looks "
                "like a file saved halfway; the running config is kept. Send SIGHUP "
                "(systemctl reload aggregator) to apply it as it is.",
                reason, len(new.feeds), len(old.feeds),
            )  # fmt: skip
            return
        before = {f.url: f for f in old.feeds}  # by URL: 100,000 feeds are no list to search
        after = {f.url: f for f in new.feeds}
        added = [f.name for f in new.feeds if f.url not in before]
        removed = [f.name for f in old.feeds if f.url not in after]
        changed = [
            f"{f.name} ({', '.join(keys)})"
            for f in new.feeds
            if f.url in before and (keys := _changed_keys(before[f.url], f))
        ]
        if (
            new.database_path != old.database_path
            or new.output_dir != old.output_dir
            or new.poll.workers != old.poll.workers
        ):
            log.warning(
                "site.database, site.output_dir and poll.workers take effect when the "
                "service restarts"
            )
            kept = {"database": old.site.database, "output_dir": old.site.output_dir}
            new = new.model_copy(update={"site": new.site.model_copy(update=kept)})
        self.config = new
        log.info(
            "reloaded %s (%s): %d feeds, added: %s; removed: %s; changed: %s",
            path, reason, len(new.feeds), ", ".join(added) or "none", ", ".join(removed) or "none",
            ", ".join(changed) or "none",
        )  # fmt: skip

    def _spread_new_feeds(self, store: Store, now: datetime) -> None:
        """Feeds never polled start at random times in the first minute(s), not all at once."""
        spread = self.config.poll.startup_spread_seconds
        if spread <= 0:
            return
        urls = store.unscheduled_feeds()
        store.schedule_many((url, now + timedelta(seconds=self.rng.uniform(0, spread)))
                            for url in urls)  # fmt: skip

    def _spread_backlog(self, store: Store, now: datetime) -> None:
        """At start, the feeds that fell due while the service was down are spread over the
        share of the poll interval that is their share of the feeds: after a day down, over
        a whole interval; after a minute, over a minute. Polled all in the first tick, they
        would come due together again an interval later, and every interval after that
        (jitter only lengthens intervals, so it disperses a herd slowly)."""
        scheduled = [
            s
            for s in store.feed_statuses(count_entries=False)
            if s.next_poll_at and s.state != "gone"
        ]
        overdue = [s.url for s in scheduled if s.next_poll_at and s.next_poll_at <= now]
        if not overdue:
            return
        interval = timedelta(minutes=self.config.poll.interval_minutes)
        window = interval * (len(overdue) / len(scheduled))
        if window <= timedelta(seconds=self.tick_seconds):
            return  # no more than a tick's worth: polled now, as they would have been
        seconds = window.total_seconds()
        store.schedule_many((url, now + timedelta(seconds=self.rng.uniform(0, seconds)))
                            for url in overdue)  # fmt: skip
        log.info("%d feeds fell due while the service was down; spread over the next %s",
                 len(overdue), _duration(window))  # fmt: skip

    def send_digests(self) -> None:
        """Each digest whose time has come, and retries that are due; the ledger makes a
        repeated call a no-op, so this runs on every tick."""

        def work(store: Store) -> None:
            now = self.clock()
            zone = self.config.site.zone
            todo: dict[tuple[str, datetime], Period] = {}
            for settings in self.config.all_digests:
                latest = store.ledger.latest_run(settings.name)
                for period in digest_due(settings, now, zone) if settings.recipients else []:
                    covered = latest is not None and period.end_utc <= latest.window_end
                    run = store.ledger.run(settings.name, period.start_utc)
                    polling = self._poll_began
                    if run is None and polling is not None and polling < period.end_utc:
                        # A poll begun before the period ended may still be writing posts
                        # first seen in it: the window is fixed once the run is made.
                        log.debug("digest %s %s waits for the poll", settings.name, period.slug)
                        continue
                    if not covered or run:
                        todo[(settings.name, period.start_utc)] = period
            names = {d.name for d in self.config.all_digests}
            for run, delivery in store.ledger.unfinished():
                if run.digest in names and delivery.due(now):
                    todo.setdefault((run.digest, run.period_start), run_period(run, self.config))
            for (name, _), period in todo.items():
                if self.stopping.is_set():
                    return
                try:
                    outcome = send_digest(
                        self.config,
                        store,
                        now,
                        name=name,
                        period=period,
                        clock=self.clock,
                        wait_for_retries=False,
                        stop=self._pass_ends(),
                    )
                except AggregatorError as exc:
                    log.error("digest %s %s: %s", name, period.slug, exc)
                    continue
                if outcome.skipped_reason is None:
                    log.info(
                        "digest %s %s: %d sent, %d to retry, %d failed (%d entries)%s",
                        name,
                        period.slug,
                        len(outcome.in_state("sent")),
                        len(outcome.in_state("retry")),
                        len(outcome.in_state("failed")),
                        outcome.entry_count,
                        f"; {left} not yet tried, next tick"
                        if (left := len(outcome.in_state("pending")))
                        else "",
                    )

        self._with_store(work)

    def _pass_ends(self) -> Callable[[], bool]:
        """When a digest pass should end: the service stops, or it has run its time."""
        deadline = time.monotonic() + self.digest_pass_seconds
        return lambda: self.stopping.is_set() or time.monotonic() > deadline

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
            executor="digest",
        )
        self.scheduler.start()

    def stop(self) -> None:
        self.stopping.set()
        if self.scheduler.running:
            # Waits for a running job: its transaction commits and files are renamed into place.
            self.scheduler.shutdown(wait=True)

    def run_until_signalled(self) -> None:
        """Until SIGINT or SIGTERM; SIGHUP reloads feeds.yaml. The handlers only note the
        signal: the main thread then queues the work on the scheduler."""
        wake = threading.Event()
        received: list[signal.Signals] = []

        def on_signal(signum: int, frame: FrameType | None) -> None:
            received.append(signal.Signals(signum))
            wake.set()

        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, on_signal)
        self.start()
        log.info(
            "aggregator running: %d feeds, digests %s",
            len(self.config.feeds),
            ", ".join(f"{d.name} ({d.day} {d.time:%H:%M})" for d in self.config.all_digests),
        )
        while True:
            # A timed wait: a signal the kernel hands to another thread only sets a flag, which
            # the main thread sees when it next runs Python code.
            if not wake.wait(0.5):
                continue
            wake.clear()
            while received:
                sig = received.pop(0)
                if sig == signal.SIGHUP:
                    log.info("received SIGHUP, reloading %s", self.config_path)
                    self.scheduler.add_job(self.reload, args=["SIGHUP"], id="reload",
                                           replace_existing=True)  # fmt: skip
                    continue
                log.info("received %s, stopping", sig.name)
                self.stop()
                return


def _changed_keys(old: FeedConfig, new: FeedConfig) -> list[str]:
    """The settings of one feed that a reload changed, by their feeds.yaml names."""
    return [
        field.name
        for field in dataclasses.fields(new)
        if getattr(old, field.name) != getattr(new, field.name)
    ]


def _duration(span: timedelta) -> str:
    minutes = round(span.total_seconds() / 60)
    return f"{minutes} min" if minutes else f"{round(span.total_seconds())} s"


def _file_stamp(path: Path | None) -> tuple[int, int, int] | None:
    """What tells a changed file: inode (editors replace files), size and mtime."""
    if path is None:
        return None
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)
