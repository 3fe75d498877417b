"""Poll -> store through a real HTTP server and a real SQLite file."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from aggregator.pipeline import poll
from aggregator.store import Store
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
    assert errors["page"] == "not a feed: the server sent an HTML page"
    assert errors["feed"] is not None
    assert errors["feed"].startswith("cannot connect")
    assert report.new == 3
    statuses = {s.name: s for s in store.feed_statuses()}
    assert statuses["Good"].last_error is None
    assert statuses["Good"].entry_count == 3
    assert statuses["Missing"].last_status == 404
    assert statuses["Missing"].error_count == 1
    assert statuses["Html"].last_error == "not a feed: the server sent an HTML page"


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
        blob = " ".join(filter(None, (entry.title, entry.content_html, entry.link, entry.author)))
        for needle in ("<script", "onerror", "onclick", "javascript:", "<iframe", "<style"):
            assert needle not in blob
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


@pytest.mark.parametrize("first_poll", [True, False], ids=["fetching-workers", "parser-pool"])
def test_parser_processes_store_what_in_process_parsing_stores(
    server, make_config, clock, monkeypatch, first_poll
):
    """Both ways of using worker processes store exactly what parsing in-process stores: a
    first poll of many feeds fetched and parsed in them, and a later poll whose bodies go to
    the parser pool (started at once here)."""
    from multiprocessing import active_children

    from aggregator import pipeline
    from benchmarks.corpus import feed_document

    count = pipeline.INLINE_BODIES + 20 if first_poll else 12
    feeds = [{"name": f"K{i}", "url": server.static_feed(f"/k{i}", feed_document(i))}
             for i in range(count)]  # fmt: skip
    seen = []
    for workers in (0, 2):
        config = make_config(feeds, poll={"workers": workers},
                             site={"database": f"db-{workers}.sqlite"})  # fmt: skip
        for i in range(count):  # each run starts from the same documents
            server.static_feed(f"/k{i}", feed_document(i))
        store = Store.open(config.database_path)
        try:
            if not first_poll:
                poll(config, store, clock=clock)  # in-process: too few feeds for workers
                for i in range(count):
                    server.static_feed(f"/k{i}", feed_document(i, version=1).replace(
                        b"<title>", b"<title>Opdateret: ", 3))  # fmt: skip
                monkeypatch.setattr(pipeline, "INLINE_SECONDS", 0.0)
            children: list[int] = []

            def count_children(_result, seen=children):
                seen.append(len(active_children()))

            report = poll(config, store, clock=clock, on_result=count_children)
            monkeypatch.undo()
            assert report.failed == ()
            assert (max(children) > 0) == (workers > 0)  # the processes did the parsing
            seen.append([(e.title, e.link, e.published, e.content_html)
                         for e in store.recent_entries(10_000)])  # fmt: skip
        finally:
            store.close()
    assert len(seen[0]) >= count * 20
    assert seen[0] == seen[1]


def _many_feeds(server, count):
    from benchmarks.corpus import feed_document

    return [{"name": f"K{i}", "url": server.static_feed(f"/k{i}", feed_document(i))}
            for i in range(count)]  # fmt: skip


@pytest.mark.parametrize("per_host", [1, 3])
def test_worker_processes_keep_the_per_host_limit_between_them(make_config, store, per_host):
    """A first poll of many feeds fetches in two worker processes; one host still never sees
    more than per_host_concurrency requests at once."""
    import threading

    from aggregator.pipeline import INLINE_BODIES
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
                 for i in range(INLINE_BODIES + 10)]  # fmt: skip
        config = make_config(
            feeds, poll={"per_host_concurrency": per_host, "concurrency": 8, "workers": 2}
        )
        report = poll(config, store)
    finally:
        server.stop()
    assert report.failed == ()
    assert report.new == len(feeds) * 20
    assert 1 <= peak[0] <= per_host


def test_feeds_of_a_killed_worker_process_are_polled_here(server, make_config, store, caplog):
    """SIGKILL one fetching worker process in the middle of a first poll: every feed is still
    polled and stored once."""
    import os
    import signal
    from pathlib import Path

    from aggregator.pipeline import INLINE_BODIES

    feeds = _many_feeds(server, INLINE_BODIES + 40)
    config = make_config(feeds, poll={"workers": 2, "concurrency": 2})
    killed: list[int] = []

    def workers_of(parent: int) -> list[int]:
        children = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                    children.append(int(entry.name))
        return children

    def kill_one(_result) -> None:
        if killed:
            return
        for forkserver in workers_of(os.getpid()):
            for worker in workers_of(forkserver):
                os.kill(worker, signal.SIGKILL)
                killed.append(worker)
                return

    with caplog.at_level("WARNING", logger="aggregator.pipeline"):
        report = poll(config, store, on_result=kill_one)
    assert killed
    assert "left by a stopped poller process; polling them here" in caplog.text
    assert report.failed == ()
    assert len(report.results) == len(feeds)
    assert report.new == len(feeds) * 20
    assert count(store, "entries") == len(feeds) * 20


FORKED_POLL = """
import logging, sys
from pathlib import Path
from aggregator.config import load_config
from aggregator.pipeline import poll
from aggregator.store import Store

logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
config = load_config(Path(sys.argv[1]))
store = Store.open(config.database_path)
interrupted = []

def interrupt_a_worker(_result):  # as Ctrl-C would, but sent to one worker alone
    import multiprocessing, os, signal
    if sys.argv[2:] == ["interrupt"] and not interrupted:
        interrupted.append(multiprocessing.active_children()[0].pid)
        os.kill(interrupted[0], signal.SIGINT)

if sys.argv[2:] == ["in-transaction"]:
    with store.batch():
        report = poll(config, store)
else:
    report = poll(config, store, on_result=interrupt_a_worker)
print(report.new, len(report.failed))
"""


def _forked_poll(config, *args: str, start: str = "fork") -> tuple[int, str]:
    """Poll in a fresh interpreter (this test process has the server's threads): the number
    of new entries, and the log."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", FORKED_POLL, str(config.source_path), *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    new, failed = map(int, done.stdout.split())
    assert failed == 0
    assert f"polling {len(config.feeds)} feeds in {start} worker processes" in done.stderr
    return new, done.stderr


def test_a_single_threaded_process_forks_its_workers(server, make_config, clock):
    """The one-shot command has no threads of its own, so its workers are forked (sharing its
    memory) rather than started from a forkserver, for a first poll and for later ones; what
    they store is what in-process parsing stores."""
    from aggregator.pipeline import INLINE_BODIES
    from benchmarks.corpus import feed_document

    count = INLINE_BODIES + 20
    feeds = _many_feeds(server, count)
    here = make_config(feeds, poll={"workers": 0}, site={"database": "here.sqlite"})
    # Written last, so feeds.yaml is this one when the forked poll reads it.
    forked = make_config(feeds, poll={"workers": 2}, site={"database": "forked.sqlite"})
    forked_store = Store.open(forked.database_path)
    here_store = Store.open(here.database_path)

    def stored(store: Store) -> list[tuple[object, ...]]:
        return [(e.title, e.link, e.published, e.content_html)
                for e in store.recent_entries(10_000)]  # fmt: skip

    try:
        for version in (0, 1):
            if version:  # new entries in some feeds, an edited title in others, the rest 304
                for i in range(0, count, 2):
                    server.static_feed(f"/k{i}", feed_document(i, version=1).replace(
                        b"<title>", b"<title>Opdateret: ", 3 if i % 4 else 0))  # fmt: skip
            new, log = _forked_poll(forked)
            assert "stopped" not in log  # no worker died and left its feeds to the parent
            assert new == poll(here, here_store, clock=clock).new > 0
            assert stored(forked_store) == stored(here_store)
    finally:
        forked_store.close()
        here_store.close()


def test_ctrl_c_stops_a_forked_worker(server, make_config):
    """A forked worker must not keep the parent's asyncio Ctrl-C handler, which would only
    cancel a copy of the parent's task and leave the worker polling."""
    from aggregator.pipeline import INLINE_BODIES

    config = make_config(_many_feeds(server, INLINE_BODIES + 40), poll={"workers": 2,
                         "concurrency": 2})  # fmt: skip
    _, log = _forked_poll(config, "interrupt")
    assert "a poller process stopped" in log
    assert "left by a stopped poller process; polling them here" in log


def test_no_fork_inside_a_transaction(server, make_config):
    """A fork copies SQLite's in-memory lock state: a caller's open transaction makes even a
    single-threaded process start its workers from a forkserver."""
    from aggregator.pipeline import INLINE_BODIES

    config = make_config(_many_feeds(server, INLINE_BODIES + 10), poll={"workers": 2})
    new, _ = _forked_poll(config, "in-transaction", start="forkserver")
    assert new == len(config.feeds) * 20


def test_worker_pipes_hold_a_whole_plan():
    """A worker sends ~100 KB plans; a 64 KiB pipe made it wait for every read."""
    import fcntl
    import multiprocessing

    from aggregator.pollers import PIPE_BYTES, widen

    receiving, sending = multiprocessing.Pipe(duplex=False)
    try:
        widen(sending)
        assert fcntl.fcntl(sending.fileno(), fcntl.F_GETPIPE_SZ) == PIPE_BYTES
    finally:
        receiving.close()
        sending.close()


def _states(count: int, validated: int = 0):
    from aggregator.types import FeedState

    return [FeedState(url=f"https://k{i}.dk/feed", etag='"v1"' if i < validated else None)
            for i in range(count)]  # fmt: skip


@pytest.mark.parametrize(
    ("feeds", "validated", "workers", "forking", "expected"),
    [
        (1000, 0, 2, True, True),  # a first poll
        (1000, 0, 2, False, True),
        (1000, 1000, 2, True, True),  # every feed has validators: forking is cheap enough
        (1000, 1000, 2, False, False),  # a forkserver costs more than 304s save
        (1000, 970, 2, False, False),  # 30 bodies expected: parse them here
        (1000, 950, 2, False, True),
        (40, 0, 2, True, False),  # too few feeds to share out
        (1000, 0, 0, True, False),  # workers: 0 keeps it all in one process
    ],
)
def test_when_to_poll_in_worker_processes(feeds, validated, workers, forking, expected):
    from aggregator.pipeline import INLINE_BODIES, use_workers

    assert INLINE_BODIES == 40
    assert use_workers(_states(feeds, validated), workers, forking) is expected
