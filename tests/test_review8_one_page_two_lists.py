"""Two lists of one page are two sources (review 8 R8-8): feeds.yaml's same-feed check
compares URLs in the canonical form, which drops the fragment, so two ``type: html``
entries of one page told apart by a fragment, with selectors of their own, were refused as
one feed after the upgrade, and the service did not start. Another spelling of a URL is
refused only when both entries would read the same thing there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aggregator.config import config_from_text, parse_config
from aggregator.errors import ConfigError
from aggregator.pipeline import poll
from aggregator.store import Store
from tests.conftest import Clock
from tests.feedserver import FeedServer, feed_route

TWO_LISTS = """\
feeds:
  - name: Nyheder
    url: https://kommune.dk/aktuelt#nyheder
    type: html
    items: section.nyheder article
  - name: Pressemeddelelser
    url: https://kommune.dk/aktuelt#presse
    type: html
    items: section.presse article
"""

PAGE = (
    b'<html lang="da"><body>'
    b'<section class="nyheder"><article><h3><a href="/n/1">Ny legeplads i parken</a></h3>'
    b"</article></section>"
    b'<section class="presse"><article><h3><a href="/p/1">Borgmesteren genvalgt</a></h3>'
    b"</article></section></body></html>"
)


def test_two_lists_of_one_page_load_as_two_sources(tmp_path: Path) -> None:
    config = config_from_text(tmp_path / "feeds.yaml", TWO_LISTS)
    assert [feed.name for feed in config.feeds] == ["Nyheder", "Pressemeddelelser"]


def test_two_lists_of_one_page_are_polled_each_with_its_own_posts(
    server: FeedServer, make_config: Any, store: Store, clock: Clock
) -> None:
    url = server.route("/aktuelt", feed_route(PAGE, content_type="text/html; charset=utf-8"))
    config = make_config([
        {"name": "Nyheder", "url": f"{url}#nyheder", "type": "html",
         "items": "section.nyheder article"},
        {"name": "Pressemeddelelser", "url": f"{url}#presse", "type": "html",
         "items": "section.presse article"},
    ])  # fmt: skip
    result = poll(config, store, clock=clock)
    assert (result.new, result.failed) == (2, ())
    sources = dict(
        store.db.execute(
            "SELECT e.title, f.name FROM entries e JOIN entry_sources s ON s.entry_id = e.id"
            " JOIN feeds f ON f.url = s.feed_url"
        ).fetchall()
    )
    assert sources == {
        "Ny legeplads i parken": "Nyheder",
        "Borgmesteren genvalgt": "Pressemeddelelser",
    }


def html(url: str, items: str = "article", **keys: Any) -> dict[str, Any]:
    return {"url": url, "type": "html", "items": items, **keys}


def named(*feeds: dict[str, Any]) -> dict[str, Any]:
    return {"feeds": [{"name": f"Kilde {n}", **feed} for n, feed in enumerate(feeds)]}


@pytest.mark.parametrize(
    "pair",
    [
        # One page read the same way twice, in two spellings: one source.
        (html("https://kommune.dk/aktuelt#a"), html("https://kommune.dk/aktuelt#b")),
        (
            html("https://kommune.dk/aktuelt", fields={"title": "h3", "link": "a"}),
            html("https://Kommune.dk/aktuelt/", fields={"link": "a", "title": "h3"}),
        ),
        # Following the posts or not reads the same posts.
        (html("https://kommune.dk/aktuelt#a", follow=True), html("https://kommune.dk/aktuelt")),
        ({"url": "https://kommune.dk/feed#a"}, {"url": "https://kommune.dk/feed#b"}),
    ],
)
def test_another_spelling_that_reads_the_same_is_refused(pair: Any) -> None:
    with pytest.raises(ConfigError, match="'Kilde 1' is the same feed as 'Kilde 0'"):
        parse_config(named(*pair))


@pytest.mark.parametrize(
    "pair",
    [
        (html("https://kommune.dk/aktuelt#a", "section.a article"),
         html("https://kommune.dk/aktuelt#b", "section.b article")),
        (html("https://kommune.dk/aktuelt#a", fields={"date": ".dato"}),
         html("https://kommune.dk/aktuelt#b", fields={"date": "time"})),
        (html("https://kommune.dk/aktuelt#a", follow=True, content=".artikel"),
         html("https://kommune.dk/aktuelt#b", follow=True)),
        # A page read with selectors and a feed at another spelling of its URL.
        (html("https://kommune.dk/nyheder/"), {"url": "https://kommune.dk/nyheder"}),
    ],
)  # fmt: skip
def test_another_spelling_that_reads_something_else_is_another_source(pair: Any) -> None:
    assert len(parse_config(named(*pair)).feeds) == 2


def test_one_url_twice_is_refused_whatever_its_selectors_and_names_the_fragment() -> None:
    """The store knows a source by its URL: two lists of one page need a fragment each."""
    pair = (html("https://kommune.dk/aktuelt", "section.a article"),
            html("https://kommune.dk/aktuelt", "section.b article"))  # fmt: skip
    with pytest.raises(ConfigError) as caught:
        parse_config(named(*pair))
    assert str(caught.value) == (
        "feeds[1].url: 'Kilde 1' has the same URL as 'Kilde 0' (feeds[0].url); keep one, or"
        " tell two lists of one page apart by a fragment (…#nyheder, …#presse)"
    )
