"""Properties of the store over generated feed snapshots (hypothesis).

Snapshots go through the real parser, normaliser and SQLite store; only HTTP is left out, as
it has no part in what is stored.
"""

from __future__ import annotations

import itertools
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregator.config import FeedConfig
from aggregator.normalise import plan_update
from aggregator.parse import parse_feed
from aggregator.store import MergeRules, Store
from aggregator.types import FetchResult
from tests.feedgen import Item, rss

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
FEEDS = [
    FeedConfig(name="OS2", url="https://os2.eu/feed"),
    FeedConfig(name="KL", url="https://www.kl.dk/rss"),
    FeedConfig(name="Digst", url="https://digst.dk/rss"),
]
SITES = {"OS2": "https://os2.eu/", "KL": "https://www.kl.dk/", "Digst": "https://digst.dk/"}
VOCABULARY = [
    "kommune", "borger", "data", "platform", "drift", "sikkerhed", "strategi", "løsning",
    "aftale", "udbud", "tidsplan", "økonomi", "ældrepleje", "skole", "sundhed", "arkiv",
    "cloud", "identitet", "rettighed", "integration", "borgerservice", "høring", "lov",
    "vejledning", "netværk", "konference", "projekt", "pilot", "erfaring", "gevinst",
]  # fmt: skip
LINK_VARIANTS = [
    "https://os2.eu/blog/{slug}",
    "http://os2.eu/blog/{slug}/",
    "https://www.os2.eu/blog/{slug}?utm_source=rss",
    "https://OS2.eu/blog/{slug}#top",
]

posts = st.lists(
    st.tuples(
        st.lists(st.sampled_from(VOCABULARY), min_size=2, max_size=4, unique=True),  # title
        st.lists(st.sampled_from(VOCABULARY), min_size=25, max_size=40),  # body words
    ),
    min_size=1,
    max_size=5,
    unique_by=lambda p: tuple(p[0]),
)


@st.composite
def snapshots(draw):
    """Per feed: which posts it carries, under which link variant and title, at what hour."""
    universe = draw(posts)
    result = []
    for feed_index, feed in enumerate(FEEDS):
        chosen = draw(st.lists(st.integers(0, len(universe) - 1), unique=True, max_size=5))
        items = []
        for post in chosen:
            title_words, body_words = universe[post]
            slug = "-".join(title_words)
            variant = draw(st.sampled_from(LINK_VARIANTS)).format(slug=slug)
            prefix = draw(st.sampled_from(["", "Nyhed: "]))
            hours = draw(st.integers(0, 48))
            items.append(
                Item(
                    prefix + " ".join(title_words).capitalize(),
                    variant,
                    "<p>" + " ".join(body_words) + "</p>",
                    NOW - timedelta(days=2, hours=hours),
                    guid=f"{feed.name}-{slug}" if feed_index != 1 else None,
                )
            )
        result.append((feed, rss(feed.name, SITES[feed.name], items)))
    return result


def apply(store: Store, feed: FeedConfig, body: bytes, skip_repeated: bool = False) -> None:
    fetched = FetchResult(
        feed_url=feed.url,
        fetched_at=NOW,
        final_url=feed.url,
        status=200,
        content=body,
        headers={"content-type": "application/rss+xml"},
    )
    digests = store.entry_digests(feed.url) if skip_repeated else frozenset()
    plan = plan_update(fetched, parse_feed(body, feed.url, fetched.headers), NOW, digests)
    store.apply(plan, NOW, MergeRules())


def observable(store: Store) -> object:
    """What readers see: each post once, with its sources, shown title, link and date."""
    groups = {}
    for entry in store.recent_entries(1000):
        keys = store.db.execute(
            "SELECT feed_url, entry_key FROM entry_sources WHERE entry_id = ?", [entry.id]
        ).fetchall()
        groups[frozenset(map(tuple, keys))] = (
            entry.title, entry.link, entry.published, entry.sources[0].feed_url,
            entry.content_html,
        )  # fmt: skip
    return groups


def fresh_store(directory: str) -> Store:
    store = Store.open(Path(directory) / "a.db")
    store.sync_feeds(FEEDS, NOW)
    return store


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snapshots())
def test_polling_twice_is_polling_once(feed_snapshots):
    with tempfile.TemporaryDirectory() as directory:
        store = fresh_store(directory)
        for feed, body in feed_snapshots:
            apply(store, feed, body)
        once = observable(store)
        rows_once = store.db.execute("SELECT count(*) FROM entry_sources").fetchone()
        for feed, body in feed_snapshots:
            apply(store, feed, body)
        assert observable(store) == once
        assert store.db.execute("SELECT count(*) FROM entry_sources").fetchone() == rows_once
        store.close()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snapshots(), st.randoms(use_true_random=False))
def test_result_does_not_depend_on_poll_order(feed_snapshots, random):
    orders = list(itertools.permutations(feed_snapshots))
    results = []
    for order in [orders[0], random.choice(orders)]:
        with tempfile.TemporaryDirectory() as directory:
            store = fresh_store(directory)
            for feed, body in order:
                apply(store, feed, body)
            results.append(observable(store))
            store.close()
    assert results[0] == results[1]


def stored_rows(store: Store) -> object:
    """Every stored column but the raw digests, which only the skipping run writes."""
    entries = store.db.execute("SELECT * FROM entries ORDER BY id").fetchall()
    sources = store.db.execute(
        """SELECT feed_url, entry_key, entry_id, link, canonical_url, content_hash, published,
                  first_seen, last_seen, merge_reason, consecutive_changes
           FROM entry_sources ORDER BY feed_url, entry_key"""
    ).fetchall()
    return entries, sources


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snapshots(), snapshots())
def test_skipping_repeated_entries_stores_what_normalising_them_stores(first, second):
    results = []
    for skip in (False, True):
        with tempfile.TemporaryDirectory() as directory:
            store = fresh_store(directory)
            for snapshot in (first, second, first, first):
                for feed, body in snapshot:
                    apply(store, feed, body, skip_repeated=skip)
            results.append(stored_rows(store))
            store.close()
    assert results[0] == results[1]
