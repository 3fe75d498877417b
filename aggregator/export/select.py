"""Reading the selections from the store: the one place the export touches the database.

Only configured feeds count: the entries of a feed removed from feeds.yaml leave every output
(they stay in the database); a disabled feed is paused, not gone, so its entries stay.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from aggregator.clean import xml_text
from aggregator.config import Config
from aggregator.export.archive import Archive, PagePlan, page_count, plan_month
from aggregator.export.links import language_tag, public_url
from aggregator.export.slugs import slugify, unique_slugs
from aggregator.export.view import (
    ArchiveLinks,
    ArchivePage,
    Copy,
    Entry,
    Month,
    Selection,
    Site,
    Source,
    Tag,
)
from aggregator.store import Store
from aggregator.types import Enclosure, FeedStatus, StoredEntry

# A source, or a tag of fewer than 1/FEW_SHARE of the feeds, is read through entry_sources (an
# index lookup and a sort of their entries); a larger tag through the newest-first walk of all
# entries, which finds its newest quickly.
FEW_SHARE = 10
EPOCH = datetime.fromisoformat("1970-01-01T00:00:00+00:00")


def _tags(config: Config) -> tuple[Tag, ...]:
    names: dict[str, str] = {}  # slug -> first spelling seen
    for feed in config.feeds:
        for tag in feed.tags:
            names.setdefault(slugify(tag), tag)
    return tuple(Tag(name, slug) for slug, name in sorted(names.items()))


def configured_scope(store: Store, urls: list[str]) -> list[str] | None:
    """The feeds whose entries show; None when that is every stored feed (the usual case),
    so no filter is applied at all."""
    return None if store.feed_urls() <= set(urls) else urls


def _sources(config: Config, statuses: dict[str, FeedStatus]) -> tuple[Source, ...]:
    tags = {t.slug: t for t in _tags(config)}
    sources = []
    for feed, slug in zip(config.feeds, unique_slugs(f.name for f in config.feeds), strict=True):
        status = statuses.get(feed.url)
        sources.append(
            Source(
                name=feed.name,
                slug=slug,
                feed_url=public_url(feed.url) or feed.url,
                title=status.title if status else None,
                site_url=public_url(status.site_url) if status else None,
                tags=tuple(dict.fromkeys(tags[slugify(t)] for t in feed.tags)),
                enabled=feed.enabled,
                state=status.state if status else "new",
                failing_since=status.failing_since if status else None,
                moved_to=status.moved_to if status else None,
            )
        )
    return tuple(sources)


def _site(config: Config, sources: tuple[Source, ...], months: tuple[Month, ...],
          updated: datetime) -> Site:  # fmt: skip
    site = config.site
    return Site(
        title=site.title,
        description=site.description,
        base_url=site.base_url,
        language=site.language,
        zone=site.zone,
        sources=sources,
        tags=_tags(config),
        months=months,
        updated=updated,
        websub_hub=site.websub_hub,
        search_url=site.search_url,
    )


def selection_of(
    config: Config, stored: Sequence[StoredEntry], query: str, title: str, now: datetime
) -> tuple[Selection, Site]:
    """A search's view of the entries it found, without the store: sources' health unknown,
    no archive; its links are the search's own."""
    site = _site(config, _sources(config, {}), (), now)
    entries = Selector(config, None, site)._entries(stored)
    return Selection("search", query, title, entries, now), site


def build_site(config: Config, store: Store, now: datetime) -> Site:
    sources = _sources(config, {s.url: s for s in store.feed_statuses(count_entries=False)})
    urls = [f.url for f in config.feeds]
    scope = configured_scope(store, urls)
    zone = config.site.zone
    oldest = store.oldest_published(scope)
    months: list[Month] = []
    if oldest is not None:
        month, last = Month.of(oldest, zone), Month.of(now, zone)
        while month <= last:
            months.append(month)
            month = month.next()
    newest = store.recent_entries(1, scope)
    return _site(config, sources, tuple(months), newest[0].updated if newest else EPOCH)


class Selector:
    """Turns stored entries into the view, keeping only configured sources' copies."""

    def __init__(self, config: Config, store: Store | None, site: Site) -> None:
        self.config = config
        self.store = store
        self.site = site
        # Keyed by the configured URL, which is what the store knows.
        self.by_url = {
            feed.url: source for feed, source in zip(config.feeds, site.sources, strict=True)
        }
        self.url_of = {source.slug: url for url, source in self.by_url.items()}
        # Every stored feed configured (the usual case): no filter to apply at all.
        self.scope = configured_scope(store, list(self.by_url)) if store else None

    def _store(self) -> Store:
        assert self.store is not None, "a selection read from the store needs one"
        return self.store

    def plan_month(self, month: Month) -> list[PagePlan]:
        """The month's archive pages as stored now, in this view's scope."""
        return plan_month(self._store(), month, self.site.zone, self.scope)

    def entry(self, stored: StoredEntry) -> Entry | None:
        copies = tuple(
            Copy(self.by_url[ref.feed_url], public_url(ref.link))
            for ref in stored.sources
            if ref.feed_url in self.by_url
        )
        if not copies:
            return None
        own = stored.categories
        categories: dict[str, str] = {}
        for name in (*own, *(t.name for c in copies for t in c.source.tags)):
            if name := xml_text(name).strip():
                categories.setdefault(name.casefold(), name)
        return Entry(
            id=stored.id,
            title=xml_text(stored.title),
            link=public_url(stored.link),
            author=xml_text(stored.author or "").strip() or None,
            content_html=xml_text(stored.content_html),
            summary=xml_text(stored.summary_text),
            published=stored.published,
            updated=max(stored.updated, stored.published),
            language=language_tag(stored.language),
            categories=tuple(categories.values()),
            enclosures=tuple(
                Enclosure(url, e.type, e.length)
                for e in stored.enclosures
                if (url := public_url(e.url))
            ),
            copies=copies,
        )

    def _entries(self, stored: Sequence[StoredEntry]) -> tuple[Entry, ...]:
        return tuple(e for e in map(self.entry, stored) if e is not None)

    def _selection(self, kind: str, key: str, title: str, entries: tuple[Entry, ...],
                   **extra: object) -> Selection:  # fmt: skip
        updated = max((e.updated for e in entries), default=self.site.updated)
        return Selection(kind, key, title, entries, updated, **extra)  # type: ignore[arg-type]

    def newest_page(self) -> ArchivePage | None:
        """The archive's newest page, which the newest-N feeds link back to."""
        if not self.site.months:
            return None
        last, zone = self.site.months[-1], self.site.zone
        posts = self._store().count_published_between(
            last.start(zone), last.next().start(zone), self.scope
        )
        return ArchivePage(last, page_count(posts))

    def recent(self, newest: ArchivePage | None = None) -> Selection:
        """``newest``: the archive's newest page when the caller knows it already."""
        limit = self.config.site.max_entries
        stored = self._store().recent_entries(limit, self.scope)
        newest = newest or self.newest_page()
        archive = ArchiveLinks(previous=newest, next=None, newest=newest) if newest else None
        return self._selection(
            "recent", "", self.site.title, self._entries(stored), archive=archive
        )

    def tag(self, tag: Tag) -> Selection:
        urls = [f.url for f in self.config.feeds if tag in self.by_url[f.url].tags]
        few = len(urls) * FEW_SHARE < len(self.by_url)
        stored = self._store().recent_entries(self.config.site.max_entries, urls, few=few)
        return self._selection("tag", tag.slug, tag.name, self._entries(stored), tag=tag)

    def source(self, source: Source) -> Selection:
        url = self.url_of[source.slug]  # slugs are unique; a scan per source was quadratic
        stored = self._store().recent_entries(self.config.site.max_entries, [url], few=True)
        return self._selection(
            "source", source.slug, source.display_name, self._entries(stored), source=source
        )

    def month(self, plan: PagePlan, archive: Archive) -> Selection:
        """One page of a month's archive, read on its own: newest first, as everywhere."""
        month, zone = plan.page.month, self.site.zone
        stored = self._store().entries_published_between(
            month.start(zone), month.next().start(zone), self.scope,
            after=plan.after, through=plan.through,
        )  # fmt: skip
        entries = tuple(reversed(self._entries(stored)))
        return self._selection(
            "month", month.key, month.key, entries, archive=archive.links(plan.page),
            month=month, page=plan.page.number, pages=archive.pages[month],
        )  # fmt: skip
