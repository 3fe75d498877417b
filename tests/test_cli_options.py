"""Global options anywhere on the line, exit status, closed pipes: through the entry point."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import serve_fixture
from tests.test_cli import EXE, run, write_config


@pytest.fixture
def polled(tmp_path, server):
    config = write_config(tmp_path, server)
    assert run("poll", cwd=tmp_path).returncode == 0
    return config


@pytest.mark.parametrize(
    "args",
    [
        ["-c", "{config}", "status"],
        ["status", "-c", "{config}"],
        ["--config", "{config}", "-v", "status", "--debug"],
        ["-q", "status", "--config={config}", "-vv"],
    ],
)
def test_global_options_before_or_after_the_command(polled, tmp_path, args):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = run(*(a.format(config=polled) for a in args), cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("FEED ")
    assert "OS2" in result.stdout


def test_config_after_the_command_wins_and_env_is_the_fallback(polled, tmp_path, server):
    other = tmp_path / "other"
    other.mkdir()
    assert run("-c", "missing.yaml", "status", "-c", str(polled), cwd=other).returncode == 0
    env_run = subprocess.run(
        [str(EXE), "status"], cwd=other, capture_output=True, text=True, check=False,
        env={"AGGREGATOR_CONFIG": str(polled), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert env_run.returncode == 0, env_run.stderr
    assert "OS2" in env_run.stdout


def test_demo_takes_the_global_options_too(tmp_path):
    result = run("-q", "demo", "--out", str(tmp_path / "d"), "-v", cwd=tmp_path)
    assert result.returncode == 0, result.stderr


def test_unknown_option_is_usage_exit_2(tmp_path):
    result = run("poll", "--colour", cwd=tmp_path)
    assert result.returncode == 2
    assert "No such option '--colour'" in result.stderr


def test_poll_exits_3_when_every_feed_failed_and_says_what_to_do(tmp_path, server):
    data = {
        "poll": {"timeout_seconds": 2, "allow_private_hosts": ["127.0.0.1"]},
        "feeds": [
            {"name": "Død", "url": server.url("/gone")},
            {"name": "Væk", "url": server.url("/also-gone")},
        ],
    }
    (tmp_path / "feeds.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    result = run("poll", cwd=tmp_path)
    assert result.returncode == 3, result.stderr
    assert "Død: HTTP 404 for 1 poll: check the URL" in result.stdout.splitlines()
    again = run("poll", "-q", cwd=tmp_path)
    assert again.returncode == 3
    # -q: only the failures and what to do about them.
    assert again.stdout.splitlines() == [
        "  FAIL  Død  HTTP 404 Not Found",
        "  FAIL  Væk  HTTP 404 Not Found",
        "Død: HTTP 404 for 2 polls: check the URL",
        "Væk: HTTP 404 for 2 polls: check the URL",
    ]


def test_what_to_do_blames_the_network_only_when_it_is_the_networks_doing(tmp_path, server):
    """A broken redirect or a body that is not what its headers say is the server's mistake,
    not "no answer: check the network" (review 5 L7)."""
    from tests.feedserver import Response

    server.static("/no-location", Response(301, b""))
    server.static("/bad-port", Response(301, b"", {"Location": "http://[::1"}))
    server.static("/to-ftp", Response(301, b"", {"Location": "ftp://kommune.dk/feed"}))
    server.redirect("/loop-a", server.url("/loop-b"), 301)
    server.redirect("/loop-b", server.url("/loop-a"), 301)
    fake_gzip = {"Content-Type": "application/rss+xml", "Content-Encoding": "gzip"}
    server.static("/fake-gzip", Response(200, b"<rss version='2.0'/>", fake_gzip))
    names = ["no-location", "bad-port", "to-ftp", "loop-a", "fake-gzip"]
    feeds = [{"name": name, "url": server.url(f"/{name}")} for name in names]
    # Nothing listens on port 9 (discard) of 127.0.0.2 in these tests.
    feeds.append({"name": "unreachable", "url": "http://127.0.0.2:9/feed"})
    data = {
        "poll": {"timeout_seconds": 2, "allow_private_hosts": ["127.0.0.1", "127.0.0.2"]},
        "feeds": feeds,
    }
    (tmp_path / "feeds.yaml").write_text(yaml.safe_dump(data), "utf-8")
    result = run("poll", "--no-export", "-q", cwd=tmp_path)
    assert result.returncode == 3, result.stderr
    advice = dict(line.split(": ", 1) for line in result.stdout.splitlines() if ": " in line)
    broken = "its redirects are broken: open the URL in a browser, put where it ends in feeds.yaml"
    assert advice["no-location"] == (
        "HTTP 301 for 1 poll: the server redirects without saying where to: tell the site"
    )
    for name in ("bad-port", "to-ftp", "loop-a"):
        assert advice[name].endswith(f"for 1 poll: {broken}"), advice[name]
    assert advice["bad-port"].startswith("broken redirect: ")
    assert advice["to-ftp"].startswith("broken redirect: ")
    assert advice["fake-gzip"].endswith(
        "the body is not what its headers say (Content-Encoding): tell the site"
    )
    assert advice["unreachable"].endswith(
        "for 1 poll: no answer: check the host name, the network and the firewall"
    )


def test_poll_exits_0_when_only_some_feeds_failed(tmp_path, server):
    write_config(tmp_path, server)
    result = run("poll", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.splitlines()[-2:] == [
        "Død: HTTP 404 for 1 poll: check the URL",
        f"Exported 4 entries to {tmp_path / 'output'}.",
    ]
    quiet = run("poll", "-q", cwd=tmp_path)
    assert quiet.stdout.splitlines() == [
        "  FAIL  Død    HTTP 404 Not Found",
        "Død: HTTP 404 for 2 polls: check the URL",
    ]


def test_a_closed_pipe_ends_quietly(polled, tmp_path):
    """The reader closes the pipe before the command writes (as `| head -1` can): no
    traceback, the conventional 141, every time."""
    for _ in range(3):
        process = subprocess.Popen(
            [str(EXE), "status"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        assert process.stdout is not None
        process.stdout.close()
        _, stderr = process.communicate(timeout=30)
        assert stderr == b""
        assert process.returncode == 141


def test_help_is_not_cut_off_and_h_is_help(tmp_path):
    result = run("-h", cwd=tmp_path)
    assert result.returncode == 0
    commands = result.stdout.split("Commands:", 1)[1]
    assert "..." not in commands
    text = " ".join(result.stdout.split())
    assert "status Show each feed's health: state, last HTTP status, last success" in text
    assert "Global options (before or after the command)" in result.stdout
    assert run("poll", "-h", cwd=tmp_path).stdout.startswith("Usage: aggregator poll")
    version = run("--version", cwd=tmp_path)
    assert version.stdout.startswith("aggregator, version ")


def test_debug_shows_the_traceback_of_an_error(tmp_path, server):
    config = write_config(tmp_path, server, site={"database": "db-is-a-dir"})
    (tmp_path / "db-is-a-dir").mkdir()
    plain = run("poll", "-c", str(config), cwd=tmp_path)
    assert plain.returncode == 1
    assert "Traceback" not in plain.stderr
    debug = run("poll", "-c", str(config), "--debug", cwd=tmp_path)
    assert debug.returncode == 1
    assert "Traceback" in debug.stderr
    assert "StorageError" in debug.stderr


def test_served_fixture_helper_is_shared(server):
    # The helpers above come from test_cli; keep them importable from here.
    assert serve_fixture(server, "rss20.xml", "/x").endswith("/x")


def test_status_check_exits_4_once_a_feed_fails_longer_than_allowed(tmp_path, server):
    write_config(tmp_path, server)
    assert run("poll", cwd=tmp_path).returncode == 0
    assert run("status", "--check", cwd=tmp_path).returncode == 0  # not for 24 hours yet
    write_config(tmp_path, server, poll={
        "timeout_seconds": 2, "allow_private_hosts": ["127.0.0.1"], "alert_after_hours": 0.0001,
    })  # fmt: skip
    time.sleep(0.5)
    result = run("status", "--check", "-q", cwd=tmp_path)
    assert result.returncode == 4
    [line] = result.stdout.splitlines()
    assert line.startswith("check: Død has failed since ")
    assert line.endswith("(HTTP 404 for 1 poll: check the URL)")
    as_json = run("status", "--check", "--json", cwd=tmp_path)
    assert as_json.returncode == 4
    assert json.loads(as_json.stdout)["feeds"][0]["name"] == "Digst"
    assert as_json.stderr.startswith("check: Død has failed since ")


def _complete(words: str, cword: int, tmp_path) -> list[str]:
    result = subprocess.run(
        [str(EXE)], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=True,
        env={**os.environ, "_AGGREGATOR_COMPLETE": "bash_complete", "COMP_WORDS": words,
             "COMP_CWORD": str(cword)},
    )  # fmt: skip
    return result.stdout.splitlines()


README_LINE = "_AGGREGATOR_COMPLETE=bash_source aggregator"


def test_shell_completion_works_as_the_readme_says(tmp_path):
    """The README's line for ~/.bashrc installs a completion that names commands and options
    (the global ones too, after the command)."""
    readme = (Path(__file__).parents[1] / "README.md").read_text("utf-8")
    assert f'eval "$({README_LINE})"' in readme
    bash = shutil.which("bash")
    assert bash is not None
    installed = subprocess.run(
        [bash, "-c", f'eval "$({README_LINE})"; complete -p aggregator'],
        capture_output=True, text=True, timeout=60, check=True,
        env={**os.environ, "PATH": f"{EXE.parent}{os.pathsep}{os.environ['PATH']}"},
    )  # fmt: skip
    assert installed.stdout.strip() == "complete -o nosort -F _aggregator_completion aggregator"
    assert _complete("aggregator sta", 1, tmp_path) == ["plain,status"]
    options = _complete("aggregator status --", 2, tmp_path)
    assert {"plain,--json", "plain,--check", "plain,--config", "plain,--quiet"} <= set(options)
    for shell in ("zsh_source", "fish_source"):
        script = subprocess.run(
            [str(EXE)], capture_output=True, text=True, timeout=60, check=True,
            env={**os.environ, "_AGGREGATOR_COMPLETE": shell},
        ).stdout  # fmt: skip
        assert "_aggregator_completion" in script


def test_poll_no_export_stores_and_leaves_the_output_to_export(tmp_path, server):
    config = write_config(tmp_path, server)
    polled = run("poll", "--no-export", "-c", str(config), cwd=tmp_path)
    assert polled.returncode == 0, polled.stderr
    assert "Polled 3 feeds: 4 new, 0 updated, 1 failed." in polled.stdout
    assert "Exported" not in polled.stdout
    assert not (tmp_path / "output").exists()
    exported = run("export", "-c", str(config), cwd=tmp_path)
    assert "Exported 4 entries to " in exported.stdout
    assert (tmp_path / "output" / "atom.xml").exists()
