"""An export renders its selections in more than one process when it may fork
(workers.fork_map): the files are byte for byte what one process writes, a helper process
that dies leaves its work to this one, and a failure in one publishes nothing."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aggregator.config import Config
from aggregator.errors import ExportError
from aggregator.export import export_feeds
from aggregator.export.select import Selector
from aggregator.export.view import Source
from aggregator.planning import plan_for
from aggregator.store import MergeRules, Store
from aggregator.types import FeedState, FetchResult
from aggregator.workers import fork_map
from tests.feedgen import Item, rss

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
FEEDS = 14


def square(n: int) -> tuple[int, int]:
    return n * n, os.getpid()


def test_fork_map_gives_every_result_in_order_from_several_processes() -> None:
    assert threading.active_count() == 1
    results = fork_map(square, list(range(9)), 3)
    assert [value for value, _ in results] == [n * n for n in range(9)]
    pids = [pid for _, pid in results]
    assert pids[0::3] == [os.getpid()] * 3  # this process does its share too
    assert len(set(pids)) == 3


def test_fork_map_does_the_work_of_a_process_that_died() -> None:
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
def filled(tmp_path: Path, make_config) -> Iterator[tuple[Store, list[Config]]]:
    documents = _documents()
    feeds = [{"name": f"Kommune {i}", "url": url, "tags": ["kommune", f"region-{i % 3}"]}
             for i, (url, _) in enumerate(documents)]  # fmt: skip
    configs = [
        make_config(feeds, site={"output_dir": str(tmp_path / name)})
        for name in ("one", "two", "three")
    ]
    store = Store.open(tmp_path / "aggregator.db")
    store.sync_feeds(configs[0].feeds, NOW)
    with store.batch():
        for url, body in documents:
            fetched = FetchResult(url, NOW, final_url=url, status=200, content=body,
                                  headers={"content-type": "application/rss+xml"})  # fmt: skip
            store.apply(plan_for(fetched, FeedState(url), NOW), NOW, MergeRules())
    yield store, configs
    store.close()


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*")
            if p.is_file() and not p.name.endswith(".lock")}  # fmt: skip


def temporaries(root: Path) -> list[Path]:
    return list(root.rglob("*.tmp"))


def test_two_processes_write_what_one_writes(filled) -> None:
    store, (one, two, _) = filled
    assert threading.active_count() == 1  # else the export would not fork
    single = export_feeds(one, store, NOW, processes=1)
    double = export_feeds(two, store, NOW, processes=2)
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


def test_a_helper_process_that_dies_leaves_its_renders_to_this_one(filled, monkeypatch, caplog):
    store, (one, two, _) = filled
    parent, source = os.getpid(), Selector.source

    def dies(self: Selector, chosen: Source):
        if os.getpid() != parent and chosen.slug.endswith("3"):
            # Half its files written, as a process killed mid-render would leave them.
            (two.output_dir / "source" / chosen.slug).mkdir(parents=True, exist_ok=True)
            (two.output_dir / "source" / chosen.slug / ".atom.xml.0123456789ab.tmp").write_text("x")
            os._exit(9)
        return source(self, chosen)

    export_feeds(one, store, NOW, processes=1)
    monkeypatch.setattr(Selector, "source", dies)
    with caplog.at_level(logging.WARNING, logger="aggregator.workers"):
        export_feeds(two, store, NOW, processes=2)
    assert "helper process stopped early" in caplog.text
    assert tree(two.output_dir) == tree(one.output_dir)
    assert not temporaries(two.output_dir)


def test_a_failure_in_a_helper_process_publishes_nothing(filled, monkeypatch) -> None:
    store, (_, two, _) = filled
    parent = os.getpid()
    from aggregator import export

    real = export.check_output  # type: ignore[attr-defined]

    def refuses(path: str, data: bytes, **kwargs: object) -> None:
        if os.getpid() != parent and path.startswith("source/"):
            raise ExportError(f"{path}: refused by the test")
        real(path, data, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(export, "check_output", refuses)
    with pytest.raises(ExportError, match="refused by the test"):
        export_feeds(two, store, NOW, processes=2)
    published = [p for p in two.output_dir.rglob("*") if p.is_file() and not p.name.startswith(".")]
    assert published == []
    assert not temporaries(two.output_dir)
    monkeypatch.setattr(export, "check_output", real)
    export_feeds(two, store, NOW, processes=2)
    assert not temporaries(two.output_dir)
    assert (two.output_dir / "source").is_dir()
