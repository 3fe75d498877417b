"""Review 7 R17: what a public URL hides is decided by whole parameter names. Before, a name
was split into words and any word such as ``hash`` or ``key`` hid its value: two TYPO3 feeds
(``…&cHash=…``) of one site read the same in sources.opml and /healthz, and ``sortKey`` was
hidden too; while ``PHPSESSID`` and ``jsessionid`` (one word each) were shown."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from aggregator.export import export_feeds
from aggregator.pipeline import poll
from aggregator.redact import redacted_url
from aggregator.serve import BackgroundServer, ServerOptions
from tests.conftest import free_port
from tests.feedgen import Item, rss


@pytest.mark.parametrize(
    ("url", "public"),
    [
        ("https://typo3.dk/index.php?id=12&type=100&cHash=9f2c1e0a",
         "https://typo3.dk/index.php?id=12&type=100&cHash=9f2c1e0a"),
        ("https://ex.dk/f?monkey=1&keyword=2&sortKey=3&hash=4&passage=5&authors=6&tokens=7",
         "https://ex.dk/f?monkey=1&keyword=2&sortKey=3&hash=4&passage=5&authors=6&tokens=7"),
        ("https://ex.dk/f?KEY=1&Api-Key=2&api.key=3&private_token=4&feed_token=5&rss%5Ftoken=6",
         "https://ex.dk/f?KEY=***&Api-Key=***&api.key=***&private_token=***&feed_token=***"
         "&rss%5Ftoken=***"),
        ("https://s3.eu.amazonaws.com/b/f.xml?X-Amz-Credential=a&X-Amz-Signature=b"
         "&X-Amz-Security-Token=c&X-Amz-Date=20261118",
         "https://s3.eu.amazonaws.com/b/f.xml?X-Amz-Credential=***&X-Amz-Signature=***"
         "&X-Amz-Security-Token=***&X-Amz-Date=20261118"),
        ("https://ex.dk/f?client_secret=a&oauth_signature=b&PHPSESSID=c&jsessionid=d&pwd=e",
         "https://ex.dk/f?client_secret=***&oauth_signature=***&PHPSESSID=***&jsessionid=***"
         "&pwd=***"),
    ],
)  # fmt: skip
def test_secret_parameters_are_named_whole(url, public):
    assert redacted_url(url) == public


def test_two_typo3_feeds_of_one_site_stay_apart_in_opml_and_healthz(server, make_config, store):
    when = datetime(2026, 11, 18, 9, tzinfo=UTC)
    paths = {
        "Nyheder": "/index.php?id=12&type=100&cHash=9f2c1e0a",
        "Pressemeddelelser": "/index.php?id=14&type=100&cHash=77b0d3aa",
        "Medlemmer": "/members.rss?rss_token=hemmelig42&sortKey=date",
    }
    feeds = []
    for k, (name, path) in enumerate(paths.items()):
        item = Item(f"{name}: nyt om æøå", f"https://typo3.dk/{k}", "<p>Tekst</p>", when,
                    guid=f"t{k}")  # fmt: skip
        feeds.append(
            {"name": name, "url": server.static_feed(path, rss(name, "https://t.dk/", [item]))}
        )
    config = make_config(feeds)
    assert poll(config, store, clock=lambda: when).new == 3
    export_feeds(config, store, when)
    opml = (config.output_dir / "sources.opml").read_text(encoding="utf-8")
    assert "cHash=9f2c1e0a" in opml
    assert "cHash=77b0d3aa" in opml
    assert "rss_token=***&amp;sortKey=date" in opml
    assert "hemmelig42" not in opml

    port = free_port()
    served = BackgroundServer(config, ServerOptions("127.0.0.1", port))
    served.start()
    try:
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).json()
    finally:
        served.stop()
    shown = sorted(feed["url"] for feed in health["feeds"])
    assert shown == sorted(
        [
            server.url(paths["Nyheder"]),
            server.url(paths["Pressemeddelelser"]),
            server.url("/members.rss?rss_token=***&sortKey=date"),
        ]
    )
