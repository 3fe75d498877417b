"""Reading pages politely, for HTML sources: robots.txt (RFC 9309, via protego), its
Crawl-delay, and the bounded fetching of new items' own pages (``follow``).

Feeds are fetched as they always were: this applies only to sources that are web pages, as a
crawler's rules are written for them. Pages go through the same client as feeds, so the same
User-Agent, address checks, redirect and body limits and per-host limits hold.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from aggregator.types import FeedState, FetchResult, HtmlSource, Page, RobotsAnswer

ROBOTS_MAX_BYTES = 512 * 1024  # RFC 9309 §2.5: at least 500 KiB must be parsed
ROBOTS_MAX_AGE = 24 * 3600.0  # RFC 9309 §2.4: a cached robots.txt is used a day at most
FetchPage = Callable[[FeedState, datetime], FetchResult]


@dataclass(frozen=True, slots=True)
class _Rules:
    parser: Any | None  # a protego.Protego; None: everything allowed
    error: str | None = None  # robots.txt unreachable: nothing allowed (RFC 9309 §2.3.1.4)


class RobotsCache:
    """robots.txt answers kept until each expires: its ``Cache-Control: max-age``, else its
    ``Expires``, else a day, and never more than a day (RFC 9309 §2.4). In memory, for one
    fetch run or for every poll of a worker process of the service; seeded with the answers
    the database keeps (``seed``), for the next run of a poll from cron. A robots.txt that
    could not be read (no answer, 5xx, 429) is not kept: asked again next poll."""

    def __init__(self) -> None:
        self._answers: dict[str, RobotsAnswer] = {}
        self._parsed: dict[str, _Rules] = {}
        self._lock = threading.Lock()

    def seed(self, answers: Iterable[RobotsAnswer]) -> None:
        """Take the kept answers that are newer than the ones in memory."""
        with self._lock:
            for answer in answers:
                known = self._answers.get(answer.origin)
                if known is None or known.fetched_at < answer.fetched_at:
                    self._answers[answer.origin] = answer
                    self._parsed.pop(answer.origin, None)

    def get(self, site: str, now: datetime) -> _Rules | None:
        with self._lock:
            answer = self._answers.get(site)
            if answer is None or answer.expires_at <= now:
                self._answers.pop(site, None)
                self._parsed.pop(site, None)
                return None
            rules = self._parsed.get(site)
        if rules is None:  # parsed on first use: a seed holds every site's answer
            rules = rules_from(answer.status, answer.body)
            with self._lock:
                self._parsed[site] = rules
        return rules

    def put(
        self, site: str, result: FetchResult, rules: _Rules, now: datetime
    ) -> RobotsAnswer | None:
        """Keep a fetched answer for as long as it allows; returns it, for the database."""
        seconds = min(max_age(result.headers, now), ROBOTS_MAX_AGE)
        if rules.error is not None or result.status is None or seconds <= 0:
            return None
        body = result.content if result.status < 400 else None
        answer = RobotsAnswer(
            origin=site,
            status=result.status,
            body=body[:ROBOTS_MAX_BYTES] if body is not None else None,
            fetched_at=now,
            expires_at=now + timedelta(seconds=seconds),
        )
        with self._lock:
            self._answers[site] = answer
            self._parsed[site] = rules
        return answer


# Set in a worker process, whose polls then share it in memory as well.
_PROCESS_CACHE: list[RobotsCache] = []


def keep_robots_between_polls() -> None:
    _PROCESS_CACHE[:] = [RobotsCache()]


def robots_cache(kept: Iterable[RobotsAnswer] = ()) -> RobotsCache:
    """The cache a fetch run uses: its process's (a worker serving poll after poll), else
    one for this run; with the answers the database keeps."""
    cache = _PROCESS_CACHE[0] if _PROCESS_CACHE else RobotsCache()
    cache.seed(kept)
    return cache


def max_age(headers: Mapping[str, str], now: datetime | None = None) -> float:
    """How long a response may be reused (RFC 9111 §4.2.1): ``no-store``/``no-cache`` not
    at all, ``max-age`` as given, else ``Expires`` less ``Date`` (an invalid ``Expires`` means
    already expired), else a day (RFC 9309 §2.4)."""
    control = headers.get("cache-control", "").lower()
    if "no-store" in control or "no-cache" in control:
        return 0.0
    found = re.search(r"max-age\s*=\s*\"?(\d+)", control)
    if found:
        return float(found.group(1))
    expires = headers.get("expires")
    if expires is None:
        return ROBOTS_MAX_AGE
    when = _http_date(expires)
    if when is None:
        return 0.0
    since = _http_date(headers.get("date", "")) or now or datetime.now(UTC)
    return max(0.0, (when - since).total_seconds())


def _http_date(text: str) -> datetime | None:
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def rules_from(status: int, body: bytes | None) -> _Rules:
    """The rules of an answer that came (RFC 9309 §2.3.1): 5xx allows nothing, another 4xx
    everything, a 2xx what its body says. 429 is the site asking us to slow down, not a
    missing robots.txt: nothing this run, and it is not kept."""
    if status >= 500 or status == 429:
        return _Rules(None, f"robots.txt answered HTTP {status}")
    if status >= 400 or body is None:
        return _Rules(None)  # no robots.txt: everything is allowed
    from protego import Protego

    from aggregator.decode import as_text

    # A BOM (IIS and Windows editors write one) would hide the first group from protego.
    return _Rules(Protego.parse(as_text(body[:ROBOTS_MAX_BYTES])))


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class Robots:
    """robots.txt rules and Crawl-delay per origin, for one fetch run, shared by its threads.

    robots.txt is read again when its lifetime in the ``cache`` ends (by ``now``, the poll's
    clock). The answers it fetched go out with the fetch results (``take_fetched``), so the
    poll's writer keeps them: a fetch thread or worker process never writes.
    """

    def __init__(
        self,
        fetch: Callable[[str], FetchResult],
        user_agent: str,
        max_delay: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        cache: RobotsCache | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._fetch = fetch  # a GET with the poll's client, limits and deadline
        self._agent = user_agent
        self._max_delay = max_delay
        self._clock = clock
        self._sleep = sleep
        self._rules: dict[str, _Rules] = {}
        self._next_at: dict[str, float] = {}
        self._lock = threading.Lock()
        self._origin_locks: dict[str, threading.Lock] = {}
        self._cache = cache if cache is not None else RobotsCache()
        self._now = now
        self._fetched: list[RobotsAnswer] = []  # for the database, handed on by take_fetched

    def _load(self, site: str) -> _Rules:
        now = self._now()
        if (kept := self._cache.get(site, now)) is not None:
            return kept
        result = self._fetch(f"{site}/robots.txt")
        if result.status is None:
            return _Rules(None, f"robots.txt could not be fetched ({result.error})")
        rules = rules_from(result.status, result.content)
        if (answer := self._cache.put(site, result, rules, now)) is not None:
            with self._lock:
                self._fetched.append(answer)
        return rules

    def take_fetched(self) -> tuple[RobotsAnswer, ...]:
        """The answers fetched since the last call, each handed out once."""
        with self._lock:
            fetched, self._fetched = tuple(self._fetched), []
        return fetched

    def _rules_for(self, url: str) -> _Rules:
        site = origin(url)
        with self._lock:
            if site in self._rules:
                return self._rules[site]
            lock = self._origin_locks.setdefault(site, threading.Lock())
        with lock:  # one thread fetches a site's robots.txt; the others wait for it
            with self._lock:
                if site in self._rules:
                    return self._rules[site]
            rules = self._load(site)
            with self._lock:
                self._rules[site] = rules
        return rules

    def refusal(self, url: str) -> str | None:
        """Why robots.txt does not let us fetch ``url``, or None when it does."""
        rules = self._rules_for(url)
        if rules.error:
            return f"{rules.error}; not fetching {url} until it answers"
        if rules.parser is not None and not rules.parser.can_fetch(url, self._agent):
            return f"robots.txt of {origin(url)} disallows {url}"
        return None

    def delay(self, url: str) -> float:
        rules = self._rules_for(url)
        asked = rules.parser.crawl_delay(self._agent) if rules.parser is not None else None
        return min(float(asked or 0.0), self._max_delay)

    def ready_at(self, url: str) -> float:
        with self._lock:
            return self._next_at.get(origin(url), 0.0)

    def wait_turn(self, url: str) -> None:
        """Space requests to one site by its Crawl-delay, across all threads of this run."""
        gap = self.delay(url)
        site = origin(url)
        with self._lock:
            now = self._clock()
            start = max(now, self._next_at.get(site, 0.0))
            self._next_at[site] = start + gap
        if start > now:
            self._sleep(start - now)


def _transient(result: FetchResult) -> bool:
    """Worth trying again next poll: the network, or the server's own trouble."""
    return result.status is None or result.status >= 500 or result.status == 429


def _elsewhere(link: str, result: FetchResult) -> str | None:
    """Where a followed page's redirects ended when that is another page than the item's (a
    login, a consent wall, the front page): its text and date are not the post's. The same
    page under another scheme, ``www.``, slash or query is the item's."""
    from aggregator.normalise import canonical_url

    asked, ended = canonical_url(link), canonical_url(result.final_url)
    if asked is None or ended is None:
        return None
    if urlsplit(asked)[:3] == urlsplit(ended)[:3]:
        return None
    return result.final_url


def fetch_html_source(
    state: FeedState,
    now: datetime,
    robots: Robots,
    fetch_page: FetchPage,
    time_budget: float,
) -> FetchResult:
    """The list page (conditional GET, as for a feed), then with ``follow`` the pages of items
    not yet stored: at most ``follow_limit`` a poll and within ``time_budget`` seconds; the
    rest wait for the next poll. The robots.txt answers fetched meanwhile (by this thread or
    another) ride on the result, to be kept."""
    result = _fetch_pages(state, now, robots, fetch_page, time_budget)
    return replace(result, robots=robots.take_fetched())


def _fetch_pages(
    state: FeedState,
    now: datetime,
    robots: Robots,
    fetch_page: FetchPage,
    time_budget: float,
) -> FetchResult:
    source = state.html
    assert source is not None
    if refusal := robots.refusal(state.fetch_url):
        return FetchResult(
            feed_url=state.url, fetched_at=now, final_url=state.fetch_url, error=refusal
        )
    robots.wait_turn(state.fetch_url)
    listing = fetch_page(state, now)
    if listing.content is None or listing.error or not source.follow:
        return listing
    return _follow(listing, state, source, now, robots, fetch_page, time_budget)


def _follow(
    listing: FetchResult,
    state: FeedState,
    source: HtmlSource,
    now: datetime,
    robots: Robots,
    fetch_page: FetchPage,
    time_budget: float,
) -> FetchResult:
    from aggregator.canonical import item_id
    from aggregator.errors import ParseError
    from aggregator.parse_html import item_links

    base = listing.final_url or listing.feed_url
    try:
        links = item_links(listing.content or b"", base, listing.headers, source)
    except ParseError:
        return listing  # the parse stage reports the selector's failure
    new = [link for link in dict.fromkeys(links) if item_id(link) not in state.known_items]
    deadline = time.monotonic() + time_budget
    pages: list[Page] = []
    fetched = 0
    incomplete = False
    slowed: dict[str, str] = {}  # site -> its 429/503: not asked again this poll
    for link in new:
        if (answered := slowed.get(origin(link))) is not None:
            pages.append(Page(link, None, error=f"not asked after {answered}", retry=True))
            continue
        starts_at = max(time.monotonic(), robots.ready_at(link))
        if fetched >= source.follow_limit or starts_at > deadline:
            incomplete = True
            break
        if refusal := robots.refusal(link):
            pages.append(Page(url=link, status=None, error=refusal))
            continue
        robots.wait_turn(link)
        page = fetch_page(FeedState(url=link), now)
        fetched += 1
        if page.error and _transient(page):
            # Stored from the list page's words now, its page read again next poll: a page
            # that keeps failing must not keep its post out for good (review 6 R9).
            incomplete = True
            error = f"HTTP {page.status}" if page.status else page.error
            pages.append(Page(link, page.status, None, page.headers, error, retry=True))
            if page.status in (429, 503):  # the site asks us to slow down
                slowed[origin(link)] = f"HTTP {page.status}"
            continue
        if (ended := _elsewhere(link, page)) is not None:
            error = f"redirected to {ended}"
            pages.append(Page(link, page.status, None, page.headers, error, redirected_to=ended))
            continue
        pages.append(Page(link, page.status, page.content, page.headers, page.error))
    return replace(listing, pages=tuple(pages), incomplete=incomplete)
