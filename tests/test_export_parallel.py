"""An export renders its selections in more than one process when it may fork
(workers.fork_map): the files are byte for byte what one process writes, a helper process
that dies leaves its work to this one, and a failure in one publishes nothing."""

from __future__ import annotations

import logging
import os
import threading
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aggregator.config import Config
from aggregator.errors import ExportError
from aggregator.export import export_feeds
from aggregator.export.select import Selector
from aggregator.export.view import Entry, Selection, Source
from aggregator.planning import plan_for
from aggregator.store import MergeRules, Store
from aggregator.types import FeedState, FetchResult
from aggregator.workers import fork_map
from tests.feedgen import Item, rss

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
FEEDS = 14


def alone(test: Callable[[], None]) -> None:
    """Run ``test`` in a child forked for it, which has one thread, as `aggregator export`
    has: a thread an earlier test in this process left running would make it render alone."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(read)
            test()
            code = 0
        except BaseException:
            os.write(write, traceback.format_exc().encode())
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read, "rb") as failure:
        text = failure.read().decode()
    _, status = os.waitpid(pid, 0)
    if status != 0:
        pytest.fail(text or f"the test's process ended with status {status}", pytrace=False)


def square(n: int) -> tuple[int, int]:
    return n * n, os.getpid()


def test_fork_map_gives_every_result_in_order_from_several_processes() -> None:
    def check() -> None:
        results = fork_map(square, list(range(9)), 3)
        assert [value for value, _ in results] == [n * n for n in range(9)]
        pids = [pid for _, pid in results]
        assert pids[0::3] == [os.getpid()] * 3  # this process does its share too
        assert len(set(pids)) == 3

    alone(check)


def test_fork_map_does_the_work_of_a_process_that_died() -> None:
    def check() -> None:
        parent, lost = os.getpid(), list[int]()

        def dies_on_five(n: int) -> tuple[int, int]:
            if n == 5 and os.getpid() != parent:
                os._exit(3)
            return square(n)

        results = fork_map(dies_on_five, list(range(8)), 2, lost=lost.append)
        assert [value for value, _ in results] == [n * n for n in range(8)]
        assert 5 in lost  # with what that child had not reported after it
        assert lost == sorted(lost)
        assert [pid for _, pid in results][5] == parent
        assert not set(lost) & {1, 3}  # reported before it died: not done twice

    alone(check)


def test_fork_map_runs_here_while_another_thread_runs() -> None:
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        pids = {pid for _, pid in fork_map(square, list(range(6)), 2)}
    finally:
        stop.set()
        other.join()
    assert pids == {os.getpid()}  # a fork would copy whatever lock that thread holds


def _documents() -> list[tuple[str, bytes]]:
    made = []
    for feed in range(FEEDS):
        items = [
            Item(
                f"Indlæg {n} fra kommune {feed}: økonomi, ældrepleje og åbne data",
                f"https://k{feed}.dk/p/{n}",
                f"<p>Kommune {feed} skriver om sag {n}. {'Æblegrød og røde søer. ' * n}</p>",
                NOW - timedelta(days=3 * n + feed),
                guid=f"k{feed}-{n}",
            )
            for n in range(12)
        ]
        document = rss(f"Kommune {feed}", "https://k.dk/", items)
        made.append((f"http://127.0.0.1:9/feed/{feed}", document))
    return made


@pytest.fixture
def filled(tmp_path: Path, make_config, monkeypatch) -> tuple[Path, list[Config]]:
    """A database of FEEDS feeds' posts, and three configurations exporting it to folders
    of their own, with a few renders enough to fork for. Each test opens the database in
    the process it runs in."""
    from aggregator.export import publish as export

    monkeypatch.setattr(export, "PARALLEL_RENDERS", 4)
    documents = _documents()
    feeds = [{"name": f"Kommune {i}", "url": url, "tags": ["kommune", f"region-{i % 3}"]}
             for i, (url, _) in enumerate(documents)]  # fmt: skip
    configs = [
        make_config(feeds, site={"output_dir": str(tmp_path / name)})
        for name in ("one", "two", "three")
    ]
    path = tmp_path / "aggregator.db"
    store = Store.open(path)
    try:
        store.sync_feeds(configs[0].feeds, NOW)
        with store.batch():
            for url, body in documents:
                fetched = FetchResult(url, NOW, final_url=url, status=200, content=body,
                                      headers={"content-type": "application/rss+xml"})  # fmt: skip
                store.apply(plan_for(fetched, FeedState(url), NOW), NOW, MergeRules())
    finally:
        store.close()
    return path, configs


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*")
            if p.is_file() and not p.name.endswith(".lock")}  # fmt: skip


def temporaries(root: Path) -> list[Path]:
    return list(root.rglob("*.tmp"))


def test_two_processes_write_what_one_writes(filled, monkeypatch, tmp_path) -> None:
    path, (one, two, _) = filled
    rendered_by, source = tmp_path / "pids", Selector.source

    def noted(self: Selector, chosen: Source) -> Selection:
        with rendered_by.open("a") as pids:
            pids.write(f"{os.getpid()}\n")
        return source(self, chosen)

    def check() -> None:
        assert threading.active_count() == 1  # else the export would not fork
        store = Store.open(path, read_only=True)
        single = export_feeds(one, store, NOW, processes=1)
        monkeypatch.setattr(Selector, "source", noted)
        double = export_feeds(two, store, NOW, processes=2)
        assert len(set(rendered_by.read_text().split())) == 2  # this process and a child
        written = tree(two.output_dir)
        assert written == tree(one.output_dir)
        assert any(path.startswith("archive/") for path in written)
        assert sum(path.startswith("source/") for path in written) == 4 * FEEDS
        assert [p.relative_to(two.output_dir) for p in double.files] == [
            p.relative_to(one.output_dir) for p in single.files
        ]
        assert double.entries == single.entries
        assert not temporaries(two.output_dir)
        # And again: the records the parts noted let the next export keep every file.
        assert export_feeds(two, store, NOW, processes=2).changed == ()

    alone(check)


def test_a_helper_process_that_dies_leaves_its_renders_to_this_one(filled, monkeypatch, caplog):
    path, (one, two, _) = filled
    source = Selector.source

    def check() -> None:
        parent = os.getpid()

        def dies(self: Selector, chosen: Source) -> Selection:
            if os.getpid() != parent and chosen.slug.endswith("3"):
                # Half its files written, as a process killed mid-render would leave them.
                folder = two.output_dir / "source" / chosen.slug
                folder.mkdir(parents=True, exist_ok=True)
                (folder / ".atom.xml.0123456789ab.tmp").write_text("x")
                os._exit(9)
            return source(self, chosen)

        store = Store.open(path, read_only=True)
        export_feeds(one, store, NOW, processes=1)
        monkeypatch.setattr(Selector, "source", dies)
        with caplog.at_level(logging.WARNING, logger="aggregator.workers"):
            export_feeds(two, store, NOW, processes=2)
        assert "helper process stopped early" in caplog.text
        assert tree(two.output_dir) == tree(one.output_dir)
        assert not temporaries(two.output_dir)

    alone(check)


def test_a_failure_in_a_helper_process_publishes_nothing(filled, monkeypatch) -> None:
    path, (_, two, _) = filled
    from aggregator.export import publish as export

    real = export.check_output  # type: ignore[attr-defined]

    def check() -> None:
        parent = os.getpid()

        def refuses(name: str, data: bytes, *, entries: Sequence[Entry]) -> None:
            if os.getpid() != parent and name.startswith("source/"):
                raise ExportError(f"{name}: refused by the test")
            real(name, data, entries=entries)

        store = Store.open(path, read_only=True)
        monkeypatch.setattr(export, "check_output", refuses)
        with pytest.raises(ExportError, match="refused by the test"):
            export_feeds(two, store, NOW, processes=2)
        root = two.output_dir
        assert [p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")] == []
        assert not temporaries(root)
        monkeypatch.setattr(export, "check_output", real)
        export_feeds(two, store, NOW, processes=2)
        assert not temporaries(root)
        assert (root / "source").is_dir()

    alone(check)


def test_a_small_export_renders_in_this_process_alone(filled, monkeypatch, tmp_path) -> None:
    path, (_, two, _) = filled
    from aggregator.export import publish as export

    monkeypatch.setattr(export, "PARALLEL_RENDERS", 200)  # the default: 14 sources are few
    rendered_by = tmp_path / "pids"
    source = Selector.source

    def noted(self: Selector, chosen: Source) -> Selection:
        with rendered_by.open("a") as pids:
            pids.write(f"{os.getpid()}\n")
        return source(self, chosen)

    def check() -> None:
        monkeypatch.setattr(Selector, "source", noted)
        export_feeds(two, Store.open(path, read_only=True), NOW, processes=2)
        assert set(rendered_by.read_text().split()) == {str(os.getpid())}
        assert len(rendered_by.read_text().split()) == FEEDS

    alone(check)
