"""The console script: a plain ``aggregator status`` without click, everything else through it.

``status`` is what an admin (and monitoring) runs most, and importing click and building the
command table is about a third of its start-up. So a command line that is nothing but
``status`` with its documented options (``--json``, ``--check``) and the global ones, before or
after it, in their plain spellings, is read here by hand, and the status is built by the same
code the click command prints (aggregator.status_report), from the cached view of feeds.yaml.

Every other command line goes to click unchanged: ``--help``, anything misspelt or combined
(``-qv``), a feeds.yaml not validated yet, a view with no feeds (which logs a warning), a
damaged database, any error at all (status only reads, so click simply runs it again and words
the error its way), output with terminal escapes, or streams click would re-encode. What this
road prints is therefore always what the click road prints; tests/test_entry.py runs a table of
command lines through both and compares stdout, stderr and exit status.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from aggregator.exit_status import CTRL_C, ExitCode, discard_stdout
from aggregator.options import LOG_FORMATS, SPELLINGS, TAKE_VALUE, GlobalOptions

if TYPE_CHECKING:
    from aggregator.status_report import StatusReport

_SPELLED = {spelling: name for name, spellings in SPELLINGS.items() for spelling in spellings}
_STATUS_FLAGS = ("--json", "--check")


def main() -> None:
    _without_httpx_cli()
    code = _plain_status(sys.argv[1:])
    if code is None:
        from aggregator.cli import main as click_main

        click_main()
    else:
        raise SystemExit(code)


def _without_httpx_cli() -> None:
    """``import httpx`` also imports httpx's own command-line client, and with it click, rich's
    console and syntax highlighting, and pygments, since they are installed (rich for our
    progress bar): about a third of httpx's import, paid by every poll before its first fetch,
    and kept in every worker (encode/httpx#3547). This process never runs that client, so a
    placeholder stands in for it. Here, in the program's entry point, not in the library."""
    if "httpx" in sys.modules:
        return
    import types

    def main() -> None:
        raise SystemExit("httpx's command line is not loaded in aggregator's process")

    placeholder = types.ModuleType("httpx._main", "httpx's command line: not loaded here")
    vars(placeholder)["main"] = main
    sys.modules.setdefault("httpx._main", placeholder)


def read_status_line(argv: Sequence[str]) -> tuple[GlobalOptions, frozenset[str]] | None:
    """The global options and status's own flags of a plain ``status`` command line, or None
    for anything else (click reads that)."""
    options = GlobalOptions()
    flags: set[str] = set()
    command = False
    args = iter(argv)
    for arg in args:
        if arg == "status" and not command:
            command = True
            continue
        if command and arg in _STATUS_FLAGS:
            flags.add(arg)
            continue
        spelling, equals, attached = arg.partition("=")
        if not equals:
            spelling = arg
        name = _SPELLED.get(spelling)
        if name is None and spelling[:2] == "-v" and spelling.strip("v") == "-":
            name = "verbose"  # -vv, -vvv
        if name is None or (equals and (name not in TAKE_VALUE or spelling[:2] != "--")):
            return None
        if name == "verbose":
            options.take(name, 1 if spelling == "--verbose" else len(spelling) - 1)
            continue
        if name not in TAKE_VALUE:
            options.take(name, True)
            continue
        value = attached if equals else next(args, None)
        if not value or value.startswith("-"):  # click may read these otherwise: let it
            return None
        if name == "log_format" and value not in LOG_FORMATS:
            return None
        options.take(name, Path(value) if name == "config" else value)
    return (options, frozenset(flags)) if command else None


def _plain_status(argv: Sequence[str]) -> int | None:
    """The exit status of a plain ``status`` run here, or None: click's road is to run it."""
    line = read_status_line(argv)
    if line is None or not _streams_as_click_has_them():
        return None
    options, flags = line
    try:  # Ctrl-C while building or printing: one line and 130, as on click's road
        report = _status_report(options, as_json="--json" in flags, check="--check" in flags)
        if report is None:
            return None
        try:
            for text, err in report.lines:
                stream = sys.stderr if err else sys.stdout
                stream.write(text + "\n")
                stream.flush()  # line by line, as click.echo: the same interleaving on a terminal
        except BrokenPipeError:
            discard_stdout()
            return ExitCode.BROKEN_PIPE
    except KeyboardInterrupt:
        print(CTRL_C, file=sys.stderr)
        return ExitCode.INTERRUPTED
    return report.exit_code


def _status_report(options: GlobalOptions, as_json: bool, check: bool) -> StatusReport | None:
    """The report, or None where click's road must run: it runs status again (which only
    reads) and says what went wrong its way."""
    try:
        from datetime import UTC, datetime

        from aggregator.config_view import cached_view
        from aggregator.status_report import status_report

        config = cached_view(options.config_path)
        if config is None or not config.feeds:
            return None
        report = status_report(
            config, as_json=as_json, check=check, quiet=options.quiet, now=datetime.now(UTC)
        )
        for text, _ in report.lines:
            if "\x1b" in text:
                return None  # click strips terminal escapes when not writing to a terminal
            text.encode("utf-8")  # a lone surrogate: click's road says it
    except Exception:
        return None
    return report


def _streams_as_click_has_them() -> bool:
    """Standard streams click would write to unchanged: present, and UTF-8 (click re-wraps
    an ASCII one); no shell completion asked for; not Windows, whose console click wraps."""
    if sys.platform == "win32" or "_AGGREGATOR_COMPLETE" in os.environ:
        return False
    for stream in (sys.stdout, sys.stderr):
        encoding = getattr(stream, "encoding", None) or ""
        if encoding.lower().replace("_", "-") not in ("utf-8", "utf8"):
            return False
    return True
