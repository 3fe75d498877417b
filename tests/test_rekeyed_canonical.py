"""A post re-keyed by pairing (its id changed, the post did not) takes the canonical URL the
feed gives it now at once, not at its next edit (left over from review 9). Its copy and the
post had kept the one stored under the old key: the daily page's anchor (``/dag.html#a``)
after the page's other post left, so another feed's link to the page found nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aggregator.pipeline import poll
from aggregator.store import Store
from tests.feedgen import Item, rss
from tests.feedserver import FeedServer

WHEN = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)
PAGE = "https://blog.example/2026/11/18.html"


def _canonical_urls(store: Store, title: str) -> list[tuple[str, str, str]]:
    """The copy's key and canonical URL, and the post's canonical URL."""
    rows: list[tuple[str, str, str]] = store.db.execute(
        """SELECT s.entry_key, s.canonical_url, e.canonical_url FROM entry_sources s
           JOIN entries e ON e.id = s.entry_id WHERE e.title = ?""",
        [title],
    ).fetchall()
    return rows


def test_a_rekeyed_post_takes_its_canonical_url_now(
    server: FeedServer, make_config: Any, store: Store
) -> None:
    a = Item("Morgenmøde", f"{PAGE}#a", "<p>Vi mødtes ved havnen.</p>", WHEN, guid="dag-a")
    b = Item("Aftenmøde", f"{PAGE}#b", "<p>Vi spiste på kroen.</p>", WHEN, guid="dag-b")
    url = server.static_feed("/feed", rss("Blog", "https://blog.example/", [a, b]))
    config = make_config([{"name": "Blog", "url": url}])
    assert poll(config, store, clock=lambda: WHEN + timedelta(hours=1)).new == 2
    # The blog's ids change (a new platform), and the day's second post has left: the page
    # is no longer told apart by its fragment, and its one post is the page.
    moved = Item(a.title, a.link, a.html, WHEN, guid="https://blog.example/?p=7")
    server.static_feed("/feed", rss("Blog", "https://blog.example/", [moved]))
    result = poll(config, store, clock=lambda: WHEN + timedelta(hours=2))
    assert result.new == 0
    assert _canonical_urls(store, a.title) == [("https://blog.example/?p=7", PAGE, PAGE)]
    # So another feed's link to the page is that post.
    told = Item("Havnemødet", PAGE, "<p>Et referat fra en læser, med billeder.</p>", WHEN,
                guid="l-1")  # fmt: skip
    other = server.static_feed("/other", rss("Læserne", "https://laesere.example/", [told]))
    config = make_config([{"name": "Blog", "url": url}, {"name": "Læserne", "url": other}])
    poll(config, store, feeds=[config.feeds[1]], clock=lambda: WHEN + timedelta(hours=3))
    assert store.db.execute(
        "SELECT merge_reason FROM entry_sources WHERE entry_key = 'l-1'"
    ).fetchall() == [("same canonical URL",)]
