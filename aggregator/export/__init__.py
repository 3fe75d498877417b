"""Every output, rendered from one selection view and published as one generation.

``export_feeds`` reads the selections (export/select.py), renders each in every format
(atom, rss, jsonfeed, page, opml: pure functions of the view) and hands the bytes to the one
writer (export/writer.py). Finished months are sealed: rendered once, never again, so their
archive files can be cached for ever (RFC 5005 §4).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from jinja2 import TemplateError

from aggregator import __version__
from aggregator.config import Config
from aggregator.errors import ExportError
from aggregator.export.atom import render_atom
from aggregator.export.guard import check_output
from aggregator.export.jsonfeed import render_json_feed
from aggregator.export.opml import render_opml
from aggregator.export.page import STYLESHEET, PageRenderer, environment
from aggregator.export.rss import render_rss
from aggregator.export.select import Selector, build_site
from aggregator.export.view import FORMATS, OPML_FILE, Format, Month, Selection, Site, month_path
from aggregator.export.websub import ping_hub
from aggregator.export.writer import Generation
from aggregator.store import Store

log = logging.getLogger(__name__)

FeedRenderer = Callable[[Selection, Site], bytes]
FEED_RENDERERS: dict[Format, FeedRenderer] = {
    "atom": render_atom,
    "rss": render_rss,
    "json": render_json_feed,
}
SEALED_FILE = ".aggregator-sealed.json"
FEED_SUFFIXES = (".xml", ".json", ".atom", ".rss")

__all__ = ["FEED_RENDERERS", "ExportReport", "export_feeds"]


@dataclass(frozen=True, slots=True)
class ExportReport:
    files: tuple[Path, ...]  # every file of the generation
    changed: tuple[Path, ...]  # the files this export (re)wrote
    entries: int  # in the newest-N selection
    pinged: int = 0  # feeds the WebSub hub accepted a ping for

    @property
    def index(self) -> Path:
        return next(p for p in self.files if p.name == "index.html" and p.parent.name != "tag")


def _fingerprint(config: Config) -> str:
    """What sealed archives depend on besides their month: when it changes (a feed removed,
    the site renamed, a new version), finished months are rendered once more."""
    site = config.site
    data = [
        __version__,
        site.title,
        site.description,
        site.base_url,
        site.language,
        site.timezone,
        site.websub_hub,
        sorted((f.url, f.name, tuple(f.tags)) for f in config.feeds),
    ]
    return hashlib.sha256(json.dumps(data, default=str).encode()).hexdigest()


def _sealed(output_dir: Path, fingerprint: str) -> set[str]:
    try:
        data = json.loads((output_dir / SEALED_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    if not isinstance(data, dict) or data.get("fingerprint") != fingerprint:
        return set()
    return {m for m in data.get("months", []) if isinstance(m, str)}


class _Publisher:
    def __init__(self, generation: Generation, site: Site, pages: PageRenderer) -> None:
        self.generation = generation
        self.site = site
        self.pages = pages

    def publish(self, selection: Selection) -> None:
        for fmt in FORMATS:
            path = selection.path(fmt)
            if fmt == "html":
                self.generation.add(path, self.pages.render(selection))
            else:
                data = FEED_RENDERERS[fmt](selection, self.site)
                # A broken output stops the generation before anything is renamed into place.
                check_output(path, data, selection.entries)
                self.generation.add(path, data)


def _publish_months(
    publisher: _Publisher, selector: Selector, sealed: set[str], now: datetime
) -> set[str]:
    """Every month's archive, but a sealed month's files are kept as they are. A month is
    sealed when an export renders it after it has ended; returns the sealed months."""
    site, generation = publisher.site, publisher.generation
    current = Month.of(now, site.zone)
    for month in site.months:
        paths = [month_path(month, fmt) for fmt in FORMATS]
        if month.key in sealed and all((generation.root / p).is_file() for p in paths):
            for path in paths:
                generation.keep(path)
            continue
        publisher.publish(selector.month(month))
        if month < current:
            sealed.add(month.key)
    return sealed & {m.key for m in site.months}


def export_feeds(
    config: Config, store: Store, now: datetime, *, rerender_months: bool = False
) -> ExportReport:
    """Write every output into ``output_dir``; files whose bytes are unchanged are left alone.
    ``rerender_months``: finished months too, after posts were deleted from them (prune)."""
    site = build_site(config, store, now)
    selector = Selector(config, store, site)
    try:
        pages = PageRenderer(site, environment(config.template_dir))
        stylesheet = pages.stylesheet()
    except (TemplateError, OSError) as exc:  # a theme's template that does not load
        raise ExportError(f"cannot load the page templates: {exc}") from exc
    output = config.output_dir
    with Generation(output, owned=("tag", "source", "archive")) as generation:
        publisher = _Publisher(generation, site, pages)
        recent = selector.recent()
        publisher.publish(recent)
        for tag in site.tags:
            publisher.publish(selector.tag(tag))
        for source in site.sources:
            publisher.publish(selector.source(source))
        fingerprint = _fingerprint(config)
        was_sealed = set() if rerender_months else _sealed(output, fingerprint)
        sealed = _publish_months(publisher, selector, was_sealed, now)
        manifest = {"fingerprint": fingerprint, "months": sorted(sealed)}
        generation.add(OPML_FILE, render_opml(site))
        generation.add(STYLESHEET, stylesheet)
        generation.add(SEALED_FILE, json.dumps(manifest, indent=1).encode() + b"\n")
        generation.commit()
    pinged = 0
    changed_feeds = [site.url(p) for p in generation.changed if p.endswith(FEED_SUFFIXES)]
    changed_feeds = [u for u in changed_feeds if not u.endswith(SEALED_FILE)]
    if site.websub_hub and changed_feeds:
        pinged = ping_hub(site.websub_hub, changed_feeds, config.poll.user_agent)
    return ExportReport(
        files=tuple(output / p for p in generation.paths),
        changed=tuple(output / p for p in generation.changed),
        entries=len(recent.entries),
        pinged=pinged,
    )
