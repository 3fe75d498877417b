"""What the commands print: the global options, tables, JSON, times and counts.

Every command prints through here, so ``-q`` silences the same things everywhere and a table
looks the same in ``status``, ``entries`` and the rest. Only the standard library and click are
imported: the commands import their heavy parts themselves, so start-up stays fast.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:  # aggregator.logs imports logging: only a command that runs configures it
    from aggregator.logs import LogFormat

DEFAULT_CONFIG = "feeds.yaml"
CONFIG_ENV = "AGGREGATOR_CONFIG"


class GlobalOptions:
    """The options every command takes, before or after its name; the last one given wins
    (``-v`` adds up). A plain class: ``--help`` need not import dataclasses for it."""

    __slots__ = ("config", "debug", "log_format", "quiet", "verbose")

    def __init__(self) -> None:
        self.config: Path | None = None
        self.verbose = 0
        self.quiet = False
        self.debug = False
        self.log_format: LogFormat = "text"

    @property
    def config_path(self) -> Path:
        return self.config or Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)

    @property
    def verbosity(self) -> int:
        return -1 if self.quiet else self.verbose


def global_options(ctx: click.Context | None = None) -> GlobalOptions:
    ctx = ctx or click.get_current_context(silent=True)
    if ctx is None:
        return GlobalOptions()
    found = ctx.meta.get("aggregator.options")
    if not isinstance(found, GlobalOptions):
        found = ctx.meta["aggregator.options"] = GlobalOptions()
    return found


def say(text: str = "") -> None:
    """A line of ordinary output, left out with ``-q``."""
    if not global_options().quiet:
        click.echo(text)


def problem(text: str, err: bool = False) -> None:
    """A line about something that went wrong: printed even with ``-q``."""
    click.echo(text, err=err)


def print_json(data: object) -> None:
    import json  # here: --help needs none of it

    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=_json_default))


def _json_default(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    """Columns padded to their widest cell; the last column is not padded."""
    cells = [[str(c) for c in header], *([str(c) for c in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]


def print_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    for line in table(header, rows):
        click.echo(line)


def local_time(value: datetime | None, zone: tzinfo, empty: str = "-") -> str:
    """``2026-12-01 07:00 CET``: the zone is always shown, so nobody guesses."""
    if value is None:
        return empty
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``1 entry``, ``2 entries``, ``0 feeds``."""
    if count == 1:
        return f"{count} {noun}"
    return f"{count} {nouns or _plural_of(noun)}"


def _plural_of(noun: str) -> str:
    if noun.endswith("y") and noun[-2:-1] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


def json_value(value: Any) -> Any:
    """A value as JSON output shows it: aware datetimes as ISO 8601 with their offset."""
    return value.isoformat() if isinstance(value, datetime) else value
