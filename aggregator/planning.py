"""fetch result -> update plan: parse and normalise one feed, with no I/O.

Its own small module because it is what the parser processes import: keeping pydantic,
httpx and the store out of them keeps each worker at about half the memory.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from dataclasses import replace
from datetime import datetime

from aggregator.errors import ParseError, TruncatedDocument
from aggregator.normalise import MAX_ENTRIES_PER_POLL, body_hash, failed_update, plan_update
from aggregator.parse import parse_feed
from aggregator.types import FeedState, FetchResult, HtmlSource, ParsedFeed, UpdatePlan

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=1024)  # a feed's is the same for every feed
def parse_fingerprint(source: HtmlSource | None, zone: str) -> str:
    """What the stored entries of a source depend on besides its bytes: its type and
    selectors and the zone of dates that name none. A change is the admin's fix (a ``date``
    selector added): the next poll reads the page again, though it is the same."""
    said = repr(source) if source is not None else f"feed {zone}"
    return hashlib.blake2b(said.encode(), digest_size=12).hexdigest()


def plan_for(
    fetched: FetchResult,
    state: FeedState,
    now: datetime,
    max_entries: int = MAX_ENTRIES_PER_POLL,
    zone: str = "Europe/Copenhagen",
) -> UpdatePlan:
    """Turn one fetch into what to write; a body that is not a feed becomes a recorded error."""
    if fetched.error:
        return plan_update(fetched, None, now)
    # Not parsed: the settings are known to be the stored ones unless they changed (a
    # feed's first poll since the column was added adopts them).
    kept = None if state.reparse else state.parse_settings
    if fetched.not_modified or fetched.content is None:
        return replace(plan_update(fetched, None, now), parse_settings=kept)
    if state.body_hash and body_hash(fetched.content) == state.body_hash:
        # The server ignored our validators but sent the same bytes: nothing to parse or write.
        unchanged = replace(fetched, not_modified=True, content=None)
        return replace(plan_update(unchanged, None, now), parse_settings=kept)
    try:
        parsed = _parse(fetched, state, max_entries)
    except TruncatedDocument as exc:
        # Cut off on its way: the stored validators still name what we have, and the next
        # poll must fetch the document whole.
        return failed_update(fetched, str(exc), keep_validators=True)
    except ParseError as exc:
        return failed_update(fetched, str(exc))
    except Exception as exc:  # a hostile document must not take the other feeds down
        # One line by default (the feed's result says it too); -v gives the traceback.
        log.error("parser failed on %s: %s: %s", fetched.feed_url, type(exc).__name__, exc)
        log.debug("parser failed on %s", fetched.feed_url, exc_info=True)
        return failed_update(fetched, f"parser failed: {type(exc).__name__}: {exc}")
    if parsed.warning:
        log.info("%s: parsed with a warning: %s", fetched.feed_url, parsed.warning)
    plan = plan_update(fetched, parsed, now, state.entry_digests, max_entries, zone)
    follows = state.html is not None and state.html.follow
    plan = replace(plan, parse_settings=state.parse_settings, reparse=state.reparse,
                   reread=state.reread_items, reread_rest=state.reparse and follows)  # fmt: skip
    if fetched.incomplete:
        # Items were left for the next poll: it must read the page again, not get a 304.
        plan = replace(plan, etag=None, last_modified=None, body_hash=None)
    return plan


def _parse(fetched: FetchResult, state: FeedState, max_entries: int) -> ParsedFeed:
    """The parser the source's type asks for; both yield the same ParsedFeed."""
    url = fetched.final_url or fetched.feed_url
    content = fetched.content or b""
    if state.html is not None:
        from aggregator.parse_html import parse_html  # only processes polling HTML sources

        return parse_html(content, url, fetched.headers, state.html, fetched.pages)
    return parse_feed(content, url, fetched.headers, max_entries=max_entries)
