"""An export renders a tag's or a source's files again only when something they show moved,
and what it leaves alone is byte for byte what a full export would write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lxml import html

from aggregator.config import Config
from aggregator.export import export_feeds
from aggregator.pipeline import poll
from aggregator.store import Store
from tests.feedgen import Item, rss
from tests.feedserver import FeedServer, Response, feed_route
from tests.schema_history import roll_back_later_migrations

WHEN = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


TOPICS = {
    "a.dk": "Kommunernes fælles cloud-strategi og hvad den betyder for borgerne i Ærø",
    "b.dk": "Nye regler for digital post fra myndighederne træder i kraft til foråret",
    "c.dk": "Statens it-projekter skal vurderes af rådet før de går i udbud næste år",
}


def post(n: int, site: str, **extra: object) -> Item:
    text = f"<p>{TOPICS[site]}, del {n}. {'Mere om sagen. ' * n}</p>"
    return Item(f"{TOPICS[site][:30]} {n}", f"https://{site}/p/{n}", text,
                WHEN - timedelta(days=n), guid=f"{site}-{n}", **extra)  # type: ignore[arg-type]  # fmt: skip


class Sources:
    """Three feeds on the loopback server whose documents a test rewrites between polls."""

    def __init__(self, server: FeedServer) -> None:
        self.server = server
        self.items = {
            "a": [post(n, "a.dk", categories=("cloud",)) for n in range(3)],
            "b": [post(n, "b.dk") for n in range(3)],
            "c": [post(n, "c.dk") for n in range(3)],
        }
        for name in self.items:
            self.publish(name)

    def publish(self, name: str) -> None:
        body = rss(name.upper(), f"https://{name}.dk/", self.items[name])
        self.server.route(f"/{name}", feed_route(body, last_modified=None))

    def fail(self, name: str) -> None:
        self.server.static(f"/{name}", Response(500, b"nede"))

    def feeds(self) -> list[dict[str, object]]:
        return [
            {"name": "A", "url": self.server.url("/a"), "tags": ["fælles", "cloud"]},
            {"name": "B", "url": self.server.url("/b"), "tags": ["fælles"]},
            {"name": "C", "url": self.server.url("/c"), "tags": ["stat"]},
        ]


def files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and not p.name.startswith(".")
    }


@pytest.fixture
def site(server, make_config, store, clock, tmp_path):
    sources = Sources(server)
    config = make_config(sources.feeds())

    def step() -> set[str]:
        """Poll everything that is due, export, and check the export against a full one."""
        clock.advance(timedelta(hours=3))
        poll(config, store, clock=clock)
        report = export_feeds(config, store, clock())
        fresh = tmp_path / f"full-{clock().timestamp():.0f}"
        full = make_config(sources.feeds(), site={"output_dir": str(fresh)})
        export_feeds(full, store, clock())
        assert files(config.output_dir) == files(fresh)
        return {p.relative_to(config.output_dir).as_posix() for p in report.changed}

    step()
    return sources, step, config, store


def test_a_new_post_renders_its_feeds_pages_and_no_others(site):
    sources, step, *_ = site
    assert not {p for p in step() if p.startswith(("tag/", "source/"))}  # nothing moved
    sources.items["a"].insert(0, post(9, "a.dk"))
    sources.publish("a")
    changed = step()
    assert "source/a/atom.xml" in changed
    assert {"tag/faelles/index.html", "tag/cloud/feed.json", "index.html"} <= changed
    assert not {p for p in changed if p.startswith(("source/b/", "source/c/", "tag/stat/"))}


def test_a_post_merged_from_another_feed_renders_both_feeds_pages(site):
    sources, step, *_ = site
    # B carries A's newest post: A's copy now says "also carried by B".
    sources.items["b"].insert(0, sources.items["a"][0])
    sources.publish("b")
    changed = step()
    assert {"source/a/index.html", "source/b/index.html"} <= changed
    assert not {p for p in changed if p.startswith(("source/c/", "tag/stat/"))}


def test_changed_categories_alone_render_the_feeds_pages(site):
    sources, step, *_ = site
    first = sources.items["a"][0]
    sources.items["a"][0] = Item(first.title, first.link, first.html, first.published,
                                 guid=first.guid, categories=("cloud", "sikkerhed"))  # fmt: skip
    sources.publish("a")
    changed = step()
    assert "source/a/feed.json" in changed
    assert "sikkerhed" in (site[2].output_dir / "source/a/feed.json").read_text(encoding="utf-8")
    assert not {p for p in changed if p.startswith(("source/b/", "source/c/"))}


def test_a_failing_source_renders_its_own_pages_and_the_front_page(site):
    sources, step, *_ = site
    sources.fail("c")
    changed = step()
    assert {"source/c/index.html", "tag/stat/index.html", "index.html"} <= changed
    assert not {p for p in changed if p.startswith(("source/a/", "source/b/", "tag/faelles/"))}


def test_an_unchanged_poll_bumps_no_counter(site):
    _, step, _, store = site
    before = store.feed_versions()
    step()
    assert store.feed_versions() == before


def listed(page: Path) -> list[str]:
    tree = html.parse(str(page))
    return [a.text_content() for a in tree.xpath('//ul[@class="sources"]/li/a[1]')]


def test_the_front_page_lists_every_source_and_a_source_page_only_its_own(site):
    _, _, config, _ = site
    out = config.output_dir
    assert listed(out / "index.html") == ["A", "B", "C"]
    assert listed(out / "source/b/index.html") == ["B"]
    assert listed(out / "tag/faelles/index.html") == ["A", "B"]
    (everyone,) = html.parse(str(out / "source/b/index.html")).xpath(
        '//a[text()="Alle kilder"]/@href'
    )
    assert everyone == "../../#h-sources"


def test_the_migration_gives_an_existing_database_its_counters(site):
    sources, _, config, store = site
    path = Path(store.db.conn.execute("PRAGMA database_list").fetchone()[2])
    roll_back_later_migrations(store.db, 11)
    store.db.execute("PRAGMA user_version = 11")
    reopened = Store.open(path)
    try:
        assert set(reopened.feed_versions().values()) == {1}
        sources.items["c"].insert(0, post(7, "c.dk"))
        sources.publish("c")
        config_c = [f for f in config.feeds if f.name == "C"]
        poll(config.model_copy(update={"feeds": config_c}), reopened)
        versions = reopened.feed_versions()
        assert versions[config_c[0].url] > 1
        assert {v for u, v in versions.items() if u != config_c[0].url} == {1}
    finally:
        reopened.close()


def test_a_changed_site_setting_renders_every_page_again(site, make_config, tmp_path, clock):
    sources, _, config, store = site
    searching = make_config(sources.feeds(), site={"search_url": "search"})
    export_feeds(searching, store, clock())
    full = make_config(sources.feeds(), site={"search_url": "search", "output_dir": "again"})
    export_feeds(full, store, clock())
    assert files(config.output_dir) == files(full.output_dir)
    assert 'action="../../search"' in (config.output_dir / "tag/stat/index.html").read_text()


def test_an_export_with_nothing_moved_runs_one_query_and_writes_nothing(site, clock):
    """One fingerprint of the settings, templates, feeds' counters and health and the month
    stands for everything: the site is not built and no page's fingerprint is read."""
    _, _, config, store = site
    out = config.output_dir
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    statements: list[str] = []
    store.db.conn.set_trace_callback(statements.append)
    try:
        report = export_feeds(config, store, clock() + timedelta(hours=1))
    finally:
        store.db.conn.set_trace_callback(None)
    assert report.changed == ()
    assert [s.split()[0] for s in statements] == ["SELECT"]
    assert "FROM feeds" in statements[0]
    manifests = {".aggregator-rendered.json", ".aggregator-sealed.json"}
    assert {p.relative_to(out).as_posix() for p in report.files} == {*files(out), *manifests}
    assert report.index == out / "index.html"
    assert report.entries == 9
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before


def _edit_a_title(sources: Sources, config: Config, store: Store, tmp_path: Path) -> str:
    entry = store.recent_entries(1)[0]  # by an older version, or by hand
    store.db.execute("UPDATE entries SET title = 'Ærø får ny løsning' WHERE id = ?", [entry.id])
    store.db.conn.commit()
    return "atom.xml"


def _fail_a_feed(sources: Sources, config: Config, store: Store, tmp_path: Path) -> str:
    store.db.execute("UPDATE feeds SET state = 'gone' WHERE url = ?", [config.feeds[1].url])
    store.db.conn.commit()
    return "source/b/index.html"


def _delete_a_file(sources: Sources, config: Config, store: Store, tmp_path: Path) -> str:
    (config.output_dir / "tag/stat/rss.xml").unlink()
    return "tag/stat/rss.xml"


def _edit_the_theme(sources: Sources, config: Config, store: Store, tmp_path: Path) -> str:
    page = tmp_path / "theme/page.html"
    text = page.read_text(encoding="utf-8")
    page.write_text(text.replace('<article class="entry"', '<article class="entry tema"'))
    return "source/c/index.html"


CHANGES = [_edit_a_title, _fail_a_feed, _delete_a_file, _edit_the_theme]


@pytest.mark.parametrize("change", CHANGES, ids=[c.__name__.strip("_") for c in CHANGES])
def test_whatever_moves_is_rendered_again(site, change, make_config, clock, tmp_path):
    """Each change the one fingerprint must see (a post edited without a poll, a feed's
    health, a file deleted by hand, a template edited in place) renders what it shows, and
    the folder is then what a full export into an empty one writes."""
    sources, _, config, store = site
    theme = tmp_path / "theme"
    theme.mkdir()
    bundled = Path(__file__).parent.parent / "aggregator/templates/page.html"
    (theme / "page.html").write_text(bundled.read_text(encoding="utf-8"), encoding="utf-8")
    config = make_config(sources.feeds(), site={"template_dir": str(theme)})
    export_feeds(config, store, clock())
    assert export_feeds(config, store, clock()).changed == ()
    expected = change(sources, config, store, tmp_path)
    report = export_feeds(config, store, clock())
    assert expected in {p.relative_to(config.output_dir).as_posix() for p in report.changed}
    full = make_config(sources.feeds(), site={"template_dir": str(theme), "output_dir": "all"})
    export_feeds(full, store, clock())
    assert files(config.output_dir) == files(full.output_dir)
    assert export_feeds(config, store, clock()).changed == ()


def test_a_new_month_seals_the_last_one(site, clock):
    """The month is part of the fingerprint: the first export in December seals November
    and begins December's archive, with no post changed."""
    _, _, config, store = site
    assert export_feeds(config, store, clock()).changed == ()
    report = export_feeds(config, store, datetime(2026, 12, 1, 0, 30, tzinfo=UTC))
    names = {p.relative_to(config.output_dir).as_posix() for p in report.changed}
    assert {"archive/2026-12/index.html", ".aggregator-sealed.json"} <= names


def _disabled(feeds: list[dict[str, object]]) -> list[dict[str, object]]:
    return [{**feeds[0], "enabled": False}, *feeds[1:]]


def _reordered(feeds: list[dict[str, object]]) -> list[dict[str, object]]:
    return feeds[::-1]


@pytest.mark.parametrize("edit", [_disabled, _reordered], ids=["disabled", "reordered"])
def test_a_feed_disabled_or_the_feeds_reordered_is_not_nothing(site, edit, make_config, clock):
    """Review 3 #3: the pages show `enabled`, and the order names same-named feeds' slugs and
    orders sources.opml; neither may pass for "nothing moved"."""
    sources, _, config, store = site
    edited = make_config(edit(sources.feeds()))
    assert edited.output_dir == config.output_dir
    assert export_feeds(edited, store, clock()).changed != ()
    full = make_config(edit(sources.feeds()), site={"output_dir": "all"})
    export_feeds(full, store, clock())
    assert files(config.output_dir) == files(full.output_dir)
