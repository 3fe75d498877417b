"""A stored post whose date moves, whose text is edited or that is deleted keeps its rowid, so
no rowid range finds it: the archive log (migration 15) does. After any sequence of polls and
exports the incremental export equals a full export of the same database, and a feed reader
walking prev-archive from the newest feed finds every stored post exactly once (review 4 #1)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest

from aggregator.export import export_feeds
from aggregator.pipeline import poll
from aggregator.store import Store
from tests.feedgen import Item, rss
from tests.feedserver import feed_route
from tests.schema_history import roll_back_later_migrations
from tests.test_export_incremental import files

BASE = "https://planet.example.dk/"
DECEMBER = datetime(2026, 12, 2, 12, tzinfo=UTC)  # October and November are sealed


def post(slug: str, title: str, when: datetime, guid: str) -> Item:
    return Item(title, f"https://a.dk/{slug}", f"<p>{title}: om åbne data i Ærø.</p>", when,
                guid=guid)  # fmt: skip


class Blogs:
    """Feed A, and feed B which later carries copies of A's posts with other dates."""

    def __init__(self, server, make_config, store: Store, tmp_path: Path) -> None:
        self.server, self.make_config, self.store, self.tmp_path = (
            server, make_config, store, tmp_path,
        )  # fmt: skip
        self.a = [
            post("okt", "Oktobers indlæg om Ølstykke", datetime(2026, 10, 12, 9, tzinfo=UTC), "a1"),
            post("nov", "Novembers første indlæg", datetime(2026, 11, 3, 9, tzinfo=UTC), "a2"),
            post("nov2", "Novembers andet indlæg", datetime(2026, 11, 20, 9, tzinfo=UTC), "a3"),
            post("dec", "Decembers indlæg om Åbenrå", datetime(2026, 12, 2, 11, tzinfo=UTC), "a4"),
        ]
        self.b: list[Item] = []
        self.publish()
        self.config = make_config(self.feeds(), site={"max_entries": 10})
        self.now = DECEMBER
        self.step()

    def feeds(self) -> list[dict[str, object]]:
        return [{"name": "A", "url": self.server.url("/a")},
                {"name": "B", "url": self.server.url("/b")}]  # fmt: skip

    def publish(self) -> None:
        self.server.route("/a", feed_route(rss("A", "https://a.dk/", self.a), last_modified=None))
        self.server.route("/b", feed_route(rss("B", "https://b.dk/", self.b), last_modified=None))

    def step(self) -> set[str]:
        """Poll, export, and check against a full export and by walking the archive."""
        self.publish()
        self.now += timedelta(hours=1)
        poll(self.config, self.store, clock=lambda: self.now)
        report = export_feeds(self.config, self.store, self.now)
        out = self.config.output_dir
        fresh = self.make_config(
            self.feeds(),
            site={"max_entries": 10, "output_dir": str(self.tmp_path / f"full-{self.now:%H}")},
        )
        export_feeds(fresh, self.store, self.now)
        assert files(out) == files(fresh.output_dir)  # as a full export renders it
        titles = walked(out)
        assert len(titles) == len(set(titles)) == self.store.entry_count()  # each post once
        assert export_feeds(self.config, self.store, self.now).changed == ()  # handled once
        changed = {p.relative_to(out).as_posix() for p in report.changed}
        return {p for p in changed if p.startswith("archive/")}

    def on(self, path: str) -> list[str]:
        parsed = feedparser.parse((self.config.output_dir / path).read_bytes())
        return [e.title for e in parsed.entries]


def walked(out: Path) -> list[str]:
    """Every post on the archive pages, from the newest feed back by prev-archive."""
    titles: list[str] = []
    url = _prev(feedparser.parse((out / "atom.xml").read_bytes()))
    while url:
        parsed = feedparser.parse((out / url.removeprefix(BASE)).read_bytes())
        titles += [e.title for e in parsed.entries]
        url = _prev(parsed)
    return titles


def _prev(parsed: feedparser.FeedParserDict) -> str | None:
    return next((link.href for link in parsed.feed.links if link.rel == "prev-archive"), None)


def files_of(month: str) -> set[str]:
    return {f"archive/{month}{suffix}" for suffix in (".atom", ".rss", ".json", "/index.html")}


@pytest.fixture
def blogs(server, make_config, store, tmp_path) -> Blogs:
    return Blogs(server, make_config, store, tmp_path)


def test_a_merge_that_back_dates_a_post_into_a_sealed_month(blogs):
    """Review 4 #1: B's copy of December's post is dated 28 November; the merge keeps the
    earlier date, so the post leaves December for sealed November, with no new row."""
    december = blogs.a[3]
    blogs.b.append(Item(december.title, december.link, december.html,
                        datetime(2026, 11, 28, 12, tzinfo=UTC), guid="b1"))  # fmt: skip
    archived = blogs.step()
    assert december.title in blogs.on("archive/2026-11.atom")
    assert december.title not in blogs.on("archive/2026-12.atom")
    assert files_of("2026-11") <= archived
    assert not {p for p in archived if p.startswith("archive/2026-10")}  # October untouched


def test_a_merge_that_moves_a_post_between_sealed_months(blogs):
    """B's copy of November's first post is dated 30 October: it moves from one sealed month
    to the other, and is on October's page only."""
    november = blogs.a[1]
    blogs.b.append(Item(november.title, november.link, november.html,
                        datetime(2026, 10, 30, 12, tzinfo=UTC), guid="b2"))  # fmt: skip
    archived = blogs.step()
    assert november.title in blogs.on("archive/2026-10.atom")
    assert november.title not in blogs.on("archive/2026-11.atom")
    assert files_of("2026-10") | files_of("2026-11") <= archived


def test_an_edit_of_a_sealed_post_reaches_its_archive(blogs):
    """The feed corrects October's post: its sealed month shows the new title."""
    old = blogs.a[0]
    blogs.a[0] = Item("Oktobers indlæg om Ølstykke (rettet)", old.link,
                      "<p>Rettet tekst om Ølstykke.</p>", old.published, guid=old.guid)  # fmt: skip
    archived = blogs.step()
    assert blogs.on("archive/2026-10.atom") == ["Oktobers indlæg om Ølstykke (rettet)"]
    assert archived == files_of("2026-10")  # November is not touched
    blogs.a.append(post("dec2", "Endnu et decemberindlæg", DECEMBER, "a5"))
    assert not blogs.step() & (files_of("2026-10") | files_of("2026-11"))


def test_the_log_no_longer_reaching_back_renders_every_month_once(blogs):
    """Only the last ARCHIVE_CHANGES_KEPT changes are logged: an export further behind
    cannot tell which months moved, so it renders them all again, and is still right."""
    november = blogs.a[1]
    blogs.b.append(Item(november.title, november.link, november.html,
                        datetime(2026, 10, 30, 12, tzinfo=UTC), guid="b2"))  # fmt: skip
    blogs.publish()
    poll(blogs.config, blogs.store, clock=lambda: blogs.now)
    assert blogs.store.db.execute("SELECT count(*) FROM archive_changes").fetchone()[0] >= 1
    with blogs.store.db.conn:  # as if more changes than it keeps had come since
        blogs.store.db.execute("DELETE FROM archive_changes")
    blogs.step()
    assert november.title in blogs.on("archive/2026-10.atom")


def test_an_existing_database_and_archive_get_the_log(server, make_config, tmp_path):
    """Migration 15 on a database of version 14: from then on a back-dating merge is
    found by the log."""
    path = tmp_path / "aggregator.db"
    older = Store.open(path)
    roll_back_later_migrations(older.db, 14)
    older.db.execute("PRAGMA user_version = 14")
    older.close()
    store = Store.open(path)
    try:
        assert store.schema_version == 15
        blogs = Blogs(server, make_config, store, tmp_path)
        december = blogs.a[3]
        blogs.b.append(Item(december.title, december.link, december.html,
                            datetime(2026, 11, 28, 12, tzinfo=UTC), guid="b1"))  # fmt: skip
        blogs.step()
        assert december.title in blogs.on("archive/2026-11.atom")
    finally:
        store.close()
