"""The planet page and a tag page in a real browser: order, links, Danish dates, no horizontal
scroll on a phone, screenshots at both widths, and no serious or critical axe findings."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from aggregator.export import export_feeds
from aggregator.pipeline import poll
from tests.browser import check_page
from tests.feedserver import FeedServer, Response
from tests.test_export import NOW, sources

MEDIA = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8"}


def serve_output(server: FeedServer, output: Path) -> str:
    """Serve output_dir the way the README's nginx example does (directory -> index.html)."""
    for path in output.rglob("*"):
        if path.is_file() and not path.name.startswith("."):
            relative = "/site/" + path.relative_to(output).as_posix()
            body = path.read_bytes()
            response = Response(200, body, {"Content-Type": MEDIA.get(path.suffix, "text/xml")})
            server.static(relative, response)
            if path.name == "index.html":
                server.static(relative.removesuffix("index.html"), response)
    return server.url("/site/")


@pytest.fixture
def site(server, make_config, store):
    config = make_config(sources(server))
    poll(config, store, clock=lambda: NOW)
    export_feeds(config, store, NOW)
    return config, serve_output(server, config.output_dir)


def _entries(browser, url):
    def read(chromium):
        page = chromium.new_page()
        try:
            page.goto(url)
            return page.eval_on_selector_all(
                "article.entry",
                """els => els.map(e => ({
                    title: e.querySelector('h3').innerText,
                    href: e.querySelector('h3 a') ? e.querySelector('h3 a').href : '',
                    time: e.querySelector('time').getAttribute('datetime'),
                    lang: e.getAttribute('lang') || '',
                    day: e.closest('section').querySelector('h2').innerText}))""",
            )
        finally:
            page.close()

    return browser.run(read)


def test_planet_page_in_a_browser(browser, site, store):
    _, url = site
    check = check_page(browser, url, "index")
    assert check.violations == (), check.describe()
    assert [p.name for p in check.screenshots] == ["index-375.png", "index-1280.png"]
    entries = _entries(browser, url)
    stored = store.recent_entries(100)
    assert [e["title"] for e in entries] == [s.title for s in stored]
    times = [e["time"] for e in entries]
    assert times == sorted(times, reverse=True)
    aeroe = next(e for e in entries if e["title"] == "Ny løsning på Ærø")
    assert aeroe["href"] == "https://example.dk/nyheder/ny-l%C3%B8sning-p%C3%A5-%C3%A6r%C3%B8?id=5"
    assert aeroe["day"] == "Fredag 20. november 2026"
    assert {e["day"] for e in entries} >= {"Tirsdag 17. november 2026"}
    japan = next(e for e in entries if e["title"].startswith("Digital government"))
    assert japan["lang"] == "en-US"


def test_tag_page_in_a_browser(browser, site):
    _, url = site
    check = check_page(browser, url + "tag/hoeringer/", "tag-hoeringer")
    assert check.violations == (), check.describe()
    titles = [e["title"] for e in _entries(browser, url + "tag/hoeringer/")]
    assert titles == [
        "Temadag om åben kildekode",
        "OS2mo 12.0 er udkommet",
        "Fælles kommunal cloud: næste skridt",
    ]


def test_page_structure_for_assistive_technology(site):
    config, _ = site
    html = (config.output_dir / "index.html").read_text(encoding="utf-8")
    assert html.count("<h1") == 1
    assert '<html lang="da">' in html
    for landmark in ("<header", "<main", "<aside", "<footer"):
        assert landmark in html
    for alternate in ("application/atom+xml", "application/rss+xml", "application/feed+json"):
        assert f'<link rel="alternate" type="{alternate}"' in html
    assert "http://" not in html.split("<body", 1)[0].replace("http://127.0.0.1", "")
    assert "<script" not in html


def test_page_of_100_entries_is_under_150_kb(make_config, store, server):
    body = ["<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>",
            "<title>Mange indlæg</title><link>https://mange.example.dk/</link>",
            "<description>d</description>"]  # fmt: skip
    for n in range(120):
        body.append(
            f"<item><title>Indlæg nummer {n} om fællesoffentlig digitalisering</title>"
            f"<link>https://mange.example.dk/indlaeg/{n}</link><guid>m{n}</guid>"
            f"<pubDate>Mon, {1 + n % 28:02d} Nov 2026 10:{n % 60:02d}:00 +0100</pubDate>"
            f"<description>{'Kommunerne og staten arbejder sammen om løsninger. ' * 8}"
            "</description></item>"
        )
    body.append("</channel></rss>")
    url = server.static_feed("/mange", "".join(body).encode("utf-8"))
    config = make_config([{"name": "Mange", "url": url, "tags": ["kommuner"]}])
    poll(config, store, clock=lambda: datetime(2026, 11, 30, tzinfo=UTC))
    export_feeds(config, store, datetime(2026, 11, 30, tzinfo=UTC))
    page = config.output_dir / "index.html"
    assert page.read_text(encoding="utf-8").count('<article class="entry"') == 100
    assert page.stat().st_size < 150_000, page.stat().st_size


def test_english_by_setting_and_a_theme_overrides_a_template(make_config, store, server, tmp_path):
    theme = tmp_path / "theme"
    theme.mkdir()
    (theme / "style.css").write_text("body { color: #000; } /* mit tema */\n", encoding="utf-8")
    config = make_config(sources(server)[:1], site={"language": "en", "template_dir": str(theme)})
    poll(config, store, clock=lambda: NOW)
    export_feeds(config, store, NOW)
    html = (config.output_dir / "index.html").read_text(encoding="utf-8")
    assert '<html lang="en">' in html
    assert "Thursday 19 November 2026" in html
    assert "Skip to the posts" in html
    assert "mit tema" in (config.output_dir / "style.css").read_text(encoding="utf-8")
