"""The outputs: the merged, per-tag and per-source feeds, the pages, the archive, the OPML.

``export_feeds`` (export/publish.py) renders what changed and publishes it as one
generation; ``unchanged_export`` (export/unchanged.py) says whether there is anything to
render at all without importing the renderers. This package module imports neither until a
name is asked for, so ``aggregator.export.unchanged`` comes without jinja2, babel or lxml.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aggregator.export.publish import FEED_RENDERERS, export_feeds, unseal_months
    from aggregator.export.unchanged import ExportReport, unchanged_export

__all__ = ["FEED_RENDERERS", "ExportReport", "export_feeds", "unchanged_export", "unseal_months"]

_HOME = {
    "FEED_RENDERERS": "publish",
    "export_feeds": "publish",
    "unseal_months": "publish",
    "ExportReport": "unchanged",
    "unchanged_export": "unchanged",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        # A submodule (aggregator.export.fragments, ...) or a publishing detail a test
        # looks at: the publishing module has it, or nothing does.
        try:
            return importlib.import_module(f"aggregator.export.{name}")
        except ModuleNotFoundError:
            return getattr(importlib.import_module("aggregator.export.publish"), name)
    value = getattr(importlib.import_module(f"aggregator.export.{home}"), name)
    globals()[name] = value
    return value
