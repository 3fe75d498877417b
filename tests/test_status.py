"""`aggregator status` tells the truth: disabled, removed, retried feeds; no database made."""

from __future__ import annotations

import json
import re

import yaml

from tests.conftest import serve_fixture
from tests.test_cli import run


def write(tmp_path, feeds):
    data = {"poll": {"timeout_seconds": 2, "allow_private_hosts": ["127.0.0.1"]}, "feeds": feeds}
    (tmp_path / "feeds.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")


def row(stdout: str, name: str) -> str:
    return next(line for line in stdout.splitlines() if line.startswith(name + " "))


def test_status_creates_no_database(tmp_path, server):
    write(tmp_path, [{"name": "OS2", "url": server.url("/os2")}])
    result = run("status", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout == f"no database yet ({tmp_path / 'aggregator.db'}): run aggregator poll\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["feeds.yaml"]
    [feed] = json.loads(run("status", "--json", cwd=tmp_path).stdout)["feeds"]
    assert (feed["name"], feed["state"], feed["configured"]) == ("OS2", "new", True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["feeds.yaml"]


def test_disabled_removed_and_retried_feeds(tmp_path, server):
    os2 = serve_fixture(server, "rss20.xml", "/os2")
    digst = serve_fixture(server, "atom10.xml", "/digst")
    dead = server.url("/gone")
    write(tmp_path, [
        {"name": "OS2", "url": os2}, {"name": "Digst", "url": digst}, {"name": "Død", "url": dead},
    ])  # fmt: skip
    assert run("poll", cwd=tmp_path).returncode == 0
    write(tmp_path, [
        {"name": "Digst", "url": digst, "enabled": False},
        {"name": "Død", "url": dead},
        {"name": "KL", "url": server.url("/kl")},
    ])  # fmt: skip
    assert run("retry", "Død", cwd=tmp_path).returncode == 0
    result = run("status", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert row(out, "Digst").split()[1] == "disabled"
    assert "not polled" in row(out, "Digst")
    assert re.search(r"^Død +retry pending +404 +- +next run ", out, re.M), out
    assert "last error" not in out  # the 404 is from before the retry
    assert re.search(r"^KL +never polled +- +- +next run", out, re.M), out
    removed = out.split(
        "No longer configured (not polled; their entries are kept until aggregator prune --yes):\n"
    )
    assert [line.split() for line in removed[1].splitlines()] == [
        ["FEED", "URL", "ENTRIES"], ["OS2", os2, "3", "entries"]
    ]  # fmt: skip
    # Times carry their zone.
    assert re.search(r"^Digst .* \d{4}-\d\d-\d\d \d\d:\d\d (CET|CEST) ", out, re.M), out
    by_name = {
        r["name"]: r for r in json.loads(run("status", "--json", cwd=tmp_path).stdout)["feeds"]
    }
    assert by_name["OS2"]["configured"] is False
    assert by_name["Digst"]["enabled"] is False
    assert by_name["Død"]["retry_pending"] is True


def test_one_entry_is_one_entry(tmp_path, server):
    from datetime import UTC, datetime

    from tests.feedgen import Item, rss

    item = Item("Én post", "https://os2.eu/en", "Kort tekst om æøå.",
                datetime(2026, 11, 23, 10, tzinfo=UTC), guid="en")  # fmt: skip
    url = server.static_feed("/one", rss("OS2", "https://os2.eu", [item]))
    write(tmp_path, [{"name": "OS2", "url": url}])
    result = run("poll", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Polled 1 feed: 1 new, 0 updated, 0 failed." in result.stdout
    assert f"Exported 1 entry to {tmp_path / 'output'}." in result.stdout
