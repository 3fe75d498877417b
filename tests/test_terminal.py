"""What a feed server says reaches the admin's terminal without control sequences.

A raw socket server (no HTTP library between it and the bytes) answers with a reason phrase
that sets the window title and the colours, and with a feed whose titles hold C1 controls;
the real entry point polls it and shows status and entries.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from aggregator.text import json_text, terminal_text

EXE = Path(sys.executable).with_name("aggregator")
# OSC 0 (window title), BEL, SGR (red), and C1 CSI written as UTF-8 (U+009B).
REASON = b"\x1b]0;PWNED\x07\x1b[31mRED\x1b[0m \xc2\x9b2J"
FEED = (
    '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
    "<title>Kanal \u009b31m æøå</title><link>https://ex.dk/</link><description>x</description>"
    "<item><title>Titel \u009b2J slet \u009d0;X</title><guid>g1</guid>"
    "<link>https://ex.dk/a</link><description>Tekst</description></item>"
    "</channel></rss>"
).encode()
ACTED_ON = ("\x1b", "\x07", "\x9b", "\x9d")


def _answer(connection: socket.socket) -> None:
    with connection:
        request = connection.recv(65536)
        path = request.split(b" ", 2)[1] if request.count(b" ") >= 2 else b"/"
        if path == b"/reason":
            head = b"HTTP/1.1 503 " + REASON + b"\r\nContent-Length: 0\r\n"
            connection.sendall(head + b"Connection: close\r\n\r\n")
        else:
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
            length = b"Content-Length: " + str(len(FEED)).encode() + b"\r\n"
            connection.sendall(head + length + b"Connection: close\r\n\r\n" + FEED)


@pytest.fixture
def raw_server() -> Iterator[str]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            _answer(connection)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    listener.close()
    thread.join(5)


def run(*args: str, cwd: Path) -> str:
    done = subprocess.run(
        [str(EXE), *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )  # fmt: skip
    assert done.returncode in (0, 3), done.stderr
    return done.stdout + done.stderr


def test_poll_status_and_entries_print_no_control_sequence(raw_server, tmp_path):
    config = {
        "site": {"title": "Planet", "base_url": "https://planet.example.dk/"},
        "poll": {"timeout_seconds": 5, "allow_private_hosts": ["127.0.0.1"]},
        "feeds": [{"name": "Ond", "url": f"{raw_server}/reason"},
                  {"name": "Kanal", "url": f"{raw_server}/c1"}],
    }  # fmt: skip
    (tmp_path / "feeds.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), "utf-8")
    outputs = {
        "poll": run("poll", "--no-export", cwd=tmp_path),
        "status": run("status", cwd=tmp_path),
        "entries": run("entries", cwd=tmp_path),
        "search": run("search", "slet", cwd=tmp_path),
    }
    for command, output in outputs.items():
        for char in ACTED_ON:
            assert char not in output, (command, output)
    # Whole sequences go, as click takes them out for a pipe; the words between stay.
    assert "HTTP 503 RED 2J" in outputs["poll"]
    assert "HTTP 503 RED 2J" in outputs["status"]
    assert "2J slet 0;X" in outputs["entries"]
    # JSON keeps what it was given, escaped: a reader gets the same data, a terminal no CSI.
    status = run("status", "--json", cwd=tmp_path)
    assert "\x9b" not in status
    [failing] = [feed for feed in json.loads(status)["feeds"] if feed["name"] == "Ond"]
    assert failing["last_error"] == "HTTP 503 RED 2J"


def test_terminal_text_keeps_words_tabs_and_newlines():
    assert terminal_text("Å\tø\nå") == "Å\tø\nå"
    assert terminal_text("a\rb\x1b[2Jc\x7f\x85\x9b2Jd") == "abcd"
    assert terminal_text("se \x1b]8;;https://ond.dk\x1b\\her\x1b]8;;\x1b\\ nu") == "se her nu"
    assert terminal_text("OS2 \x1b[31mrød\x1b[0m\x07") == "OS2 rød"
    assert terminal_text("\u202eRTL\u202c אבג") == "\u202eRTL\u202c אבג"  # bidi: line_text's job
    assert json_text({"t": "x\x9by\x7f"}) == '{\n  "t": "x\\u009by\\u007f"\n}'
    assert json.loads(json_text({"t": "x\x9by"})) == {"t": "x\x9by"}
