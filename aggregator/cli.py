"""Command line: thin commands over the library. Errors are one line, not a traceback.

Exit status: 0 when the command ran (failing feeds are reported, not fatal), 2 for bad usage or
configuration, 1 for any other failure.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from aggregator import __version__
from aggregator.config import DEFAULT_CONFIG_NAME, Config, load_config
from aggregator.errors import AggregatorError
from aggregator.export import export_feeds
from aggregator.pipeline import PollReport, poll
from aggregator.store import Store

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


def _print_poll(report: PollReport, config: Config) -> None:
    names = {f.url: f.name for f in config.feeds}
    width = max((len(names.get(r.feed_url, r.feed_url)) for r in report.results), default=0)
    for result in report.results:
        name = names.get(result.feed_url, result.feed_url).ljust(width)
        if result.error:
            click.echo(f"  FAIL  {name}  {result.error}")
        elif result.not_modified:
            click.echo(f"  ok    {name}  not modified")
        else:
            click.echo(f"  ok    {name}  {result.new} new, {result.updated} updated")
    click.echo(
        f"Polled {len(report.results)} feeds: {report.new} new, {report.updated} updated, "
        f"{len(report.failed)} failed."
    )


@cli.command("poll")
@config_option
def poll_command(config_path: Path) -> None:
    """Poll every feed once, store new entries and export the merged feed."""
    config = load_config(config_path)
    with open_store(config) as store:
        report = poll(config, store)
        _print_poll(report, config)
        exported = export_feeds(config, store, now_utc())
    click.echo(f"Exported {exported.entries} entries to {config.output_dir}.")


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


@cli.command("status")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
def status_command(config_path: Path, as_json: bool) -> None:
    """Show each feed's health: last success, last error and entries stored."""
    config = load_config(config_path)
    with open_store(config) as store:
        store.sync_feeds(((f.url, f.name, f.priority) for f in config.feeds), now_utc())
        statuses = store.feed_statuses()
    configured = {f.url for f in config.feeds}
    statuses = [s for s in statuses if s.url in configured]
    if as_json:
        rows = [
            {
                "name": s.name,
                "url": s.url,
                "state": _state(s.last_fetched_at, s.last_error),
                "last_fetched_at": s.last_fetched_at.isoformat() if s.last_fetched_at else None,
                "last_success_at": s.last_success_at.isoformat() if s.last_success_at else None,
                "last_status": s.last_status,
                "last_error": s.last_error,
                "error_count": s.error_count,
                "entries": s.entry_count,
            }
            for s in statuses
        ]
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    header = ("FEED", "STATE", "LAST SUCCESS", "ENTRIES", "LAST ERROR")
    table = [
        (
            s.name,
            _state(s.last_fetched_at, s.last_error),
            _local(s.last_success_at, config),
            str(s.entry_count),
            s.last_error or "",
        )
        for s in statuses
    ]
    widths = [max(len(row[i]) for row in [header, *table]) for i in range(4)]
    for row in [header, *table]:
        click.echo(
            "  ".join(cell.ljust(w) for cell, w in zip(row[:4], widths, strict=True))
            + "  "
            + row[4]
        )


def _state(last_fetched: datetime | None, error: str | None) -> str:
    if last_fetched is None:
        return "never polled"
    return "failing" if error else "ok"


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
