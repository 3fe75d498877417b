"""Finding what to follow at a URL, and previewing a source, without touching the database:
the library side of ``aggregator add``, ``preview`` and ``import``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from urllib.parse import urlsplit

from aggregator.config import Config, FeedConfig
from aggregator.discover import FeedLink, candidate_urls, feed_links
from aggregator.errors import AggregatorError, ConfigError, FetchError, ParseError
from aggregator.fetch import fetch_many
from aggregator.guess import guess_date_selector, guess_item_selector
from aggregator.normalise import canonical_url, plan_update
from aggregator.parse import parse_feed
from aggregator.parse_html import Extraction, extract, followed
from aggregator.pipeline import fetch_options
from aggregator.types import EntryPlan, FeedState, FetchResult, HtmlSource, ParsedFeed, Selector

# A host with a dot and then a path or nothing: what a browser's address bar takes as https.
# Labels of letters, digits and hyphens, in any script: ærø.dk is a Danish host (IDNA).
_LABEL = r"(?:[^\W_]|-)+"
_BARE_HOST = re.compile(rf"{_LABEL}(?:\.{_LABEL})+(?::[0-9]+)?(?:[/?#]\S*)?")


def as_url(text: str) -> str:
    """The URL an admin means: ``kommune.dk/nyheder`` as ``https://kommune.dk/nyheder``, as a
    browser's address bar takes it; anything else that is not http(s) is refused here, with
    the reason, before a fetch could call it something else."""
    text = text.strip()
    if text.lower().startswith(("http://", "https://")):
        return _with_host(text)
    if _BARE_HOST.fullmatch(text):
        return f"https://{text}"
    raise AggregatorError(f"{text!r} is not a web address: give it as https://…")


def _with_host(url: str) -> str:
    """``url``, refused with the reason when it names no host a fetch could go to."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises for a port that is no number or out of range)
    except ValueError as exc:
        why = "an IPv6 address in it lacks its ]" if "IPv6" in str(exc) else str(exc)
        raise ConfigError(f"{url!r} is not a web address: {why}") from None
    if not parts.hostname:
        raise ConfigError(
            f"{url!r} is not a web address: it names no host, e.g. https://kommune.dk/"
        )
    if any(character.isspace() for character in parts.netloc):  # feeds.yaml refuses it too
        raise ConfigError(f"{url!r} is not a web address: a space in its host name")
    return url


def fetch_once(config: Config, url: str, html: HtmlSource | None = None) -> FetchResult:
    """One fetch with the poll's own client, limits, robots.txt and User-Agent."""
    state = FeedState(url=url, html=html)

    async def run() -> list[FetchResult]:
        options = replace(fetch_options(config), concurrency=1)
        return [r async for r in fetch_many([state], options, lambda: datetime.now(UTC))]

    return asyncio.run(run())[0]


@dataclass(frozen=True, slots=True)
class Preview:
    """What a poll of a source would store, and what its selectors matched."""

    url: str
    kind: str  # the feed's version (rss20, atom10, …) or html
    title: str | None
    entries: tuple[EntryPlan, ...]
    extraction: Extraction | None = None  # HTML sources: the match counts
    problem: str | None = None  # why a poll would put the source in an error state


def preview(config: Config, url: str, html: HtmlSource | None = None) -> Preview:
    """Fetch a source once and show what it gives; nothing is written."""
    if html is not None:
        html = replace(html, timezone=config.site.timezone)
    fetched = fetch_once(config, url, html)
    if fetched.error or fetched.content is None:
        raise FetchError(f"{url}: {fetched.error or 'no content'}")
    now = datetime.now(UTC)
    base = fetched.final_url or url
    if html is None:
        parsed = parse_feed(fetched.content, base, fetched.headers)
        plan = plan_update(fetched, parsed, now, zone=config.site.timezone)
        return Preview(url, parsed.version, parsed.title, plan.entries)
    found = extract(fetched.content, base, fetched.headers, html)
    problem = found.problem()
    entries = followed(found.entries, fetched.pages, html) if html.follow else found.entries
    parsed = ParsedFeed(base, found.title, base, found.language, "html", entries)
    plan = plan_update(fetched, parsed, now, zone=config.site.timezone)
    return Preview(url, "html", found.title, plan.entries, found, problem)


@dataclass(frozen=True, slots=True)
class Proposal:
    """What ``aggregator add`` found at a URL."""

    url: str
    how: str
    preview: Preview
    html: HtmlSource | None = None
    others: tuple[FeedLink, ...] = field(default_factory=tuple)

    def entry(self, name: str, tags: Sequence[str]) -> dict[str, object]:
        entry: dict[str, object] = {"name": name, "url": self.url}
        if self.html is not None:
            entry["type"] = "html"
        if tags:
            entry["tags"] = list(tags)
        if self.html is not None:
            entry["items"] = self.html.items.query
            if fields := {name: selector.query for name, selector in self.html.fields}:
                entry["fields"] = fields
        return entry


def _as_feed(config: Config, url: str) -> Preview | None:
    try:
        return preview(config, url)
    except (FetchError, ParseError):
        return None


def find_source(config: Config, url: str) -> Proposal:
    """The feed at ``url``: the URL itself, a feed its page links to, one at a common path;
    else an HTML source with a guessed item selector, and date selector where the page
    writes its dates as text."""
    fetched = fetch_once(config, url)
    if fetched.error or fetched.content is None:
        raise FetchError(f"{url}: {fetched.error or 'no content'}")
    base = fetched.final_url or url
    try:
        parsed = parse_feed(fetched.content, base, fetched.headers)
    except ParseError:
        pass
    else:
        now = datetime.now(UTC)
        entries = plan_update(fetched, parsed, now, zone=config.site.timezone).entries
        return Proposal(
            url, "the URL is a feed", Preview(url, parsed.version, parsed.title, entries)
        )
    links = feed_links(fetched.content, base, fetched.headers)
    for index, link in enumerate(links):
        if found := _as_feed(config, link.url):
            others = tuple(links[:index] + links[index + 1 :])
            return Proposal(link.url, "linked from the page", found, others=others)
    for candidate in candidate_urls(base):
        if found := _as_feed(config, candidate):
            return Proposal(candidate, "found at a common feed path", found)
    selector = guess_item_selector(fetched.content, dict(fetched.headers))
    if selector is None:
        raise AggregatorError(
            f"{url}: no feed found, and no list of posts recognised on the page; "
            "write a type: html source by hand (see README) and check it with aggregator preview"
        )
    items = Selector(selector)
    date = guess_date_selector(fetched.content, items, fetched.headers, config.site.timezone)
    source = HtmlSource(items=items, fields=(("date", date),) if date else ())
    return Proposal(
        url, "no feed found; proposing an HTML source", preview(config, url, source), source
    )


def configured_as(config: Config, url: str) -> FeedConfig | None:
    """The configured source with this URL, compared in canonical form. A fragment counts
    when both URLs have one and the configured source is a page's list (``type: html``):
    ``…/aktuelt#presse`` is not ``…/aktuelt#nyheder``, as feeds.yaml's duplicate check has it.
    """
    wanted, listed = canonical_url(url), canonical_url(url, keep_fragment=True)
    fragment = bool(urlsplit(url).fragment)
    for feed in config.feeds:
        if canonical_url(feed.url) != wanted:
            continue
        if not (fragment and feed.type == "html" and urlsplit(feed.url).fragment):
            return feed
        if canonical_url(feed.url, keep_fragment=True) == listed:
            return feed
    return None
