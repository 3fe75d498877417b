"""Frozen values passed between pipeline stages.

Each stage takes and returns these, never a library object (no FeedParserDict, no sqlite Row),
so every stage can be tested alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from aggregator.feed_status import FeedStatus as FeedStatus  # noqa: PLC0414 (re-exported)


@dataclass(frozen=True, slots=True)
class Selector:
    """One selector of an HTML source and what to take from what it matches."""

    query: str
    xpath: bool = False
    take: str = "text"  # text, html (inner HTML) or attr
    attr: str | None = None  # the attribute, when take is attr

    def __str__(self) -> str:
        return f"xpath:{self.query}" if self.xpath else self.query


@dataclass(frozen=True, slots=True)
class HtmlSource:
    """How to read posts off a page that has no feed (feeds.yaml ``type: html``)."""

    items: Selector
    fields: tuple[tuple[str, Selector], ...] = ()  # title, link, date, summary, image, author
    follow: bool = False  # fetch each new item's page for its content and date
    follow_limit: int = 10  # item pages fetched per poll at most
    content: Selector | None = None  # on a followed page; default: main-content extraction
    timezone: str = "Europe/Copenhagen"  # of dates on the page that name none

    def field(self, name: str) -> Selector | None:
        return next((selector for key, selector in self.fields if key == name), None)


@dataclass(frozen=True, slots=True)
class Page:
    """An item's own page, fetched for an HTML source with ``follow``."""

    url: str  # the item link as found on the list page
    status: int | None
    content: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    error: str | None = None
    # Failed for now (no answer, 5xx, 429): the post is stored from the list page's words and
    # its page is read again at the next poll.
    retry: bool = False
    redirected_to: str | None = None  # it ended on another page (a login or consent wall)


@dataclass(frozen=True, slots=True)
class RobotsAnswer:
    """A site's robots.txt answer, kept until it expires (crawl.py): fetched in whichever
    process fetches, written by the poll's one writer (store/robots.py)."""

    origin: str  # scheme://host[:port], lower case
    status: int
    body: bytes | None  # a 2xx answer's first 512 KiB; else None
    fetched_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class FeedState:
    """What the store remembers about a feed that the next fetch needs."""

    url: str  # as configured: the feed's key
    etag: str | None = None
    last_modified: str | None = None
    moved_to: str | None = None  # set after a permanent redirect held over two polls
    body_hash: str | None = None
    # Digests of the entries as the feed last gave them (see normalise.raw_digest): an entry
    # that matches one is unchanged and not normalised again.
    entry_digests: frozenset[str] = frozenset()
    html: HtmlSource | None = None  # set for an HTML source: parsed by parse_html
    known_items: frozenset[str] = frozenset()  # entry keys stored, for follow: not refetched
    # A fingerprint of the settings the page is parsed with (planning.parse_fingerprint): as
    # stored, until the poll puts this poll's in its place.
    parse_settings: str | None = None
    # They changed since the stored entries were parsed: fetched without validators, the
    # page applied again even if it is the same, the entries' new dates kept.
    reparse: bool = False
    # With follow: stored items whose pages are to be read again since the settings changed
    # (follow_limit a poll, as new ones): they take the dates read now, as on a reparse.
    reread_items: frozenset[str] = frozenset()

    @property
    def fetch_url(self) -> str:
        return self.moved_to or self.url


@dataclass(frozen=True, slots=True)
class FetchResult:
    """Outcome of one HTTP fetch: content, not-modified, or an error (never raised)."""

    feed_url: str
    fetched_at: datetime
    final_url: str = ""
    status: int | None = None
    content: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False
    error: str | None = None
    permanent_redirect: str | None = None  # every hop was 301/308: where it ended
    pages: tuple[Page, ...] = ()  # followed item pages of an HTML source
    incomplete: bool = False  # items left for the next poll: keep no validators
    robots: tuple[RobotsAnswer, ...] = ()  # robots.txt answers this fetch read, to keep

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class Enclosure:
    """A file attached to a post (podcast audio, a PDF): RSS ``enclosure``, Atom
    ``link rel="enclosure"``, JSON Feed ``attachments``."""

    url: str
    type: str | None = None
    length: int | None = None  # bytes, as the feed says; None when it does not say


@dataclass(frozen=True, slots=True)
class ParsedEntry:
    guid: str | None
    link: str | None
    title: str
    author: str | None
    content_html: str
    published: datetime | None
    updated: datetime | None
    language: str | None = None
    content_base: str | None = None  # xml:base of the content, when the feed gives one
    categories: tuple[str, ...] = ()  # category, atom:category, dc:subject, JSON tags
    enclosures: tuple[Enclosure, ...] = ()
    # Dates given but unreadable to the parser, as (published|updated, the text): read again
    # in words by feed_dates.py ("3. november 2026").
    unread_dates: tuple[tuple[str, str], ...] = ()
    # Whether the title is HTML (markup and references to read) or plain text, where "<" and
    # "&" are themselves: JSON Feed titles, Atom type="text", most RSS titles (feedparser's
    # title_detail.type).
    title_is_html: bool = True
    # An HTML source's item whose own page could not be read yet: why ("HTTP 429"); its
    # page is followed again at the next poll.
    page_unread: str | None = None

    @property
    def dropped(self) -> tuple[str, ...]:
        """The fields the feed gave but nothing could read (status names them)."""
        return tuple(name for name, _ in self.unread_dates)


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    url: str
    title: str | None
    site_url: str | None
    language: str | None
    version: str
    entries: tuple[ParsedEntry, ...]
    warning: str | None = None
    ttl_minutes: int | None = None
    sy_period: str | None = None
    sy_frequency: int | None = None
    # An HTML source with ``follow``: the ids of items still on its list page whose pages were
    # not read this poll (stored already): seen again, though not parsed again.
    still_listed: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EntryPlan:
    """One entry, normalised and ready to store."""

    key: str
    canonical_url: str | None
    link: str | None
    title: str
    author: str | None
    content_html: str
    summary_text: str
    published: datetime
    updated: datetime
    content_hash: str
    language: str | None = None
    dated: bool = True  # False when the feed gave no date and first-seen time stands in
    sketch: tuple[int, ...] = ()
    title_key: str = ""
    raw_digest: str = ""
    categories: tuple[str, ...] = ()  # trimmed, duplicates (ignoring case) dropped, in order
    enclosures: tuple[Enclosure, ...] = ()  # absolute http(s) URLs only
    # The search index's stems of the title and the text, and their language, worked out in
    # the worker process that parsed the entry (aggregator.search.stem_entry), so the writing
    # process only inserts them. Empty: worked out when indexed.
    stemmed: tuple[str, str, str] | None = None
    # Other entries of the document have this link too (a news index): it names none of them,
    # so it neither merges the entry with another feed's post nor gives it its id.
    shared_link: bool = False
    page_unread: str | None = None  # see ParsedEntry.page_unread


@dataclass(frozen=True, slots=True)
class UpdatePlan:
    """Everything one poll of one feed writes: fetch state plus entries, in one transaction."""

    feed_url: str
    fetched_at: datetime
    status: int | None
    etag: str | None
    last_modified: str | None
    not_modified: bool
    error: str | None
    keep_validators: bool = False
    feed_title: str | None = None
    site_url: str | None = None
    entries: tuple[EntryPlan, ...] = ()
    unchanged_keys: tuple[str, ...] = ()  # entries exactly as the feed last gave them
    body_hash: str | None = None
    permanent_redirect: str | None = None
    publisher_hint_seconds: int | None = None
    publisher_hint_reason: str | None = None
    next_poll_at: datetime | None = None
    interval_seconds: int | None = None
    interval_reason: str | None = None
    gone: bool = False
    warning: str | None = None  # what was repaired or dropped while reading the feed
    parse_settings: str | None = None  # to store: the settings this poll's entries were read by
    reparse: bool = False  # the settings changed: stored entries take the dates read now
    reread: frozenset[str] = frozenset()  # stored entries read again: their dates count too
    # A reparse with follow: the stored items this poll did not read are read at later polls.
    reread_rest: bool = False


@dataclass(frozen=True, slots=True)
class FeedUpdateResult:
    feed_url: str
    new: int = 0
    updated: int = 0
    not_modified: bool = False
    error: str | None = None


@dataclass(frozen=True, slots=True)
class SourceRef:
    feed_url: str
    name: str
    title: str | None
    site_url: str | None
    link: str | None


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """An entry as read back for export and digest; the primary source is first."""

    id: str
    title: str
    link: str | None
    author: str | None
    content_html: str
    summary_text: str
    published: datetime
    updated: datetime
    first_seen: datetime
    sources: tuple[SourceRef, ...]
    language: str | None = None
    categories: tuple[str, ...] = ()  # the primary source's, in the feed's order
    enclosures: tuple[Enclosure, ...] = ()


@dataclass(frozen=True, slots=True)
class WindowPost:
    """What a digest needs to choose, group and count a post without reading it: a large
    archive's week holds tens of thousands, of which a message shows a few hundred."""

    id: str
    published: datetime
    first_seen: datetime
    primary: SourceRef  # without its link
    feeds: tuple[str, ...] = ()  # every feed that carried it, when asked for
    # Its feed's previous successful poll when a later poll brought it; None for the back
    # catalogue (and posts stored before this was kept): newness is then from first_seen.
    news_from: datetime | None = None
