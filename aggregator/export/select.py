"""Reading the selections from the store: the one place the export touches the database.

Only configured feeds count: the entries of a feed removed from feeds.yaml leave every output
(they stay in the database); a disabled feed is paused, not gone, so its entries stay.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any
from urllib.parse import urljoin

from aggregator.clean import xml_text
from aggregator.config import Config, FeedConfig
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
    Sources,
    Tag,
)
from aggregator.redact import redacted_url
from aggregator.source_labels import source_labels
from aggregator.store import Store
from aggregator.store.times import maybe_time
from aggregator.types import Enclosure, StoredEntry

# A source, or a tag of fewer than 1/FEW_SHARE of the feeds, is read through entry_sources (an
# index lookup and a sort of their entries); a larger tag through the newest-first walk of all
# entries, which finds its newest quickly.
FEW_SHARE = 10
EPOCH = datetime.fromisoformat("1970-01-01T00:00:00+00:00")


@dataclass(frozen=True, slots=True)
class _Configured:
    """What feeds.yaml says of the sources, made once per configuration rather than per
    export: slugs are unique across all feeds, and a tag's name is its first spelling."""

    feeds: dict[str, FeedConfig]  # configured URL -> its feed, in feeds.yaml's order
    slugs: dict[str, str]  # configured URL -> slug
    urls: dict[str, str]  # slug -> configured URL
    tags: tuple[Tag, ...]  # every tag, by slug
    tags_of: dict[str, tuple[Tag, ...]]  # configured URL -> its tags
    # Whether these feeds cover every stored one, by database and its feeds' signature:
    # the last answer only (see _covers).
    covers: dict[tuple[str, tuple[int, int, str | None]], bool]


_LAST: list[tuple[object, _Configured]] = []  # the last configuration's, kept alive with it


def _configured(config: Config) -> _Configured:
    """Cached by the feeds' identity: a Config is frozen, so the same list is the same feeds
    (the service keeps one Config between reloads; 20,000 feeds take 50 ms to go through)."""
    feeds = config.feeds
    last = _LAST[:1]
    if last and last[0][0] is feeds:
        return last[0][1]
    names: dict[str, str] = {}  # slug -> first spelling seen
    for feed in feeds:
        for tag in feed.tags:
            names.setdefault(slugify(tag), tag)
    tags = {slug: Tag(name, slug) for slug, name in sorted(names.items())}
    slugs = dict(zip((f.url for f in feeds), unique_slugs(f.name for f in feeds), strict=True))
    made = _Configured(
        feeds={f.url: f for f in feeds},
        slugs=slugs,
        urls={slug: url for url, slug in slugs.items()},
        tags=tuple(tags.values()),
        tags_of={f.url: tuple(dict.fromkeys(tags[slugify(t)] for t in f.tags)) for f in feeds},
        covers={},
    )
    _LAST[:] = [(feeds, made)]
    return made


NEVER_POLLED = (None, None, None, None, "new", None, None)
Shown = dict[str, tuple[Any, ...]]  # the store's feeds_shown() rows by URL


def _sources(
    configured: _Configured,
    shown: Callable[[list[str]], Shown],
    base_url: str,
    labels: Mapping[str, str] | None = None,
) -> Sources:
    def make(urls: list[str]) -> dict[str, Source]:
        rows = shown(urls)
        label = labels.get if labels else lambda url: None
        return {
            url: _source(configured, url, rows.get(url, NEVER_POLLED), base_url, label(url))
            for url in urls
        }

    return Sources(configured.feeds.keys(), make)


def _labels(configured: _Configured, titles: Mapping[str, str | None]) -> dict[str, str]:
    """Every configured source's label (source_labels): two feeds with the same title are
    told apart by their names on every output, as in the digest."""
    return source_labels(
        (url, feed.name, titles.get(url)) for url, feed in configured.feeds.items()
    )


def _source(configured: _Configured, url: str, row: tuple[Any, ...], base_url: str,
            label: str | None = None) -> Source:  # fmt: skip
    feed = configured.feeds[url]
    slug = configured.slugs[url]
    _, _, title, site_url, state, failing_since, moved_to = row
    # Every output is public: a private feed's credentials are not shown (redact.py).
    feed_url, home = redacted_url(public_url(url) or url), public_url(site_url)
    if feed.type == "html":
        # A web page is no feed to subscribe to: its feed is the one made of it here.
        home = home or feed_url
        path = Selection("source", slug, "", (), EPOCH).path("atom")
        feed_url = urljoin(base_url if base_url.endswith("/") else f"{base_url}/", path)
    return Source(
        name=feed.name,
        slug=slug,
        feed_url=feed_url,
        title=title,
        site_url=home,
        tags=configured.tags_of[url],
        enabled=feed.enabled,
        state=state,
        failing_since=maybe_time(failing_since),
        moved_to=moved_to,
        label=label,
    )


def _by_url(rows: list[tuple[Any, ...]]) -> Shown:
    return dict(zip(map(itemgetter(0), rows), rows, strict=True))  # no Python per feed


def _site(config: Config, sources: Sources, months: tuple[Month, ...], updated: datetime,
          scope: list[str] | None = None) -> Site:  # fmt: skip
    site = config.site
    return Site(
        title=site.title,
        description=site.description,
        base_url=site.base_url,
        language=site.language,
        zone=site.zone,
        sources=sources,
        tags=_configured(config).tags,
        months=months,
        updated=updated,
        websub_hub=site.websub_hub,
        search_url=site.search_url,
        scope=tuple(scope) if scope is not None else None,
    )


def selection_of(
    config: Config, stored: Sequence[StoredEntry], query: str, title: str, now: datetime
) -> tuple[Selection, Site]:
    """A search's view of the entries it found, without the store: sources' health unknown,
    no archive; its links are the search's own."""
    configured = _configured(config)
    site = _site(config, _sources(configured, lambda urls: {}, config.site.base_url), (), now)
    entries = Selector(config, None, site)._entries(stored)
    return Selection("search", query, title, entries, now), site


def _covers(configured: _Configured, store: Store) -> tuple[bool, int]:
    """Whether every stored feed is configured (then no output needs a scope filter), and
    how many are stored. Decided again only when a feed was added to the store or removed
    from it since the last answer: reading every URL is most of a merged export's time at
    20,000 feeds, the signature a few microseconds."""
    signature = store.feeds_signature()
    key = (str(store.path), signature)
    covered = configured.covers.get(key)
    if covered is None:
        covered = configured.feeds.keys() >= store.feed_urls()
        configured.covers.clear()
        configured.covers[key] = covered
    return covered, signature[0]


def build_site(config: Config, store: Store, now: datetime,
               shown: list[tuple[Any, ...]] | None = None) -> Site:  # fmt: skip
    """``shown``: the store's ``feeds_shown()``, when the caller has read them all already;
    else a source's row is read when an output first shows it (the merged feed of the
    newest 100 reads those of their sources, not 20,000)."""
    configured = _configured(config)
    if shown is None:
        covered, stored = _covers(configured, store)
        # A label needs every source's title, whichever sources an output shows.
        labels = _labels(configured, store.feed_titles())

        def rows(urls: list[str]) -> Shown:
            many = len(urls) * FEW_SHARE > stored  # then one walk of them all
            return _by_url(store.feeds_shown(None if many else urls))
    else:
        every = _by_url(shown)
        covered = configured.feeds.keys() >= every.keys()
        labels = _labels(configured, {url: row[2] for url, row in every.items()})

        def rows(urls: list[str]) -> Shown:
            return every

    sources = _sources(configured, rows, config.site.base_url, labels)
    scope = None if covered else list(configured.feeds)
    zone = config.site.zone
    oldest = store.oldest_published(scope)
    months: list[Month] = []
    if oldest is not None:
        month, last = Month.of(oldest, zone), Month.of(now, zone)
        while month <= last:
            months.append(month)
            month = month.next()
    newest = store.recent_entries(1, scope)
    return _site(config, sources, tuple(months), newest[0].updated if newest else EPOCH, scope)


class Selector:
    """Turns stored entries into the view, keeping only configured sources' copies."""

    def __init__(self, config: Config, store: Store | None, site: Site) -> None:
        self.config = config
        self.store = store
        self.site = site
        # Keyed by the configured URL, which is what the store knows.
        self.url_of = _configured(config).urls  # slug -> URL
        # Every stored feed configured (the usual case): no filter to apply at all.
        self.scope = site.scope

    def _store(self) -> Store:
        assert self.store is not None, "a selection read from the store needs one"
        return self.store

    def plan_month(self, month: Month) -> list[PagePlan]:
        """The month's archive pages as stored now, in this view's scope."""
        return plan_month(self._store(), month, self.site.zone, self.scope)

    def entry(self, stored: StoredEntry) -> Entry | None:
        sources = self.site.sources
        copies = tuple(
            Copy(source, public_url(ref.link))
            for ref in stored.sources
            if (source := sources.get(ref.feed_url)) is not None
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
        self.site.sources.load(ref.feed_url for s in stored for ref in s.sources)
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
        tags_of = _configured(self.config).tags_of
        urls = [url for url, tags in tags_of.items() if tag in tags]
        few = len(urls) * FEW_SHARE < len(tags_of)
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
        selection = self._selection(
            "month", month.key, month.key, entries, archive=archive.links(plan.page),
            month=month, page=plan.page.number, pages=archive.pages[month],
        )  # fmt: skip
        # An empty page carries its month's start, not the site's newest date: a sealed
        # month's empty page would otherwise be stale after every new post.
        if entries:
            return selection
        return replace(selection, updated=month.start(zone).astimezone(UTC))
