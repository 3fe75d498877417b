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
from aggregator.store import SCHEMA_VERSION, Store
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
    """Migrations 15 and 16 on a database of version 14: from then on a back-dating merge
    is found by the log."""
    path = tmp_path / "aggregator.db"
    older = Store.open(path)
    roll_back_later_migrations(older.db, 14)
    older.db.execute("PRAGMA user_version = 14")
    older.close()
    store = Store.open(path)
    try:
        assert store.schema_version == SCHEMA_VERSION
        blogs = Blogs(server, make_config, store, tmp_path)
        december = blogs.a[3]
        blogs.b.append(Item(december.title, december.link, december.html,
                            datetime(2026, 11, 28, 12, tzinfo=UTC), guid="b1"))  # fmt: skip
        blogs.step()
        assert december.title in blogs.on("archive/2026-11.atom")
    finally:
        store.close()


def test_a_copy_merged_into_a_sealed_post_reaches_its_archive(blogs):
    """B republishes November's post at its own address an hour later: a merge that changes
    none of the post's columns, only its copies, which its page lists (a via link)."""
    november = blogs.a[2]
    blogs.b.append(Item(november.title, "https://b.dk/genudgivet", november.html,
                        november.published + timedelta(hours=1), guid="b3"))  # fmt: skip
    archived = blogs.step()
    assert files_of("2026-11") <= archived
    assert (
        "https://b.dk/genudgivet" in (blogs.config.output_dir / "archive/2026-11.atom").read_text()
    )


def test_a_tag_given_to_a_sealed_post_reaches_its_archive(blogs):
    """The feed tags October's post without changing its text: only its category rows
    change, and its sealed page shows the tag."""
    old = blogs.a[0]
    blogs.a[0] = Item(old.title, old.link, old.html, old.published, guid=old.guid,
                      categories=("Åbne data",))  # fmt: skip
    archived = blogs.step()
    assert archived == files_of("2026-10")
    parsed = feedparser.parse((blogs.config.output_dir / "archive/2026-10.atom").read_bytes())
    assert [t.term for t in parsed.entries[0].tags] == ["Åbne data"]


def test_hostile_dates_land_in_a_month_that_exists(blogs):
    """A post dated in year 1 (a placeholder), one in 9999 and one next month: the first is
    dated when it was first seen, the others no later than now, so none makes thousands of
    empty months or a month past the current one."""
    blogs.a += [
        post("aar1", "Dateret år 1", datetime(1, 1, 1, tzinfo=UTC), "h1"),
        post("aar9999", "Dateret år 9999", datetime(9999, 12, 31, 23, tzinfo=UTC), "h2"),
        post("frem", "Dateret om en måned", DECEMBER + timedelta(days=31), "h3"),
    ]
    blogs.step()
    months = sorted(p.name for p in (blogs.config.output_dir / "archive").glob("*.atom"))
    assert months == ["2026-10.atom", "2026-11.atom", "2026-12.atom"]
    assert {"Dateret år 1", "Dateret år 9999", "Dateret om en måned"} <= set(
        blogs.on("archive/2026-12.atom")
    )


def test_equal_dates_across_a_page_boundary(blogs):
    """101 posts of one second in sealed October, then one more of the same second: pages
    are cut by (date, id), so each post is on exactly one page, before and after."""
    from aggregator.export.view import ARCHIVE_PAGE_SIZE

    same = datetime(2026, 10, 20, 8, tzinfo=UTC)

    def twin(n: int) -> Item:
        words = " ".join(f"ord{n}x{k}" for k in range(12))
        return Item(f"Tvilling nr. {n} fra Ærø", f"https://b.dk/t/{n}", f"<p>{words}</p>",
                    same, guid=f"t{n}")  # fmt: skip

    blogs.b += [twin(n) for n in range(ARCHIVE_PAGE_SIZE + 1)]
    blogs.step()
    assert (blogs.config.output_dir / "archive/2026-10/2.atom").is_file()
    blogs.b.append(twin(ARCHIVE_PAGE_SIZE + 1))
    blogs.step()  # walks every page: each post once


def test_a_feed_removed_while_its_posts_sit_in_sealed_months(blogs, server):
    """B's October post is on sealed October; B leaves feeds.yaml: every month is rendered
    once more without it, as a full export of the same database."""
    blogs.b.append(Item("B's eget oktoberindlæg", "https://b.dk/egen", "<p>Kun hos B.</p>",
                        datetime(2026, 10, 25, 9, tzinfo=UTC), guid="b-own"))  # fmt: skip
    blogs.step()
    assert "B's eget oktoberindlæg" in blogs.on("archive/2026-10.atom")
    only_a = blogs.feeds()[:1]
    config = blogs.make_config(only_a, site={"max_entries": 10})
    export_feeds(config, blogs.store, blogs.now)
    fresh = blogs.make_config(
        only_a, site={"max_entries": 10, "output_dir": str(blogs.tmp_path / "uden-b")}
    )
    export_feeds(fresh, blogs.store, blogs.now)
    assert files(config.output_dir) == files(fresh.output_dir)
    assert "B's eget oktoberindlæg" not in blogs.on("archive/2026-10.atom")
    assert sorted(walked(config.output_dir)) == sorted(e.title for e in blogs.a)
