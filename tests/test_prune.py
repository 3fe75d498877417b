"""`aggregator prune` through the installed entry point, against a real database: the posts of
a feed taken out of feeds.yaml go from every table, the search index and the outputs; what
configured feeds still carry is not touched."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from tests.feedgen import Item, rss
from tests.test_cli import run

NOW = datetime.now(UTC)
OLD = datetime(2024, 5, 2, 9, tzinfo=UTC)  # a sealed month of the archive

OS2_ONLY = [
    Item("Åbne standarder i Ærø Kommune", "https://os2.eu/aabne", "<p>Kvælstof og æøå.</p>",
         NOW - timedelta(days=3), guid="os2-1", categories=("åbenhed",),
         enclosures=(("https://os2.eu/lyd.mp3", "audio/mpeg", 1200),)),
    Item("Gammel OS2-nyhed om støttesystemer", "https://os2.eu/gammel", "<p>Fra arkivet.</p>",
         OLD, guid="os2-2"),
]  # fmt: skip
SHARED = Item("Fælles cloud for kommunerne", "https://kl.dk/cloud", "<p>Cloud og drift.</p>",
              NOW - timedelta(days=2), guid="cloud")  # fmt: skip
KL_OWN = Item("Kommunernes budgetaftale", "https://kl.dk/budget", "<p>Økonomi.</p>",
              NOW - timedelta(days=1), guid="budget")  # fmt: skip
DIGST_GONE = Item("Forældet vejledning om NemID", "https://digst.dk/nemid", "<p>Udgået.</p>",
                  OLD, guid="nemid")  # fmt: skip
DIGST_KEPT = Item("Strategi for digitalisering 2016", "https://digst.dk/strategi",
                  "<p>Stadig i feedet.</p>", OLD, guid="strategi")  # fmt: skip
DIGST_NEW = Item("Ny MitID-vejledning", "https://digst.dk/mitid", "<p>Ny.</p>",
                 NOW - timedelta(days=4), guid="mitid")  # fmt: skip


def write(tmp_path, feeds):
    data = {
        "site": {"title": "Planet", "base_url": "https://planet.example.dk/"},
        "poll": {"timeout_seconds": 2, "allow_private_hosts": ["127.0.0.1"]},
        "feeds": feeds,
    }
    (tmp_path / "feeds.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")


def counts(db):
    with sqlite3.connect(db) as conn:
        tables = ("entries", "entry_sources", "entry_sketches", "entry_categories",
                  "entry_enclosures", "search_docs", "search_index", "feeds",
                  "merge_exclusions")  # fmt: skip
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}


def rows(db, sql):
    with sqlite3.connect(db) as conn:
        return sorted(conn.execute(sql).fetchall())


def titles_found(tmp_path, query):
    result = run("search", query, "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return sorted(hit["title"] for hit in json.loads(result.stdout))


def published_text(tmp_path):
    """Every output file's text, to look for a title anywhere in the site."""
    return "\n".join(
        p.read_text("utf-8", errors="replace")
        for p in (tmp_path / "output").rglob("*")
        if p.is_file()
    )


def test_prune_removed_feed_and_old_posts(tmp_path, server):
    os2 = server.static_feed("/os2", rss("OS2", "https://os2.eu", [*OS2_ONLY, SHARED]))
    kl = server.static_feed("/kl", rss("KL", "https://kl.dk", [SHARED, KL_OWN]))
    digst = server.static_feed(
        "/digst", rss("Digst", "https://digst.dk", [DIGST_NEW, DIGST_KEPT, DIGST_GONE])
    )
    feeds = [
        {"name": "OS2", "url": os2, "priority": 1},  # its copy of the shared post is shown
        {"name": "KL", "url": kl},
        {"name": "Digst", "url": digst},
    ]
    write(tmp_path, feeds)
    assert run("poll", cwd=tmp_path).returncode == 0
    server.static_feed("/digst", rss("Digst", "https://digst.dk", [DIGST_NEW, DIGST_KEPT]))
    assert run("poll", cwd=tmp_path).returncode == 0  # the NemID post has left its feed
    db = tmp_path / "aggregator.db"
    before = counts(db)
    assert (before["entries"], before["entry_sources"], before["feeds"]) == (7, 8, 3)
    assert titles_found(tmp_path, "æøå") == ["Åbne standarder i Ærø Kommune"]
    assert "Gammel OS2-nyhed" in published_text(tmp_path)  # in the sealed 2024-05 archive

    write(tmp_path, feeds[1:])
    nothing = run("prune", cwd=tmp_path)
    assert nothing.returncode == 0, nothing.stderr
    assert [line.split() for line in nothing.stdout.splitlines()[:3]] == [
        ["No", "longer", "configured:"], ["FEED", "URL", "ENTRIES"], ["OS2", os2, "3", "entries"],
    ]  # fmt: skip
    assert "Would delete 2 entries and 1 feed." in nothing.stdout
    assert "1 entry also found in a configured feed is kept without the removed copies." in (
        nothing.stdout
    )
    assert "Nothing was deleted: run again with --yes to delete." in nothing.stdout
    assert counts(db) == before  # a dry run writes nothing

    kept_rows = rows(
        db,
        "SELECT id, title, published, first_seen FROM entries "
        "WHERE primary_feed_url != (SELECT url FROM feeds WHERE name = 'OS2')",
    )
    pruned = run("prune", "--yes", cwd=tmp_path)
    assert pruned.returncode == 0, pruned.stderr
    assert "Deleted 2 entries and 1 feed." in pruned.stdout
    assert "Exported 5 entries to" in pruned.stdout
    after = counts(db)
    assert (after["entries"], after["entry_sources"], after["feeds"]) == (5, 5, 2)
    assert (after["entry_categories"], after["entry_enclosures"]) == (0, 0)  # OS2's post had them
    assert after["search_docs"] == after["search_index"] == 5
    assert after["entry_sketches"] < before["entry_sketches"]
    with sqlite3.connect(db) as conn:
        sketched = {i for (i,) in conn.execute("SELECT DISTINCT entry_row FROM entry_sketches")}
        stored = {i for (i,) in conn.execute("SELECT rowid FROM entries")}
        assert sketched <= stored
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        # The shared post stays, shown from KL now; KL is fetched in full to store its text.
        (primary,) = conn.execute(
            "SELECT f.name FROM entries e JOIN feeds f ON f.url = e.primary_feed_url "
            "WHERE e.title = ?", [SHARED.title]
        ).fetchone()  # fmt: skip
        assert primary == "KL"
        assert conn.execute("SELECT etag FROM feeds WHERE url = ?", [kl]).fetchone() == (None,)
    # Nothing of the configured feeds' own posts changed.
    assert set(kept_rows) <= set(rows(db, "SELECT id, title, published, first_seen FROM entries"))
    assert titles_found(tmp_path, "æøå") == []
    assert titles_found(tmp_path, "cloud") == [SHARED.title]
    site = published_text(tmp_path)
    assert "Åbne standarder" not in site
    assert "Gammel OS2-nyhed" not in site  # in a sealed month, rendered again
    assert SHARED.title in site
    assert KL_OWN.title in site
    feed = json.loads((tmp_path / "output" / "feed.json").read_text("utf-8"))
    assert sorted(i["title"] for i in feed["items"]) == sorted(
        [SHARED.title, KL_OWN.title, DIGST_NEW.title, DIGST_KEPT.title, DIGST_GONE.title]
    )
    status = run("status", cwd=tmp_path)
    assert "No longer configured" not in status.stdout

    # Old posts: the one that left its feed goes, the one its feed still carries stays.
    aged = run("prune", "--older-than", "365d", "--yes", cwd=tmp_path)
    assert aged.returncode == 0, aged.stderr
    assert "Deleted 1 entry (1 published before " in aged.stdout
    assert [t for (t,) in rows(db, "SELECT title FROM entries")] == sorted(
        [SHARED.title, KL_OWN.title, DIGST_NEW.title, DIGST_KEPT.title]
    )
    assert counts(db)["search_docs"] == 4
    assert DIGST_GONE.title not in published_text(tmp_path)
    assert run("poll", cwd=tmp_path).returncode == 0  # the shared post's text back from KL
    again = run("prune", "--older-than", "365d", cwd=tmp_path)
    assert again.stdout == "Nothing to prune.\n"
    assert counts(db)["entries"] == 4  # nothing came back as new


def test_prune_refuses_a_bad_age_and_needs_no_database(tmp_path, server):
    write(tmp_path, [{"name": "KL", "url": server.url("/kl")}])
    bad = run("prune", "--older-than", "soon", cwd=tmp_path)
    assert bad.returncode == 2
    assert "'soon' is not a date" in bad.stderr
    empty = run("prune", "--yes", cwd=tmp_path)
    assert empty.returncode == 0
    assert empty.stdout == f"no database yet ({tmp_path / 'aggregator.db'}): nothing to prune\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["feeds.yaml"]


def test_prune_waits_for_another_writer_and_deletes_what_it_wrote(tmp_path):
    """The plan is made again under the write lock: a poll of the removed feed that commits
    while prune waits for the lock is pruned too, not left half-deleted."""
    import threading

    from aggregator.config import FeedConfig
    from aggregator.store import Store
    from tests.test_store import FEED, NOW, entry, plan

    path = tmp_path / "a.db"
    store = Store.open(path)
    store.sync_feeds([FeedConfig(name="OS2", url=FEED)], NOW)
    store.apply(plan(entry("a", "Første")), NOW)
    poller = Store.open(path)
    reports = []

    def prune_all() -> None:
        pruning = Store.open(path)  # its own connection, as another process has
        reports.append(pruning.prune([], dry_run=False))
        pruning.close()

    with poller.batch():
        poller.apply(plan(entry("b", "Anden"), etag='"v2"'), NOW)  # holds the write lock
        pruner = threading.Thread(target=prune_all)
        pruner.start()
        pruner.join(0.5)
        assert pruner.is_alive()  # waiting its turn, not failing
    pruner.join(10)
    [report] = reports
    assert (report.entries, [f.name for f in report.feeds]) == (2, ["OS2"])
    assert store.entry_count() == 0
    assert store.feed_urls() == set()
    store.close()
    poller.close()


def test_old_posts_leave_finished_months_even_when_the_prunes_export_fails(tmp_path, server):
    digst = server.static_feed(
        "/digst", rss("Digst", "https://digst.dk", [DIGST_NEW, DIGST_KEPT, DIGST_GONE])
    )
    write(tmp_path, [{"name": "Digst", "url": digst}])
    assert run("poll", cwd=tmp_path).returncode == 0
    server.static_feed("/digst", rss("Digst", "https://digst.dk", [DIGST_NEW, DIGST_KEPT]))
    assert run("poll", cwd=tmp_path).returncode == 0  # the NemID post has left its feed
    assert run("export", cwd=tmp_path).returncode == 0  # 2024-05 is sealed, with it
    assert "Forældet vejledning om NemID" in published_text(tmp_path)
    # The export after the deletion cannot put index.html in place: a folder is in the way.
    index = tmp_path / "output" / "index.html"
    index.unlink()
    (index / "in-the-way").mkdir(parents=True)
    failed = run("prune", "--older-than", "2025-01-01", "--yes", cwd=tmp_path)
    assert failed.returncode == 1
    assert "index.html" in failed.stderr
    assert counts(tmp_path / "aggregator.db")["entries"] == 2  # the deletion was committed
    (index / "in-the-way").rmdir()
    index.rmdir()
    assert run("export", cwd=tmp_path).returncode == 0
    month = (tmp_path / "output" / "archive" / "2024-05.atom").read_text("utf-8")
    assert "Strategi for digitalisering 2016" in month
    assert "Forældet vejledning om NemID" not in published_text(tmp_path)


def test_a_kept_post_is_shown_from_the_copy_that_ranks_first(tmp_path):
    from aggregator.config import FeedConfig
    from aggregator.store import Store
    from tests.test_properties import NOW as AT
    from tests.test_properties import apply

    feeds = [FeedConfig(name="A", url="https://a.dk/feed", priority=5),
             FeedConfig(name="B", url="https://b.dk/feed"),
             FeedConfig(name="C", url="https://c.dk/feed", priority=2)]  # fmt: skip
    store = Store.open(tmp_path / "a.db")
    store.sync_feeds(feeds, AT)
    for feed in feeds:  # B is seen before C, but C ranks higher
        apply(store, feed, rss(feed.name, f"https://{feed.name.lower()}.dk/", [SHARED]))
    store.prune([feeds[1].url, feeds[2].url], dry_run=False)
    (primary,) = store.db.execute("SELECT primary_feed_url FROM entries").fetchone()
    assert primary == feeds[2].url
    store.close()


def test_a_feed_that_moved_keeps_its_history_under_its_new_url(tmp_path, server):
    """The admin follows the advice ("moved permanently to X: update feeds.yaml"): the old
    URL's posts are carried over to the new URL, also those the feed no longer lists, instead
    of being deleted with the old URL (review 1 #9)."""
    early = Item("Første indlæg om Ærø", "https://os2.eu/foerste", "<p>Æble.</p>",
                 NOW - timedelta(days=9), guid="os2-a")  # fmt: skip
    middle = Item("Andet indlæg om Østerbro", "https://os2.eu/andet", "<p>Ø.</p>",
                  NOW - timedelta(days=5), guid="os2-b")  # fmt: skip
    late = Item("Tredje indlæg om Åbenrå", "https://os2.eu/tredje", "<p>Å.</p>",
                NOW - timedelta(days=1), guid="os2-c")  # fmt: skip
    old = server.static_feed("/os2-old", rss("OS2", "https://os2.eu", [middle, early]))
    write(tmp_path, [{"name": "OS2", "url": old}])
    assert run("poll", cwd=tmp_path).returncode == 0
    new = server.static_feed("/os2-new", rss("OS2", "https://os2.eu", [late, middle]))
    server.redirect("/os2-old", new, status=301)
    for _ in range(2):  # a permanent redirect is believed once it is seen twice
        polled = run("poll", cwd=tmp_path)
        assert polled.returncode == 0, polled.stderr
    assert "update feeds.yaml" in run("status", cwd=tmp_path).stdout

    write(tmp_path, [{"name": "OS2", "url": new}])
    polled = run("poll", cwd=tmp_path)
    assert polled.returncode == 0, polled.stderr
    # At once, not at a later prune (review 6 R11): the poll's export already shows the post
    # the new address no longer lists, in its month and the merged feed.
    db = tmp_path / "aggregator.db"
    assert counts(db)["entries"] == 3
    assert rows(db, "SELECT e.title, s.feed_url FROM entries e JOIN entry_sources s "
                    "ON s.entry_id = e.id") == sorted(
        (item.title, new) for item in (early, middle, late)
    )  # fmt: skip
    assert rows(db, "SELECT url FROM feeds") == [(new,)]
    assert early.title in published_text(tmp_path)
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert titles_found(tmp_path, "ærø") == [early.title]
    dry = run("prune", cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert "Nothing to prune." in dry.stdout
    polled = run("poll", cwd=tmp_path)
    assert polled.returncode == 0, polled.stderr
    assert counts(db)["entries"] == 3  # nothing stored twice afterwards


@pytest.mark.parametrize("how", ["another-form", "same-name"])
def test_a_url_edited_keeps_the_feeds_posts_in_every_output(tmp_path, server, how):
    """Review 6 R11 residual: the moved URL written in another canonical form (a trailing
    slash), or a URL edited under the same name with no redirect at all, is the same feed."""
    early = Item("Første indlæg om Ærø", "https://os2.eu/foerste", "<p>Æble.</p>",
                 NOW - timedelta(days=9), guid="os2-a")  # fmt: skip
    late = Item("Tredje indlæg om Åbenrå", "https://os2.eu/tredje", "<p>Å.</p>",
                NOW - timedelta(days=1), guid="os2-c")  # fmt: skip
    old = server.static_feed("/os2-old", rss("OS2", "https://os2.eu", [early]))
    write(tmp_path, [{"name": "OS2", "url": old}])
    assert run("poll", cwd=tmp_path).returncode == 0
    new = server.static_feed("/os2-new/", rss("OS2", "https://os2.eu", [late]))
    if how == "another-form":
        server.redirect("/os2-old", new.removesuffix("/"), status=301)
        server.static_feed("/os2-new", rss("OS2", "https://os2.eu", [late]))
        for _ in range(2):  # believed once seen twice
            assert run("poll", cwd=tmp_path).returncode == 0
    write(tmp_path, [{"name": "OS2", "url": new}])
    polled = run("poll", cwd=tmp_path)
    assert polled.returncode == 0, polled.stderr
    db = tmp_path / "aggregator.db"
    assert rows(db, "SELECT url FROM feeds") == [(new,)]
    assert early.title in published_text(tmp_path)
    assert "Nothing to prune." in run("prune", "--yes", cwd=tmp_path).stdout
    assert counts(db)["entries"] == 2


def test_two_feeds_that_moved_to_one_url_give_it_one_copy_of_each_post(tmp_path, server):
    """Two addresses of one blog, both redirected to its new one: the post both carried is
    carried over once, and prune does not fail on the new URL's keys (review 2 #3)."""
    early = Item("Første indlæg om Ærø", "https://os2.eu/foerste", "<p>Æ.</p>",
                 NOW - timedelta(days=9), guid="os2-a")  # fmt: skip
    late = Item("Tredje indlæg om Åbenrå", "https://os2.eu/tredje", "<p>Å.</p>",
                NOW - timedelta(days=1), guid="os2-c")  # fmt: skip
    a = server.static_feed("/a", rss("OS2", "https://os2.eu", [early]))
    b = server.static_feed("/b", rss("OS2 www", "https://os2.eu", [early]))
    write(tmp_path, [{"name": "OS2", "url": a}, {"name": "OS2 www", "url": b}])
    assert run("poll", cwd=tmp_path).returncode == 0
    new = server.static_feed("/new", rss("OS2", "https://os2.eu", [late]))
    server.redirect("/a", new, status=301)
    server.redirect("/b", new, status=301)
    for _ in range(2):
        assert run("poll", cwd=tmp_path).returncode == 0
    write(tmp_path, [{"name": "OS2", "url": new}])
    assert run("poll", cwd=tmp_path).returncode == 0  # both carried over as it is configured
    pruned = run("prune", "--yes", cwd=tmp_path)
    assert pruned.returncode == 0, pruned.stderr
    assert "Nothing to prune." in pruned.stdout
    db = tmp_path / "aggregator.db"
    copies = "SELECT e.title, s.feed_url FROM entries e JOIN entry_sources s ON s.entry_id = e.id"
    assert rows(db, copies) == sorted([(early.title, new), (late.title, new)])
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
