"""What the commands print: the global options, and lines, tables and JSON through click.

Every command prints through here, so ``-q`` silences the same things everywhere and a table
looks the same in ``status``, ``entries`` and the rest (the wording itself is aggregator.text,
re-exported here). Only the standard library and click are imported: the commands import their
heavy parts themselves, so start-up stays fast.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import click

from aggregator.options import CONFIG_ENV, DEFAULT_CONFIG, GlobalOptions
from aggregator.text import json_text, json_value, local_time, plural, table, terminal_text

__all__ = [
    "CONFIG_ENV", "DEFAULT_CONFIG", "GlobalOptions", "echo", "global_options", "json_text",
    "json_value", "local_time", "plural", "print_json", "print_table", "problem", "say", "table",
    "terminal_text",
]  # fmt: skip


def global_options(ctx: click.Context | None = None) -> GlobalOptions:
    ctx = ctx or click.get_current_context(silent=True)
    if ctx is None:
        return GlobalOptions()
    found = ctx.meta.get("aggregator.options")
    if not isinstance(found, GlobalOptions):
        found = ctx.meta["aggregator.options"] = GlobalOptions()
    return found


def echo(text: str = "", err: bool = False) -> None:
    """A line as it is, but for the characters a terminal acts on: the words in it may be a
    feed's or a server's (terminal_text)."""
    click.echo(terminal_text(text), err=err)


def say(text: str = "") -> None:
    """A line of ordinary output, left out with ``-q``."""
    if not global_options().quiet:
        echo(text)


def problem(text: str, err: bool = False) -> None:
    """A line about something that went wrong: printed even with ``-q``."""
    echo(text, err=err)


def print_json(data: object) -> None:
    click.echo(json_text(data))  # escapes what a terminal acts on itself


def print_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    for line in table(header, rows):
        echo(line)
