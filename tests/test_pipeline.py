"""Poll -> store through a real HTTP server and a real SQLite file."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from aggregator.pipeline import poll
from aggregator.store import Store
from aggregator.types import FeedUpdateResult
from tests.conftest import FIXTURES, fixture_text
from tests.feedserver import Response, feed_route

RSS = (FIXTURES / "rss20.xml").read_bytes()
ATOM = (FIXTURES / "atom10.xml").read_bytes()


def count(store: Store, table: str) -> int:
    return int(store.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_second_poll_is_conditional_and_stores_no_duplicates(server, make_config, store, clock):
    config = make_config([{"name": "OS2", "url": server.route("/os2", feed_route(RSS))}])
    first = poll(config, store, clock=clock)
    assert (first.new, first.updated, first.failed) == (3, 0, ())
    second = poll(config, store, clock=clock)
    assert second.results[0].not_modified
    assert (second.new, second.updated) == (0, 0)
    assert count(store, "entries") == 3
    assert "if-none-match" in server.requests_to("/os2")[1].headers


def test_server_without_validators_still_stores_no_duplicates(server, make_config, store, clock):
    url = server.static("/plain", Response(200, RSS, {"Content-Type": "application/rss+xml"}))
    config = make_config([{"name": "OS2", "url": url}])
    poll(config, store, clock=clock)
    again = poll(config, store, clock=clock)
    assert (again.new, again.updated) == (0, 0)
    assert count(store, "entries") == 3
    assert count(store, "entry_sources") == 3


def test_edited_entry_is_updated_in_place(server, make_config, store, clock):
    config = make_config([{"name": "OS2", "url": server.route("/os2", feed_route(RSS))}])
    poll(config, store, clock=clock)
    before = {e.title: e for e in store.recent_entries(10)}["OS2mo 12.0 er udkommet"]

    edited = RSS.replace(
        b"Den nye version har forbedret s\xc3\xb8gning.", b"Rettet: bedre s\xc3\xb8gning."
    )
    edited = edited.replace(b"OS2mo 12.0 er udkommet", b"OS2mo 12.0 er udkommet (opdateret)")
    server.route("/os2", feed_route(edited))
    clock.now += timedelta(hours=1)
    report = poll(config, store, clock=clock)

    assert (report.new, report.updated) == (0, 1)
    entries = store.recent_entries(10)
    assert len(entries) == 3
    after = next(e for e in entries if e.id == before.id)
    assert after.title == "OS2mo 12.0 er udkommet (opdateret)"
    assert after.summary_text == "Rettet: bedre søgning."
    assert after.published == before.published
    assert after.updated == clock.now


def test_entries_a_feed_repeats_are_not_normalised_again(server, make_config, store, clock):
    """A changed body with mostly repeated entries: only the edited one is worked on, and
    every entry is still recorded as seen."""
    config = make_config([{"name": "OS2", "url": server.route("/os2", feed_route(RSS))}])
    poll(config, store, clock=clock)
    digests = store.entry_digests(config.feeds[0].url)
    assert len(digests) == 3

    edited = RSS.replace(b"OS2mo 12.0 er udkommet", b"OS2mo 12.0 er udkommet (opdateret)")
    server.route("/os2", feed_route(edited))
    clock.now += timedelta(hours=1)
    plans = []
    original_apply = store.apply

    def recording_apply(plan, now, rules=None):
        plans.append(plan)
        return original_apply(plan, now, rules)

    store.apply = recording_apply
    report = poll(config, store, clock=clock)

    assert (report.new, report.updated) == (0, 1)
    assert len(plans[0].unchanged_keys) == 2
    assert [e.title for e in plans[0].entries] == ["OS2mo 12.0 er udkommet (opdateret)"]
    seen = store.db.execute("SELECT DISTINCT last_seen FROM entry_sources").fetchall()
    assert seen == [(clock.now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),)]
    assert len(store.entry_digests(config.feeds[0].url) - digests) == 1


def test_same_post_in_two_feeds_is_stored_once_with_both_sources(server, make_config, store, clock):
    config = make_config(
        [
            {"name": "OS2", "url": server.route("/os2", feed_route(RSS)), "priority": 1},
            {"name": "Digst", "url": server.route("/digst", feed_route(ATOM))},
        ]
    )
    report = poll(config, store, clock=clock)
    assert report.new == 4  # 3 + 2 with one cross-post
    entries = store.recent_entries(10)
    assert len(entries) == 4
    shared = next(e for e in entries if "cloud" in (e.link or ""))
    assert [s.name for s in shared.sources] == ["OS2", "Digst"]
    assert shared.title == "Fælles kommunal cloud: næste skridt"


def test_priority_decides_the_primary_source_whatever_the_order(server, make_config, store, clock):
    os2 = {"name": "OS2", "url": server.route("/os2", feed_route(RSS)), "priority": 5}
    digst = {"name": "Digst", "url": server.route("/digst", feed_route(ATOM))}
    config = make_config([os2, digst])
    poll(config, store, feeds=[config.feeds[1]], clock=clock)  # the aggregating feed first
    poll(config, store, feeds=[config.feeds[0]], clock=clock)
    shared = next(e for e in store.recent_entries(10) if "cloud" in (e.link or ""))
    assert [s.name for s in shared.sources] == ["OS2", "Digst"]
    assert shared.title == "Fælles kommunal cloud: næste skridt"


@pytest.mark.parametrize(
    ("fixture", "encoding", "content_type", "title"),
    [
        ("latin1.xml", "iso-8859-1", "application/rss+xml; charset=ISO-8859-1",
         "Æbler, øl og ål på Ærø"),
        ("cp1252.xml", "windows-1252", "application/xml", "“Sådan går det” – årets økonomi"),
        ("rss20.xml", "utf-8", "application/rss+xml", "Fælles kommunal cloud: næste skridt"),
    ],
)  # fmt: skip
def test_danish_text_survives_http_to_sqlite(
    server, make_config, store, clock, fixture, encoding, content_type, title
):
    body = fixture_text(fixture).encode(encoding)
    url = server.route("/feed", feed_route(body, content_type=content_type))
    poll(make_config([{"name": "Feed", "url": url}]), store, clock=clock)
    stored = store.db.execute("SELECT title FROM entries").fetchall()
    assert (title,) in stored


def test_failures_are_recorded_and_never_stop_the_other_feeds(server, make_config, store, clock):
    feeds = [
        {"name": "Good", "url": server.route("/good", feed_route(RSS))},
        {"name": "Missing", "url": server.url("/missing")},
        {"name": "Broken", "url": server.static("/500", Response(500, b"oops"))},
        {"name": "Slow", "url": server.static("/slow", Response(200, RSS, delay=2))},
        {"name": "Html", "url": server.static(
            "/page", Response(200, (FIXTURES / "page.html").read_bytes(),
                              {"Content-Type": "text/html; charset=utf-8"}))},
        {"name": "Refused", "url": "http://127.0.0.1:9/feed"},
    ]  # fmt: skip
    config = make_config(feeds, poll={"timeout_seconds": 0.5})
    report = poll(config, store, clock=clock)
    errors = {r.feed_url.rsplit("/", 1)[1]: r.error for r in report.results}
    assert errors["good"] is None
    assert errors["missing"] == "HTTP 404 Not Found"
    assert errors["500"] == "HTTP 500 Internal Server Error"
    assert errors["slow"] == "timed out waiting for the server"
    assert str(errors["page"]).startswith("not a feed: the server sent an HTML page, which links")
    assert errors["feed"] is not None
    assert errors["feed"].startswith("cannot connect")
    assert report.new == 3
    statuses = {s.name: s for s in store.feed_statuses()}
    assert statuses["Good"].last_error is None
    assert statuses["Good"].entry_count == 3
    assert statuses["Missing"].last_status == 404
    assert statuses["Missing"].error_count == 1
    assert statuses["Html"].last_error == errors["page"]


def test_a_feed_turning_bad_keeps_its_stored_entries(server, make_config, store, clock):
    config = make_config([{"name": "OS2", "url": server.route("/os2", feed_route(RSS))}])
    poll(config, store, clock=clock)
    originals = {e.id: e for e in store.recent_entries(10)}
    # A truncated document: feedparser recovers what it can; nothing stored is lost or changed.
    server.static("/os2", Response(200, b"<rss><channel><item><title>half"))
    poll(config, store, clock=clock)
    server.static("/os2", Response(200, b"\x00garbage"))
    report = poll(config, store, clock=clock)
    assert report.results[0].error is not None
    assert report.results[0].error.startswith("not a feed")
    kept = {e.id: e for e in store.recent_entries(10)}
    assert {i: kept[i] for i in originals} == originals


def test_hostile_entries_are_stored_inert(server, make_config, store, clock):
    url = server.route("/evil", feed_route((FIXTURES / "hostile.xml").read_bytes()))
    poll(make_config([{"name": "Evil", "url": url}]), store, clock=clock)
    entries = store.recent_entries(10)
    assert len(entries) == 2
    for entry in entries:
        blob = " ".join(filter(None, (entry.content_html, entry.link, entry.author)))
        for needle in ("<script", "onerror", "onclick", "javascript:", "<iframe", "<style"):
            assert needle not in blob
    # The title is plain text as feedparser reads it (no end tag, no reference): stored as
    # written, it is text in every output (test_export), not markup to strip.
    assert {e.title for e in entries} == {"<img src=x onerror=alert(1)>Angreb", "Fremtidig dato"}
    future = next(e for e in entries if e.title == "Fremtidig dato")
    assert future.published == clock.now


def test_every_supported_format_polls(server, make_config, store, clock):
    names = ["rss20.xml", "atom10.xml", "rss10.rdf", "rss091.xml", "atom03.xml"]
    feeds = [{"name": n, "url": server.route(f"/{n}", feed_route((FIXTURES / n).read_bytes()))}
             for n in names]  # fmt: skip
    report = poll(make_config(feeds), store, clock=clock)
    assert report.failed == ()
    assert {r.feed_url.rsplit("/", 1)[1]: r.new > 0 for r in report.results} == dict.fromkeys(
        names, True
    )


@pytest.fixture(scope="module")
def pool():
    """One pool for the module's tests, as a service keeps one; started before this module's
    servers (each job names its own database)."""
    from aggregator.pollers import serve
    from aggregator.workers import WorkerPool

    with WorkerPool(2, serve) as started:
        yield started


def _many_feeds(server, count, version=0):
    from benchmarks.corpus import feed_document

    return [{"name": f"K{i}", "url": server.static_feed(f"/k{i}", feed_document(i, version))}
            for i in range(count)]  # fmt: skip


def _stored(store: Store) -> list[tuple[object, ...]]:
    return [(e.title, e.link, e.published, e.content_html)
            for e in store.recent_entries(10_000)]  # fmt: skip


def test_worker_processes_store_what_in_process_parsing_stores(server, make_config, clock, pool):
    """The workers store exactly what polling in-process stores, on a first poll and on a
    later one (new entries in some feeds, edited titles in others, the rest 304); the same
    processes serve both polls."""
    from benchmarks.corpus import feed_document

    count = 30
    stores = {}
    for name in ("here", "workers"):
        _many_feeds(server, count)  # each run starts from the same documents
        config = make_config(_many_feeds(server, count), site={"database": f"{name}.sqlite"})
        stores[name] = Store.open(config.database_path)
    pids = [worker.pid for worker in pool.ready()]
    try:
        for version in (0, 1):
            if version:
                for i in range(0, count, 2):
                    server.static_feed(f"/k{i}", feed_document(i, version=1).replace(
                        b"<title>", b"<title>Opdateret: ", 3 if i % 4 else 0))  # fmt: skip
            here = poll(config, stores["here"], clock=clock)
            there = poll(config, stores["workers"], clock=clock, pool=pool)
            assert here.failed == there.failed == ()
            assert there.new == here.new > 0
            assert there.updated == here.updated
            assert _stored(stores["workers"]) == _stored(stores["here"])
    finally:
        for opened in stores.values():
            opened.close()
    assert [worker.pid for worker in pool.ready()] == pids  # reused, not restarted


@pytest.mark.parametrize("per_host", [1, 3])
def test_worker_processes_keep_the_per_host_limit_between_them(make_config, store, per_host, pool):
    """Two worker processes fetch; one host still never sees more than per_host_concurrency
    requests at once."""
    import threading

    from benchmarks.corpus import feed_document
    from tests.feedserver import FeedServer, Request

    lock = threading.Lock()
    active, peak = [0], [0]
    server = FeedServer().start()
    try:

        def slow(body):
            def handler(_request: Request) -> Response:
                with lock:
                    active[0] += 1
                    peak[0] = max(peak[0], active[0])
                try:
                    time.sleep(0.02)
                finally:
                    with lock:
                        active[0] -= 1
                return Response(200, body, {"Content-Type": "application/rss+xml"})

            return handler

        feeds = [{"name": f"K{i}", "url": server.route(f"/k{i}", slow(feed_document(i)))}
                 for i in range(30)]  # fmt: skip
        config = make_config(feeds, poll={"per_host_concurrency": per_host, "concurrency": 8})
        report = poll(config, store, pool=pool)
    finally:
        server.stop()
    assert report.failed == ()
    assert report.new == len(feeds) * 20
    assert 1 <= peak[0] <= per_host


def test_a_worker_killed_mid_poll_is_replaced(server, make_config, store, caplog, pool):
    """SIGKILL one worker in the middle of a poll: every feed is still polled and stored once
    (its feeds here), and the next poll has two workers again, the dead one replaced."""
    import os
    import signal

    feeds = _many_feeds(server, 60)
    config = make_config(feeds, poll={"concurrency": 2})
    before = [worker.pid for worker in pool.ready()]
    killed: list[int] = []

    def kill_one(_result) -> None:
        if not killed:
            killed.append(before[0])
            os.kill(before[0], signal.SIGKILL)

    with caplog.at_level("WARNING", logger="aggregator.pipeline"):
        report = poll(config, store, on_result=kill_one, pool=pool)
    assert "left by a stopped worker process; polling them here" in caplog.text
    assert report.failed == ()
    assert len(report.results) == len(feeds)
    assert report.new == len(feeds) * 20
    assert count(store, "entries") == len(feeds) * 20
    after = [worker.pid for worker in pool.ready()]
    assert len(after) == 2
    assert after[0] != before[0]
    assert after[1] == before[1]
    again = poll(config, store, pool=pool)
    assert again.failed == ()
    assert all(result.not_modified for result in again.results)


def test_a_one_poll_pool_forks_its_workers_itself_and_replaces_none(server, make_config, store):
    """`aggregator poll`'s pool (no respawn): the workers are this process's children, with
    no spawner; one killed mid-poll leaves its feeds here and is not replaced; the next poll
    runs in the one left, and closing the pool leaves no process behind."""
    import os
    import signal
    from pathlib import Path

    from aggregator.pollers import serve
    from aggregator.workers import WorkerPool

    def parent_of(pid: int) -> int:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])

    feeds = _many_feeds(server, 40)
    config = make_config(feeds, poll={"concurrency": 2})
    with WorkerPool(2, serve, respawn=False) as pool:
        before = [worker.pid for worker in pool.ready()]
        assert len(before) == 2
        assert [parent_of(pid) for pid in before] == [os.getpid()] * 2

        killed: list[int] = []

        def kill_one(_result) -> None:
            if not killed:
                killed.append(before[0])
                os.kill(before[0], signal.SIGKILL)

        report = poll(config, store, on_result=kill_one, pool=pool)
        assert report.failed == ()
        assert report.new == len(feeds) * 20
        assert count(store, "entries") == len(feeds) * 20
        assert [worker.pid for worker in pool.ready()] == [before[1]]
        again = poll(config, store, pool=pool)
        assert again.failed == ()
        assert len(again.results) == len(feeds)
        assert all(result.not_modified for result in again.results)
    assert not [pid for pid in before if Path(f"/proc/{pid}").exists()]


@pytest.mark.parametrize("in_workers", [False, True], ids=["here", "workers"])
def test_a_poll_commits_a_batch_of_feeds_at_a_time(server, make_config, store, clock, pool,
                                                   in_workers):  # fmt: skip
    """What a commit writes waits in memory until then: a cold poll commits every
    BATCH_FEEDS feeds at the latest, so its memory does not grow with the feeds polled."""
    from aggregator.pipeline import BATCH_FEEDS

    feeds = _many_feeds(server, 2 * BATCH_FEEDS + 10)
    stored: list[FeedUpdateResult] = []
    at_commits: list[int] = []
    updates = 0

    def traced(sql: str) -> None:
        # Counted by the updates' own savepoints: a commit after max_seconds comes inside an
        # update's apply, before its result is reported, so the results would be one short.
        nonlocal updates
        statement = sql.strip().upper()
        if statement == "RELEASE SAVEPOINT FEED_UPDATE":
            updates += 1
        elif statement == "COMMIT":
            at_commits.append(updates)

    store.db.conn.set_trace_callback(traced)
    try:
        report = poll(make_config(feeds), store, clock=clock, on_result=stored.append,
                      pool=pool if in_workers else None)  # fmt: skip
    finally:
        store.db.conn.set_trace_callback(None)
    assert report.new == len(feeds) * 20
    assert len(stored) == len(feeds)
    assert at_commits[-1] == len(feeds)
    between = [after - before for before, after in zip([0, *at_commits], at_commits, strict=False)]
    assert len([size for size in between if size]) >= 3
    assert max(between) <= BATCH_FEEDS


def test_worker_pipes_hold_a_whole_plan():
    """A worker sends ~100 KB plans; a 64 KiB pipe made it wait for every read."""
    import fcntl
    import multiprocessing

    from aggregator.workers import PIPE_BYTES, widen

    receiving, sending = multiprocessing.Pipe(duplex=False)
    try:
        widen(sending.fileno())
        assert fcntl.fcntl(sending.fileno(), fcntl.F_GETPIPE_SZ) == PIPE_BYTES
    finally:
        receiving.close()
        sending.close()


def test_a_feed_pruned_while_the_round_runs_is_dropped_and_the_others_stored(
    server, make_config, store, clock, caplog
):
    urls = [server.route(f"/{n}", feed_route(fixture_text("rss20.xml").encode())) for n in "ab"]
    config = make_config([{"name": n, "url": u} for n, u in zip("AB", urls, strict=True)])
    done: list[str] = []

    def prune_the_other(result) -> None:
        # What `aggregator prune` commits between two of the round's batches: the feed's row.
        done.append(result.feed_url)
        if len(done) == 1:
            other = next(u for u in urls if u != result.feed_url)
            store.db.execute("DELETE FROM feeds WHERE url = ?", [other])

    report = poll(config, store, clock=clock, on_result=prune_the_other)
    assert [r.feed_url for r in report.results] == done[:1]
    assert report.results[0].new > 0
    assert "no longer in the database (pruned)" in caplog.text


def test_a_poll_keeping_no_results_keeps_the_counts_and_the_failures_in_order(
    server, make_config, store, clock, pool
):
    """What the service and `poll -q` ask for: nothing per feed once it is stored, but the
    counts and each failure (in the order the feeds were given)."""
    feeds = [
        {"name": "Gone", "url": server.url("/gone")},
        {"name": "Good", "url": server.route("/good", feed_route(RSS))},
        {"name": "Atom", "url": server.route("/atom", feed_route(ATOM))},
        {"name": "Broken", "url": server.static("/500", Response(500, b"oops"))},
    ]
    config = make_config(feeds)
    seen: list[FeedUpdateResult] = []
    report = poll(config, store, clock=clock, keep_results=False, on_result=seen.append, pool=pool)
    assert report.results == ()
    assert (report.polled, len(seen)) == (4, 4)
    assert report.new == sum(r.new for r in seen) == count(store, "entries") > 0
    assert [r.feed_url for r in report.failed] == [feeds[0]["url"], feeds[3]["url"]]
    assert [r.error for r in report.failed] == [
        "HTTP 404 Not Found",
        "HTTP 500 Internal Server Error",
    ]
    assert not report.all_failed
    kept = poll(config, store, clock=clock, pool=pool)
    assert [r.feed_url for r in kept.results] == [f["url"] for f in feeds]
    assert kept.failed == tuple(r for r in kept.results if r.error)


def test_a_poll_where_every_feed_failed_says_so(server, make_config, store, clock):
    config = make_config([{"name": "Gone", "url": server.url("/gone")}])
    report = poll(config, store, clock=clock, keep_results=False)
    assert report.all_failed
    assert not poll(make_config([]), store, clock=clock).all_failed  # nothing polled


def test_a_feeds_state_is_dropped_once_its_result_is_stored(server, make_config, store, clock,
                                                           pool):  # fmt: skip
    """At 100,000 feeds the states are most of a poll's memory: none is kept by the main
    process after its feed's result is written (counted, not timed)."""
    import gc

    from aggregator.types import FeedState

    feeds = [{"name": f"K{i}", "url": server.route(f"/k{i}", feed_route(RSS))} for i in range(40)]
    alive: list[int] = []

    def count(result: object) -> None:
        gc.collect()
        alive.append(sum(isinstance(o, FeedState) for o in gc.get_objects()))

    poll(make_config(feeds), store, clock=clock, on_result=count, pool=pool)
    assert len(alive) == 40
    assert alive[-1] <= 1  # only the one being recorded, if any
