"""A month's archive in pages of ARCHIVE_PAGE_SIZE posts: every post on exactly one page,
pages chained by RFC 5005 links a feed reader can walk and by rel=prev/next a person can
follow, full pages left alone while the month goes on, and the incremental export equal to
a full one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest
from lxml import html

from aggregator.export import export_feeds
from aggregator.export.view import ARCHIVE_PAGE_SIZE
from aggregator.pipeline import poll
from tests.browser import check_page
from tests.feedgen import Item, rss
from tests.feedserver import feed_route
from tests.test_export_incremental import files

BASE = "https://planet.example.dk/"
NOVEMBER = datetime(2026, 11, 1, 6, tzinfo=UTC)
NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)


def item(n: int, when: datetime) -> Item:
    return Item(f"Indlæg nr. {n} om Ærø og åbne data", f"https://a.dk/p/{n}",
                f"<p>Tekst {n} om kommunernes data.</p>", when, guid=f"a-{n}")  # fmt: skip


class Blog:
    """One feed on the loopback server: two October posts, then ``count`` in November,
    one every three hours."""

    def __init__(self, server, count: int) -> None:
        self.server = server
        self.items = [item(-1, NOVEMBER - timedelta(days=12)),
                      item(-2, NOVEMBER - timedelta(days=20))]  # fmt: skip
        self.add(count)

    def add(self, count: int) -> None:
        start = len(self.items) - 2
        for n in range(start, start + count):
            self.items.insert(0, item(n, NOVEMBER + timedelta(hours=3 * n)))
        body = rss("A", "https://a.dk/", self.items)
        self.server.route("/a", feed_route(body, last_modified=None))


def atom(out: Path, path: str) -> feedparser.FeedParserDict:
    return feedparser.parse((out / path).read_bytes())


def rel(parsed: feedparser.FeedParserDict, name: str) -> str | None:
    return next((link.href for link in parsed.feed.links if link.rel == name), None)


def feeds(server) -> list[dict[str, object]]:
    return [{"name": "A", "url": server.url("/a"), "tags": ["data"]}]


@pytest.fixture
def month(server, make_config, store):
    blog = Blog(server, 2 * ARCHIVE_PAGE_SIZE + 30)
    config = make_config(feeds(server), site={"max_entries": 10})
    poll(config, store, clock=lambda: NOW)
    export_feeds(config, store, NOW)
    return blog, config, store


def test_a_month_is_cut_into_pages_a_feed_reader_can_walk(month):
    _, config, _ = month
    out = config.output_dir
    # From the newest feed back through every archive page, as RFC 5005 §4 walks it.
    walked, url = [], rel(atom(out, "atom.xml"), "prev-archive")
    while url:
        path = url.removeprefix(BASE)
        parsed = atom(out, path)
        assert rel(parsed, "current") == BASE + "atom.xml"
        walked.append((path, [e.id for e in parsed.entries]))
        url = rel(parsed, "prev-archive")
    assert [p for p, _ in walked] == [
        "archive/2026-11/3.atom", "archive/2026-11/2.atom", "archive/2026-11.atom",
        "archive/2026-10.atom",
    ]  # fmt: skip
    assert [len(ids) for _, ids in walked] == [30, ARCHIVE_PAGE_SIZE, ARCHIVE_PAGE_SIZE, 2]
    ids = [i for _, page in walked for i in page]
    assert len(ids) == len(set(ids)) == 2 * ARCHIVE_PAGE_SIZE + 32  # each post once
    # And forward again by next-archive.
    forward, url = [], BASE + "archive/2026-10.atom"
    while url:
        forward.append(url.removeprefix(BASE))
        url = rel(atom(out, url.removeprefix(BASE)), "next-archive")
    assert forward == [p for p, _ in reversed(walked)]
    # The oldest posts are on page 1, which shows them newest first.
    first = atom(out, "archive/2026-11.atom")
    assert first.entries[-1].title == "Indlæg nr. 0 om Ærø og åbne data"
    assert first.entries[0].title == f"Indlæg nr. {ARCHIVE_PAGE_SIZE - 1} om Ærø og åbne data"
    for fmt in ("rss", "json"):
        assert (out / f"archive/2026-11/2.{fmt}").is_file()


def test_a_person_browses_the_pages(month, browser):
    _, config, _ = month
    out = config.output_dir
    first = html.parse(str(out / "archive/2026-11/index.html")).getroot()
    assert first.findtext(".//h1") == "Arkiv: November 2026"
    pages = first.xpath("//nav[@class='pages']//a")
    assert [(a.text, a.get("href")) for a in pages] == [
        ("1", "../../archive/2026-11/"), ("2", "../../archive/2026-11/2/"),
        ("3", "../../archive/2026-11/3/"),
    ]  # fmt: skip
    assert first.xpath("//a[@rel='prev']/@href") == ["../../archive/2026-10/"]
    assert first.xpath("//a[@rel='next']/@href") == ["../../archive/2026-11/2/"]
    second = html.parse(str(out / "archive/2026-11/2/index.html")).getroot()
    assert second.findtext(".//h1") == "Arkiv: November 2026, side 2"
    assert second.xpath("//a[@rel='prev']/@href") == ["../../../archive/2026-11/"]
    assert second.xpath("//a[@rel='next']/@href") == ["../../../archive/2026-11/3/"]
    assert len(second.xpath("//article")) == ARCHIVE_PAGE_SIZE
    assert second.xpath("//link[@rel='stylesheet']/@href") == ["../../../style.css"]
    check_page(browser, (out / "archive/2026-11/2/index.html").as_uri(), "archive-page-2")


def test_full_pages_stay_as_the_month_goes_on(month, make_config, server, tmp_path):
    blog, config, store = month
    out = config.output_dir
    archive = out / "archive"
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in archive.rglob("*") if p.is_file()}
    later = NOW

    def export() -> set[str]:
        nonlocal later
        later += timedelta(hours=3)
        poll(config, store, clock=lambda: later)
        report = export_feeds(config, store, later)
        full = tmp_path / f"full-{later:%H}"
        fresh = make_config(feeds(server), site={"max_entries": 10, "output_dir": str(full)})
        export_feeds(fresh, store, later)
        assert files(out) == files(fresh.output_dir)  # incremental = full
        return {p.relative_to(out).as_posix() for p in report.changed}

    blog.add(2)  # two new posts: they go on the last page only
    changed = export()
    assert {p for p in changed if p.startswith("archive/")} == {
        f"archive/2026-11/3{suffix}" for suffix in (".atom", ".rss", ".json", "/index.html")
    }
    full_pages = [p for p in before if "/3" not in p.as_posix()]
    assert all((p.read_bytes(), p.stat().st_mtime_ns) == before[p] for p in full_pages)

    blog.add(ARCHIVE_PAGE_SIZE)  # page 3 fills, page 4 begins: page 1 lists it
    changed = export()
    archived = {p for p in changed if p.startswith("archive/")}
    assert "archive/2026-11/4.atom" in archived
    assert "archive/2026-11/index.html" in archived
    assert not {p for p in archived if p.startswith("archive/2026-11/2")}
    assert rel(atom(out, "atom.xml"), "prev-archive") == BASE + "archive/2026-11/4.atom"


def test_a_post_stored_while_the_export_reads_a_month_lands_on_a_page(
    server, make_config, store, monkeypatch
):
    """The export reads without one snapshot: a poll may commit between the month's plan and
    the reading of its pages. Each page is read by its planned range, so the new post is on
    the page whose range holds it and no planned post drops off (review 2 #1)."""
    from aggregator.export.archive import plan_month as planned

    Blog(server, 2 * ARCHIVE_PAGE_SIZE + 30)
    server.route("/b", feed_route(rss("B", "https://b.dk/", []), last_modified=None))
    both = [*feeds(server), {"name": "B", "url": server.url("/b")}]
    config = make_config(both, site={"max_entries": 10})
    poll(config, store, clock=lambda: NOW)
    early = Item("Et sent fundet indlæg fra Ølstykke", "https://b.dk/tidligt", "<p>Ø.</p>",
                 NOVEMBER + timedelta(minutes=1), guid="b-early")  # fmt: skip

    def plan_then_a_poll_commits(*args, **kwargs):
        plans = planned(*args, **kwargs)
        if args[1].key == "2026-11" and not server.requests_to("/b")[1:]:
            server.route("/b", feed_route(rss("B", "https://b.dk/", [early]), last_modified=None))
            poll(config, store, clock=lambda: NOW)  # commits a post dated onto page 1
        return plans

    monkeypatch.setattr("aggregator.export.publish.plan_month", plan_then_a_poll_commits)
    export_feeds(config, store, NOW)
    out = config.output_dir
    shown = [
        e.title
        for path in ["archive/2026-11.atom", "archive/2026-11/2.atom", "archive/2026-11/3.atom"]
        for e in atom(out, path).entries
    ]
    start, end = datetime(2026, 10, 31, 23, tzinfo=UTC), datetime(2026, 11, 30, 23, tzinfo=UTC)
    november = [e.title for e in store.entries_published_between(start, end)]  # Copenhagen
    assert early.title in november
    assert sorted(shown) == sorted(november)  # every post on exactly one page


def _walk(out: Path) -> list[tuple[str, list[str]]]:
    """Every archive page from the newest feed back by prev-archive, with its posts' titles."""
    walked, url = [], rel(atom(out, "atom.xml"), "prev-archive")
    while url:
        parsed = atom(out, url.removeprefix(BASE))
        walked.append((url.removeprefix(BASE), [e.title for e in parsed.entries]))
        url = rel(parsed, "prev-archive")
    return walked


def _archived(out: Path, report) -> set[str]:
    changed = {p.relative_to(out).as_posix() for p in report.changed}
    return {p for p in changed if p.startswith("archive/")}


def test_late_posts_for_sealed_months_reach_their_archive(month, make_config, server, tmp_path):
    """A post stored after its month was sealed is on that month's archive: the month is
    rendered once more (its full pages keep their posts and URLs), and so is the sealed
    month after it when the number of pages changed, as its first page links to the last.
    Every stored post is then on exactly one page a feed reader walks to."""
    blog, config, store = month
    out = config.output_dir
    december = datetime(2026, 12, 2, 12, tzinfo=UTC)
    poll(config, store, clock=lambda: december)
    export_feeds(config, store, december)  # October and November are sealed now
    october = {p: p.read_bytes() for p in (out / "archive").glob("2026-10.*")}
    late = [item(1000 + n, NOVEMBER - timedelta(days=5, minutes=n)) for n in range(99)]
    blog.items[:0] = late
    blog.server.route("/a", feed_route(rss("A", "https://a.dk/", blog.items), last_modified=None))
    later = december + timedelta(hours=1)
    poll(config, store, clock=lambda: later)
    report = export_feeds(config, store, later)

    walked = _walk(out)
    assert [p for p, _ in walked][-3:] == [
        "archive/2026-11.atom",
        "archive/2026-10/2.atom",
        "archive/2026-10.atom",
    ]  # November's first page links to October's new last page
    titles = [t for _, page in walked for t in page]
    assert len(titles) == len(set(titles)) == store.entry_count()  # each stored post once
    first = [e.title for e in atom(out, "archive/2026-10.atom").entries]
    assert len(first) == ARCHIVE_PAGE_SIZE  # the two posts it held, and the 98 oldest late ones
    assert {e.title for e in feedparser.parse(october[out / "archive/2026-10.atom"]).entries} < set(
        first
    )
    assert [e.title for e in atom(out, "archive/2026-10/2.atom").entries] == [
        late[0].title
    ]  # fmt: skip
    assert {p for p in _archived(out, report) if p.startswith("archive/2026-11")} == {
        f"archive/2026-11{suffix}" for suffix in (".atom", ".rss", ".json", "/index.html")
    }  # of November only its first page, for its link
    fresh = make_config(feeds(server), site={"max_entries": 10, "output_dir": str(tmp_path / "f")})
    export_feeds(fresh, store, later)
    assert files(out) == files(fresh.output_dir)  # as a full export renders it
    assert export_feeds(config, store, later).changed == ()  # nothing new: no file touched


def test_a_post_older_than_the_archive_is_walked_to(month, make_config, server, tmp_path):
    """A late post dated before the oldest month adds months before it: the sealed month
    that was the oldest is rendered once more, as its first page now links back to them."""
    blog, config, store = month
    out = config.output_dir
    december = datetime(2026, 12, 2, 12, tzinfo=UTC)
    poll(config, store, clock=lambda: december)
    export_feeds(config, store, december)  # October and November are sealed now
    blog.items.insert(0, item(7000, datetime(2026, 8, 10, 12, tzinfo=UTC)))
    blog.server.route("/a", feed_route(rss("A", "https://a.dk/", blog.items), last_modified=None))
    later = december + timedelta(hours=1)
    poll(config, store, clock=lambda: later)
    export_feeds(config, store, later)

    walked = _walk(out)
    assert [p for p, _ in walked][-3:] == [
        "archive/2026-10.atom", "archive/2026-09.atom", "archive/2026-08.atom"
    ]  # fmt: skip
    assert walked[-1][1] == [item(7000, later).title]
    fresh = make_config(feeds(server), site={"max_entries": 10, "output_dir": str(tmp_path / "f")})
    export_feeds(fresh, store, later)
    assert files(out) == files(fresh.output_dir)  # as a full export renders it
    assert export_feeds(config, store, later).changed == ()


def test_one_late_post_renders_only_its_page(month):
    """One post dated into a sealed month's page: that page's files change, no other
    archive file is touched (so caches of the rest revalidate with 304), and the next
    export with only new posts for the open month leaves the sealed month alone."""
    blog, config, store = month
    out = config.output_dir
    archive = out / "archive"
    before = {p: p.stat().st_mtime_ns for p in archive.rglob("*") if p.is_file()}
    blog.items.insert(0, item(2000, NOVEMBER - timedelta(days=15)))
    blog.server.route("/a", feed_route(rss("A", "https://a.dk/", blog.items), last_modified=None))
    later = NOW + timedelta(hours=1)
    poll(config, store, clock=lambda: later)
    report = export_feeds(config, store, later)
    page = {f"archive/2026-10{suffix}" for suffix in (".atom", ".rss", ".json", "/index.html")}
    assert _archived(out, report) == page
    assert len(atom(out, "archive/2026-10.atom").entries) == 3
    assert all(p.stat().st_mtime_ns == when for p, when in before.items()
               if p.relative_to(out).as_posix() not in page)  # fmt: skip
    blog.add(1)  # a post for November: October is not read again
    later += timedelta(hours=1)
    poll(config, store, clock=lambda: later)
    report = export_feeds(config, store, later)
    assert not {p for p in _archived(out, report) if p.startswith("archive/2026-10")}
    assert len(atom(out, "archive/2026-10.atom").entries) == 3


def test_a_late_post_for_last_month_renders_only_its_page(month, make_config, server, tmp_path,
                                                          monkeypatch):  # fmt: skip
    """Late posts land most in the month just ended: its pages keep their records while it
    is sealed, so one late post renders the page it lands on, not the whole month."""
    from aggregator.export.select import Selector

    blog, config, store = month  # November: 3 pages (100 + 100 + 30)
    december = datetime(2026, 12, 2, 12, tzinfo=UTC)
    poll(config, store, clock=lambda: december)
    export_feeds(config, store, december)  # November sealed
    rendered: list[str] = []
    original = Selector.month

    def month_page(self, plan, pages):  # the real renderer, counted
        rendered.append(plan.page.key)
        return original(self, plan, pages)

    monkeypatch.setattr(Selector, "month", month_page)
    blog.items.insert(0, item(5000, datetime(2026, 11, 30, 20, tzinfo=UTC)))  # its last page
    blog.server.route("/a", feed_route(rss("A", "https://a.dk/", blog.items), last_modified=None))
    later = december + timedelta(hours=1)
    poll(config, store, clock=lambda: later)
    export_feeds(config, store, later)
    assert [key for key in rendered if key.startswith("2026-11")] == ["2026-11/3"]
    monkeypatch.setattr(Selector, "month", original)
    fresh = make_config(feeds(server), site={"max_entries": 10, "output_dir": str(tmp_path / "f")})
    export_feeds(fresh, store, later)
    assert files(config.output_dir) == files(fresh.output_dir)  # as a full export renders it


def test_a_late_post_for_an_older_month_renders_only_its_page(month, make_config, server,
                                                              tmp_path, monkeypatch):  # fmt: skip
    """Every month keeps its pages' records in a file of its own, read only when the month
    is planned: a late post for a month before the last one renders the page it lands on,
    not the whole month (review 4 #4), and the records cost about a hundred bytes a page."""
    from aggregator.export.select import Selector

    blog, config, store = month  # November: 3 pages (100 + 100 + 30)
    january = datetime(2027, 1, 5, 12, tzinfo=UTC)
    poll(config, store, clock=lambda: january)
    export_feeds(config, store, january)  # November and December sealed
    records = config.output_dir / ".aggregator-pages-2026-11.json"
    assert len(records.read_bytes()) < 3 * 150  # three pages' records
    rendered: list[str] = []
    original = Selector.month

    def month_page(self, plan, pages):  # the real renderer, counted
        rendered.append(plan.page.key)
        return original(self, plan, pages)

    monkeypatch.setattr(Selector, "month", month_page)
    blog.items.insert(0, item(6000, datetime(2026, 11, 30, 20, tzinfo=UTC)))  # its last page
    blog.server.route("/a", feed_route(rss("A", "https://a.dk/", blog.items), last_modified=None))
    later = january + timedelta(hours=1)
    poll(config, store, clock=lambda: later)
    report = export_feeds(config, store, later)
    assert [key for key in rendered if key.startswith("2026-1")] == ["2026-11/3"]
    assert _archived(config.output_dir, report) == {
        f"archive/2026-11/3{suffix}" for suffix in (".atom", ".rss", ".json", "/index.html")
    }
    monkeypatch.setattr(Selector, "month", original)
    fresh = make_config(feeds(server), site={"max_entries": 10, "output_dir": str(tmp_path / "f")})
    export_feeds(fresh, store, later)
    assert files(config.output_dir) == files(fresh.output_dir)  # as a full export renders it
