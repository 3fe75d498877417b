"""Log set-up for the commands and the service: levels by verbosity, zone on every stamp, JSON.

Verbosity (``-v`` counts up, ``-q`` counts down):

    -q   errors only
     0   warnings; the service also logs one line per poll cycle and per digest (INFO)
    -v   this package's INFO (the service: DEBUG)
    -vv  everything, library internals (APScheduler, httpx) included

A feed is bound to a line with ``log.info(..., extra={"feed": name})``; both formats show it.
structlog is imported only for ``--log-format json``, so the commands start fast.
"""

from __future__ import annotations

import logging
import sys
from datetime import datetime, tzinfo
from typing import Literal

LogFormat = Literal["text", "json"]
PACKAGE = "aggregator"
# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def bound_fields(record: logging.LogRecord) -> dict[str, object]:
    """The fields bound with ``extra=`` (such as ``feed``), in the order they were given."""
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class ZonedFormatter(logging.Formatter):
    """``2026-12-01T07:00:02+01:00 INFO aggregator.scheduler: message feed=OS2``.

    Stamps carry their UTC offset, so they read right next to the digest's local times."""

    def __init__(self, zone: tzinfo | None = None, stamped: bool = True) -> None:
        super().__init__()
        self.zone = zone
        self.stamped = stamped

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        moment = datetime.fromtimestamp(record.created, self.zone)
        return (moment if self.zone else moment.astimezone()).isoformat(timespec="seconds")

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        fields = bound_fields(record)
        if fields:
            text += " " + " ".join(f"{k}={v}" for k, v in fields.items())
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        if not self.stamped:
            return f"{record.levelname.lower()}: {text}"
        return f"{self.formatTime(record)} {record.levelname} {record.name}: {text}"


def _json_formatter(zone: tzinfo | None) -> logging.Formatter:
    import structlog
    from structlog.typing import EventDict

    class _JsonFormatter(structlog.stdlib.ProcessorFormatter):
        zone: tzinfo | None = None

    def add_bound(_: object, __: str, event: EventDict) -> EventDict:
        record = event.get("_record")
        if isinstance(record, logging.LogRecord):
            for key, value in bound_fields(record).items():
                event.setdefault(key, value)
        return event

    def stamp(_: object, __: str, event: EventDict) -> EventDict:
        record = event.get("_record")
        created = record.created if isinstance(record, logging.LogRecord) else None
        zone = formatter.zone
        moment = datetime.fromtimestamp(created, zone) if created else datetime.now(zone)
        event["timestamp"] = (moment if zone else moment.astimezone()).isoformat(
            timespec="milliseconds"
        )
        return event

    formatter = _JsonFormatter(
        foreign_pre_chain=[structlog.stdlib.add_log_level, structlog.stdlib.add_logger_name],
        processors=[
            add_bound,
            stamp,
            structlog.processors.format_exc_info,
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
    )
    formatter.zone = zone
    return formatter


def configure(
    verbosity: int,
    log_format: LogFormat = "text",
    service: bool = False,
    zone: tzinfo | None = None,
) -> None:
    """Route every log line to stderr at the level the verbosity asks for.

    The service is louder by default (its summaries are INFO) and always stamped; a one-off
    command prints plain ``warning: …`` lines unless asked for more."""
    own = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(
        verbosity + service if verbosity >= 0 else -1, logging.DEBUG
    )
    libraries = logging.DEBUG if verbosity >= 2 else max(own, logging.WARNING)
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(_json_formatter(zone))
    else:
        handler.setFormatter(ZonedFormatter(zone, stamped=service or verbosity > 0))
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(libraries)
    logging.getLogger(PACKAGE).setLevel(own)
    # APScheduler warns of every tick skipped while a long poll runs: internals, not news.
    logging.getLogger("apscheduler").setLevel(logging.DEBUG if verbosity >= 2 else logging.ERROR)
    # Article extraction says "error" of a page it cannot read, naming no source; the item is
    # stored all the same from its list page: internals too.
    for name in ("trafilatura", "htmldate", "courlan", "justext"):
        logging.getLogger(name).setLevel(logging.DEBUG if verbosity >= 2 else logging.CRITICAL)


def use_zone(zone: tzinfo) -> None:
    """Stamp lines in the site's zone from now on (known only once the config is read)."""
    for handler in logging.getLogger().handlers:
        if handler.formatter is not None and hasattr(handler.formatter, "zone"):
            handler.formatter.zone = zone
