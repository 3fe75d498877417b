"""`aggregator run` as a real process: SIGHUP reloads, a changed file is noticed, log lines."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

from tests.conftest import serve_fixture
from tests.test_cli import EXE

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d (DEBUG|INFO|WARNING|ERROR) ")


def write(path: Path, feeds: Sequence[Mapping[str, object]]) -> None:
    data = {
        "poll": {"timeout_seconds": 2, "allow_private_hosts": ["127.0.0.1"],
                 "startup_spread_seconds": 0, "workers": 0},
        "feeds": feeds,
    }  # fmt: skip
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


class Running:
    def __init__(self, tmp_path: Path, *args: str) -> None:
        self.log = tmp_path / "service.log"
        self.sink = self.log.open("w", encoding="utf-8")
        self.process = subprocess.Popen(
            [str(EXE), "run", "--tick", "0.2", *args], cwd=tmp_path,
            stdout=subprocess.DEVNULL, stderr=self.sink,
            env={**os.environ, "PYTHONFAULTHANDLER": "1"},
        )  # fmt: skip

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8")

    def wait_for(self, what: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if what in self.text():
                return self.text()
            assert self.process.poll() is None, self.text()
            time.sleep(0.1)
        raise AssertionError(f"{what!r} not logged:\n{self.text()}")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.send_signal(signal.SIGABRT)
            self.process.wait(timeout=10)
            raise AssertionError(f"did not stop on SIGTERM:\n{self.text()}") from None
        finally:
            self.sink.close()


def test_sighup_reloads_a_good_file_and_keeps_the_config_for_a_bad_one(tmp_path, server):
    os2 = serve_fixture(server, "rss20.xml", "/os2")
    digst = serve_fixture(server, "atom10.xml", "/digst")
    config = tmp_path / "feeds.yaml"
    write(config, [{"name": "OS2", "url": os2}])
    service = Running(tmp_path)
    try:
        service.wait_for("polled 1 feeds: 3 new")
        write(config, [{"name": "OS2", "url": os2}, {"name": "Digst", "url": digst}])
        service.process.send_signal(signal.SIGHUP)
        text = service.wait_for("added: Digst; removed: none")
        assert "received SIGHUP, reloading" in text
        deadline = time.monotonic() + 20
        while not server.requests_to("/digst") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert server.requests_to("/digst"), "the added feed was never polled"

        config.write_text("feeds:\n  - name: OS2\n    url: nope\n", encoding="utf-8")
        service.process.send_signal(signal.SIGHUP)
        text = service.wait_for("the running config is kept")
        assert "feeds[0].url: not a valid URL (line 3)" in text
        assert service.process.poll() is None
    finally:
        code = service.stop()
    assert code == 0, service.text()
    assert "received SIGTERM, stopping" in service.text()


def test_a_changed_file_is_noticed_at_the_next_tick(tmp_path, server):
    os2 = serve_fixture(server, "rss20.xml", "/os2")
    config = tmp_path / "feeds.yaml"
    write(config, [{"name": "OS2", "url": os2}])
    service = Running(tmp_path)
    try:
        service.wait_for("polled 1 feeds")
        write(
            config,
            [
                {"name": "OS2", "url": os2, "tags": ["kommuner"], "priority": 2},
                {"name": "KL", "url": serve_fixture(server, "atom10.xml", "/kl")},
            ],
        )
        # What changed is said, not only what came and went (review 6 L5).
        service.wait_for(
            "(it changed on disk): 2 feeds, added: KL; removed: none; changed: OS2 (tags, priority)"
        )
    finally:
        assert service.stop() == 0


def test_a_file_caught_empty_or_cut_is_not_run_and_sighup_applies_it(tmp_path, server):
    """Review 6 R2: an editor writing in place leaves feeds.yaml empty or cut for a moment; the
    service must not run on it (and export an empty site to the default output/)."""
    urls = [serve_fixture(server, "rss20.xml", f"/f{n}") for n in range(4)]
    feeds = [{"name": f"F{n}", "url": url} for n, url in enumerate(urls)]
    config = tmp_path / "feeds.yaml"
    write(config, feeds)
    text = config.read_text(encoding="utf-8")
    config.write_text(f"site:\n  output_dir: out\n{text}", encoding="utf-8")
    service = Running(tmp_path)
    try:
        service.wait_for("polled 4 feeds")
        config.write_text("", encoding="utf-8")  # the moment an editor truncates it
        service.wait_for("it has 0 of the 4 feeds running")
        write(config, feeds[:1])  # a file cut after its first feed
        service.wait_for("it has 1 of the 4 feeds running")
        assert "feeds, added:" not in service.text()  # no reload took it
        service.process.send_signal(signal.SIGHUP)  # the admin meant it
        service.wait_for("(SIGHUP): 1 feeds, added: none; removed: F1, F2, F3")
    finally:
        assert service.stop() == 0
    assert not (tmp_path / "output").exists(), service.text()
    assert (tmp_path / "out" / "atom.xml").exists()


def test_default_log_is_one_line_per_cycle_with_zone_and_no_library_internals(tmp_path, server):
    config = tmp_path / "feeds.yaml"
    write(config, [{"name": "OS2", "url": serve_fixture(server, "rss20.xml", "/os2")},
                   {"name": "Død", "url": server.url("/gone")}])  # fmt: skip
    service = Running(tmp_path)
    try:
        text = service.wait_for("polled 2 feeds")
        time.sleep(1)  # a few idle ticks: they log nothing
    finally:
        assert service.stop() == 0
    lines = service.text().splitlines()
    assert all(STAMP.match(line) for line in lines), lines
    assert not any("apscheduler" in line or "Running job" in line for line in lines), lines
    [cycle] = [line for line in lines if "polled" in line]
    assert re.search(r"polled 2 feeds: 3 new, 0 updated, 1 failed; exported 3 entries; "
                     r"next due \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$", cycle)  # fmt: skip
    assert any(line.endswith("poll failed: HTTP 404 Not Found feed=Død") for line in lines)
    assert "WARNING aggregator.scheduler" in text


def test_vv_shows_library_internals_and_json_is_one_object_a_line(tmp_path, server):
    config = tmp_path / "feeds.yaml"
    write(config, [{"name": "Død", "url": server.url("/gone")}])
    service = Running(tmp_path, "-vv")
    try:
        service.wait_for("Running job")
    finally:
        assert service.stop() == 0
    assert "DEBUG" in service.text()

    other = tmp_path / "json"
    other.mkdir()
    write(other / "feeds.yaml", [{"name": "Død", "url": server.url("/gone")}])
    service = Running(other, "--log-format", "json")
    try:
        service.wait_for("poll failed")
    finally:
        assert service.stop() == 0
    records = [json.loads(line) for line in service.text().splitlines()]
    failed = next(r for r in records if r["event"] == "poll failed: HTTP 404 Not Found")
    assert failed["feed"] == "Død"
    assert failed["level"] == "warning"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d", failed["timestamp"])
