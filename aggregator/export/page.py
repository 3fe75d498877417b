"""The HTML pages: the planet page, one per tag, per source and per month, all from
``base.html``. Everything a template shows is prepared here, so themes stay simple."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    select_autoescape,
)

from aggregator.export.dates import day_heading, local_date, local_time, month_name, rfc3339
from aggregator.export.links import primary_language
from aggregator.export.unchanged import STYLESHEET
from aggregator.export.view import (
    FEED_FORMATS,
    MEDIA_TYPES,
    OPML_FILE,
    ArchivePage,
    Entry,
    Month,
    Selection,
    Site,
    Source,
)
from aggregator.export.words import TEXT

FORMAT_LABELS = {"atom": "Atom", "rss": "RSS", "json": "JSON Feed"}


@functools.lru_cache(maxsize=8)
def environment(template_dir: Path | None = None) -> Environment:
    """Templates in ``template_dir`` win over the bundled ones of the same name. Cached, so
    the service compiles them once; Jinja still reloads a theme's template that changed."""
    loaders: list[BaseLoader] = [PackageLoader("aggregator", "templates")]
    if template_dir is not None:
        loaders.insert(0, FileSystemLoader(template_dir))
    return Environment(
        loader=ChoiceLoader(loaders),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


@dataclass(frozen=True, slots=True)
class Link:
    label: str
    href: str
    media_type: str = ""


@dataclass(frozen=True, slots=True)
class Card:
    """An entry as the page shows it."""

    entry: Entry
    anchor: str
    lang: str | None  # set when the entry is in another language than the page
    time: str
    datetime: str
    source_href: str | None
    topics: tuple[Link, ...]  # the sources' tags link to their page; the feed's own do not
    also: tuple[Link, ...]


@dataclass(frozen=True, slots=True)
class Day:
    heading: str
    cards: tuple[Card, ...]


@dataclass(frozen=True, slots=True)
class SourceLine:
    source: Source
    page: str
    health: str
    state: str


def _relative(from_path: str, to_path: str) -> str:
    """A link from one output file to another that works on any host and from disk."""
    depth = from_path.count("/")
    return "../" * depth + to_path.removesuffix("index.html")


def _search_action(search_url: str | None, here: str) -> str | None:
    """The form's action: a full URL or an absolute path as set, else relative to the root."""
    if search_url is None or urlsplit(search_url).scheme or search_url.startswith("/"):
        return search_url
    return _relative(here, search_url)


class PageRenderer:
    def __init__(self, site: Site, env: Environment) -> None:
        self.site = site
        self.env = env
        self.text = TEXT[site.language]

    def stylesheet(self) -> bytes:
        loader = self.env.loader
        assert loader is not None
        source, _, _ = loader.get_source(self.env, STYLESHEET)
        return source.encode("utf-8")

    def _card(self, entry: Entry, index: int, here: str) -> Card:
        zone, language = self.site.zone, self.site.language
        # A topic links to its tag page only if the entry is on it: its sources carry the tag.
        tagged = {t.name.casefold(): t.slug for c in entry.copies for t in c.source.tags}
        topics = []
        for name in entry.categories:
            slug = tagged.get(name.casefold())
            href = _relative(here, f"tag/{slug}/index.html") if slug else ""
            topics.append(Link(name, href))
        also = tuple(
            Link(c.source.display_name, c.link or c.source.site_url or c.source.feed_url)
            for c in entry.copies[1:]
        )
        other_language = primary_language(entry.language) not in (None, language)
        return Card(
            entry=entry,
            anchor=f"e{index}",
            lang=entry.language if other_language else None,
            time=local_time(entry.published, zone, language),
            datetime=rfc3339(entry.published),
            source_href=entry.primary.source.site_url,
            topics=tuple(topics),
            also=also,
        )

    def _days(self, selection: Selection, here: str) -> list[Day]:
        zone, language = self.site.zone, self.site.language
        cards = [self._card(e, i, here) for i, e in enumerate(selection.entries, 1)]
        days = []
        for _, grouped in groupby(cards, key=lambda c: c.entry.published.astimezone(zone).date()):
            group = tuple(grouped)
            days.append(Day(day_heading(group[0].entry.published, zone, language), group))
        return days

    def _health(self, source: Source) -> tuple[str, str]:
        text = self.text
        if not source.enabled:
            return "disabled", text["state_disabled"]
        if source.moved_to:
            return "moved", text["state_moved"].format(url=source.moved_to)
        if source.state == "failing" and source.failing_since:
            since = local_date(source.failing_since, self.site.zone, self.site.language)
            return "failing", text["state_failing"].format(since=since)
        if source.state in ("gone", "new", "ok"):
            return source.state, text[f"state_{source.state}"]
        return source.state, source.state

    def _feeds(self, selection: Selection, here: str) -> list[Link]:
        return [
            Link(FORMAT_LABELS[fmt], _relative(here, selection.path(fmt)), MEDIA_TYPES[fmt])
            for fmt in FEED_FORMATS
        ]

    def _title(self, selection: Selection) -> str:
        if selection.kind == "tag":
            return self.text["tag_title"].format(name=selection.title)
        if selection.kind == "source":
            return self.text["source_title"].format(name=selection.title)
        if selection.kind == "month" and selection.month:
            return self.text["month_title"].format(name=self._page_name(selection.page_ref()))
        return self.site.title

    def _page_name(self, page: ArchivePage) -> str:
        name = month_name(page.month.year, page.month.month, self.site.language)
        if page.number == 1:
            return name
        return self.text["month_page"].format(name=name, page=page.number)

    def _month_link(self, month: Month, here: str) -> Link:
        name = month_name(month.year, month.month, self.site.language)
        return Link(name, _relative(here, ArchivePage(month).path("html")))

    def _page_link(self, page: ArchivePage | None, here: str) -> Link | None:
        if page is None:
            return None
        return Link(self._page_name(page), _relative(here, page.path("html")))

    def _month_pages(self, selection: Selection, here: str) -> list[Link]:
        """On a month's first page, a link to each of its pages (when it has more than one)."""
        month = selection.month
        if month is None or selection.page != 1 or selection.pages < 2:
            return []
        return [
            Link(str(n), _relative(here, ArchivePage(month, n).path("html")))
            for n in range(1, selection.pages + 1)
        ]

    def render(self, selection: Selection) -> bytes:
        here = selection.path("html")
        site = self.site
        recent = Selection("recent", "", site.title, (), site.updated)
        sources = []
        for source in shown_sources(site, selection):
            state, health = self._health(source)
            page = _relative(here, f"source/{source.slug}/index.html")
            sources.append(SourceLine(source, page, health, state))
        context: dict[str, Any] = {
            "site": site,
            "text": self.text,
            "lang": site.language,
            "root": _relative(here, ""),
            "here": here,
            "kind": selection.kind,
            "title": self._title(selection),
            "selection": selection,
            "days": self._days(selection, here),
            "feeds": self._feeds(selection, here),
            "merged_feeds": self._feeds(recent, here) if selection.kind != "recent" else [],
            "sources": sources,
            "all_sources": _relative(here, "index.html") + "#h-sources",
            "tags": [Link(t.name, _relative(here, f"tag/{t.slug}/index.html")) for t in site.tags],
            "months": [self._month_link(m, here) for m in reversed(site.months)],
            "opml": _relative(here, OPML_FILE),
            "stylesheet": _relative(here, STYLESHEET),
            "search_action": _search_action(site.search_url, here),
            "previous": self._page_link(selection.archive.previous, here)
            if selection.kind == "month" and selection.archive
            else None,
            "next": self._page_link(selection.archive.next, here)
            if selection.kind == "month" and selection.archive
            else None,
            "month_pages": self._month_pages(selection, here),
            "month_start": self._page_link(ArchivePage(selection.month), here)
            if selection.month and selection.page > 1
            else None,
        }
        return self.env.get_template("page.html").render(context).encode("utf-8")


def template_sources(env: Environment) -> bytes:
    """Every template and the stylesheet as loaded: what a page depends on besides its
    data, for the export's fingerprints."""
    loader = env.loader
    assert loader is not None
    names = sorted(loader.list_templates())
    return b"\0".join(loader.get_source(env, n)[0].encode() for n in names)


def shown_sources(site: Site, selection: Selection) -> tuple[Source, ...]:
    """The sources a page lists with their health: all of them on the front page, a tag's on
    its page, the one on a source's page. So a source's health changing renders the front
    page and its own pages again, not every page; and a thousand sources make one long list,
    not a thousand."""
    if selection.tag is not None:
        return tuple(s for s in site.sources if selection.tag in s.tags)
    if selection.source is not None:
        return (selection.source,)
    return tuple(site.sources) if selection.kind == "recent" else ()
