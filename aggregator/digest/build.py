"""Pure digest building: which posts a digest holds, and how they are grouped.

A digest holds the posts *first seen* in its window: from where the previous digest of the
same name was cut off to the end of its period. A post dated Sunday night that the poller
only finds on Monday morning is then in the next digest, not in none; every post is in
exactly one digest of each name. Archive finds (a post dated more than
``archive_after_days`` before its feed's previous successful poll, or for the back catalogue
of a feed added today, before it was first seen) are news to nobody and are left out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

from aggregator.bulk import no_collector_passes
from aggregator.collation import danish_key
from aggregator.config import DigestSettings
from aggregator.digest.periods import Period
from aggregator.source_labels import source_labels
from aggregator.types import FeedStatus, SourceRef, StoredEntry, WindowPost

SUMMARY_LIMIT = 280
# The most groups one message holds: even at one post each, more would not fit the e-mail
# size limit (render.HTML_LIMIT: a group takes over 700 bytes of HTML, a test checks), so
# the groups past it are counted, not read, built or rendered.
MAX_GROUPS = 150
NO_TAG = ""  # the group of posts whose feeds have none of the grouped tags

# Words ending in a full stop that do not end a Danish or English sentence.
_ABBREVIATIONS = frozenset(
    [
        "f.eks",
        "bl.a",
        "ca",
        "nr",
        "mv",
        "m.v",
        "osv",
        "dvs",
        "jf",
        "evt",
        "inkl",
        "ekskl",
        "mio",
        "mia",
        "kr",
        "dr",
        "hhv",
        "pga",
        "ift",
        "iht",
        "vha",
        "etc",
        "e.g",
        "i.e",
        "vs",
        "mr",
        "mrs",
        "ms",
        "no",
        "st",
    ]
)
_SENTENCE_END = re.compile(r"[.!?…](?=[\"'»”)]?\s+[\"'«“(]?[A-ZÆØÅ0-9])")


def cut_at_sentence(text: str, limit: int = SUMMARY_LIMIT) -> str:
    """The whole sentences that fit in ``limit``; a word cut with an ellipsis only when the
    first sentence alone is longer."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    best = 0
    for match in _SENTENCE_END.finditer(text, 0, limit):
        word = text[: match.start()].rsplit(" ", 1)[-1].lower()
        if word not in _ABBREVIATIONS and len(word) > 1:
            best = match.end()
    if best:
        return text[:best].rstrip()
    cut = text[: limit - 1].rsplit(" ", 1)[0] if " " in text[: limit - 1] else text[: limit - 1]
    return cut.rstrip(" ,.;:–-") + "…"


@dataclass(frozen=True, slots=True)
class Window:
    """First-seen times a digest covers: ``start`` inclusive, ``end`` exclusive, UTC."""

    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class DigestItem:
    title: str
    link: str | None
    summary: str
    published: datetime  # local zone
    author: str | None
    source: str
    also_in: tuple[str, ...]
    source_url: str = ""  # the primary feed's: sources are counted by it, not by their name


@dataclass(frozen=True, slots=True)
class DigestGroup:
    name: str  # a source's label (see source_labels), or a tag ("" for posts with none)
    site_url: str | None
    items: tuple[DigestItem, ...]  # the shown ones, at most the cap
    more: int = 0  # posts left out by the cap


@dataclass(frozen=True, slots=True)
class FailedSource:
    name: str
    since: datetime | None  # local zone
    error: str | None
    gone: bool


@dataclass(frozen=True, slots=True)
class DigestLinks:
    page: str
    feed: str
    archive: str


@dataclass(frozen=True, slots=True)
class LeftOut:
    """Groups past the most one message can hold (``MAX_GROUPS``): counted, never read."""

    groups: int
    posts: int
    sources: int  # primary sources of theirs not among the shown posts'


@dataclass(frozen=True, slots=True)
class Digest:
    name: str
    title: str
    period: Period
    window: Window
    groups: tuple[DigestGroup, ...]
    group_by: str = "source"
    failed: tuple[FailedSource, ...] = ()
    links: DigestLinks | None = None
    left_out: LeftOut | None = None

    @property
    def entry_count(self) -> int:
        rest = self.left_out.posts if self.left_out else 0
        return sum(len(g.items) + g.more for g in self.groups) + rest

    @property
    def source_count(self) -> int:
        if not self.groups:
            return 0
        rest = self.left_out.sources if self.left_out else 0
        return len({i.source_url or i.source for g in self.groups for i in g.items}) + rest

    @property
    def is_empty(self) -> bool:
        return not self.groups


@dataclass(frozen=True, slots=True)
class FeedFacts:
    """What the configuration says about a stored feed: its name and tags."""

    name: str
    tags: tuple[str, ...]


def is_archive_find(post: WindowPost, archive_after: timedelta) -> bool:
    """Dated more than ``archive_after`` before its feed's previous successful poll (or, for
    a feed's back catalogue, before it was first seen): a poll before this one could have
    seen it. A post that came in a gap of polling (the feed or the service down) is news."""
    return post.published < (post.news_from or post.first_seen) - archive_after


def matches_feed(facts: FeedFacts, settings: DigestSettings) -> bool:
    """No filter: every feed. Otherwise a listed source, or a feed with a listed tag."""
    if not settings.tags and not settings.sources:
        return True
    return facts.name in settings.sources or bool(set(facts.tags) & set(settings.tags))


def matches(post: WindowPost, settings: DigestSettings, feeds: Mapping[str, FeedFacts]) -> bool:
    """A post is in a filtered digest when any feed that carried it matches."""
    if not settings.tags and not settings.sources:
        return True
    return any(url in feeds and matches_feed(feeds[url], settings) for url in post.feeds)


def select(
    posts: Sequence[WindowPost],
    window: Window,
    settings: DigestSettings,
    feeds: Mapping[str, FeedFacts],
) -> list[WindowPost]:
    archive_after = timedelta(days=settings.archive_after_days)
    return [
        p
        for p in posts
        if window.start <= p.first_seen < window.end
        and not is_archive_find(p, archive_after)
        and matches(p, settings, feeds)
    ]


def _ref_facts(refs: Iterable[SourceRef]) -> Iterable[tuple[str, str, str | None]]:
    return ((r.feed_url, r.name, r.title) for r in refs)


def _group_key(
    post: WindowPost,
    settings: DigestSettings,
    feeds: Mapping[str, FeedFacts],
    labels: Mapping[str, str],
) -> tuple[str, str, str | None]:
    """(what the group is, its heading, its link): a source's group is its feed."""
    primary = post.primary
    if settings.group_by == "source":
        return primary.feed_url, labels[primary.feed_url], primary.site_url
    tags = feeds[primary.feed_url].tags if primary.feed_url in feeds else ()
    wanted = [t for t in tags if not settings.tags or t in settings.tags]
    tag = wanted[0] if wanted else NO_TAG
    return tag, tag, None


@dataclass(frozen=True, slots=True)
class ChosenGroup:
    name: str
    site_url: str | None
    ids: tuple[str, ...]  # the posts shown, in the digest's order
    more: int  # posts left out by the cap


@dataclass(frozen=True, slots=True)
class Choice:
    """Which posts a digest shows, decided on the window's ``WindowPost`` alone: only these
    are then read and built."""

    groups: tuple[ChosenGroup, ...]
    left_out: LeftOut | None = None
    labels: Mapping[str, str] = field(default_factory=dict)  # see source_labels

    @property
    def ids(self) -> list[str]:
        return [i for g in self.groups for i in g.ids]


def choose(
    posts: Sequence[WindowPost],
    window: Window,
    settings: DigestSettings,
    feeds: Mapping[str, FeedFacts],
) -> Choice:
    """Groups by name in Danish order (untagged last), posts newest first unless ``order:
    oldest``; each group cut at ``max_items_per_group``, and the groups past ``MAX_GROUPS``
    only counted."""
    chosen = select(posts, window, settings, feeds)
    chosen.sort(key=lambda p: (p.published, p.id), reverse=settings.order == "newest")
    labels = source_labels(_ref_facts(p.primary for p in chosen))
    groups: dict[str, tuple[str, str | None, list[WindowPost]]] = {}
    for post in chosen:
        key, name, site = _group_key(post, settings, feeds, labels)
        groups.setdefault(key, (name, site, []))[2].append(post)
    cap = settings.max_items_per_group
    ordered = sorted(
        groups.items(), key=lambda kv: (kv[1][0] == NO_TAG, danish_key(kv[1][0]), kv[0])
    )
    kept, rest = ordered[:MAX_GROUPS], ordered[MAX_GROUPS:]
    left_out = None
    if rest:
        shown = {p.primary.feed_url for _, (_, _, group) in kept for p in group[:cap]}
        others = {p.primary.feed_url for _, (_, _, group) in rest for p in group} - shown
        posts_left = sum(len(group) for _, (_, _, group) in rest)
        left_out = LeftOut(len(rest), posts_left, len(others))
    return Choice(
        tuple(
            ChosenGroup(name, site, tuple(p.id for p in group[:cap]), max(0, len(group) - cap))
            for _, (name, site, group) in kept
        ),
        left_out,
        labels,
    )


def window_post(entry: StoredEntry) -> WindowPost:
    return WindowPost(
        entry.id,
        entry.published,
        entry.first_seen,
        entry.sources[0],
        tuple(s.feed_url for s in entry.sources),
    )


def failed_sources(
    statuses: Sequence[FeedStatus], period: Period, names: frozenset[str] | None
) -> tuple[FailedSource, ...]:
    """Feeds that were gone or failing for the whole period (the feed-health section)."""
    zone = period.start.tzinfo
    failed = []
    labels = source_labels((s.url, s.name, s.title) for s in statuses)
    for status in statuses:
        if names is not None and status.name not in names:
            continue
        whole_period = status.failing_since is not None and status.failing_since <= (
            period.start_utc
        )
        if status.state == "gone" or (status.state == "failing" and whole_period):
            since = status.failing_since.astimezone(zone) if status.failing_since else None
            failed.append(
                FailedSource(labels[status.url], since, status.last_error, status.state == "gone")
            )
    return tuple(sorted(failed, key=lambda f: danish_key(f.name)))


def build_digest(
    entries: Sequence[StoredEntry],
    period: Period,
    title: str,
    settings: DigestSettings | None = None,
    *,
    window: Window | None = None,
    feeds: Mapping[str, FeedFacts] | None = None,
    failed: tuple[FailedSource, ...] = (),
    links: DigestLinks | None = None,
) -> Digest:
    """The digest of these posts (see ``choose``)."""
    settings = settings or DigestSettings()
    window = window or Window(period.start_utc, period.end_utc)
    with no_collector_passes():
        choice = choose([window_post(e) for e in entries], window, settings, feeds or {})
        return digest_from(choice, {e.id: e for e in entries}, period, title, settings,
                           window=window, failed=failed, links=links)  # fmt: skip


def digest_from(
    choice: Choice,
    entries: Mapping[str, StoredEntry],
    period: Period,
    title: str,
    settings: DigestSettings,
    *,
    window: Window,
    failed: tuple[FailedSource, ...] = (),
    links: DigestLinks | None = None,
) -> Digest:
    """The chosen posts built into items; ``entries`` holds at least the chosen ones (a
    post gone since it was chosen, pruned meanwhile, is left out)."""
    zone = period.start.tzinfo
    shown = [entries[i] for g in choice.groups for i in g.ids if i in entries]
    # Sources only "also" carrying a post get labels too, told apart from every other.
    every = source_labels(_ref_facts(s for e in shown for s in e.sources))
    labels = {**every, **choice.labels}
    return Digest(
        name=settings.name,
        title=title,
        period=period,
        window=window,
        group_by=settings.group_by,
        groups=tuple(
            DigestGroup(
                g.name,
                g.site_url,
                tuple(_item(entries[i], zone, labels) for i in g.ids if i in entries),
                g.more,
            )
            for g in choice.groups
        ),
        failed=failed,
        links=links,
        left_out=choice.left_out,
    )


def _item(entry: StoredEntry, zone: tzinfo | None, labels: Mapping[str, str]) -> DigestItem:
    primary, *others = entry.sources
    label = {s.feed_url: labels.get(s.feed_url) or s.title or s.name for s in entry.sources}
    return DigestItem(
        title=entry.title,
        link=entry.link,
        summary=cut_at_sentence(entry.summary_text),
        published=entry.published.astimezone(zone),
        author=entry.author,
        source=label[primary.feed_url],
        also_in=tuple(dict.fromkeys(label[o.feed_url] for o in others)),
        source_url=primary.feed_url,
    )
