"""The typed selection every output renders from: which entries (newest N, a tag, a source,
a month) and what the site says about itself. Atom, RSS, JSON Feed, the HTML pages and the
OPML are pure functions of these values."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Literal
from urllib.parse import urlencode, urljoin

from aggregator import __version__
from aggregator.types import Enclosure

__all__ = ["Enclosure"]  # the stored type, with public URLs

Kind = Literal["recent", "tag", "source", "month", "search"]
Format = Literal["atom", "rss", "json", "html"]
FORMATS: tuple[Format, ...] = ("atom", "rss", "json", "html")
FEED_FORMATS: tuple[Format, ...] = ("atom", "rss", "json")
MEDIA_TYPES: dict[Format, str] = {
    "atom": "application/atom+xml",
    "rss": "application/rss+xml",
    "json": "application/feed+json",
    "html": "text/html",
}
OPML_FILE = "sources.opml"
ATOM_FILE = "atom.xml"  # the merged feed, newest entries
GENERATOR = "aggregator"


@dataclass(frozen=True, slots=True)
class Tag:
    name: str
    slug: str


@dataclass(frozen=True, slots=True)
class Source:
    """A configured feed as subscribers see it, with its health."""

    name: str
    slug: str
    feed_url: str
    title: str | None
    site_url: str | None
    tags: tuple[Tag, ...]
    enabled: bool
    state: str  # new, ok, failing, gone
    failing_since: datetime | None = None
    moved_to: str | None = None
    # Its title told apart by its name from another source's that is the same (see
    # source_labels); None: not compared, the title as it is.
    label: str | None = None

    @property
    def display_name(self) -> str:
        return self.label or self.title or self.name


class Sources:
    """Every configured feed as a Source, in feeds.yaml's order, each made when an output
    first shows it: the merged feed of the newest 100 posts needs their sources, not all
    20,000. ``make`` makes those of some configured URLs, in one go."""

    __slots__ = ("_made", "_make", "_urls")

    def __init__(
        self, urls: Collection[str], make: Callable[[list[str]], dict[str, Source]]
    ) -> None:
        self._urls = urls  # the configured URLs, what the store knows
        self._make = make
        self._made: dict[str, Source] = {}

    def load(self, urls: Iterable[str]) -> None:
        """Make the sources of these URLs (those configured) together, ahead of ``get``."""
        missing = [u for u in dict.fromkeys(urls) if u in self._urls and u not in self._made]
        if missing:
            self._made.update(self._make(missing))

    def get(self, url: str) -> Source | None:
        """The source of a configured feed URL; None for a feed not configured."""
        if url not in self._made:
            self.load((url,))
        return self._made.get(url)

    def __iter__(self) -> Iterator[Source]:
        self.load(self._urls)
        return (self._made[url] for url in self._urls)

    def __len__(self) -> int:
        return len(self._urls)


@dataclass(frozen=True, slots=True)
class Copy:
    """One source an entry was found in, with that source's link to it."""

    source: Source
    link: str | None


@dataclass(frozen=True, slots=True)
class Entry:
    id: str
    title: str
    link: str | None  # a URI without tracking parameters
    author: str | None
    content_html: str
    summary: str
    published: datetime
    updated: datetime
    language: str | None  # BCP 47
    categories: tuple[str, ...]  # the feed's own, then the sources' tags
    enclosures: tuple[Enclosure, ...]
    copies: tuple[Copy, ...]  # primary first; never empty

    @property
    def primary(self) -> Copy:
        return self.copies[0]


@dataclass(frozen=True, slots=True, order=True)
class Month:
    year: int
    month: int

    @property
    def key(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> Month:
        return Month(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def start(self, zone: tzinfo) -> datetime:
        return datetime(self.year, self.month, 1, tzinfo=zone)

    @classmethod
    def of(cls, moment: datetime, zone: tzinfo) -> Month:
        local = moment.astimezone(zone)
        return cls(local.year, local.month)


# A month's archive is cut into pages of this many posts, oldest first, so a page once full
# keeps its posts and its URL, and no file grows with the month (a month holds a million
# posts at 100,000 feeds). Changing it would move every archive URL: hence not a setting.
ARCHIVE_PAGE_SIZE = 100


@dataclass(frozen=True, slots=True, order=True)
class ArchivePage:
    """One page of a month's archive; page 1 is the month's entry point."""

    month: Month
    number: int = 1

    @property
    def key(self) -> str:
        return self.month.key if self.number == 1 else f"{self.month.key}/{self.number}"

    def path(self, fmt: Format) -> str:
        if fmt == "html":
            return f"archive/{self.key}/index.html"
        return f"archive/{self.key}.{fmt}"


@dataclass(frozen=True, slots=True)
class ArchiveLinks:
    """RFC 5005 links: the archive pages either side (None at the ends) and the newest."""

    previous: ArchivePage | None
    next: ArchivePage | None
    newest: ArchivePage | None


@dataclass(frozen=True, slots=True)
class Site:
    title: str
    description: str
    base_url: str
    language: str
    zone: tzinfo
    sources: Sources
    tags: tuple[Tag, ...]
    months: tuple[Month, ...]  # every month from the oldest entry's to now, oldest first
    updated: datetime  # newest update of any entry shown: outputs never depend on the clock
    websub_hub: str | None = None
    search_url: str | None = None  # the search page the pages' form goes to; None: no form
    generator_version: str = __version__
    scope: tuple[str, ...] | None = None  # the feeds whose entries show; None: every stored

    def url(self, path: str = "") -> str:
        base = self.base_url if self.base_url.endswith("/") else self.base_url + "/"
        return urljoin(base, path)


@dataclass(frozen=True, slots=True)
class Selection:
    kind: Kind
    key: str  # "" for the newest entries, else the tag or source slug or the month
    title: str
    entries: tuple[Entry, ...]
    updated: datetime
    archive: ArchiveLinks | None = None
    tag: Tag | None = None
    source: Source | None = None
    month: Month | None = None
    page: int = 1  # of a month's archive
    pages: int = 1  # in the month, told on its first page

    def page_ref(self) -> ArchivePage:
        assert self.month is not None, "only a month's selection is an archive page"
        return ArchivePage(self.month, self.page)

    @property
    def directory(self) -> str:
        if self.kind in ("tag", "source"):
            return f"{self.kind}/{self.key}/"
        return "archive/" if self.kind == "month" else ""

    def path(self, fmt: Format) -> str:
        """Where this selection's file of a format is published, relative to output_dir; a
        search's, where ``aggregator serve`` answers it (its key is the query)."""
        if self.kind == "search":
            ending = {"atom": ".atom", "rss": ".rss", "json": ".json", "html": ""}[fmt]
            return f"search{ending}?{urlencode({'q': self.key})}"
        if self.kind == "month":
            assert self.month is not None, "a month's selection names its month"
            return ArchivePage(self.month, self.page).path(fmt)
        names = {"atom": ATOM_FILE, "rss": "rss.xml", "json": "feed.json", "html": "index.html"}
        return self.directory + names[fmt]


def page_url(site: Site, path: str) -> str:
    """Public URL of a file; ``index.html`` is served as its directory."""
    return site.url(path.removesuffix("index.html"))
