"""A ``follow`` source whose settings changed reads its stored posts' pages again (review 7
R22, left over from 6bf2143, which did it for list pages): before, only posts still to come
were read with the new settings, so a ``content`` selector or a ``date`` field added to fix
the source left every stored post with the words and the date (none: archive, hidden) it was
first read with. The pages are read again follow_limit a poll, as new ones are, and no more
once each is read."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aggregator.pipeline import poll
from aggregator.store import Store
from tests.conftest import Clock
from tests.feedserver import FeedServer, Response

HTML_TYPE = {"Content-Type": "text/html; charset=utf-8"}
ITEMS = ("a", "b", "c")
MIDNIGHT = "2026-11-17T23:00:00.000000Z"  # 18 November, 00:00 in Copenhagen


def listing() -> bytes:
    rows = "".join(
        f'<article class="item"><h3><a href="/n/{n}">Nyhed {n}</a></h3>'
        f'<span class="d">Udgivet 18. november 2026</span></article>'
        for n in ITEMS
    )
    return f'<html lang="da"><body><main>{rows}</main></body></html>'.encode()


def page(n: str) -> bytes:
    chatter = "".join(f"<p>Kommunen fortæller om borgernes digitale hverdag, del {i}.</p>"
                      for i in range(6))  # fmt: skip
    return (
        f'<html lang="da"><head><title>Nyhed {n}</title></head><body><article>'
        f'<h1>Nyhed {n}</h1>{chatter}<div class="body"><p>Brødtekst {n}.</p></div>'
        "</article></body></html>"
    ).encode()


def source(url: str, **keys: Any) -> dict[str, Any]:
    return {"name": "kommune", "url": url, "type": "html", "items": "article.item",
            "follow": True, "follow_limit": 2, **keys}  # fmt: skip


def stored(store: Store) -> dict[str, tuple[str, str, int]]:
    rows = store.db.execute("SELECT title, content_html, published, backfill FROM entries")
    return {title: (content, published, backfill) for title, content, published, backfill in rows}


def asked(server: FeedServer) -> list[int]:
    return [len(server.requests_to(f"/n/{n}")) for n in ITEMS]


def test_changed_settings_read_the_stored_posts_pages_again(
    server: FeedServer, make_config: Any, store: Store, clock: Clock
) -> None:
    url = server.static("/nyheder/", Response(200, listing(), HTML_TYPE))
    for n in ITEMS:
        server.static(f"/n/{n}", Response(200, page(n), HTML_TYPE))
    first = make_config([source(url)])
    for _ in range(2):  # two a poll
        poll(first, store, clock=clock)
        clock.advance(timedelta(hours=1))
    assert asked(server) == [1, 1, 1]
    before = stored(store)
    assert all(published != MIDNIGHT for _, published, _ in before.values())  # undated
    assert [before[f"Nyhed {n}"][2] for n in ITEMS] == [1, 1, 0]  # the first poll's: archive
    assert all("Brødtekst" in content and "del 3" in content for content, _, _ in before.values())

    fixed = make_config([source(url, content=".body", fields={"date": ".d"})])
    polls = []
    for _ in range(3):
        report = poll(fixed, store, clock=clock)
        polls.append((report.updated, asked(server)))
        clock.advance(timedelta(hours=1))
    # Two pages at the first poll, the third at the next, then none again.
    assert polls == [(2, [2, 2, 1]), (1, [2, 2, 2]), (0, [2, 2, 2])]
    assert stored(store) == {f"Nyhed {n}": (f"<p>Brødtekst {n}.</p>", MIDNIGHT, 0) for n in ITEMS}
    unread = store.db.execute("SELECT page_unread FROM entry_sources").fetchall()
    assert unread == [(None,)] * len(ITEMS)
