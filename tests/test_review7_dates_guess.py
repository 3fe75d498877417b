"""``aggregator add`` on a page whose posts write their dates as text (review 7 R2): the
proposed HTML source gets a date selector, the preview shows the dates, and a poll of the
written source stores dated news, not undated archive hidden from the outputs and digest."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from aggregator.cli import cli
from aggregator.config import load_config
from aggregator.guess import guess_date_selector, guess_item_selector
from aggregator.page_dates import parse_date
from aggregator.pipeline import poll
from aggregator.store import Store
from aggregator.types import Selector
from tests.conftest import Clock
from tests.feedserver import FeedServer, feed_route

HTML_TYPE = "text/html; charset=utf-8"
PAGES = Path(__file__).parent / "pages"


def page(items: str) -> bytes:
    return (
        '<!DOCTYPE html><html lang="da"><head><meta charset="utf-8"><title>Nyheder</title>'
        '</head><body><nav class="menu"><a href="/">Forside</a> <a href="/om">Om os</a></nav>'
        f"<main>{items}</main><footer>Kommunen 2026</footer></body></html>"
    ).encode()


TITLES = ("Ny borgerservice åbner i centrum", "Høring om affaldsordningen", "Budget 2027 vedtaget")

# The posts' dates as three kinds of site write them, none as <time datetime>.
ENGLISH = page(
    '<div class="posts">'
    + "".join(
        f'<article class="post"><h2><a href="/posts/{n}">{title}</a></h2>'
        f'<p class="teaser">Read about what changes for residents in 2027 and after.</p>'
        f'<span class="date">{day} November 2026</span></article>'
        for n, (title, day) in enumerate(zip(TITLES, (12, 5, 1), strict=True))
    )
    + "</div>"
)
# The date in a classless <p> after the teaser's: the first <p> is no date.
DANISH = page(
    '<ul class="nyheder">'
    + "".join(
        f'<li class="nyhed"><h3><a href="/nyheder/{n}">{title}</a></h3>'
        f"<p>Kommunen fortæller om de nye regler, der gælder fra 1. januar.</p>"
        f"<p>Publiceret {day}. nov. 2026</p></li>"
        for n, (title, day) in enumerate(zip(TITLES, (12, 5, 1), strict=True))
    )
    + "</ul>"
)
NUMERIC = page(
    '<section class="list">'
    + "".join(
        f'<div class="entry"><a href="/n/{n}"><h3>{title}</h3></a>'
        f'<div class="meta"><span>{day:02d}.11.2026</span> · <span>Af Mette Sørensen</span></div>'
        f"<p>Læs om ændringerne her, og hvad de betyder for dig.</p></div>"
        for n, (title, day) in enumerate(zip(TITLES, (12, 5, 1), strict=True))
    )
    + "</section>"
)
LOCAL_DATES = ("2026-11-12 00:00 CET", "2026-11-05 00:00 CET", "2026-11-01 00:00 CET")

CONFIG = """\
site:
  title: Test
  base_url: https://planet.example.dk/
poll:
  timeout_seconds: 3
  allow_private_hosts: ["127.0.0.1"]
feeds:
  - name: Andet
    url: {base}/andet.xml
"""


@pytest.mark.parametrize(
    ("content", "items", "date"),
    [
        (ENGLISH, ".posts > article.post", "span.date"),
        (DANISH, ".nyheder > li.nyhed", "p:nth-of-type(2)"),
        (NUMERIC, ".list > div.entry", "span"),
    ],
    ids=["english", "danish", "numeric"],
)
def test_add_proposes_the_date_selector_and_the_poll_stores_dated_news(
    tmp_path: Path, server: FeedServer, clock: Clock, content: bytes, items: str, date: str
) -> None:
    url = server.route("/nyheder/", feed_route(content, content_type=HTML_TYPE))
    path = tmp_path / "feeds.yaml"
    path.write_text(CONFIG.format(base=server.base_url), encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["add", "-c", str(path), url, "--name", "Kommunen"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert f"item selector `{items}`: 3 matches" in result.output
    assert f"  date     `{date}`: 3 of 3 items" in result.output
    for local in LOCAL_DATES:  # the preview shows each post's date
        assert local in result.output
    written = yaml.safe_load(path.read_text(encoding="utf-8"))["feeds"][-1]
    assert written["items"] == items
    assert written["fields"] == {"date": date}

    config = load_config(path)
    store = Store.open(tmp_path / "aggregator.db")
    try:
        outcome = poll(config, store, config.feeds[-1:], clock=clock)
        assert outcome.new == 3
        rows = store.db.execute("SELECT title, published, backfill FROM entries").fetchall()
    finally:
        store.close()
    assert sorted(title for title, _, _ in rows) == sorted(TITLES)
    assert all(published for _, published, _ in rows)
    assert [backfill for _, _, backfill in rows] == [0, 0, 0]


def test_a_page_with_time_elements_or_without_dates_gets_no_date_selector() -> None:
    # <time datetime> is what the default date selector reads already.
    drupal = (PAGES / "drupal_list.html").read_bytes()
    item = guess_item_selector(drupal)
    assert item is not None
    assert guess_date_selector(drupal, Selector(item)) is None
    # A year in a teaser or a title is no date: nothing is proposed rather than a wrong one.
    undated = page(
        '<div class="posts">'
        + "".join(
            f'<article class="post"><h2><a href="/p/{n}">{title}</a></h2>'
            "<p>Planen for 2027 er klar, og den gælder til 2030.</p></article>"
            for n, title in enumerate(TITLES)
        )
        + "</div>"
    )
    assert guess_date_selector(undated, Selector(".posts > article.post")) is None


@pytest.mark.parametrize(
    "text",
    ["Publiceret 3. nov. 2026", "Opdateret: 3. nov. 2026", "Posted Nov. 3, 2026"],
)
def test_an_abbreviated_month_among_other_words_is_read(text: str) -> None:
    found = parse_date(text, "Europe/Copenhagen")
    assert found is not None
    assert found.isoformat() == "2026-11-02T23:00:00+00:00"
