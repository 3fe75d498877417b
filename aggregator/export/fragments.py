"""Each entry's text in a feed format, made once and reused in every file it is in.

An entry is in its source's feed, its tags', its month's page and maybe the newest: the
same ``<entry>``, ``<item>`` or JSON object each time. The newest ones are kept in an LRU
keyed by the whole entry value (its text, dates, copies and their sources) and the feed's
language, which is everything such a fragment depends on (its links are absolute, it
shows no local time): two entries that differ in anything are two keys, so one entry's or
one site's text never lands in another's file. Bounded, so memory does not grow with the
archive: a first export meets most entries twice, far apart (their source's feed, then
their month), and keeping them all until then would mean holding the archive.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from aggregator.export.view import Entry

# Entries kept per format: the newest feed and the tag feeds share most of theirs, and a
# service's next export meets them again. About 3-4 KB each, so some 6 MB for three formats.
FRAGMENTS = 512

Fragment = Callable[[Entry, str], str]
_CACHES: list[functools._lru_cache_wrapper[str]] = []


def fragment(render: Fragment) -> Fragment:
    """``render(entry, language)``, remembered for the newest FRAGMENTS entries."""
    cached = functools.lru_cache(maxsize=FRAGMENTS)(render)
    _CACHES.append(cached)
    return cached


def forget() -> None:
    """Drop every kept fragment (tests, and a service that wants its memory back)."""
    for cache in _CACHES:
        cache.cache_clear()
