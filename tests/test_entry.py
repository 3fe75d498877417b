"""The console script reads a plain `aggregator status` by hand, without click
(aggregator/entry.py), and hands every other command line to click: both roads must print the
same bytes and end with the same exit status. Each command line runs through the entry point
and through click's own main, as separate processes, on the same real files."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from importlib.metadata import entry_points
from pathlib import Path

import pytest
import yaml

from aggregator.cli import _global_params
from aggregator.entry import read_status_line
from aggregator.options import SPELLINGS
from tests.conftest import serve_fixture
from tests.feedserver import FeedServer
from tests.test_cli import run

# The console script, which also notes whether click was imported on the way.
ENTRY = (
    "import atexit, os, sys\n"
    "def note():\n"
    "    with open(os.environ['ROAD_FILE'], 'w') as file:\n"
    "        file.write('click' if 'click' in sys.modules else 'fast')\n"
    "atexit.register(note)\n"
    "from aggregator.entry import main\n"
    "sys.argv = ['aggregator', *sys.argv[1:]]\n"
    "sys.exit(main())\n"
)
CLICK = (
    "import sys\n"
    "from aggregator.cli import main\n"
    "sys.argv = ['aggregator', *sys.argv[1:]]\n"
    "sys.exit(main())\n"
)


Ran = tuple[int, str, str]  # exit status, stdout, stderr


def both_roads(args: list[str], cwd: Path, **env: str) -> tuple[str, Ran, Ran]:
    """(the road the entry point took, its (exit status, stdout, stderr), click's)."""
    road_file = cwd.parent / f"road-{os.getpid()}"
    environment = {**os.environ, "PYTHONWARNINGS": "error", "ROAD_FILE": str(road_file), **env}
    results: list[Ran] = []
    for code in (ENTRY, CLICK):
        done = subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=environment,
                              capture_output=True, timeout=60, check=False)  # fmt: skip
        results.append((done.returncode, done.stdout.decode(), done.stderr.decode()))
    road = road_file.read_text()
    road_file.unlink()
    return road, results[0], results[1]


@pytest.fixture(scope="module")
def polled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """feeds.yaml with three feeds (one failing, one disabled, æøå in names), polled once,
    its view cached by a first status."""
    server = FeedServer().start()
    directory = tmp_path_factory.mktemp("polled") / "site"
    directory.mkdir()
    data = {
        "site": {"title": "Offentlig digitalisering", "base_url": "https://planet.example.dk/"},
        "poll": {"timeout_seconds": 2, "allow_private_hosts": ["127.0.0.1"],
                 "alert_after_hours": 0.0001},
        "feeds": [
            {"name": "OS2", "url": serve_fixture(server, "rss20.xml", "/os2")},
            {"name": "Digitaliseringsstyrelsen", "url": serve_fixture(server, "atom10.xml", "/d")},
            {"name": "Død kommune", "url": server.url("/gone")},
            {"name": "Ærø", "url": server.url("/aeroe"), "enabled": False},
        ],
    }  # fmt: skip
    (directory / "feeds.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    try:
        assert run("poll", cwd=directory).returncode == 0
    finally:
        server.stop()
    time.sleep(0.5)  # failing longer than alert_after_hours (0.36 s), for --check
    assert run("status", cwd=directory).returncode == 0  # validates, caches the view
    return directory


FAST = [
    ["status"],
    ["status", "--json"],
    ["status", "--check"],
    ["status", "--check", "-q"],
    ["-q", "status", "--check", "--json"],
    ["status", "--json", "--check", "--json"],
    ["-c", "feeds.yaml", "status"],
    ["status", "--config=feeds.yaml", "--config", "feeds.yaml"],
    ["-vv", "status", "--debug", "--log-format", "json"],
    ["--log-format=text", "--quiet", "status", "-v", "--verbose"],
]
TO_CLICK = [
    [],
    ["--help"],
    ["-h", "status"],
    ["status", "--help"],
    ["--version"],
    ["status", "--jsn"],
    ["status", "--json=yes"],
    ["--json", "status"],
    ["status", "extra"],
    ["-qv", "status"],
    ["-c=feeds.yaml", "status"],
    ["status", "-cfeeds.yaml"],
    ["status", "-c"],
    ["status", "-c", "--json"],
    ["status", "--log-format", "xml"],
    ["status", "--"],
    ["-c", "missing.yaml", "status"],
    ["-c", ".", "status"],
    ["stat"],
]


@pytest.mark.parametrize("args", FAST, ids=" ".join)
def test_plain_status_without_click_prints_what_click_prints(polled, args):
    road, entry, click = both_roads(args, polled)
    assert road == "fast"
    assert entry == click
    assert "Død kommune" in entry[1] + entry[2]


@pytest.mark.parametrize("args", TO_CLICK, ids=lambda a: " ".join(a) or "(none)")
def test_every_other_command_line_goes_to_click(polled, args):
    road, entry, click = both_roads(args, polled)
    assert road == "click"
    assert entry == click


def test_check_fails_the_same_on_both_roads(polled):
    road, entry, click = both_roads(["status", "--check"], polled)
    assert (road, entry) == ("fast", click)
    assert entry[0] == 4
    assert "check: Død kommune has failed since " in entry[1]


def test_the_config_from_the_environment(polled, tmp_path):
    road, entry, click = both_roads(
        ["status"], tmp_path, AGGREGATOR_CONFIG=str(polled / "feeds.yaml")
    )
    assert (road, entry) == ("fast", click)
    assert entry[0] == 0
    assert "OS2" in entry[1]


def test_a_feeds_yaml_not_yet_validated_goes_to_click(polled, tmp_path):
    copy = shutil.copytree(polled, tmp_path / "copy")  # another path: no view cached for it
    road, entry, click = both_roads(["status"], copy)
    assert road == "click"
    assert entry == click
    assert entry[0] == 0
    assert both_roads(["status"], copy)[0] == "fast"  # the first run cached its view


def test_a_missing_and_a_damaged_database(polled, tmp_path):
    copy = shutil.copytree(polled, tmp_path / "copy")
    assert run("status", cwd=copy).returncode == 0
    (copy / "aggregator.db").unlink()
    road, entry, click = both_roads(["status", "--json"], copy)
    assert (road, entry) == ("fast", click)
    road, entry, click = both_roads(["status"], copy)
    assert (road, entry) == ("fast", click)
    assert entry[1].startswith("no database yet (")
    (copy / "aggregator.db").write_bytes(b"not a database, " * 512)
    road, entry, click = both_roads(["status"], copy)
    assert (road, entry) == ("click", click)  # the error is click's road's to word
    assert entry[0] == 1
    assert entry[2].startswith("error: ")


def test_terminal_escapes_in_output_go_to_click(polled, tmp_path):
    """click strips them when not writing to a terminal: its road prints such a status."""
    copy = shutil.copytree(polled, tmp_path / "copy")
    config = yaml.safe_load((copy / "feeds.yaml").read_text("utf-8"))
    config["feeds"][0]["name"] = "OS2 \x1b[31mrød\x1b[0m"
    (copy / "feeds.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), "utf-8")
    assert run("status", cwd=copy).returncode == 0
    _, entry, click = both_roads(["status"], copy)
    # The report has no sequence left (text.terminal_text): either road prints the same.
    assert entry == click
    assert "OS2 rød" in entry[1]


def test_an_ascii_stream_goes_to_click(polled):
    road, entry, click = both_roads(["status"], polled, PYTHONIOENCODING="ascii")
    assert (road, entry) == ("click", click)


def test_the_console_script_is_the_entry_module():
    [script] = [e for e in entry_points(group="console_scripts") if e.name == "aggregator"]
    assert script.value == "aggregator.entry:main"


def test_the_global_options_are_spelled_as_click_has_them():
    assert {p.name: tuple(p.opts) for p in _global_params()} == SPELLINGS


def test_reading_a_status_command_line():
    line = read_status_line(["-vv", "status", "--check", "-v", "-c", "a=b.yaml"])
    assert line is not None
    options, flags = line
    assert (options.verbose, options.quiet, flags) == (3, False, frozenset({"--check"}))
    assert options.config_path == Path("a=b.yaml")
    line = read_status_line(["--config=x.yaml", "-q", "status", "--config", "y.yaml"])
    assert line is not None
    options = line[0]
    assert (options.config_path, options.quiet) == (Path("y.yaml"), True)
    for other in (["status", "-vq"], ["-v", "poll"], ["status", "--log-format=yaml"]):
        assert read_status_line(other) is None


class _Interrupted:
    """A UTF-8 terminal whose write is interrupted by Ctrl-C (a slow terminal, `| less`)."""

    encoding = "utf-8"

    def write(self, text: str) -> int:
        raise KeyboardInterrupt

    def flush(self) -> None:
        pass


def test_ctrl_c_while_printing_ends_as_on_clicks_road(
    polled: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from aggregator import entry
    from aggregator.cli import cli

    monkeypatch.chdir(polled)
    monkeypatch.setattr(sys, "stdout", _Interrupted())
    assert entry._plain_status(["status"]) == 130
    fast = capsys.readouterr().err
    with pytest.raises(SystemExit) as stopped:
        cli.main(["status"], prog_name="aggregator")
    assert stopped.value.code == 130
    assert fast == capsys.readouterr().err == "error: stopped by Ctrl-C\n"
