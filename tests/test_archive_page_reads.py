"""A month's archive page is read as the range of its own posts (Store.entries_published_
between with ``after`` and ``through``): the pages together are the month, post for post in
order, ties on the date included, and reading the first page costs what reading the last
does. The range used to end at the month's end, so every page walked all the later posts."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC

import pytest

from aggregator.export.archive import PagePlan, plan_month
from aggregator.export.view import ARCHIVE_PAGE_SIZE, Month
from aggregator.store import Store
from benchmarks.export_scale import build

FEEDS, POSTS = 80, 50  # 4,000 posts in one month, 40 pages; 13 feeds share each hour
MONTH = Month(2026, 11)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    path = tmp_path_factory.mktemp("pages") / "store.db"
    build(path, FEEDS, posts=POSTS, every=0.25)
    opened = Store.open(path, read_only=True)
    yield opened
    opened.close()


@contextmanager
def steps(conn: sqlite3.Connection) -> Iterator[Callable[[], int]]:
    """The virtual machine steps SQLite runs inside the block (a progress handler called
    every 100), which count the rows a statement visits."""
    count = [0]

    def tick() -> int:
        count[0] += 1
        return 0

    conn.set_progress_handler(tick, 100)
    try:
        yield lambda: count[0]
    finally:
        conn.set_progress_handler(None, 0)


def _month(store: Store) -> tuple[list[tuple[str, str]], list[PagePlan]]:
    start, end = MONTH.start(UTC), MONTH.next().start(UTC)
    whole = [(e.published.isoformat(), e.id) for e in store.entries_published_between(start, end)]
    return whole, plan_month(store, MONTH, UTC, None)


def test_the_pages_together_are_the_month_post_for_post(store):
    whole, plans = _month(store)
    assert len(whole) == FEEDS * POSTS
    assert len(plans) == FEEDS * POSTS // ARCHIVE_PAGE_SIZE
    assert len({published for published, _ in whole}) < len(whole) / 10  # ties on the date
    start, end = MONTH.start(UTC), MONTH.next().start(UTC)
    read = []
    for plan in plans:
        page = store.entries_published_between(start, end, after=plan.after, through=plan.through)
        assert len(page) == plan.posts == ARCHIVE_PAGE_SIZE
        read += [(e.published.isoformat(), e.id) for e in page]
    assert read == whole
    # A page is its own posts: its last is its plan's ``through`` (the month's last page has
    # none, and reads to the month's end).
    assert [p.through for p in plans[:-1]] == [p.after for p in plans[1:]]
    assert plans[-1].through is None


def test_the_first_page_is_read_without_walking_the_rest_of_the_month(store):
    _, plans = _month(store)
    start, end = MONTH.start(UTC), MONTH.next().start(UTC)
    costs = []
    for plan in (plans[0], plans[-2]):  # the first, and the last with a ``through``
        with steps(store.conn) as counted:
            store.entries_published_between(start, end, after=plan.after, through=plan.through)
        costs.append(counted())
    first, late = costs
    # Walking on to the month's end, the first page cost four times the last: 479 against 109.
    assert first < 1.5 * late, costs
