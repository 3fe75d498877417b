"""Merged-feed outputs. Each format renders from the same list of StoredEntry."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from aggregator.config import Config
from aggregator.export.atom import render_atom
from aggregator.export.files import write_atomic
from aggregator.export.guard import check_output
from aggregator.export.jsonfeed import render_json_feed
from aggregator.export.meta import ATOM_FILE, JSON_FILE, RSS_FILE, FeedMeta
from aggregator.export.rss import render_rss
from aggregator.store import Store
from aggregator.types import StoredEntry

Renderer = Callable[[Sequence[StoredEntry], FeedMeta], bytes]
RENDERERS: dict[str, Renderer] = {
    ATOM_FILE: render_atom,
    RSS_FILE: render_rss,
    JSON_FILE: render_json_feed,
}

__all__ = ["RENDERERS", "ExportReport", "FeedMeta", "export_feeds", "feed_meta"]


@dataclass(frozen=True, slots=True)
class ExportReport:
    files: tuple[Path, ...]
    entries: int


def feed_meta(config: Config, now: datetime) -> FeedMeta:
    site = config.site
    return FeedMeta(
        title=site.title,
        description=site.description,
        base_url=site.base_url,
        language=site.language,
        updated=now,
    )


def export_feeds(config: Config, store: Store, now: datetime) -> ExportReport:
    entries = store.recent_entries(config.site.max_entries)
    meta = feed_meta(config, now)
    # Every output checked before any is written: a broken one replaces no good one.
    rendered = {name: render(entries, meta) for name, render in RENDERERS.items()}
    for name, data in rendered.items():
        check_output(name, data, entries)
    written = []
    for name, data in rendered.items():
        path = config.output_dir / name
        write_atomic(path, data)
        written.append(path)
    return ExportReport(files=tuple(written), entries=len(entries))
