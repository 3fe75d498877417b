"""Command line: thin commands over the library. Errors are one line, not a traceback.

Exit status (the README's table says the same):

    0    the command ran; some feeds may have failed (they are reported)
    1    an error: one line on stderr (``--debug`` shows the traceback)
    2    bad usage, or a feeds.yaml that is missing or invalid (nothing is written)
    3    ``poll``: every feed polled failed (a dead network, for monitoring)
    4    ``status --check``: a feed has been failing for longer than allowed
    130  stopped by Ctrl-C; 143 stopped by SIGTERM (what was done so far is kept)
    141  the output pipe was closed (``aggregator status | head -1``), as for a SIGPIPE

Adding a command: ``@cli.command("name")``, then ``@config_option`` if it reads feeds.yaml
(it passes ``config_path``); the global options (-c, -v, -q, --debug, --log-format) are added
to every command by ``_Command``. Print through ``aggregator.console``. Import the heavy parts
(config, store, pipeline, httpx, …) inside the command: ``aggregator --help`` must stay fast,
and tests/test_startup.py checks what it imports.
"""

from __future__ import annotations

import functools
import math
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import click

from aggregator import __version__, console, sources_cli
from aggregator.console import global_options, say
from aggregator.errors import AggregatorError, Interrupted
from aggregator.exit_status import CTRL_C, ExitCode, discard_stdout
from aggregator.options import LOG_FORMATS, SPELLINGS

if TYPE_CHECKING:
    from aggregator.config import Config, FeedConfig
    from aggregator.config_view import ConfigView
    from aggregator.export import ExportReport
    from aggregator.pipeline import PollReport
    from aggregator.serve import ServerOptions
    from aggregator.store import PruneReport, Store
    from aggregator.types import FeedUpdateResult
    from aggregator.workers import WorkerPool

F = TypeVar("F", bound=Callable[..., Any])


class _Named(Protocol):
    """A configured feed: from the validated Config, or from its cached view."""

    @property
    def name(self) -> str: ...
    @property
    def url(self) -> str: ...


_Feed = TypeVar("_Feed", bound=_Named)


def _store_option(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    global_options(ctx).take(str(param.name), value)


def _global_params() -> list[click.Parameter]:
    """Fresh option objects for the group and for each command, all feeding GlobalOptions."""
    common: dict[str, Any] = {"expose_value": False, "callback": _store_option}
    return [
        click.Option(
            list(SPELLINGS["config"]),
            type=click.Path(path_type=Path, dir_okay=False),
            help=f"Path to feeds.yaml [default: ${console.CONFIG_ENV}, else "
            f"{console.DEFAULT_CONFIG}].",
            **common,
        ),
        click.Option(
            list(SPELLINGS["verbose"]), count=True,
            help="More log lines (-vv: library internals too).", **common,
        ),
        click.Option(list(SPELLINGS["quiet"]), is_flag=True, help="Print only failures.", **common),
        click.Option(
            list(SPELLINGS["debug"]), is_flag=True, help="Show tracebacks of errors.", **common
        ),
        click.Option(
            list(SPELLINGS["log_format"]), type=click.Choice(LOG_FORMATS), default=None,
            help="Log lines as text (default) or JSON, one object a line.", **common,
        ),
    ]  # fmt: skip


@functools.cache
def _global_names() -> frozenset[str]:
    return frozenset(str(p.name) for p in _global_params())


def _short_help(command: click.Command) -> str:
    """The first paragraph of the help, whole: click would cut it at 45 characters."""
    text = command.short_help or (command.help or "").split("\n\n", 1)[0]
    return " ".join(text.split())


def _format_options(
    command: click.Command, ctx: click.Context, formatter: click.HelpFormatter
) -> None:
    own: list[tuple[str, str]] = []
    shared: list[tuple[str, str]] = []
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx)
        if record:
            (shared if param.name in _global_names() else own).append(record)
    if own:
        with formatter.section("Options"):
            formatter.write_dl(own)
    if shared:
        with formatter.section("Global options (before or after the command)"):
            formatter.write_dl(shared)


class _HelpFormatter(click.HelpFormatter):
    """click's help formatter, fitted to the terminal as click does it but without importing
    shutil (with bz2, lzma and fnmatch, about 5 ms of every ``--help``)."""

    def __init__(
        self, indent_increment: int = 2, width: int | None = None, max_width: int | None = None
    ) -> None:
        if width is None and click.formatting.FORCED_WIDTH is None:
            width = max(min(_terminal_columns(), max_width or 80) - 2, 50)
        super().__init__(indent_increment, width, max_width)


def _terminal_columns() -> int:
    """What ``shutil.get_terminal_size().columns`` says: $COLUMNS, else the terminal's, else 80."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class _Context(click.Context):
    formatter_class = _HelpFormatter


class _TakesGlobalOptions:
    """The global options join a command's own when its parameters are first read (to parse,
    help or complete), not when it is defined: making them for each of the ~25 commands cost
    about 10 ms of every start-up (click's Path type looks up its translations each time).
    Relies on click reading and assigning ``Command.params`` only as an attribute (true of
    click 8.1-8.4); tests/test_cli_options.py would fail on a click that kept its own copy."""

    _own_params: list[click.Parameter]
    _with_globals: bool = False

    @property
    def params(self) -> list[click.Parameter]:
        if not self._with_globals:
            self._own_params.extend(_global_params())
            self._with_globals = True
        return self._own_params

    @params.setter
    def params(self, value: list[click.Parameter]) -> None:
        self._own_params = value
        self._with_globals = False


class _Command(_TakesGlobalOptions, click.Command):
    """A command that also takes the global options after its name."""

    context_class = _Context

    def get_short_help_str(self, limit: int = 45) -> str:
        return _short_help(self)

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        _format_options(self, ctx, formatter)

    def invoke(self, ctx: click.Context) -> Any:
        from aggregator import logs  # here: --help needs no logging

        options = global_options(ctx)
        logs.configure(options.verbosity, options.log_format, service=self.name == "run")
        return super().invoke(ctx)


class _Group(_TakesGlobalOptions, click.Group):
    command_class = _Command
    context_class = _Context

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        _format_options(self, ctx, formatter)
        self.format_commands(ctx, formatter)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AggregatorError as exc:
            if global_options(ctx).debug:
                raise
            console.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except BrokenPipeError:
            discard_stdout()
            ctx.exit(ExitCode.BROKEN_PIPE)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except KeyboardInterrupt:
            click.echo(CTRL_C, err=True)
            ctx.exit(ExitCode.INTERRUPTED)
        except Exception as exc:
            if global_options(ctx).debug:
                raise
            if _database_error(exc):  # a read of a damaged file, say
                console.echo(
                    f"error: database: {exc}; check it with aggregator db check "
                    "(see Recovery in the README)",
                    err=True,
                )
                ctx.exit(ExitCode.ERROR)
            console.echo(
                f"unexpected error: {type(exc).__name__}: {exc} (run with --debug for details)",
                err=True,
            )
            ctx.exit(ExitCode.ERROR)


def _database_error(exc: Exception) -> bool:
    sqlite3 = sys.modules.get("sqlite3")  # not imported here: --help stays fast
    return sqlite3 is not None and isinstance(exc, sqlite3.DatabaseError)


def config_option(func: F) -> F:
    """Pass the feeds.yaml path as ``config_path`` (from -c/--config anywhere on the line, else
    $AGGREGATOR_CONFIG, else feeds.yaml)."""

    @functools.wraps(func)
    def with_config_path(*args: Any, **kwargs: Any) -> Any:
        return func(*args, config_path=global_options().config_path, **kwargs)

    return with_config_path  # type: ignore[return-value]


def load_config(config_path: Path) -> Config:
    from aggregator.config import load_config as load

    return load(config_path)


def _server_options(
    config: Config, host: str | None, port: int | None, root_path: str | None
) -> ServerOptions:
    from aggregator.serve import ServerOptions

    settings = config.serve
    return ServerOptions(
        host=host or settings.host,
        port=settings.port if port is None else port,
        root_path=settings.root_path if root_path is None else root_path,
        trusted_proxies=settings.trusted_proxies,
        access_log=settings.access_log,
    )


def serve_options(func: F) -> F:
    for option in reversed(
        (
            click.option("--host", help="Address to listen on (default: serve.host, 127.0.0.1)."),
            click.option(
                "--port", type=click.IntRange(0, 65535), help="Port (default: serve.port, 8080)."
            ),
            click.option(
                "--root-path",
                help="Path prefix the site has behind a reverse proxy, e.g. /nyheder "
                "(default: serve.root_path).",
            ),
        )
    ):
        func = option(func)
    return func


def now_utc() -> datetime:
    return datetime.now(UTC)


@contextmanager
def open_store(config: Config | ConfigView, read_only: bool = False) -> Iterator[Store]:
    """The database; ``read_only`` for commands that only read it (they then work in a
    directory the process cannot write to)."""
    from aggregator.store import Store

    path = config.database_path
    store = Store.open_for_reading(path) if read_only else Store.open(path)
    try:
        yield store
    finally:
        store.close()


def _local(value: datetime | None, config: Config) -> str:
    return console.local_time(value, config.site.zone)


@click.group(
    cls=_Group,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, "-V", "--version", prog_name="aggregator")
def cli() -> None:
    """Aggregate public-sector digitalisation feeds into one feed and a weekly digest.

    Every command takes the global options before or after its name, e.g.
    `aggregator -c /etc/aggregator/feeds.yaml poll -q`. Exit status: 0 ran (some feeds may
    have failed), 1 error, 2 bad usage or feeds.yaml, 3 every polled feed failed, 4
    `status --check` found a feed failing too long, 141 output pipe closed.
    """


def _result_line(result: FeedUpdateResult, name: str) -> str:
    if result.error:
        return f"  FAIL  {name}  {result.error}"
    if result.not_modified:
        return f"  ok    {name}  not modified"
    return f"  ok    {name}  {result.new} new, {result.updated} updated"


def _print_poll(report: PollReport, config: Config, feeds: list[FeedConfig]) -> None:
    """A line per feed, or with -q per failing feed (the only results the poll then kept)."""
    names = {f.url: f.name for f in config.feeds}
    width = max((len(f.name) for f in feeds), default=0)
    for result in report.results or report.failed:
        line = _result_line(result, names.get(result.feed_url, result.feed_url).ljust(width))
        (console.problem if result.error else say)(line)
    say(
        f"Polled {console.plural(report.polled, 'feed')}: {report.new} new, "
        f"{report.updated} updated, {len(report.failed)} failed."
    )


def _print_what_to_do(store: Store, config: Config, urls: set[str] | None = None) -> None:
    """After a poll: a line per feed that needs the admin, shown even with -q."""
    from aggregator import health

    names = {f.url: f.name for f in config.feeds}
    shown = (
        store.feed_statuses(count_entries=False) if urls is None else store.feed_statuses_of(urls)
    )
    for status in shown:
        if status.url not in names or (urls is not None and status.url not in urls):
            continue
        if status.moved_to or status.url in (urls or ()):
            advice = health.what_to_do(status)
            if advice:
                console.problem(f"{names[status.url]}: {advice}")


def _poll_with_progress(
    config: Config, store: Store, feeds: list[FeedConfig], pool: WorkerPool | None
) -> PollReport:
    """A progress bar on a terminal; elsewhere the summary alone, for logs and scripts."""
    from aggregator.pipeline import poll

    quiet = global_options().quiet
    if not sys.stderr.isatty() or quiet:
        return poll(config, store, feeds, pool=pool, keep_results=not quiet)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    names = {f.url: f.name for f in config.feeds}
    # Redrawn on each result rather than by rich's refresh thread: a worker that died is
    # replaced by a fork, safe only while no other thread runs (see workers.py).
    with Progress(
        TextColumn("Polling"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
        transient=True, auto_refresh=False,
    ) as progress:  # fmt: skip
        task = progress.add_task("", total=len(feeds))

        def advance(result: FeedUpdateResult) -> None:
            description = names.get(result.feed_url, "")
            progress.update(task, advance=1, description=description, refresh=True)

        return poll(config, store, feeds, on_result=advance, pool=pool)


@cli.command("poll")
@config_option
@click.option("--due", is_flag=True, help="Poll only the feeds whose next poll has come.")
@click.option(
    "--no-export",
    "no_export",
    is_flag=True,
    help="Store only; leave the output to `aggregator export` (run on its own schedule).",
)
@click.pass_context
def poll_command(ctx: click.Context, config_path: Path, due: bool, no_export: bool) -> None:
    """Poll feeds once (all but gone ones), store new entries, export the merged feed.

    Ends with a line per failing feed saying what to do; exits 3 when every feed polled
    failed."""
    from aggregator.pipeline import worker_pool

    config = load_config(config_path)
    # The workers first, while this process has one thread and no database open. The export
    # is imported only after the poll: the workers need none of it, --no-export never does.
    pool = worker_pool(config, respawn=False)  # one poll: a worker that dies is not replaced
    with _sigterm_stops(), pool, open_store(config) as store:
        now = now_utc()
        store.sync_feeds(config.feeds, now)
        wanted = set(store.due_feeds(now)) if due else store.pollable_feeds()
        feeds = [f for f in config.feeds if f.enabled and f.url in wanted]
        report = _poll_with_progress(config, store, feeds, pool)
        pool.close()  # no further poll: the export runs without the workers' memory
        _print_poll(report, config, feeds)
        exported = None if no_export else _export_after_poll(config, store)
        _print_what_to_do(store, config, {r.feed_url for r in report.failed})
    if exported is not None:
        say(f"Exported {console.plural(exported.entries, 'entry')} to {config.output_dir}.")
    if report.all_failed:
        ctx.exit(ExitCode.ALL_FEEDS_FAILED)


def _export_after_poll(config: Config, store: Store) -> ExportReport:
    return _export(config, store)


def _export(config: Config, store: Store) -> ExportReport:
    """Whether anything moved is answered first, without importing the renderers (about a
    tenth of a second of a poll of unchanged feeds)."""
    from aggregator.export.unchanged import unchanged_export

    now = now_utc()
    if (report := unchanged_export(config, store, now)) is not None:
        return report
    from aggregator.export import export_feeds

    return export_feeds(config, store, now)


@contextmanager
def _sigterm_stops() -> Iterator[None]:
    """SIGTERM ends the command as an error of ours: one line, exit 143, every ``with`` closed
    on the way out (the poll itself turns it into a cancellation, see pipeline.poll)."""

    import signal  # here: its enums cost every start-up a millisecond

    def stop(signum: int, frame: FrameType | None) -> None:
        raise Interrupted("stopped by SIGTERM", signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@cli.command("export")
@config_option
def export_command(config_path: Path) -> None:
    """Write the page, the feeds (merged, per tag, per source, monthly archives) and the OPML."""
    config = load_config(config_path)
    with open_store(config, read_only=True) as store:
        exported = _export(config, store)
    for path in exported.changed:
        say(str(path))
    _print_export(exported, config)


def _print_export(exported: ExportReport, config: Config) -> None:
    unchanged = len(exported.files) - len(exported.changed)
    say(
        f"Exported {console.plural(exported.entries, 'entry')} to {config.output_dir}: "
        f"{console.plural(len(exported.changed), 'file')} written, {unchanged} unchanged."
    )


@cli.command("digest")
@config_option
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option(
    "--period",
    "--week",
    "period_text",
    help="Period to send, e.g. 2026-W47 or a date in it (a day for daily digests). "
    "Default: the last complete one.",
)
@click.option(
    "--preview",
    "--dry-run",
    "preview",
    is_flag=True,
    help="Write the coming digest's .eml, .html and .txt instead of sending (beside the "
    "database, or --out), with a placeholder address; the ledger is not touched.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Directory for --preview (never inside the published output directory).",
)
@click.option("--force", is_flag=True, help="Send again to every recipient, also those sent.")
@click.option("--status", "show_status", is_flag=True, help="Show each digest's deliveries.")
def digest_command(
    config_path: Path,
    names: tuple[str, ...],
    period_text: str | None,
    preview: bool,
    out_dir: Path | None,
    force: bool,
    show_status: bool,
) -> None:
    """Send each digest (or the NAMEd ones) to every recipient not yet sent to, preview it,
    or show the ledger."""
    from aggregator.digest import parse_period, preview_digest, send_digest
    from aggregator.digest.periods import kind_of
    from aggregator.digest.status import digest_status_lines, outcome_lines
    from aggregator.errors import DigestError

    config = load_config(config_path)
    chosen = [config.named_digest(n) for n in names] or list(config.all_digests)
    now = now_utc()
    with open_store(config, read_only=preview or show_status) as store:
        if show_status:
            for line in digest_status_lines(config, store, chosen, now):
                say(line)
            return
        for settings in chosen:
            try:
                period = (
                    parse_period(period_text, kind_of(settings.day), config.site.zone)
                    if period_text
                    else None
                )
                if period is not None:  # the ledger keeps UTC: 0001-W01 there is in year 0
                    _ = (period.start_utc, period.end_utc)
            except DigestError as exc:
                raise click.BadParameter(str(exc), param_hint="--period") from None
            except OverflowError:
                raise click.BadParameter(
                    f"{period_text!r} reaches beyond the dates there are (years 1 to 9999)",
                    param_hint="--period",
                ) from None
            if preview or out_dir is not None:
                outcome = preview_digest(
                    config, store, now, name=settings.name, period=period, out_dir=out_dir
                )
            else:
                outcome = send_digest(
                    config,
                    store,
                    now,
                    name=settings.name,
                    period=period,
                    force=force,
                    retry_now=True,
                )
            for line in outcome_lines(outcome, config):
                say(line)


@cli.command("status")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@click.option(
    "--check",
    is_flag=True,
    help="Exit 4 when a feed has failed for longer than poll.alert_after_hours (for monitoring).",
)
@click.pass_context
def status_command(ctx: click.Context, config_path: Path, as_json: bool, check: bool) -> None:
    """Show each feed's health: state, last HTTP status, last success, next poll and why,
    entries stored and the last error.

    Reads only: a missing database is reported, not created."""
    from aggregator.config_view import load_view
    from aggregator.status_report import status_report

    config = load_view(config_path)  # no pydantic once this file has been validated
    quiet = global_options().quiet
    report = status_report(config, as_json=as_json, check=check, quiet=quiet, now=now_utc())
    for text, err in report.lines:
        click.echo(text, err=err)
    if report.exit_code:
        ctx.exit(report.exit_code)


class _Count(click.IntRange):
    """A count from 1 up; one past what SQLite's LIMIT holds is as many as there are."""

    def __init__(self) -> None:
        super().__init__(min=1)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        return min(super().convert(value, param, ctx), SQLITE_INTEGER_MAX)


SQLITE_INTEGER_MAX = 2**63 - 1
COUNT = _Count()


def _parse_since(text: str, now: datetime, zone: tzinfo, hint: str = "--since") -> datetime:
    """``2026-11-23``, ``2026-11-23T08:00``, or ``3d`` / ``12h`` ago; dates in the site's zone."""
    import re

    relative = re.fullmatch(r"(\d+)([dh])", text.strip())
    try:
        if relative:
            amount = int(relative.group(1))
            unit = "days" if relative.group(2) == "d" else "hours"
            return now - timedelta(**{unit: amount})
        try:
            moment = datetime.fromisoformat(text.strip())
        except ValueError:
            raise click.BadParameter(
                f"{text!r} is not a date: use e.g. 2026-11-23, 2026-11-23T08:00 or 7d",
                param_hint=hint,
            ) from None
        moment = moment if moment.tzinfo else moment.replace(tzinfo=zone)
        moment.astimezone(UTC)  # the store compares in UTC: year 1 in a zone east of it is not
        return moment
    except OverflowError:
        raise click.BadParameter(
            f"{text!r} is before the first date there is (year 1): use e.g. 3650d or 2016-01-01",
            param_hint=hint,
        ) from None


@cli.command("entries")
@config_option
@click.option(
    "--source",
    "sources",
    multiple=True,
    help="Only posts from this feed (name or URL); repeatable.",
)
@click.option(
    "--tag", "tags", multiple=True, help="Only posts from feeds with this tag; repeatable."
)
@click.option(
    "--since", help="Only posts published since: 2026-11-23, 2026-11-23T08:00, 7d or 12h."
)
@click.option("--limit", default=20, show_default=True, type=COUNT, help="At most this many.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
def entries_command(
    config_path: Path,
    sources: tuple[str, ...],
    tags: tuple[str, ...],
    since: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List stored posts, newest first: when, from which feed, the title (and link)."""
    from aggregator.config_view import load_view

    config = load_view(config_path)  # as status: no pydantic once this file has been validated
    urls: set[str] | None = None
    if sources:
        urls = {
            _find_feed(config.feeds, config.source_path, wanted, "--source").url
            for wanted in sources
        }
    if tags:
        tagged = {f.url for f in config.feeds if set(tags) & set(f.tags)}
        urls = tagged if urls is None else urls & tagged
    start = _parse_since(since, now_utc(), config.zone) if since else None
    if not config.database_path.exists():
        if as_json:
            console.print_json([])
        else:
            click.echo(f"no database yet ({config.database_path}): run aggregator poll")
        return
    with open_store(config, read_only=True) as store:
        found = store.entries_matching(limit, urls, start)
    if as_json:
        console.print_json([
            {"id": e.id, "title": e.title, "link": e.link, "author": e.author,
             "published": e.published, "first_seen": e.first_seen,
             "sources": [s.name for s in e.sources], "categories": list(e.categories),
             "summary": e.summary_text}
            for e in found
        ])  # fmt: skip
        return
    if not found:
        click.echo("No stored post matches.")
        return
    console.print_table(
        ("PUBLISHED", "FEED", "TITLE"),
        (
            (
                console.local_time(e.published, config.zone),
                e.sources[0].name + (f" +{len(e.sources) - 1}" if len(e.sources) > 1 else ""),
                e.title,
            )
            for e in found
        ),
    )


def _find_feed(feeds: Sequence[_Feed], source: Path | None, wanted: str, hint: str) -> _Feed:
    """A configured feed by its name or URL, as the admin types it."""
    match = next((f for f in feeds if wanted in (f.name, f.url)), None)
    if match is None:
        raise click.BadParameter(f"no feed named {wanted!r} in {source}", param_hint=hint)
    return match


@cli.command("retry")
@config_option
@click.argument("feeds", nargs=-1)
@click.option("--all", "retry_all", is_flag=True, help="Every configured feed.")
def retry_command(config_path: Path, feeds: tuple[str, ...], retry_all: bool) -> None:
    """Poll FEEDS (names or URLs) again at the next chance: clears gone, backoff and
    Retry-After waits."""
    config = load_config(config_path)
    if not feeds and not retry_all:
        raise click.UsageError("name at least one feed, or use --all")
    chosen = []
    for wanted in feeds:
        chosen.append(_find_feed(config.feeds, config.source_path, wanted, "FEEDS"))
    with open_store(config) as store:
        store.sync_feeds(config.feeds, now_utc())
        for feed in config.feeds if retry_all else chosen:
            store.reset_feed(feed.url)
            say(f"{feed.name}: will be polled at the next chance.")


@cli.command("dupes")
@config_option
@click.option(
    "--limit",
    default=50,
    show_default=True,
    type=COUNT,
    help="Newest merged posts to show.",
)
def dupes_command(config_path: Path, limit: int) -> None:
    """List posts found in more than one feed, with why they were merged."""
    config = load_config(config_path)
    with open_store(config, read_only=True) as store:
        groups = store.merged_groups(limit)
    if not groups:
        click.echo("No post has been found in more than one feed.")
        return
    for group in groups:
        console.echo(f"{group.title}  ({_local(group.published, config)})  {group.entry_id}")
        width = max(len(m.name) for m in group.members)
        for member in group.members:
            why = "primary" if member.primary else (member.reason or "")
            if member.primary and member.reason:
                why += f"; {member.reason}"
            mark = "*" if member.primary else " "
            console.echo(f"  {mark} {member.name.ljust(width)}  {member.link or '-'}  {why}")
        click.echo()
    click.echo("To keep a copy apart: aggregator split ENTRY_ID FEED")


@cli.command("split")
@config_option
@click.argument("entry_id")
@click.argument("feed")
def split_command(config_path: Path, entry_id: str, feed: str) -> None:
    """Take FEED's copy (a name or URL) out of the merged post ENTRY_ID, for good."""
    config = load_config(config_path)
    match = _find_feed(config.feeds, config.source_path, feed, "FEED")
    with open_store(config) as store:
        moved = store.split_source(entry_id, match.url, now_utc())
    if not moved:
        raise click.BadParameter(
            f"{entry_id} is not a merged post with a copy from {match.name}",
            param_hint="ENTRY_ID",
        )
    say(
        f"{match.name}'s copy is split off and will not be merged again; "
        "it appears as its own post after the next poll."
    )


@cli.command("prune")
@config_option
@click.option(
    "--older-than",
    "older_than",
    help="Also posts published before this (365d, 12h, 2025-01-01) that no configured feed "
    "still carries.",
)
@click.option(
    "--yes", "confirmed", is_flag=True, help="Delete; without it, only show what would go."
)
def prune_command(config_path: Path, older_than: str | None, confirmed: bool) -> None:
    """Delete the stored posts of feeds no longer in feeds.yaml (and, with --older-than, old
    posts), then export again. Without --yes only says what would be deleted.

    A post also found in a configured feed only loses the removed feed's copy; a post still in
    its feed is never deleted for its age (the next poll would bring it back as new)."""
    from aggregator.export import export_feeds, unseal_months

    config = load_config(config_path)
    now = now_utc()
    before = _parse_since(older_than, now, config.site.zone, "--older-than") if older_than else None
    if not config.database_path.exists():
        click.echo(f"no database yet ({config.database_path}): nothing to prune")
        return
    keep = [f.url for f in config.feeds]
    with open_store(config, read_only=not confirmed) as store:
        if confirmed:
            unseal_months(config.output_dir)
        report = store.prune(keep, before, dry_run=not confirmed)
        exported = (
            export_feeds(config, store, now, rerender_months=True)
            if (
                confirmed
                and (report.entries or report.feeds or report.copies_kept or report.carried)
            )
            else None
        )
    _print_prune(report, config, before)
    if exported is not None:
        say(f"Exported {console.plural(exported.entries, 'entry')} to {config.output_dir}.")


def _print_prune(report: PruneReport, config: Config, before: datetime | None) -> None:
    if not (report.entries or report.feeds or report.copies_kept or report.carried):
        say("Nothing to prune.")
        return
    if report.feeds:
        say("No longer configured:")
        for line in console.table(
            ("FEED", "URL", "ENTRIES"),
            ((f.name, f.url, console.plural(f.copies, "entry")) for f in report.feeds),
        ):
            say(f"  {line}")
        for feed in report.feeds:
            if feed.moved_to is not None and feed.carried:
                carry = "carried" if report.applied else "would be carried"
                say(
                    f"  {feed.name} moved to {feed.moved_to}: its "
                    f"{console.plural(feed.carried, 'entry')} no longer in that feed {carry} "
                    "over to it."
                )
    verb = "Deleted" if report.applied else "Would delete"
    parts = [f"{verb} {console.plural(report.entries, 'entry')}"]
    if before is not None:
        parts.append(f" ({report.by_age} published before {_local(before, config)})")
    if report.feeds:
        parts.append(f" and {console.plural(len(report.feeds), 'feed')}")
    say("".join(parts) + ".")
    if report.copies_kept:
        say(
            f"{console.plural(report.copies_kept, 'entry')} also found in a configured feed "
            f"{'are' if report.copies_kept != 1 else 'is'} kept without the removed copies."
        )
    if not report.applied:
        say("Nothing was deleted: run again with --yes to delete.")


class _Tick(click.FloatRange):
    """Seconds from 0.1 to a day: inf, 1e300 and nan are no interval a clock or timer takes
    (click's range lets nan through, as every comparison with it is false)."""

    def __init__(self) -> None:
        super().__init__(min=0.1, max=MAX_TICK_SECONDS)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        seconds = super().convert(value, param, ctx)
        if math.isnan(seconds):
            self.fail(f"{value!r} is not a number of seconds (0.1 to {MAX_TICK_SECONDS})", param)
        return seconds


MAX_TICK_SECONDS = 86_400


@cli.command("run")
@config_option
@click.option(
    "--tick",
    default=60.0,
    show_default=True,
    type=_Tick(),
    help="Seconds between checks for feeds that are due (0.1 to 86400).",
)
@click.option("--serve", "with_server", is_flag=True, help="Serve the site too (as `serve`).")
@serve_options
def run_command(
    config_path: Path,
    tick: float,
    with_server: bool,
    host: str | None,
    port: int | None,
    root_path: str | None,
) -> None:
    """Run as a service: poll on schedule, re-export, send the weekly digest; with --serve,
    serve the site and search in the same process."""
    from aggregator import logs
    from aggregator.scheduler import Service
    from aggregator.store.safety import service_lock

    config = load_config(config_path)
    logs.use_zone(config.site.zone)
    with service_lock(config.database_path):  # one service per database
        with open_store(config) as store:
            store.check()  # fail now, not in the first job; and not on a damaged file
        from aggregator.pipeline import worker_pool

        with worker_pool(config) as pool:  # before the scheduler's threads, see workers.py
            if not with_server:
                Service(config, tick_seconds=tick, pool=pool).run_until_signalled()
                return
            from aggregator.serve import BackgroundServer

            # The server's thread starts after the workers are forked, like the scheduler's.
            http = BackgroundServer(config, _server_options(config, host, port, root_path))
            http.start()
            try:
                Service(config, tick_seconds=tick, pool=pool).run_until_signalled()
            finally:
                http.stop()


@cli.group("db", cls=_Group)
def db_group() -> None:
    """Check or back up the database file."""


@db_group.command("check")
@config_option
def db_check_command(config_path: Path) -> None:
    """Run SQLite's full integrity check; exit 1, pointing to recovery, on damage."""
    config = load_config(config_path)
    with open_store(config, read_only=True) as store:
        store.check(full=True)
    say(f"{config.database_path}: ok")


@db_group.command("backup")
@config_option
@click.argument("target", type=click.Path(path_type=Path, dir_okay=False))
def db_backup_command(config_path: Path, target: Path) -> None:
    """Write a consistent copy of the database to TARGET, also while the service runs."""
    config = load_config(config_path)
    with open_store(config, read_only=True) as store:
        store.backup(target)
    say(f"Backed up {config.database_path} to {target}.")


def _marked_text(fragment: str, styled: bool) -> str:
    """A highlighted snippet for a terminal: matches in bold, or in [brackets] when piped."""
    import html
    import re

    start, end = ("\x1b[1m", "\x1b[0m") if styled else ("[", "]")
    marks = {"<mark>": start, "</mark>": end}
    # The words lose what a terminal acts on before our own marks go in.
    return "".join(
        marks.get(part) or console.terminal_text(html.unescape(part))
        for part in re.split("(</?mark>)", fragment)
    )


@cli.command("search")
@config_option
@click.argument("query")
@click.option(
    "--limit", default=20, show_default=True, type=click.IntRange(1, 200), help="Most results."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
def search_command(config_path: Path, query: str, limit: int, as_json: bool) -> None:
    """Search the whole archive: words (all must match), "a phrase", a OR b, -word,
    kilde:NAME, tag:TAG, fra:2026-01-01. Exit status 2 for a query that cannot be read."""
    from aggregator.archive_search import search_archive
    from aggregator.config_view import load_view

    config = load_view(config_path)  # as status: no pydantic once this file has been validated
    with open_store(config, read_only=True) as store:
        results = search_archive(store, config, query, now_utc(), limit=limit)
    if as_json:
        rows = [
            {
                "id": hit.entry.id,
                "title": hit.entry.title,
                "link": hit.entry.link,
                "published": hit.entry.published.isoformat(),
                "source": hit.entry.sources[0].name if hit.entry.sources else None,
                "score": hit.score,
                "title_html": hit.title_html,
                "snippet_html": hit.snippet_html,
            }
            for hit in results.hits
        ]
        console.print_json(rows)
        return
    if not results.hits:
        click.echo("No entries match.")
        return
    styled = sys.stdout.isatty()
    for hit in results.hits:
        source = hit.entry.sources[0].name if hit.entry.sources else "-"
        click.echo(_marked_text(hit.title_html, styled))
        when = console.local_time(hit.entry.published, config.zone)
        console.echo(f"  {when}  {source}  {hit.entry.link or '-'}")
        click.echo(f"  {_marked_text(hit.snippet_html, styled)}\n")
    count = len(results.hits)
    more = " (more with --limit)" if results.more else ""
    say(f"{console.plural(count, 'entry', 'entries')}{more}.")


@cli.command("serve")
@config_option
@serve_options
def serve_command(
    config_path: Path, host: str | None, port: int | None, root_path: str | None
) -> None:
    """Serve output_dir over HTTP with search (/search, /search.atom, /search.json) and
    /healthz, until SIGINT or SIGTERM."""
    from aggregator.serve import serve_forever

    config = load_config(config_path)
    with open_store(config):
        pass  # fail now, with a clear message
    options = _server_options(config, host, port, root_path)
    click.echo(f"Serving {config.output_dir} on http://{options.host}:{options.port}/", err=True)
    serve_forever(config, options)


@cli.command("demo")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="A new or empty folder, or an earlier demo's, for the demo's files "
    "(default: a new temporary folder).",
)
def demo_command(out_dir: Path | None) -> None:
    """Run the whole pipeline offline against bundled sample feeds.

    Writes only into a new or empty folder or an earlier demo's; never over your own
    feeds.yaml or database."""
    import tempfile

    from aggregator.demo import run_demo

    directory = out_dir or Path(tempfile.mkdtemp(prefix="aggregator-demo-"))
    result = run_demo(directory)
    _print_poll(result.poll, result.config, list(result.config.feeds))
    say(f"\nDemo written to {directory}:")
    say(f"  config:       {directory / 'feeds.yaml'}")
    say(f"  database:     {result.config.database_path}")
    output = result.config.output_dir
    say(f"  feeds:        {output / 'atom.xml'}, rss.xml, feed.json, sources.opml")
    say(f"  topics:       {output / 'tag'}")
    say(f"  digest sent:  {result.received} ({result.received.stat().st_size:,} bytes)")
    for path in result.digest.files:
        say(f"  archive:      {path}")
    for path in result.preview.files:
        say(f"  preview:      {path}")
    say(f"Open the page: {result.export.index}")


sources_cli.register(cli, config_option)  # preview, add, remove, import, init


def main() -> None:
    """The console script. A pipe closed before the last buffered line is flushed (``| head``)
    ends quietly with 141, like a program stopped by SIGPIPE."""
    try:
        cli.main(prog_name="aggregator")
    except SystemExit as stop:
        code = stop.code
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            discard_stdout()
            code = ExitCode.BROKEN_PIPE
        raise SystemExit(code) from None


if __name__ == "__main__":
    main()
