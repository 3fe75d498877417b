"""The pipeline's own lines about one feed carry the feed: ``feed=NAME url=URL`` in text,
``"feed"`` and ``"url"`` keys in JSON (structlog), through the installed entry point."""

from __future__ import annotations

import json

import yaml

from tests.conftest import serve_fixture
from tests.test_cli import run


def write(tmp_path, server):
    os2 = serve_fixture(server, "rss20.xml", "/os2")
    moved = server.redirect("/kl-old", os2, status=301)
    data = {
        "poll": {"timeout_seconds": 2, "allow_private_hosts": ["127.0.0.1"], "workers": 0},
        "feeds": [
            {"name": "Død", "url": server.url("/gone")},
            {"name": "Kommunernes Landsforening", "url": moved},
        ],
    }
    (tmp_path / "feeds.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    return moved


def test_text_lines_name_the_feed(tmp_path, server):
    moved = write(tmp_path, server)
    result = run("poll", "-vv", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if " aggregator.pipeline: " in line]
    gone = server.url("/gone")
    assert any(
        line.endswith(f"DEBUG aggregator.pipeline: poll failed: HTTP 404 Not Found "
                      f"feed=Død url={gone}")
        for line in lines
    ), lines  # fmt: skip
    assert any(
        line.endswith(f"WARNING aggregator.pipeline: permanently redirected to "
                      f"{server.url('/os2')}; update feeds.yaml "
                      f"feed=Kommunernes Landsforening url={moved}")
        for line in lines
    ), lines  # fmt: skip
    # Without -v the warning alone, as a plain line for the terminal.
    quiet = run("poll", cwd=tmp_path)
    assert "warning: permanently redirected to" in quiet.stderr
    assert "feed=Kommunernes Landsforening" in quiet.stderr
    assert "poll failed" not in quiet.stderr  # the summary says it, once


def test_json_lines_carry_the_feed_as_keys(tmp_path, server):
    moved = write(tmp_path, server)
    result = run("poll", "-vv", "--log-format", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stderr.splitlines()]
    ours = [r for r in records if r.get("logger") == "aggregator.pipeline" and "feed" in r]
    by_feed = {r["feed"]: r for r in ours}
    assert by_feed["Død"]["event"] == "poll failed: HTTP 404 Not Found"
    assert by_feed["Død"]["url"] == server.url("/gone")
    assert by_feed["Død"]["level"] == "debug"
    redirected = by_feed["Kommunernes Landsforening"]
    assert redirected["url"] == moved
    assert redirected["level"] == "warning"
    assert redirected["event"].startswith("permanently redirected to ")
