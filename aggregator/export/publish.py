"""Every output, rendered from one selection view and published as one generation.

``export_feeds`` reads the selections (export/select.py), renders each in every format
(atom, rss, jsonfeed, page, opml: pure functions of the view) and hands the bytes to the one
writer (export/writer.py). Finished months are sealed: not rendered again unless a post
arrives late for one (or a prune), so their archive files change rarely (RFC 5005 §4). A
tag's or a source's files are rendered again only when their fingerprint moved: the store's
per-feed change counters (migration 12), the health of the sources the page lists, and what
every page shows (the site, the sources' names, the tags, the months, the templates). With a
thousand sources an export is then one page, not a thousand.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, TypeGuard

from jinja2 import TemplateError

from aggregator.config import Config
from aggregator.errors import ExportError
from aggregator.export.archive import Archive, PagePlan, plan_month
from aggregator.export.atom import render_atom
from aggregator.export.guard import check_output
from aggregator.export.jsonfeed import render_json_feed
from aggregator.export.opml import render_opml
from aggregator.export.page import (
    PageRenderer,
    environment,
    shown_sources,
)
from aggregator.export.rss import render_rss
from aggregator.export.select import Selector, build_site
from aggregator.export.unchanged import (
    NOTHING_MOVED,
    OWNED,
    RENDERED_FILE,
    SEALED_FILE,
    STYLESHEET,
    ExportReport,
    files_exist,
    nothing_moved,
    rendered,
    top_files,
    unchanged_files,
)
from aggregator.export.unchanged import fingerprint as marked
from aggregator.export.view import (
    FORMATS,
    OPML_FILE,
    ArchivePage,
    Format,
    Month,
    Selection,
    Site,
)
from aggregator.export.websub import ping_hub
from aggregator.export.writer import Generation
from aggregator.store import Store
from aggregator.workers import fork_map

log = logging.getLogger(__name__)

FeedRenderer = Callable[[Selection, Site], bytes]
FEED_RENDERERS: dict[Format, FeedRenderer] = {
    "atom": render_atom,
    "rss": render_rss,
    "json": render_json_feed,
}
PAGES_FILE_PREFIX = ".aggregator-pages-"  # and the month's key: its pages' records
FEED_SUFFIXES = (".xml", ".json", ".atom", ".rss")
# Renders below which an export stays in one process. A forked renderer copies most of the
# pages it inherits as it allocates (40-50 MiB at 1,000 sources); that buys seconds for a
# first export of a thousand sources, not for an hour's hundred changed ones.
PARALLEL_RENDERS = 200

__all__ = ["FEED_RENDERERS", "ExportReport", "export_feeds", "unseal_months"]


def unseal_months(output_dir: Path) -> None:
    """Forget which months are sealed, so the next export renders them all once more. Done
    before posts are deleted from finished months (prune): if that export then fails or is
    interrupted, the one after it still renders them without the deleted posts."""
    try:
        (output_dir / SEALED_FILE).unlink(missing_ok=True)
    except OSError as exc:
        raise ExportError(f"cannot unseal the archive in {output_dir}: {exc}") from exc


Sealed = dict[str, int]  # a sealed month's key -> the number of pages it was sealed with


@dataclass(frozen=True, slots=True)
class Marks:
    """Where the store stood when the months were checked: its last post rowid
    (``Store.last_entry_row``) and its archive log's last change (``last_archive_change``)."""

    row: int
    change: int

    @classmethod
    def of(cls, store: Store) -> Marks:
        return cls(store.last_entry_row(), store.last_archive_change())


def _sealed(output_dir: Path, fingerprint: str, now: Marks) -> tuple[Sealed, Marks]:
    """The sealed months with the number of pages each was sealed with, and the store's
    marks they were checked against. None sealed when the file is from another fingerprint
    or keeps no marks (an older version), or when a mark is above the store's (not the
    database they were sealed from, or its newest posts deleted): they are rendered once
    more."""
    try:
        data = json.loads((output_dir / SEALED_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}, now
    if not isinstance(data, dict) or data.get("fingerprint") != fingerprint:
        return {}, now
    row, change, counts = data.get("row"), data.get("changes"), data.get("pages")
    if (
        not isinstance(row, int)
        or not isinstance(change, int)
        or not 0 <= row <= now.row
        or not 0 <= change <= now.change
        or not isinstance(counts, dict)
    ):
        return {}, now
    return {
        m: n for m in data.get("months", []) if isinstance(n := counts.get(m), int) and n >= 1
    }, Marks(row, change)


def _late(store: Store, sealed: Sealed, marks: tuple[Marks, Marks], now: datetime,
          zone: tzinfo) -> set[str]:  # fmt: skip
    """The sealed months a post was stored into, or dated into or out of, since they were
    checked (a late post, a merge that back-dates, an edit, a delete): they are rendered
    once more, so every stored post is on its month's archive, and only there. Every sealed
    month when the archive log no longer reaches back to the check."""
    then, current = marks
    if not sealed or then == current:
        return set()
    dates: set[datetime] = set()
    if current.row != then.row:
        dates = store.dates_stored_after(then.row, current.row, Month.of(now, zone).start(zone))
    changed = store.dates_changed_after(then.change, current.change)
    if changed is None:
        return set(sealed)
    return {Month.of(date, zone).key for date in dates | changed} & sealed.keys()


def _common_fingerprint(fingerprint: str, site: Site) -> str:
    """What every tag and source page shows besides its own entries and sources' health."""
    data = [
        fingerprint,
        [
            (s.slug, s.display_name, s.feed_url, s.site_url, [t.slug for t in s.tags])
            for s in site.sources
        ],
        [(t.name, t.slug) for t in site.tags],
        [m.key for m in site.months],
    ]
    return hashlib.sha256(json.dumps(data, default=str).encode()).hexdigest()


def _archive_fingerprint(fingerprint: str, site: Site) -> str:
    """What every archive page shows besides its posts and its links: the sources' names and
    addresses, not the list of months (a new month would otherwise make every sealed page's
    record stale)."""
    data = [
        fingerprint,
        [
            (s.slug, s.display_name, s.feed_url, s.site_url, [(t.name, t.slug) for t in s.tags])
            for s in site.sources
        ],
    ]
    return hashlib.sha256(json.dumps(data, default=str).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class _Render:
    """A selection to render, and the records to note it in once it is."""

    read: Callable[[], Selection]
    paths: list[str]
    fingerprint: str
    records: dict[str, Any]


@dataclass(frozen=True, slots=True)
class _Rendered:
    """What rendering one selection wrote: its files as a part of the generation."""

    entries: int
    paths: list[str]
    changed: list[str]
    staged: list[tuple[str, str]]
    error: str | None = None  # an ExportError's message: nothing of it is staged


class _Publisher:
    """Renders what changed. Selections are only noted as they are met (``pending``) and
    rendered together at the end (``render_pending``), in ``processes`` processes when the
    export may fork (see workers.fork_map): a first export of a thousand sources is some
    1,200 independent renders, CPU-bound and as many cores' work."""

    def __init__(self, generation: Generation, site: Site, pages: PageRenderer) -> None:
        self.generation = generation
        self.site = site
        self.pages = pages
        self.pending: list[_Render] = []
        self.afterwards: list[Callable[[], None]] = []  # once the pending are rendered

    def publish_unless_unchanged(
        self, selection: Callable[[], Selection], paths: list[str], fingerprint: str,
        before: dict[str, Any], after: dict[str, Any], *, later: bool = True,
    ) -> int | None:  # fmt: skip
        """Render the selection, or keep its files if its fingerprint is the one they were
        rendered with. An empty selection's dates are the site's newest, so those count too.
        Returns the number of entries the files hold; None when the selection is to be
        rendered ``later``, with the pending ones."""
        key, updated = paths[0], self.site.updated.isoformat()
        previous = before.get(key)
        if (
            isinstance(previous, list)
            and len(previous) == 3
            and previous[0] == fingerprint
            and previous[1] in (None, updated)
            and isinstance(previous[2], int)
            and files_exist(self.generation.root, paths)
        ):
            for path in paths:
                self.generation.keep(path)
            after[key] = previous
            return previous[2]
        render = _Render(selection, paths, fingerprint, after)
        if later:
            self.pending.append(render)
            return None
        rendered = selection()
        self.publish(rendered, self.generation)
        self._note(render, len(rendered.entries))
        return len(rendered.entries)

    def _note(self, render: _Render, entries: int) -> None:
        updated = self.site.updated.isoformat()
        render.records[render.paths[0]] = [render.fingerprint, None if entries else updated,
                                           entries]  # fmt: skip

    def publish(self, selection: Selection, generation: Generation) -> None:
        for fmt in FORMATS:
            path = selection.path(fmt)
            if fmt == "html":
                generation.add(path, self.pages.render(selection))
            else:
                data = FEED_RENDERERS[fmt](selection, self.site)
                # A broken output stops the generation before anything is renamed into place.
                check = functools.partial(check_output, path, entries=selection.entries)
                generation.add(path, data, check)

    def _render(self, render: _Render) -> _Rendered:
        part = self.generation.part()
        try:
            selection = render.read()
            self.publish(selection, part)
        except ExportError as exc:
            part.abort()
            return _Rendered(0, [], [], [], str(exc))
        except BaseException:
            part.abort()
            raise
        return _Rendered(len(selection.entries), part.paths, part.changed, part.staged)

    def render_pending(self, processes: int, reopen: Callable[[], None]) -> None:
        """Render every pending selection, then do what waited for them. ``reopen``: what
        a forked process does first (its own database connection)."""
        generation = self.generation
        if self.pending:
            list(self.site.sources)  # each read now: a forked process must not need the store
            generation.expect_parts()
            lost = functools.partial(_discard, generation)
            if len(self.pending) < PARALLEL_RENDERS:
                processes = 1
            done = fork_map(self._render, self.pending, processes, setup=reopen, lost=lost)
            for render, rendered in zip(self.pending, done, strict=True):
                generation.absorb(rendered.paths, rendered.changed, rendered.staged)
                self._note(render, rendered.entries)
            generation.parts_done()
            if failed := next((r.error for r in done if r.error is not None), None):
                raise ExportError(failed)
            self.pending.clear()
        for step in self.afterwards:
            step()
        self.afterwards.clear()


def _discard(generation: Generation, render: _Render) -> None:
    for path in render.paths:
        generation.discard_temporaries(path)


def _month_record(month: Month) -> str:
    return f"month:{month.key}"


Plans = dict[Month, list[PagePlan] | None]  # None: an open month with nothing to render


def _plan_archive(selector: Selector, store: Store, sealed: Sealed, late: set[str],
                  before: dict[str, Any], everything: str) -> tuple[Archive, Plans]:  # fmt: skip
    """Every month's pages: a sealed month's counted; an open month's as last time when
    nothing at all moved since (None: no page to render), else planned from its posts'
    change marks. A ``late`` month is unsealed (popped from ``sealed``) and planned. A month
    whose number of pages differs from the last export's (none when it did not exist: a post
    dated before the oldest month) makes the month after it late too, as its first page links
    to this month's last."""
    site, root = selector.site, selector.config.output_dir
    pages: dict[Month, int] = {}
    plans: Plans = {}
    late = set(late)
    if site.months and any(key < site.months[0].key for key in sealed):
        late.add(site.months[0].key)  # the months before it went: its first page links none
    for month in site.months:
        record = before.get(_month_record(month))
        had = sealed.get(month.key) or (record[1] if _valid_record(record) else 0)
        if month.key in sealed and month.key not in late:
            pages[month] = sealed[month.key]
        elif (
            month.key not in sealed
            and month.key not in late
            and _valid_record(record)
            and record[:1] == [everything]
            and files_exist(root, [ArchivePage(month, n).path(f) for n in
                                    range(1, record[1] + 1) for f in FORMATS])
        ):  # fmt: skip
            pages[month], plans[month] = record[1], None
        else:
            plans[month] = plan_month(store, month, site.zone, selector.scope)
            pages[month] = len(plans[month] or ())
            sealed.pop(month.key, None)
        if pages[month] != had:
            late.add(month.next().key)
    return Archive(pages), plans


def _valid_record(record: object) -> TypeGuard[list[Any]]:
    """An open month's record from the last export: [fingerprint, number of pages]."""
    return isinstance(record, list) and len(record) >= 2 and isinstance(record[1], int)


def _pages_file(month: Month) -> str:
    """A month's pages' records (fingerprint, date, posts), in a file of its own: read only
    when the month is planned, so an archive of many months costs no export more to keep."""
    return f"{PAGES_FILE_PREFIX}{month.key}.json"


def _page_records(root: Path, month: Month) -> dict[str, Any]:
    try:
        data = json.loads((root / _pages_file(month)).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _publish_months(
    publisher: _Publisher,
    selector: Selector,
    archive: tuple[Archive, Plans],
    sealed: Sealed,
    now: datetime,
    fingerprints: tuple[str, str],
    rendered: tuple[dict[str, Any], dict[str, Any]],
    rerender: bool,
) -> Sealed:
    """Every month's archive pages, but a sealed month's files are kept as they are, and
    a planned month's page while its fingerprint holds (its records, kept beside, say what
    it was rendered from: a late post renders only the pages it changes). A month is sealed
    when an export renders it after it has ended; returns the sealed months."""
    site, generation = publisher.site, publisher.generation
    (pages, plans), (before, after), (common, everything) = archive, rendered, fingerprints
    current = Month.of(now, site.zone)
    for month in pages.months:
        if month.key in sealed:
            paths = [p.path(fmt) for p in pages.all_pages(month) for fmt in FORMATS]
            if files_exist(generation.root, paths):
                for path in paths:
                    generation.keep(path)
                continue
            plans[month] = selector.plan_month(month)
        planned = plans[month]
        if planned is None:  # open, and nothing moved: kept with their records
            for page in pages.all_pages(month):
                for fmt in FORMATS:
                    generation.keep(page.path(fmt))
            after[_month_record(month)] = before[_month_record(month)]
            continue
        records = {} if rerender else _page_records(generation.root, month)
        kept: dict[str, Any] = {}
        for plan in planned:
            publisher.publish_unless_unchanged(
                functools.partial(selector.month, plan, pages),
                [plan.page.path(fmt) for fmt in FORMATS],
                pages.fingerprint(common, plan),
                records,
                kept,
            )
        # Its pages' records are complete once they are rendered.
        publisher.afterwards.append(functools.partial(_add_records, generation, month, kept))
        if month < current:
            sealed[month.key] = pages.pages[month]
        else:
            after[_month_record(month)] = [everything, pages.pages[month]]
    months = {m.key for m in site.months}
    return {m: n for m, n in sealed.items() if m in months}


def _reopen(selector: Selector, path: Path) -> None:
    """In a forked process: a connection of its own (SQLite's must not cross a fork)."""
    selector.store = Store.open(path, read_only=True)


def _add_records(generation: Generation, month: Month, records: dict[str, Any]) -> None:
    generation.add(_pages_file(month), json.dumps(records, indent=0, sort_keys=True).encode())


def _selection_fingerprint(common: str, selection: Selection, site: Site, selector: Selector,
                           versions: dict[str, int]) -> str:  # fmt: skip
    """A tag's or a source's: its feeds' change counters and its listed sources' health."""
    shown = shown_sources(site, selection)
    urls = sorted(selector.url_of[s.slug] for s in shown)
    data = [
        common,
        selection.kind,
        selection.key,
        [(u, versions.get(u, 0)) for u in urls],
        [(s.slug, s.enabled, s.state, s.failing_since, s.moved_to) for s in shown],
    ]
    return hashlib.sha256(json.dumps(data, default=str).encode()).hexdigest()


def export_feeds(
    config: Config, store: Store, now: datetime, *, rerender_months: bool = False,
    processes: int | None = None,
) -> ExportReport:  # fmt: skip
    """Write every output into ``output_dir``; files whose bytes are unchanged are left alone.
    ``rerender_months``: finished months too, after posts were deleted from them (prune).
    ``processes``: how many may render (default ``poll.workers``, at least one)."""
    try:
        env = environment(config.template_dir)
    except (TemplateError, OSError) as exc:  # a theme's template that does not load
        raise ExportError(f"cannot load the page templates: {exc}") from exc
    fingerprint = marked(config)
    output = config.output_dir
    top = top_files(now)
    with Generation(output, owned=OWNED) as generation:
        before = {} if rerender_months else rendered(output)
        shown = store.feeds_shown()  # the one read when nothing moved
        moved = nothing_moved(fingerprint, config, shown, Month.of(now, config.site.zone))
        if (unchanged := unchanged_files(generation, before, moved, top)) is not None:
            paths, entries = unchanged
            return ExportReport(tuple(output / p for p in paths), (), entries)
        site = build_site(config, store, now, shown)
        selector = Selector(config, store, site)
        try:
            pages = PageRenderer(site, env)
            stylesheet = pages.stylesheet()
        except (TemplateError, OSError) as exc:
            raise ExportError(f"cannot load the page templates: {exc}") from exc
        publisher = _Publisher(generation, site, pages)
        common = _common_fingerprint(fingerprint, site)
        archived = _archive_fingerprint(fingerprint, site)
        versions: dict[str, int] = {row[0]: row[1] for row in shown}
        after: dict[str, Any] = {NOTHING_MOVED: moved}
        # Read before any month is planned: a post stored after it is checked next time.
        marks = Marks.of(store)
        was_sealed, then = ({}, marks) if rerender_months else _sealed(output, fingerprint, marks)
        late = _late(store, was_sealed, (then, marks), now, site.zone)
        # Every feed's counter, so nothing any archive page shows can have moved without it.
        everything = hashlib.sha256(
            json.dumps([common, sorted(versions.items()), site.updated.isoformat()]).encode()
        ).hexdigest()
        archive = _plan_archive(selector, store, was_sealed, late, before, everything)
        newest = archive[0].newest()
        front = Selection("recent", "", site.title, (), site.updated)
        in_front = publisher.publish_unless_unchanged(
            functools.partial(selector.recent, newest),
            [front.path(fmt) for fmt in FORMATS],
            _selection_fingerprint(
                f"{common}\0{newest.key if newest else ''}", front, site, selector, versions
            ),
            before,
            after,
            later=False,
        )
        kept: list[tuple[Selection, Callable[[], Selection]]] = [
            *((Selection("tag", t.slug, t.name, (), site.updated, tag=t),
               functools.partial(selector.tag, t)) for t in site.tags),
            *((Selection("source", s.slug, "", (), site.updated, source=s),
               functools.partial(selector.source, s)) for s in site.sources),
        ]  # fmt: skip
        for placeholder, read in kept:  # a placeholder names the paths and the sources
            publisher.publish_unless_unchanged(
                read,
                [placeholder.path(fmt) for fmt in FORMATS],
                _selection_fingerprint(common, placeholder, site, selector, versions),
                before,
                after,
            )
        sealed = _publish_months(
            publisher, selector, archive, was_sealed, now, (archived, everything),
            (before, after), rerender_months,
        )  # fmt: skip
        publisher.render_pending(
            max(1, config.poll.workers if processes is None else processes),
            functools.partial(_reopen, selector, store.path),
        )
        generation.add(RENDERED_FILE, json.dumps(after, indent=0, sort_keys=True).encode())
        counted = dict(sorted(sealed.items()))
        manifest = {"fingerprint": fingerprint, "months": sorted(sealed), "pages": counted,
                    "row": marks.row, "changes": marks.change}  # fmt: skip
        generation.add(OPML_FILE, render_opml(site))
        generation.add(STYLESHEET, stylesheet)
        generation.add(SEALED_FILE, json.dumps(manifest, indent=1).encode() + b"\n")
        generation.commit()
    assert in_front is not None  # the front page is rendered at once
    return ExportReport(
        files=tuple(output / p for p in generation.paths),
        changed=tuple(output / p for p in generation.changed),
        entries=in_front,
        pinged=_ping(config, site, generation.changed),
    )


def _ping(config: Config, site: Site, changed: list[str]) -> int:
    """Tell the WebSub hub which feeds changed; the number it accepted."""
    changed_feeds = [
        site.url(p)
        for p in changed
        if p.endswith(FEED_SUFFIXES) and not Path(p).name.startswith(".")  # not our manifests
    ]
    if not site.websub_hub or not changed_feeds:
        return 0
    from aggregator.proxies import proxies
    from aggregator.trust import trust

    return ping_hub(site.websub_hub, changed_feeds, config.poll.user_agent,
                    proxies(config.poll.proxy, os.environ),
                    trust(config.ca_bundle_path, os.environ))  # fmt: skip
