"""Review 10 R10-1: a server that sends more body than its Content-Length says (PHP writing a
notice after a hand-set header, a cache that appends) leaves the excess on the kept-alive
connection. The next feed fetched on that connection from the same host read it as its answer
and failed with "RemoteProtocolError: illegal status line: bytearray(b'...')": a byte dump,
blamed on a feed whose server did nothing wrong. That request is asked again, on a fresh
connection, once."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime

from aggregator.fetch import FetchOptions, fetch_feed, make_client
from aggregator.types import FeedState, FetchResult

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
RSS = (
    '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{name}</title>'
    "<item><title>Indlæg fra {name}</title><guid>urn:{name}:1</guid></item></channel></rss>"
)
BODIES = {
    "/lying.xml": RSS.format(name="Ærø").encode(),
    "/good.xml": RSS.format(name="Fanø").encode(),
}
SHORT_BY = 40  # the lying server's Content-Length is this much less than what it sends


def _answer(path: str) -> bytes:
    body = BODIES.get(path, b"not found")
    status = "200 OK" if path in BODIES else "404 Not Found"
    length = len(body) - SHORT_BY if path == "/lying.xml" else len(body)
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: application/rss+xml; charset=utf-8\r\n"
        f"Content-Length: {length}\r\n\r\n"
    )
    return head.encode() + body  # one write: the excess arrives with the body it follows


@contextmanager
def keep_alive_server() -> Iterator[tuple[str, list[int]]]:
    """An HTTP/1.1 server on loopback that keeps every connection open for further requests;
    yields its base URL and, per request served, the number of the connection it came on."""
    listener = socket.create_server(("127.0.0.1", 0))
    served: list[int] = []

    def talk(conn: socket.socket, number: int) -> None:
        with conn, suppress(OSError):
            pending = b""
            while True:
                while b"\r\n\r\n" not in pending:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    pending += chunk
                head, _, pending = pending.partition(b"\r\n\r\n")
                path = head.split(b" ")[1].decode()
                served.append(number)
                conn.sendall(_answer(path))

    def serve() -> None:
        number = 0
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            number += 1
            threading.Thread(target=talk, args=(conn, number), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", served
    finally:
        listener.close()


def test_a_feed_after_one_whose_body_overran_its_length_is_read_as_its_own_answer() -> None:
    options = FetchOptions(timeout_seconds=5.0, allow_hosts=frozenset({"127.0.0.1"}))
    with keep_alive_server() as (base, served), make_client(options) as client:

        def fetch(path: str) -> FetchResult:
            return fetch_feed(client, FeedState(base + path), NOW, options.max_body_bytes, 10.0)

        lying = fetch("/lying.xml")
        good = fetch("/good.xml")
    # The lying feed's own answer is what its Content-Length says (the parser finds it cut).
    assert lying.content == BODIES["/lying.xml"][:-SHORT_BY]
    assert good.error is None, good.error
    assert good.ok
    assert good.content == BODIES["/good.xml"]
    # The connection the excess was left on was not used again for the answer.
    assert served[0] != served[-1], served
