"""Commands that choose what to follow: preview, add, remove, import, init.

Thin shells over adding.py, feeds_file.py and opml_import.py; feeds.yaml is edited in place
with every other byte kept.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from aggregator import console
from aggregator.errors import AggregatorError, ConfigError

if TYPE_CHECKING:  # the commands import what they use: start-up stays fast
    from aggregator.adding import Preview, Proposal
    from aggregator.config import Config
    from aggregator.source_config import SelectorConfig
    from aggregator.types import HtmlSource

GUESS_COMMENT = (
    "proposed by aggregator add: the selectors are a guess from the page's markup;\n"
    "check it with aggregator preview {name}"
)
ROWS = 10


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def print_preview(found: Preview, config: Config) -> None:
    """The match counts, then the posts as a table; printed even with -q (it is the answer)."""
    title = f", {found.title}" if found.title else ""
    console.echo(f"{found.url}  ({found.kind}{title})")
    if found.extraction is not None:
        ex = found.extraction
        console.echo(f"item selector `{ex.item_selector}`: {ex.items} matches")
        for count in ex.counts:
            origin = "" if count.configured else " (default)"
            console.echo(
                f"  {count.name:<8} `{count.selector}`{origin}: {count.matched} of {ex.items} items"
            )
    console.echo(
        f"{console.plural(len(found.entries), 'post')} would be stored (nothing was written):"
    )
    zone = config.site.zone
    rows = [
        (
            console.local_time(entry.published, zone) if entry.dated else "-",
            _cut(entry.title, 40),
            _cut(entry.link or "-", 45),
            _cut(entry.summary_text, 40),
        )
        for entry in found.entries[:ROWS]
    ]
    for line in console.table(("date", "title", "link", "summary"), rows):
        console.echo(f"  {line}")
    if len(found.entries) > ROWS:
        console.echo(f"  … and {len(found.entries) - ROWS} more")


def _selector(value: str | None, xpath: bool, option: str) -> SelectorConfig | None:
    """The selector an option gives; a mistyped one is the admin's error, named by its
    option (the same check feeds.yaml gets)."""
    from pydantic import ValidationError

    from aggregator.source_config import SelectorConfig

    if value is None:
        return None
    try:
        return SelectorConfig(xpath=value) if xpath else SelectorConfig(css=value)
    except ValidationError as exc:
        reason = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        raise ConfigError(f"--{option}: {reason}") from None


@click.argument("source")
@click.option("--item", help="Item selector, for a URL not in feeds.yaml (makes it HTML).")
@click.option("--title", help="Title selector, inside each item.")
@click.option("--link", help="Link selector, inside each item.")
@click.option("--date", help="Date selector, inside each item.")
@click.option("--summary", help="Summary selector, inside each item.")
@click.option("--xpath", is_flag=True, help="The selectors given are XPath, not CSS.")
def preview_command(
    config_path: Path,
    source: str,
    item: str | None,
    title: str | None,
    link: str | None,
    date: str | None,
    summary: str | None,
    xpath: bool,
) -> None:
    """Fetch a source once (NAME from feeds.yaml, or a URL) and show what would be stored,
    with each selector's match count; writes nothing."""
    from aggregator.adding import as_url, preview
    from aggregator.config import load_config

    config = load_config(config_path)
    given = {
        name: value
        for name, text in (("title", title), ("link", link), ("date", date), ("summary", summary))
        if (value := _selector(text, xpath, name)) is not None
    }
    item_selector = _selector(item, xpath, "item")
    html: HtmlSource | None
    feed = next((f for f in config.feeds if source in (f.name, f.url)), None)
    if feed is not None:
        # The source's own selectors, with those given here in their place: how an admin
        # tries a fix before writing it into feeds.yaml.
        url, html = feed.url, feed.html_source()
        if item is not None or given:
            html = _tried(html, item_selector, given, source)
    elif _is_address(source):
        url, html = as_url(source), None
        if item is not None:
            keys = {"type": "html", "items": item_selector, "fields": given}
            from pydantic import TypeAdapter

            from aggregator.source_config import HtmlSourceKeys

            html = TypeAdapter(HtmlSourceKeys).validate_python(keys).html_source()
        elif given:
            raise ConfigError("--title, --link, --date and --summary read items: give --item too")
    else:
        raise ConfigError(f"no feed named {source!r} in {config_path}, and not a URL")
    found = preview(config, url, html)
    print_preview(found, config)
    if found.problem:
        raise AggregatorError(found.problem)


def _tried(
    html: HtmlSource | None,
    item: SelectorConfig | None,
    given: dict[str, SelectorConfig],
    name: str,
) -> HtmlSource:
    """A configured source's selectors with the ones given on the command line instead."""
    from dataclasses import replace

    from aggregator.types import HtmlSource

    if html is None:
        if item is None:
            raise ConfigError(f"{name!r} is a feed, not an HTML source: give --item to read it so")
        html = HtmlSource(items=item.selector())
    elif item is not None:
        html = replace(html, items=item.selector())
    fields = dict(html.fields) | {field: value.selector() for field, value in given.items()}
    return replace(html, fields=tuple(fields.items()))


def _is_address(text: str) -> bool:
    from aggregator.adding import as_url

    try:
        as_url(text)
    except AggregatorError:
        return False
    return True


@click.argument("url")
@click.option("--name", help="Name of the source (default: the feed's or page's title).")
@click.option("--tags", default="", help="Comma-separated tags, e.g. kommuner,os2.")
@click.option("--dry-run", is_flag=True, help="Show what was found; change nothing.")
def add_command(config_path: Path, url: str, name: str | None, tags: str, dry_run: bool) -> None:
    """Find the feed of a site (or propose an HTML source), preview it, add it to
    feeds.yaml."""
    from aggregator.adding import as_url, configured_as, find_source
    from aggregator.config import load_config, name_key
    from aggregator.feeds_file import append_sources, update

    config = load_config(config_path)
    url = as_url(url)
    if existing := configured_as(config, url):
        raise ConfigError(f"{url} is already in {config_path} as {existing.name!r}")
    found = find_source(config, url)
    if existing := configured_as(config, found.url):
        raise ConfigError(f"{found.url} is already in {config_path} as {existing.name!r}")
    _describe(found)
    print_preview(found.preview, config)
    chosen = (name or found.preview.title or "").strip()
    if not chosen:
        raise ConfigError("the source has no title to name it by: give --name")
    if any(name_key(f.name) == name_key(chosen) for f in config.feeds):
        raise ConfigError(f"a feed named {chosen!r} exists already: give --name")
    entry = found.entry(chosen, [t.strip() for t in tags.split(",") if t.strip()])
    if dry_run:
        console.say("Dry run: feeds.yaml was not changed.")
        return
    comment = GUESS_COMMENT.format(name=chosen) if found.html else None
    update(config_path, lambda text: append_sources(text, [entry], comment))
    console.say(f"Added {chosen!r} ({entry.get('type', 'feed')}) to {config_path}.")


@click.argument("name")
def remove_command(config_path: Path, name: str) -> None:
    """Remove the source NAME from feeds.yaml (its stored posts stay in the database until
    aggregator prune --yes)."""
    from aggregator.config import load_config
    from aggregator.feeds_file import remove_source, update

    load_config(config_path)
    update(config_path, lambda text: remove_source(text, name))
    console.say(f"Removed {name!r} from {config_path}.")


@click.argument("opml", type=click.Path(path_type=Path, dir_okay=False, exists=True))
def import_command(config_path: Path, opml: Path) -> None:
    """Add the feeds of an OPML file to feeds.yaml; its categories become tags, feeds
    already there are skipped."""
    from aggregator.adding import configured_as
    from aggregator.config import is_feed_url, load_config, name_key
    from aggregator.feeds_file import append_sources, update
    from aggregator.normalise import canonical_url
    from aggregator.opml_import import read_opml

    config = load_config(config_path)
    # Names are one name in any case, as feeds.yaml's check compares them (review 10 R10-10).
    names = {name_key(f.name) for f in config.feeds}
    added: list[dict[str, object]] = []
    skipped = 0
    seen: set[str | None] = set()
    for feed in read_opml(opml.read_bytes()):
        if not is_feed_url(feed.url):  # one bad outline must not refuse the rest
            console.problem(f"skipped {feed.name!r}: {feed.url!r} is not an http(s) URL")
            continue
        # Outlines are written as feeds, with no lists to tell apart: one canonical URL each.
        canonical = canonical_url(feed.url)
        if configured_as(config, feed.url) or canonical in seen:
            skipped += 1
            continue
        name, number = feed.name, 2
        while name_key(name) in names:
            name, number = f"{feed.name} ({number})", number + 1
        names.add(name_key(name))
        seen.add(canonical)
        entry: dict[str, object] = {"name": name, "url": feed.url}
        if feed.tags:
            entry["tags"] = list(feed.tags)
        added.append(entry)
    if added:
        update(config_path, lambda text: append_sources(text, added, f"imported from {opml.name}"))
    console.say(
        f"Imported {console.plural(len(added), 'feed')} into {config_path}; "
        f"skipped {skipped} already there."
    )


@click.argument("directory", type=click.Path(path_type=Path, file_okay=False), required=False)
def init_command(config_path: Path, directory: Path | None) -> None:
    """Write a commented starter feeds.yaml with the Danish public-sector sources, as
    DIRECTORY/feeds.yaml or at --config; never over an existing file."""
    target = directory / console.DEFAULT_CONFIG if directory is not None else config_path
    if target.exists():
        raise AggregatorError(f"{target} exists already; it was not changed")
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("x", encoding="utf-8") as out:  # never over a file made meanwhile
        out.write(starter_text())
    console.say(f"Wrote {target}: edit it, then run aggregator poll.")


COMMANDS: dict[str, Callable[..., None]] = {
    "preview": preview_command,
    "add": add_command,
    "remove": remove_command,
    "import": import_command,
    "init": init_command,
}


def register(group: click.Group, config_option: Callable[[Any], Any]) -> None:
    """Add these commands to the CLI group, each with the group's shared config option."""
    for name, function in COMMANDS.items():
        group.command(name)(config_option(function))


def starter_text() -> str:
    from importlib import resources  # here, not at the top: 13 ms of every start-up

    return (resources.files("aggregator") / "starter_feeds.yaml").read_text(encoding="utf-8")


def _describe(found: Proposal) -> None:
    console.echo(f"Found: {found.url} ({found.how})")
    for other in found.others:
        console.echo(
            f"  also linked: {other.url} ({other.kind}{', ' + other.title if other.title else ''})"
        )
