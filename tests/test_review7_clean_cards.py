"""Review 7 R18: a news page whose posts are cards, each card itself the link
(``<a class="card" href=…>`` around its heading and teaser), through `aggregator add` and a
poll on the loopback server."""

from __future__ import annotations

import sqlite3

from click.testing import CliRunner

from aggregator.cli import cli
from aggregator.guess import guess_item_selector
from aggregator.parse_html import extract
from aggregator.types import HtmlSource, Selector
from tests.feedserver import feed_route

CARDS = """<!DOCTYPE html>
<html lang="da"><head><meta charset="utf-8"><title>Nyheder | Favrskov Kommune</title></head>
<body>
<header class="site-header"><nav class="main-nav">
  <a href="/borger">Borger</a><a href="/erhverv">Erhverv</a><a href="/politik">Politik</a>
</nav></header>
<main>
  <h1>Nyheder</h1>
  <div class="cards">
    <a class="card card--news" href="/nyheder/ny-skole-i-hinnerup">
      <img src="/media/skole.jpg" alt="">
      <h3 class="card__title">Ny skole i Hinnerup åbner i august</h3>
      <p class="card__teaser">Byrådet har godkendt byggeriet af en ny skole til 600 elever.</p>
    </a>
    <a class="card card--news" href="/nyheder/vejarbejde-paa-ringvejen">
      <h3 class="card__title">Vejarbejde på Ringvejen i tre uger</h3>
      <p class="card__teaser">Fra mandag er der kun ét spor åbent mod nord ved rundkørslen.</p>
    </a>
    <a class="card card--news" href="https://www.favrskov.dk/nyheder/nyt-bibliotek">
      <h3 class="card__title">Biblioteket får nye lokaler</h3>
      <p class="card__teaser">Det nye bibliotek i Hadsten åbner med læsesal og makerspace.</p>
    </a>
  </div>
</main>
<footer class="site-footer"><a href="/kontakt">Kontakt</a> <a href="/cookies">Cookies</a></footer>
</body></html>
"""
TITLES = [
    "Ny skole i Hinnerup åbner i august",
    "Vejarbejde på Ringvejen i tre uger",
    "Biblioteket får nye lokaler",
]


def test_the_guess_finds_cards_that_are_links_and_the_parser_takes_their_href():
    selector = guess_item_selector(CARDS.encode())
    assert selector == ".cards > a.card"
    found = extract(CARDS.encode(), "https://www.favrskov.dk/nyheder/", {},
                    HtmlSource(items=Selector(selector)))  # fmt: skip
    assert found.problem() is None
    assert [(e.title, e.link) for e in found.entries] == [
        (TITLES[0], "https://www.favrskov.dk/nyheder/ny-skole-i-hinnerup"),
        (TITLES[1], "https://www.favrskov.dk/nyheder/vejarbejde-paa-ringvejen"),
        (TITLES[2], "https://www.favrskov.dk/nyheder/nyt-bibliotek"),
    ]


def test_add_proposes_the_card_grid_and_a_poll_stores_each_card(tmp_path, server):
    url = server.route(
        "/nyheder/", feed_route(CARDS.encode(), content_type="text/html; charset=utf-8")
    )
    path = tmp_path / "feeds.yaml"
    path.write_text("poll:\n  allow_private_hosts: ['127.0.0.1']\nfeeds: []\n", encoding="utf-8")
    runner = CliRunner()
    added = runner.invoke(cli, ["add", "-c", str(path), url], catch_exceptions=False)
    assert added.exit_code == 0, added.output
    assert "no feed found; proposing an HTML source" in added.output
    assert "item selector `.cards > a.card`: 3 matches" in added.output
    assert "items: .cards > a.card" in path.read_text(encoding="utf-8")

    polled = runner.invoke(cli, ["poll", "-c", str(path), "--no-export"], catch_exceptions=False)
    assert polled.exit_code == 0, polled.output
    with sqlite3.connect(tmp_path / "aggregator.db") as db:
        rows = db.execute("SELECT title, link FROM entries ORDER BY link").fetchall()
    assert sorted(rows) == sorted(
        [
            (TITLES[0], f"{server.base_url}/nyheder/ny-skole-i-hinnerup"),
            (TITLES[1], f"{server.base_url}/nyheder/vejarbejde-paa-ringvejen"),
            (TITLES[2], "https://www.favrskov.dk/nyheder/nyt-bibliotek"),
        ]
    )
