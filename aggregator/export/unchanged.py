"""Whether an export has anything to do, answered without the renderers.

A poll that found nothing new ends with an export that renders nothing: the settings,
templates and version, every feed's change counter and health, and the month are what they
were at the last export, and every file it listed is still there. Answering that needs the
store and a few files, not jinja2, babel, lxml or css-inline, so ``aggregator poll`` of
unchanged feeds does not import them (tests/test_startup.py holds it to that).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from aggregator import __version__
from aggregator.config import Config, feed_data
from aggregator.errors import ExportError
from aggregator.export.view import FORMATS, OPML_FILE, Month, Selection
from aggregator.export.words import TEXT
from aggregator.export.writer import Generation
from aggregator.store import Store

SEALED_FILE = ".aggregator-sealed.json"
RENDERED_FILE = ".aggregator-rendered.json"
NOTHING_MOVED = "nothing-moved"  # its key in RENDERED_FILE
STYLESHEET = "style.css"
OWNED = ("tag", "source", "archive")
BUNDLED_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


@dataclass(frozen=True, slots=True)
class ExportReport:
    files: tuple[Path, ...]  # every file of the generation
    changed: tuple[Path, ...]  # the files this export (re)wrote
    entries: int  # in the newest-N selection
    pinged: int = 0  # feeds the WebSub hub accepted a ping for

    @property
    def index(self) -> Path:
        return next(p for p in self.files if p.name == "index.html" and p.parent.name != "tag")


def template_bytes(template_dir: Path | None) -> bytes:
    """Every template and the stylesheet a page can load, as the page renderer's loaders
    find them (a theme's file wins over the bundled one of its name): for the fingerprints."""
    found: dict[str, Path] = {}
    for root in (BUNDLED_TEMPLATES, *([template_dir] if template_dir is not None else [])):
        for directory, _, names in os.walk(root):
            for name in names:
                path = Path(directory, name)
                found[path.relative_to(root).as_posix()] = path  # the theme's last: it wins
    return b"\0".join(found[name].read_bytes() for name in sorted(found))


def fingerprint(config: Config) -> str:
    """What sealed archives depend on besides their month: when it changes (a feed removed,
    a site setting, the templates or their words, a new version), finished months are
    rendered once more. Every site setting counts, so a new one cannot be forgotten here."""
    try:
        templates = template_bytes(config.template_dir)
    except OSError as exc:  # a theme folder that cannot be read
        raise ExportError(f"cannot load the page templates: {exc}") from exc
    data = [
        __version__,
        config.site.model_dump(mode="json", exclude={"output_dir", "database"}),
        sorted((f.url, f.name, tuple(f.tags)) for f in config.feeds),
        hashlib.sha256(templates).hexdigest(),
        TEXT[config.site.language],
    ]
    return hashlib.sha256(json.dumps(data, default=str, sort_keys=True).encode()).hexdigest()


def top_files(now: datetime) -> list[str]:
    """The files outside the owned folders: the newest-N feeds and page first."""
    recent = Selection("recent", "", "", (), now)
    return [*(recent.path(f) for f in FORMATS), OPML_FILE, STYLESHEET, RENDERED_FILE,
            SEALED_FILE]  # fmt: skip


def rendered(output_dir: Path) -> dict[str, Any]:
    """The last export's records of what it rendered, from what."""
    try:
        data = json.loads((output_dir / RENDERED_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def files_exist(root: Path, paths: list[str]) -> bool:
    base = str(root)
    return all(os.path.isfile(os.path.join(base, p)) for p in paths)


def nothing_moved(fingerprint: str, config: Config, shown: list[tuple[Any, ...]],
                  month: Month) -> str:  # fmt: skip
    """Everything any output depends on, in one value: the settings, templates and version
    (``fingerprint``), every configured feed's settings in feeds.yaml's order (``enabled``
    shows on the pages; the order names same-named feeds' slugs and orders the OPML), every
    stored feed's change counter and health, and the month it is (a month that ends is
    sealed, a new one begins). The same value as the last export's, and every file it
    listed still there: there is nothing to render."""
    feeds = [feed_data(feed) for feed in config.feeds]
    data = [fingerprint, feeds, shown, month.key]
    return hashlib.sha256(json.dumps(data, default=str).encode()).hexdigest()


def unchanged_files(generation: Generation, before: dict[str, Any], moved: str,
                    top: list[str]) -> tuple[list[str], int] | None:  # fmt: skip
    """The last generation's files and newest-N count when nothing moved since it and none
    of its files is gone (one deleted by hand is written again); else None."""
    if before.get(NOTHING_MOVED) != moved:
        return None
    listed, front = generation.published(), before.get(top[0])
    if listed is None or not isinstance(front, list) or not isinstance(front[-1], int):
        return None
    paths = [*top[: len(FORMATS)], *sorted(listed), *top[len(FORMATS) :]]
    return (paths, front[-1]) if files_exist(generation.root, paths) else None


def unchanged_export(config: Config, store: Store, now: datetime) -> ExportReport | None:
    """The report of an export that would render nothing, or None when one must render
    (``export_feeds`` then decides what)."""
    output, marked = config.output_dir, fingerprint(config)
    with Generation(output, owned=OWNED) as generation:
        moved = nothing_moved(marked, config, store.feeds_shown(), Month.of(now, config.site.zone))
        found = unchanged_files(generation, rendered(output), moved, top_files(now))
    if found is None:
        return None
    paths, entries = found
    return ExportReport(tuple(output / p for p in paths), (), entries)
