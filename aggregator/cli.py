"""Command line: thin commands over the library. Errors are one line, not a traceback.

Exit status: 0 when the command ran (failing feeds are reported, not fatal), 2 for bad usage or
configuration, 1 for any other failure.
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from aggregator import __version__
from aggregator.config import DEFAULT_CONFIG_NAME, Config, FeedConfig, load_config
from aggregator.errors import AggregatorError
from aggregator.export import export_feeds
from aggregator.pipeline import PollReport, poll
from aggregator.store import Store
from aggregator.types import FeedStatus, FeedUpdateResult

F = TypeVar("F", bound=Callable[..., Any])


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AggregatorError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            if ctx.meta.get("debug"):
                raise
            click.echo(
                f"unexpected error: {type(exc).__name__}: {exc} (run with --debug for details)",
                err=True,
            )
            ctx.exit(1)


def config_option(func: F) -> F:
    return click.option(
        "-c",
        "--config",
        "config_path",
        type=click.Path(path_type=Path, dir_okay=False),
        default=DEFAULT_CONFIG_NAME,
        envvar="AGGREGATOR_CONFIG",
        show_default=True,
        help="Path to feeds.yaml (or set AGGREGATOR_CONFIG).",
    )(func)


def now_utc() -> datetime:
    return datetime.now(UTC)


@contextmanager
def open_store(config: Config) -> Iterator[Store]:
    store = Store.open(config.database_path)
    try:
        yield store
    finally:
        store.close()


def _local(value: datetime | None, config: Config) -> str:
    return value.astimezone(config.site.zone).strftime("%Y-%m-%d %H:%M") if value else "-"


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="aggregator")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("--debug", is_flag=True, help="Show tracebacks of unexpected errors.")
@click.pass_context
def cli(ctx: click.Context, verbose: int, debug: bool) -> None:
    """Aggregate public-sector digitalisation feeds into one feed and a weekly digest."""
    ctx.meta["debug"] = debug
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _result_line(result: FeedUpdateResult, name: str) -> str:
    if result.error:
        return f"  FAIL  {name}  {result.error}"
    if result.not_modified:
        return f"  ok    {name}  not modified"
    return f"  ok    {name}  {result.new} new, {result.updated} updated"


def _print_poll(report: PollReport, config: Config) -> None:
    names = {f.url: f.name for f in config.feeds}
    width = max((len(names.get(r.feed_url, r.feed_url)) for r in report.results), default=0)
    for result in report.results:
        click.echo(_result_line(result, names.get(result.feed_url, result.feed_url).ljust(width)))
    click.echo(
        f"Polled {len(report.results)} feeds: {report.new} new, {report.updated} updated, "
        f"{len(report.failed)} failed."
    )


def _poll_with_progress(config: Config, store: Store, feeds: list[FeedConfig]) -> PollReport:
    """A progress bar on a terminal; elsewhere the summary alone, for logs and scripts."""
    if not sys.stderr.isatty():
        return poll(config, store, feeds)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    names = {f.url: f.name for f in config.feeds}
    # Redrawn on each result rather than by rich's refresh thread: a poll from a process with
    # no other thread forks its workers (see pipeline.can_fork).
    with Progress(
        TextColumn("Polling"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
        transient=True, auto_refresh=False,
    ) as progress:  # fmt: skip
        task = progress.add_task("", total=len(feeds))

        def advance(result: FeedUpdateResult) -> None:
            description = names.get(result.feed_url, "")
            progress.update(task, advance=1, description=description, refresh=True)

        return poll(config, store, feeds, on_result=advance)


@cli.command("poll")
@config_option
@click.option("--due", is_flag=True, help="Poll only the feeds whose next poll has come.")
def poll_command(config_path: Path, due: bool) -> None:
    """Poll feeds once (all but gone ones), store new entries, export the merged feed."""
    config = load_config(config_path)
    with open_store(config) as store:
        now = now_utc()
        store.sync_feeds(config.feeds, now)
        wanted = set(store.due_feeds(now)) if due else _pollable(store)
        feeds = [f for f in config.feeds if f.enabled and f.url in wanted]
        report = _poll_with_progress(config, store, feeds)
        _print_poll(report, config)
        _print_moves(store, config)
        exported = export_feeds(config, store, now_utc())
    click.echo(f"Exported {exported.entries} entries to {config.output_dir}.")


def _pollable(store: Store) -> set[str]:
    return {s.url for s in store.feed_statuses() if s.state != "gone"}


def _print_moves(store: Store, config: Config) -> None:
    names = {f.url: f.name for f in config.feeds}
    for status in store.feed_statuses():
        if status.moved_to and status.url in names:
            click.echo(
                f"Note: {names[status.url]} has moved permanently to {status.moved_to}; "
                "update its url in feeds.yaml."
            )


@cli.command("export")
@config_option
def export_command(config_path: Path) -> None:
    """Write the merged Atom, RSS and JSON feeds from what is stored."""
    config = load_config(config_path)
    with open_store(config) as store:
        exported = export_feeds(config, store, now_utc())
    for path in exported.files:
        click.echo(str(path))
    click.echo(f"Exported {exported.entries} entries.")


@cli.command("digest")
@config_option
@click.option(
    "--week", help="Week to send, e.g. 2026-W47 or a date in it. Default: last complete week."
)
@click.option("--dry-run", is_flag=True, help="Write the .eml and .html to the output directory.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Write the .eml and .html to this directory instead of sending.",
)
@click.option("--force", is_flag=True, help="Send even if this week's digest was already sent.")
def digest_command(
    config_path: Path, week: str | None, dry_run: bool, out_dir: Path | None, force: bool
) -> None:
    """Build the weekly digest and send it by e-mail (or write it with --dry-run/--out)."""
    from aggregator.digest import parse_week, run_digest

    config = load_config(config_path)
    try:
        period = parse_week(week, config.site.zone) if week else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--week") from None
    if dry_run and out_dir is None:
        out_dir = config.output_dir / "digest"
    with open_store(config) as store:
        outcome = run_digest(config, store, now_utc(), period=period, out_dir=out_dir, force=force)
    label = f"Digest {outcome.period.slug} ({outcome.entry_count} entries)"
    if outcome.files:
        click.echo(f"{label} written:")
        for path in outcome.files:
            click.echo(f"  {path}")
    elif outcome.skipped_reason:
        click.echo(f"{label} not sent: {outcome.skipped_reason}")
    else:
        click.echo(f"{label} sent to {', '.join(outcome.sent_to)}.")


def _duration(seconds: int | None) -> str:
    if not seconds:
        return "-"
    minutes = round(seconds / 60)
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes / 60
    return f"{hours:.0f} h" if hours < 48 else f"{hours / 24:.0f} d"


def _state_label(status: FeedStatus, config: Config) -> str:
    if status.state == "failing" and status.failing_since:
        label = f"failing since {_local(status.failing_since, config)}"
    else:
        label = {"new": "never polled"}.get(status.state, status.state)
    return f"{label}, redirected" if status.moved_to else label


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _status_row(status: FeedStatus) -> dict[str, object]:
    return {
        "name": status.name,
        "url": status.url,
        "state": status.state,
        "failing_since": _iso(status.failing_since),
        "moved_to": status.moved_to,
        "last_status": status.last_status,
        "last_fetched_at": _iso(status.last_fetched_at),
        "last_success_at": _iso(status.last_success_at),
        "next_poll_at": _iso(status.next_poll_at),
        "interval_seconds": status.interval_seconds,
        "interval_reason": status.interval_reason,
        "error_count": status.error_count,
        "entries": status.entry_count,
        "last_error": status.last_error,
    }


@cli.command("status")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
def status_command(config_path: Path, as_json: bool) -> None:
    """Show each feed's health: state, last HTTP status, last success, next poll and why,
    entries stored and the last error."""
    config = load_config(config_path)
    with open_store(config) as store:
        store.sync_feeds(config.feeds, now_utc())
        configured = {f.url for f in config.feeds}
        statuses = [s for s in store.feed_statuses() if s.url in configured]
    if as_json:
        click.echo(json.dumps([_status_row(s) for s in statuses], ensure_ascii=False, indent=2))
        return
    header = ("FEED", "STATE", "HTTP", "LAST SUCCESS", "NEXT POLL", "INTERVAL", "ENTRIES")
    table = [
        (
            s.name,
            _state_label(s, config),
            str(s.last_status or "-"),
            _local(s.last_success_at, config),
            _local(s.next_poll_at, config) if s.state != "gone" else "not polled",
            _duration(s.interval_seconds),
            str(s.entry_count),
        )
        for s in statuses
    ]
    widths = [max(len(row[i]) for row in [header, *table]) for i in range(len(header))]
    for row in [header, *table]:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    first_note = True
    for status in statuses:
        notes = []
        if status.interval_reason:
            notes.append(f"interval: {status.interval_reason}")
        if status.moved_to:
            notes.append(f"moved permanently to {status.moved_to}: update feeds.yaml")
        if status.last_error:
            notes.append(f"last error: {status.last_error}")
        if notes:
            click.echo(("\n" if first_note else "") + f"{status.name}: " + "; ".join(notes))
            first_note = False


def _find_feed(config: Config, wanted: str, hint: str) -> FeedConfig:
    """A configured feed by its name or URL, as the admin types it."""
    match = next((f for f in config.feeds if wanted in (f.name, f.url)), None)
    if match is None:
        raise click.BadParameter(
            f"no feed named {wanted!r} in {config.source_path}", param_hint=hint
        )
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
        chosen.append(_find_feed(config, wanted, "FEEDS"))
    with open_store(config) as store:
        store.sync_feeds(config.feeds, now_utc())
        for feed in config.feeds if retry_all else chosen:
            store.reset_feed(feed.url)
            click.echo(f"{feed.name}: will be polled at the next chance.")


@cli.command("dupes")
@config_option
@click.option(
    "--limit",
    default=50,
    show_default=True,
    type=click.IntRange(min=1),
    help="Newest merged posts to show.",
)
def dupes_command(config_path: Path, limit: int) -> None:
    """List posts found in more than one feed, with why they were merged."""
    config = load_config(config_path)
    with open_store(config) as store:
        groups = store.merged_groups(limit)
    if not groups:
        click.echo("No post has been found in more than one feed.")
        return
    for group in groups:
        click.echo(f"{group.title}  ({_local(group.published, config)})  {group.entry_id}")
        width = max(len(m.name) for m in group.members)
        for member in group.members:
            why = "primary" if member.primary else (member.reason or "")
            if member.primary and member.reason:
                why += f"; {member.reason}"
            mark = "*" if member.primary else " "
            click.echo(f"  {mark} {member.name.ljust(width)}  {member.link or '-'}  {why}")
        click.echo()
    click.echo("To keep a copy apart: aggregator split ENTRY_ID FEED")


@cli.command("split")
@config_option
@click.argument("entry_id")
@click.argument("feed")
def split_command(config_path: Path, entry_id: str, feed: str) -> None:
    """Take FEED's copy (a name or URL) out of the merged post ENTRY_ID, for good."""
    config = load_config(config_path)
    match = _find_feed(config, feed, "FEED")
    with open_store(config) as store:
        moved = store.split_source(entry_id, match.url, now_utc())
    if not moved:
        raise click.BadParameter(
            f"{entry_id} is not a merged post with a copy from {match.name}",
            param_hint="ENTRY_ID",
        )
    click.echo(
        f"{match.name}'s copy is split off and will not be merged again; "
        "it appears as its own post after the next poll."
    )


@cli.command("run")
@config_option
@click.option(
    "--tick",
    default=60.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Seconds between checks for feeds that are due.",
)
def run_command(config_path: Path, tick: float) -> None:
    """Run as a service: poll on schedule, re-export, send the weekly digest."""
    from aggregator.scheduler import Service

    config = load_config(config_path)
    logging.getLogger().setLevel(min(logging.getLogger().level, logging.INFO))
    Store.open(config.database_path).close()  # fail now, not in the first job
    Service(config, tick_seconds=tick).run_until_signalled()


@cli.command("demo")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Directory for the demo's files (default: a new temporary directory).",
)
def demo_command(out_dir: Path | None) -> None:
    """Run the whole pipeline offline against bundled sample feeds."""
    from aggregator.demo import run_demo

    directory = out_dir or Path(tempfile.mkdtemp(prefix="aggregator-demo-"))
    result = run_demo(directory)
    _print_poll(result.poll, result.config)
    click.echo(f"\nDemo written to {directory}:")
    click.echo(f"  config:       {directory / 'feeds.yaml'}")
    click.echo(f"  database:     {result.config.database_path}")
    for path in result.export.files:
        click.echo(f"  merged feed:  {path}")
    for path in result.digest.files:
        click.echo(f"  digest:       {path}")


def main() -> None:
    cli(prog_name="aggregator")


if __name__ == "__main__":
    main()
