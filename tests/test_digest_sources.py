"""How a digest tells its sources apart: by feed, not by the title a feed gives itself."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from aggregator.collation import danish_key
from aggregator.config import DigestSettings, FeedConfig
from aggregator.config_view import ConfigView, FeedRef
from aggregator.digest import assemble
from aggregator.digest.build import Window, build_digest, failed_sources
from aggregator.digest.periods import week_containing
from aggregator.digest.render import render_digest
from aggregator.feed_status import FeedStatus
from aggregator.health import feed_health
from aggregator.pipeline import poll
from aggregator.types import SourceRef, StoredEntry
from tests.digest_bylines import assert_day_alone
from tests.feedgen import Item, rss
from tests.feedserver import FeedServer

CPH = ZoneInfo("Europe/Copenhagen")
WEEK_47 = week_containing(date(2026, 11, 18), CPH)
POLLED = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def _feed(server: FeedServer, path: str, title: str, site: str, posts: int) -> str:
    items = [
        Item(f"{title} {path} {n}", f"{site}{n}/", "<p>Byrådet har besluttet noget.</p>",
             datetime(2026, 11, 18, 9 + n, 0, tzinfo=UTC))
        for n in range(posts)
    ]  # fmt: skip
    return server.static_feed(path, rss(title, site, items))


def test_two_feeds_with_the_same_title_are_two_groups_named_apart(server, make_config, store):
    feeds = [
        {"name": "Herning Kommune", "url": _feed(server, "/herning", "Nyheder",
                                                "https://herning.example.dk/", 2)},
        {"name": "Odense Kommune", "url": _feed(server, "/odense", "Nyheder",
                                                "https://odense.example.dk/", 1)},
        {"name": "KL", "url": _feed(server, "/kl", "KL – digitalisering",
                                    "https://kl.example.dk/", 1)},
    ]  # fmt: skip
    config = make_config(feeds)
    poll(config, store, clock=lambda: POLLED)
    window = Window(WEEK_47.start_utc, WEEK_47.end_utc)
    digest = assemble(config, store, config.named_digest("default"), WEEK_47, window)
    assert [(g.name, g.site_url, len(g.items)) for g in digest.groups] == [
        ("KL – digitalisering", "https://kl.example.dk/", 1),
        ("Nyheder (Herning Kommune)", "https://herning.example.dk/", 2),
        ("Nyheder (Odense Kommune)", "https://odense.example.dk/", 1),
    ]
    assert (digest.entry_count, digest.source_count) == (4, 3)
    text = render_digest(digest).text
    assert "4 nye indlæg fra 3 kilder" in text
    assert "Nyheder (Odense Kommune)\n" in text


def _entry(number: int, *sources: SourceRef) -> StoredEntry:
    at = WEEK_47.start_utc + timedelta(hours=number + 1)
    return StoredEntry(
        id=f"id-{number}", title=f"Indlæg {number}", link=None, author=None, content_html="",
        summary_text="", published=at, updated=at, first_seen=at, sources=sources,
    )  # fmt: skip


def _source(slug: str, name: str, title: str | None) -> SourceRef:
    return SourceRef(f"https://{slug}.example.dk/feed/", name, title, None, None)


def test_same_titles_are_counted_apart_when_grouped_by_tag_and_named_apart_in_also_in():
    herning = _source("herning", "Herning Kommune", "Nyheder")
    odense = _source("odense", "Odense Kommune", "Nyheder")
    plain = _source("plain", "Nyheder", "Nyheder")  # titled as its configured name
    entries = [_entry(1, herning), _entry(2, odense, herning), _entry(3, plain)]
    digest = build_digest(entries, WEEK_47, "T", DigestSettings(group_by="tag"))
    [group] = digest.groups
    assert {i.title: (i.source, i.also_in) for i in group.items} == {
        "Indlæg 1": ("Nyheder (Herning Kommune)", ()),
        "Indlæg 2": ("Nyheder (Odense Kommune)", ("Nyheder (Herning Kommune)",)),
        "Indlæg 3": ("Nyheder", ()),
    }
    assert digest.source_count == 3
    assert "3 nye indlæg fra 3 kilder" in render_digest(digest).text


def _gone(url: str, name: str, title: str | None) -> FeedStatus:
    return FeedStatus(
        url=url, name=name, title=title, state="gone", last_fetched_at=None,
        last_success_at=None, last_status=410, last_error=None, error_count=3, entry_count=0,
    )  # fmt: skip


def test_failing_feeds_with_the_same_title_are_named_apart_in_the_health_section():
    statuses = [_gone("https://a.example.dk/feed/", "Herning Kommune", "Nyheder"),
                _gone("https://o.example.dk/feed/", "Odense Kommune", "Nyheder")]  # fmt: skip
    failed = failed_sources(statuses, WEEK_47, None)
    assert [f.name for f in failed] == ["Nyheder (Herning Kommune)", "Nyheder (Odense Kommune)"]


# Danish alphabetical order: æ, ø, å after z; "aa" as å (Aarhus is Århus); case ignored.
NAMES_IN_ORDER = ["Abildgaard", "Ebeltoft", "Égebjerg", "odense", "Odense Kommune", "Zebra",
                  "ærø kommune", "Ølstykke", "Aarhus Kommune", "Århus Stift"]  # fmt: skip


def _shuffled(names: list[str]) -> list[str]:
    return random.Random(47).sample(names, len(names))


def test_danish_key_puts_ae_oe_aa_after_z_and_aarhus_with_aarhus():
    assert sorted(_shuffled(NAMES_IN_ORDER), key=danish_key) == NAMES_IN_ORDER
    assert sorted(["Ødis", "Ærø", "Ålborg", "Zealand", "Århus"], key=danish_key) == [
        "Zealand", "Ærø", "Ødis", "Ålborg", "Århus"
    ]  # fmt: skip


def test_digest_groups_and_failing_sources_are_in_danish_order():
    names = _shuffled(NAMES_IN_ORDER)
    entries = [_entry(n, _source(f"s{n}", f"Navn {n}", title)) for n, title in enumerate(names)]
    digest = build_digest(entries, WEEK_47, "T")
    assert [g.name for g in digest.groups] == NAMES_IN_ORDER
    statuses = [_gone(f"https://s{n}.example.dk/", name, None) for n, name in enumerate(names)]
    assert [f.name for f in failed_sources(statuses, WEEK_47, None)] == NAMES_IN_ORDER


def test_the_status_listing_is_in_danish_order():
    feeds = tuple(FeedRef(name, f"https://s{n}.example.dk/")
                  for n, name in enumerate(_shuffled(NAMES_IN_ORDER)))  # fmt: skip
    configured, _ = feed_health(ConfigView(Path("x.db"), "Europe/Copenhagen", 24, feeds), [])
    assert [h.status.name for h in configured] == NAMES_IN_ORDER


def test_a_post_dated_without_a_time_of_day_shows_its_day_alone(server, make_config, store):
    """A source that gives only a date ("18. november 2026") is read as midnight in the
    site's zone: the digest shows the day, not a time "00:00" nobody gave."""
    body = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Nyheder</title>'
        "<link>https://vejle.example.dk/</link><description>x</description>"
        "<item><title>Kun en dato</title><link>https://vejle.example.dk/1/</link>"
        "<pubDate>18. november 2026</pubDate><description>Tekst.</description></item>"
        "<item><title>Med klokkeslæt</title><link>https://vejle.example.dk/2/</link>"
        "<pubDate>Thu, 19 Nov 2026 08:30:00 +0000</pubDate><description>Tekst.</description>"
        "</item></channel></rss>"
    ).encode()
    config = make_config([{"name": "Vejle", "url": server.static_feed("/vejle", body)}])
    poll(config, store, clock=lambda: POLLED)
    window = Window(WEEK_47.start_utc, WEEK_47.end_utc)
    digest = assemble(config, store, config.named_digest("default"), WEEK_47, window)
    items = {i.title: i.published for i in digest.groups[0].items}
    assert items["Kun en dato"] == datetime(2026, 11, 18, tzinfo=CPH)
    assert_day_alone(digest, "00:00")


def test_prune_lists_the_removed_feeds_in_danish_order(store):
    names = _shuffled(NAMES_IN_ORDER)
    feeds = [FeedConfig(name=name, url=f"https://s{n}.example.dk/feed") for n, name in
             enumerate(names)]  # fmt: skip
    store.sync_feeds(feeds, POLLED)
    report = store.prune(keep=[], dry_run=True)
    assert [f.name for f in report.feeds] == NAMES_IN_ORDER
