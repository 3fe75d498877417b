"""How a digest tells its sources apart: by feed, not by the title a feed gives itself."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from aggregator.config import DigestSettings
from aggregator.digest import assemble
from aggregator.digest.build import Window, build_digest, failed_sources
from aggregator.digest.periods import week_containing
from aggregator.digest.render import render_digest
from aggregator.feed_status import FeedStatus
from aggregator.pipeline import poll
from aggregator.types import SourceRef, StoredEntry
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
        {"name": "Aarhus Kommune", "url": _feed(server, "/aarhus", "Nyheder",
                                                "https://aarhus.example.dk/", 2)},
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
        ("Nyheder (Aarhus Kommune)", "https://aarhus.example.dk/", 2),
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
    aarhus = _source("aarhus", "Aarhus Kommune", "Nyheder")
    odense = _source("odense", "Odense Kommune", "Nyheder")
    plain = _source("plain", "Nyheder", "Nyheder")  # titled as its configured name
    entries = [_entry(1, aarhus), _entry(2, odense, aarhus), _entry(3, plain)]
    digest = build_digest(entries, WEEK_47, "T", DigestSettings(group_by="tag"))
    [group] = digest.groups
    assert {i.title: (i.source, i.also_in) for i in group.items} == {
        "Indlæg 1": ("Nyheder (Aarhus Kommune)", ()),
        "Indlæg 2": ("Nyheder (Odense Kommune)", ("Nyheder (Aarhus Kommune)",)),
        "Indlæg 3": ("Nyheder", ()),
    }
    assert digest.source_count == 3
    assert "3 nye indlæg fra 3 kilder" in render_digest(digest).text


def test_failing_feeds_with_the_same_title_are_named_apart_in_the_health_section():
    def status(slug: str, name: str) -> FeedStatus:
        return FeedStatus(
            url=f"https://{slug}.example.dk/feed/", name=name, title="Nyheder", state="gone",
            last_fetched_at=None, last_success_at=None, last_status=410, last_error=None,
            error_count=3, entry_count=0,
        )  # fmt: skip

    failed = failed_sources([status("a", "Aarhus Kommune"), status("o", "Odense Kommune")],
                            WEEK_47, None)  # fmt: skip
    assert [f.name for f in failed] == ["Nyheder (Aarhus Kommune)", "Nyheder (Odense Kommune)"]
