"""A feed that moved to a page is carried over to the list of its own name, not to another
list of that page told apart by a fragment (review 9 of e671354, which lets
``…/aktuelt#nyheder`` and ``…/aktuelt#presse`` be two sources: Store._take_over_moved maps
the new URLs by their canonical form, which drops the fragment, so one of them takes every
feed that moved to the page)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aggregator.pipeline import poll
from aggregator.store import Store
from tests.conftest import Clock
from tests.feedserver import FeedServer, feed_route

PAGE = (
    '<html lang="da"><body>'
    '<section class="nyheder"><article><h3><a href="/n/1">Ny borgerservice</a></h3>'
    "<p>Borgerservice flytter til rådhuset.</p></article></section>"
    '<section class="presse"><article><h3><a href="/p/1">Pressemeddelelse om affald</a></h3>'
    "<p>Ny ordning for storskrald fra januar.</p></article></section>"
    "</body></html>"
).encode()


def _moved_then_split(
    server: FeedServer, make_config: Any, store: Store, clock: Clock, name: str
) -> tuple[str, str, list[tuple[str, str]]]:
    """A list polled at /gammel, moved for good to the page, then configured as two lists of
    the page, the first under the name ``name``: the posts of each source after a poll."""
    page = server.route("/aktuelt", feed_route(PAGE, content_type="text/html; charset=utf-8"))
    old = server.redirect("/gammel", page, status=301)
    nyheder = {"name": "Nyheder", "type": "html", "items": "section.nyheder article"}
    config = make_config([{**nyheder, "url": old}])
    for _ in range(3):  # the permanent redirect is confirmed
        poll(config, store, clock=clock)
        clock.advance(timedelta(hours=2))
    (moved,) = store.db.execute(
        "SELECT coalesce(moved_to, redirect_target) FROM feeds WHERE url = ?", [old]
    ).fetchone()
    assert moved == page
    config = make_config([
        {**nyheder, "name": name, "url": f"{page}#nyheder"},
        {"name": "Presse", "type": "html", "items": "section.presse article",
         "url": f"{page}#presse"},
    ])  # fmt: skip
    poll(config, store, clock=clock)
    rows = store.db.execute(
        "SELECT e.title, s.feed_url FROM entry_sources s JOIN entries e ON e.id = s.entry_id "
        "ORDER BY 1, 2"
    ).fetchall()
    return old, page, rows


def test_a_moved_list_is_carried_to_its_own_list_of_the_page(
    server: FeedServer, make_config: Any, store: Store, clock: Clock
) -> None:
    _, page, rows = _moved_then_split(server, make_config, store, clock, "Nyheder")
    assert rows == [
        ("Ny borgerservice", f"{page}#nyheder"),
        ("Pressemeddelelse om affald", f"{page}#presse"),
    ]


def test_a_moved_list_named_as_neither_list_stays_with_its_old_address(
    server: FeedServer, make_config: Any, store: Store, clock: Clock
) -> None:
    """The page's URL names two lists and no list has the old name: no guess is made."""
    old, page, rows = _moved_then_split(server, make_config, store, clock, "Nyt fra kommunen")
    assert rows == sorted(
        [
            ("Ny borgerservice", old),
            ("Ny borgerservice", f"{page}#nyheder"),
            ("Pressemeddelelse om affald", f"{page}#presse"),
        ]
    )
