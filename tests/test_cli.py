"""The CLI through its installed entry point, as an admin runs it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from aggregator.cli import cli
from tests.conftest import serve_fixture
from tests.feedserver import FeedServer

EXE = Path(sys.executable).with_name("aggregator")


def run(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(EXE), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )  # fmt: skip


def write_config(directory: Path, server: FeedServer, **sections) -> Path:
    data = {
        "site": {"title": "Offentlig digitalisering", "base_url": "https://planet.example.dk/"},
        "poll": {"timeout_seconds": 2, "allow_private_hosts": ["127.0.0.1"]},
        **sections,
        "feeds": [
            {"name": "OS2", "url": serve_fixture(server, "rss20.xml", "/os2")},
            {"name": "Digst", "url": serve_fixture(server, "atom10.xml", "/digst")},
            {"name": "Død", "url": server.url("/gone")},
        ],
    }  # fmt: skip
    path = directory / "feeds.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_entry_point_is_installed():
    result = subprocess.run([str(EXE), "--version"], capture_output=True, text=True, check=True)
    assert result.stdout.startswith("aggregator, version ")


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_every_command_is_documented(command):
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0
    assert cli.commands[command].help
    assert (
        "Usage: cli " + command in result.output or f"Usage: aggregator {command}" in result.output
    )
    assert "--config" in result.output or command == "demo"


def test_bad_config_exits_2_with_the_key_path_and_writes_nothing(tmp_path):
    (tmp_path / "feeds.yaml").write_text(
        "feeds:\n  - name: a\n    url: https://a.dk/\n  - name: b\n    url: not-a-url\n"
        "    colour: blue\n",
        encoding="utf-8",
    )
    result = run("poll", cwd=tmp_path)
    assert result.returncode == 2
    assert "feeds[1].url: not a valid URL" in result.stderr
    assert "feeds[1].colour: unknown key" in result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["feeds.yaml"]


def test_missing_config_exits_2(tmp_path):
    result = run("status", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: feeds.yaml: no such file"


def test_poll_status_export_digest(tmp_path, server):
    config = write_config(tmp_path, server)
    polled = run("poll", "-c", str(config), cwd=tmp_path)
    assert polled.returncode == 0, polled.stderr
    assert "FAIL  Død    HTTP 404 Not Found" in polled.stdout
    assert "Polled 3 feeds: 4 new, 0 updated, 1 failed." in polled.stdout
    written = {p.name for p in (tmp_path / "output").iterdir()}
    assert {"atom.xml", "feed.json", "rss.xml", "index.html", "sources.opml"} <= written

    again = run("poll", "-c", str(config), cwd=tmp_path)
    assert "ok    OS2    not modified" in again.stdout

    status = run("status", "-c", str(config), cwd=tmp_path)
    assert status.returncode == 0
    lines = status.stdout.splitlines()
    assert lines[0].split() == [
        "FEED", "STATE", "HTTP", "LAST", "SUCCESS", "NEXT", "POLL", "INTERVAL", "ENTRIES"
    ]  # fmt: skip
    dead = next(line for line in lines if line.startswith("Død "))
    assert "failing since" in dead
    assert " 404 " in dead
    assert "Død: interval: backoff after 2 failures; last error: HTTP 404 Not Found" in lines

    as_json = json.loads(run("status", "--json", "-c", str(config), cwd=tmp_path).stdout)["feeds"]
    by_name = {row["name"]: row for row in as_json}
    assert by_name["OS2"]["state"] == "ok"
    assert by_name["OS2"]["entries"] == 3
    assert by_name["Død"]["last_status"] == 404

    exported = run("export", "-c", str(config), cwd=tmp_path)
    assert exported.returncode == 0
    assert "Exported 4 entries to " in exported.stdout
    assert "0 files written" in exported.stdout  # nothing changed since the poll's export

    digest = run("digest", "--week", "2026-W47", "--preview", "-c", str(config), cwd=tmp_path)
    assert digest.returncode == 0, digest.stderr
    assert (tmp_path / "digest-previews" / "default-2026-W47.eml").exists()
    assert not (tmp_path / "output" / "digest").exists()
    # The posts were first seen today, so they are not in week 47's digest.
    assert "Digest default 2026-W47 (0 entries) preview written:" in digest.stdout
    future = run("digest", "--week", "2030-W01", "-c", str(config), cwd=tmp_path)
    assert future.returncode == 1
    assert "2030-W01 has not ended yet" in future.stderr

    bad_week = run("digest", "--week", "soon", "--dry-run", "-c", str(config), cwd=tmp_path)
    assert bad_week.returncode == 2
    assert "not a week" in bad_week.stderr


def test_storage_failure_is_one_line_exit_1(tmp_path, server):
    config = write_config(tmp_path, server, site={"database": "db-is-a-dir"})
    (tmp_path / "db-is-a-dir").mkdir()
    result = run("poll", "-c", str(config), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ")
    assert len(result.stderr.strip().splitlines()) == 1


def test_demo_works_offline(tmp_path):
    result = run("demo", "--out", str(tmp_path / "demo"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    demo = tmp_path / "demo"
    assert "Polled 3 feeds: 7 new, 0 updated, 0 failed." in result.stdout
    for name in ("atom.xml", "rss.xml", "feed.json"):
        assert (demo / "output" / name).stat().st_size > 500
    [eml] = (demo / "sent-mail").glob("*.eml")
    [html] = (demo / "digest-previews").glob("*.html")
    text = html.read_text(encoding="utf-8")
    assert "Fælles kommunal cloud" in text
    assert "Også bragt af Digitaliseringsstyrelsen" in text
    [page] = (demo / "output" / "digests").glob("20*.html")
    assert "Fælles kommunal cloud" in page.read_text(encoding="utf-8")
    assert str(eml) in result.stdout
    page = demo / "output" / "index.html"
    assert result.stdout.strip().splitlines()[-1] == f"Open the page: {page}"
    assert "Fælles kommunal cloud" in page.read_text(encoding="utf-8")


def test_run_polls_exports_sends_missed_digest_and_stops_cleanly(tmp_path, server, inbox):
    config = write_config(
        tmp_path,
        server,
        digest={
            "day": "mon",
            "time": "00:00",
            "recipients": ["staff@kommune.dk"],
            "empty": "send",
            "catch_up_hours": 24 * 7,
        },
        smtp={"host": inbox.host, "port": inbox.port},
    )
    process = subprocess.Popen(
        [str(EXE), "run", "--tick", "0.2", "-c", str(config)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if (tmp_path / "output" / "atom.xml").exists() and inbox.messages:
                break
            time.sleep(0.1)
        assert (tmp_path / "output" / "atom.xml").exists()
        assert len(inbox.messages) == 1  # the missed digest of last week, once
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=20)
    assert process.returncode == 0, stderr
    assert "received SIGTERM, stopping" in stderr
    assert not list((tmp_path / "output").glob(".*.tmp"))
    assert inbox.messages[0].recipients == ["staff@kommune.dk"]


def test_dupes_explains_and_split_keeps_a_copy_apart(tmp_path, server):
    from tests.dedup_cases import CASES
    from tests.feedgen import rss

    case = next(c for c in CASES if c.name.startswith("title prefix"))
    data = {
        "site": {"title": "T", "base_url": "https://planet.example.dk/"},
        "poll": {"allow_private_hosts": ["127.0.0.1"]},
        "feeds": [
            {"name": "OS2", "url": server.static_feed("/a", rss("A", case.a_site, [case.a]))},
            {"name": "KL", "url": server.static_feed("/b", rss("B", case.b_site, [case.b]))},
        ],
    }
    config = tmp_path / "feeds.yaml"
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert run("poll", cwd=tmp_path).returncode == 0

    dupes = run("dupes", cwd=tmp_path)
    assert dupes.returncode == 0
    lines = dupes.stdout.splitlines()
    assert lines[0].startswith("Fælles kommunal cloud: næste skridt  (")
    entry_id = lines[0].rsplit(" ", 1)[1]
    assert entry_id.startswith("urn:uuid:")
    assert lines[1].startswith("  * OS2  https://os2.eu/blog/cloud  primary")
    assert lines[2].startswith("    KL   https://www.kl.dk/nyhed/cloud-os2")
    # The reason sits on whichever copy arrived second; the feeds are fetched in parallel.
    assert "near duplicate: content 1.00, title 1.00" in lines[1] + lines[2]

    split = run("split", entry_id, "KL", cwd=tmp_path)
    assert split.returncode == 0, split.stderr
    assert run("poll", cwd=tmp_path).returncode == 0
    assert run("dupes", cwd=tmp_path).stdout.startswith("No post has been found")
    exported = json.loads((tmp_path / "output" / "feed.json").read_text(encoding="utf-8"))
    assert sorted(i["title"] for i in exported["items"]) == [
        "Fælles kommunal cloud: næste skridt",
        "Nyhed: Fælles kommunal cloud: næste skridt",
    ]
    again = run("split", entry_id, "KL", cwd=tmp_path)
    assert again.returncode == 2
    assert "is not a merged post" in again.stderr


_PROGRESS_THREADS = """
import json, sys, threading
from pathlib import Path
import aggregator.pipeline
from aggregator import cli
from aggregator.config import load_config
config = load_config(Path(sys.argv[1]))
feeds = [f for f in config.feeds if f.name != "Død"]
real_poll, at_poll = aggregator.pipeline.poll, []
def observed_poll(*args, **kwargs):
    at_poll.append(threading.active_count())
    return real_poll(*args, **kwargs)
aggregator.pipeline.poll = observed_poll
sys.stderr.isatty = lambda: True
before = threading.active_count()
with cli.open_store(config) as store:
    store.sync_feeds(config.feeds, cli.now_utc())
    report = cli._poll_with_progress(config, store, feeds, None)
print(json.dumps({"before": before, "at_poll": at_poll, "failed": len(report.failed),
                  "new": report.new}))
"""


def test_the_progress_bar_starts_no_thread(tmp_path, server):
    """On a terminal the poll shows a progress bar; drawing it must not start a thread, or
    a worker process that died could no longer be replaced safely (see workers.py). In a
    process of its own, so that no other test's thread is counted."""
    config = write_config(tmp_path, server)
    done = subprocess.run([sys.executable, "-c", _PROGRESS_THREADS, str(config)],
                          capture_output=True, text=True, check=True, cwd=tmp_path)  # fmt: skip
    seen = json.loads(done.stdout)
    assert seen["at_poll"] == [seen["before"]]  # polled once, with no thread more than before
    assert seen["failed"] == 0
    assert seen["new"] > 0
