"""A private feed's credentials stay with the admin: /healthz and the exports redact them.

The feed is polled for real (a loopback server that wants the token), the site exported and
served by a real uvicorn; the admin's `status --json` keeps the URL whole.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from aggregator.export import export_feeds
from aggregator.pipeline import poll
from aggregator.redact import redacted_text, redacted_url
from aggregator.serve import BackgroundServer, ServerOptions
from tests.conftest import free_port
from tests.feedgen import Item, rss

WHEN = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
EXE = Path(sys.executable).with_name("aggregator")


@pytest.mark.parametrize(
    ("url", "public"),
    [
        ("https://os2.eu/feed", "https://os2.eu/feed"),
        ("https://jens:hemmelig@os2.eu/feed", "https://***@os2.eu/feed"),
        ("https://ex.dk/f?token=abc&lang=da", "https://ex.dk/f?token=***&lang=da"),
        ("https://ex.dk/f?apiKey=1&author=jens&X-Amz-Signature=zz&access_token=q",
         "https://ex.dk/f?apiKey=***&author=jens&X-Amz-Signature=***&access_token=***"),
        ("https://ex.dk/f?key=&category=key", "https://ex.dk/f?key=&category=key"),
        ("https://ex.dk/f?sid=1#token=2", "https://ex.dk/f?sid=***#token=2"),
        ("https://ex.dk/f?keyword=data&password=x", "https://ex.dk/f?keyword=data&password=***"),
    ],
)  # fmt: skip
def test_redacted_url(url, public):
    assert redacted_url(url) == public


def test_urls_in_an_error_are_redacted_and_the_words_kept():
    error = "HTTP 401 from https://a:b@ex.dk/x?sig=1, moved to (https://ex.dk/?token=2)."
    assert redacted_text(error) == (
        "HTTP 401 from https://***@ex.dk/x?sig=***, moved to (https://ex.dk/?token=***)."
    )


def test_healthz_and_exports_show_no_credentials(server, make_config, store, tmp_path):
    item = Item("Medlemsnyt om æøå", "https://os2.eu/nyt/1", "<p>Kun for medlemmer</p>", WHEN,
                guid="m1")  # fmt: skip
    path = "/private?token=abc123"
    server.static_feed(path, rss("Medlemmer", "https://os2.eu/", [item]))
    private = server.url(path).replace("http://", "http://jens:hemmelig@")
    config = make_config([{"name": "Medlemmer", "url": private}], site={"search_url": "search"})
    report = poll(config, store, clock=lambda: WHEN)
    assert report.new == 1
    export_feeds(config, store, WHEN)
    outputs = {
        path.relative_to(config.output_dir).as_posix(): path.read_text(encoding="utf-8")
        for path in config.output_dir.rglob("*")
        if path.is_file() and path.suffix in (".opml", ".xml", ".json", ".html")
    }
    assert {"sources.opml", "atom.xml", "rss.xml", "feed.json", "index.html"} <= outputs.keys()
    public = redacted_url(private)
    assert "***@127.0.0.1" in public
    assert "token=***" in public
    for name, text in outputs.items():
        for secret in ("hemmelig", "abc123"):
            assert secret not in text, name
    assert public.replace("&", "&amp;") in outputs["sources.opml"]

    port = free_port()
    served = BackgroundServer(config, ServerOptions("127.0.0.1", port))
    served.start()
    try:
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
    finally:
        served.stop()
    assert "hemmelig" not in health.text
    assert "abc123" not in health.text
    [feed] = health.json()["feeds"]
    assert feed["url"] == public

    # The admin's own view keeps the URL whole.
    done = subprocess.run(
        [str(EXE), "-c", str(tmp_path / "feeds.yaml"), "status", "--json"],
        capture_output=True, text=True, timeout=60, check=True,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )  # fmt: skip
    assert [f["url"] for f in json.loads(done.stdout)["feeds"]] == [private]
