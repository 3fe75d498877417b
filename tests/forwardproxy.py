"""A real forwarding HTTP proxy on 127.0.0.1 for the tests: absolute-URI requests (``GET
http://host/path``) are forwarded and answered, CONNECT opens a tunnel (for https://), and
every request is recorded with the credentials it carried.
"""

from __future__ import annotations

import base64
import http.client
import selectors
import socket
import socketserver
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authorization", "proxy-connection", "te", "trailer",
     "transfer-encoding", "upgrade"}
)  # fmt: skip


@dataclass(frozen=True)
class Seen:
    method: str
    target: str  # the absolute URI, or host:port for CONNECT
    credentials: str | None  # user:password of Proxy-Authorization: Basic


class ForwardProxy:
    """``refuse``: the status every CONNECT is answered with (403: the proxy's policy, 504:
    its upstream timed out), else a tunnel, or 502 when the target does not answer.
    ``hosts``: names only this proxy resolves (``nyheder.invalid`` -> ``127.0.0.1``), as on
    a network where only the proxy looks names up."""

    def __init__(
        self,
        user: str | None = None,
        password: str | None = None,
        refuse: int | None = None,
        hosts: dict[str, str] | None = None,
    ) -> None:
        known = hosts or {}
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        wanted = f"{user}:{password}" if user is not None else None
        proxy = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _allowed(self) -> bool:
                given = self.headers.get("Proxy-Authorization", "")
                credentials = (
                    base64.b64decode(given[6:]).decode() if given.startswith("Basic ") else None
                )
                with proxy._lock:
                    proxy.seen.append(Seen(self.command, self.path, credentials))
                if wanted is None or credentials == wanted:
                    return True
                self.send_response(407)
                self.send_header("Proxy-Authenticate", 'Basic realm="kommune"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return False

            def do_GET(self) -> None:
                self._forward()

            def do_POST(self) -> None:
                self._forward()

            def _forward(self) -> None:
                if not self._allowed():
                    return
                target = urlsplit(self.path)
                if target.scheme != "http" or not target.hostname:
                    self.send_error(400, "absolute http:// URI expected")
                    return
                upstream = http.client.HTTPConnection(
                    known.get(target.hostname, target.hostname), target.port or 80, timeout=10
                )
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                path = target.path or "/"
                length = int(self.headers.get("Content-Length") or 0)
                sent = self.rfile.read(length) if length else None
                upstream.request(self.command, path + (f"?{target.query}" if target.query else ""),
                                 body=sent, headers=headers)  # fmt: skip
                answer = upstream.getresponse()
                body = answer.read()
                upstream.close()
                self.send_response(answer.status, answer.reason)
                for name, value in answer.getheaders():
                    if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_CONNECT(self) -> None:
                if not self._allowed():
                    return
                if refuse is not None:
                    self.send_error(refuse)
                    return
                host, _, port = self.path.rpartition(":")
                try:
                    address = known.get(host, host.strip("[]"))
                    upstream = socket.create_connection((address, int(port)), timeout=10)
                except OSError:
                    self.send_error(502)
                    return
                self.send_response(200, "Connection established")
                self.end_headers()
                self.close_connection = True
                _relay(self.connection, upstream)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, user: str | None = None, password: str | None = None) -> str:
        auth = f"{user}:{password}@" if user is not None else ""
        return f"http://{auth}127.0.0.1:{self.port}"

    def targets(self) -> list[str]:
        with self._lock:
            return [seen.target for seen in self.seen]

    def start(self) -> ForwardProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _relay(client: socket.socket, upstream: socket.socket) -> None:
    """Bytes both ways until either side closes."""
    with selectors.DefaultSelector() as selector, upstream:
        selector.register(client, selectors.EVENT_READ, upstream)
        selector.register(upstream, selectors.EVENT_READ, client)
        while True:
            for key, _ in selector.select(timeout=10):
                source: socket.socket = key.fileobj  # type: ignore[assignment]
                try:
                    data = source.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                key.data.sendall(data)


class SocksProxy:
    """A SOCKS5 proxy (RFC 1928: CONNECT, with or without RFC 1929 user and password) on
    127.0.0.1, recording the host:port each tunnel was opened to.

    ``refuse`` makes it fail the handshake: ``"methods"`` accepts none of the client's
    authentication methods (0xFF), ``"connect"`` answers the CONNECT "not allowed by ruleset"
    (0x02). It then keeps the connection open until the client closes it, and counts that in
    ``closed_by_client``: a client that leaves its socket to the garbage collector closes it
    only when the collector gets to it."""

    def __init__(self, hosts: dict[str, str] | None = None, refuse: str | None = None) -> None:
        known = hosts or {}  # names only this proxy resolves, as ForwardProxy's
        self.seen: list[Seen] = []
        self.closed_by_client = threading.Semaphore(0)
        self._lock = threading.Lock()
        proxy = self

        class _Handler(socketserver.BaseRequestHandler):
            def _refused(self, client: socket.socket, answer: bytes) -> None:
                client.sendall(answer)
                client.settimeout(10)
                try:
                    while client.recv(4096):
                        pass
                except OSError:
                    return  # not closed by the client in time: not counted
                proxy.closed_by_client.release()

            def handle(self) -> None:
                client: socket.socket = self.request
                stream = client.makefile("rb")
                _, count = stream.read(2)
                methods = stream.read(count)
                credentials = None
                if refuse == "methods":
                    self._refused(client, b"\x05\xff")
                    return
                if 2 in methods:  # user and password offered: take them, to record
                    client.sendall(b"\x05\x02")
                    _, size = stream.read(2)
                    user = stream.read(size).decode()
                    password = stream.read(stream.read(1)[0]).decode()
                    credentials = f"{user}:{password}"
                    client.sendall(b"\x01\x00")
                else:
                    client.sendall(b"\x05\x00")
                _, command, _, kind = stream.read(4)
                if kind == 1:
                    host = socket.inet_ntop(socket.AF_INET, stream.read(4))
                elif kind == 4:
                    host = socket.inet_ntop(socket.AF_INET6, stream.read(16))
                else:
                    host = stream.read(stream.read(1)[0]).decode()
                port = int.from_bytes(stream.read(2), "big")
                with proxy._lock:
                    proxy.seen.append(Seen("CONNECT", f"{host}:{port}", credentials))
                if refuse == "connect":
                    self._refused(client, b"\x05\x02\x00\x01" + bytes(6))
                    return
                if command != 1:
                    client.sendall(b"\x05\x07\x00\x01" + bytes(6))
                    return
                try:
                    upstream = socket.create_connection((known.get(host, host), port), timeout=10)
                except OSError:
                    client.sendall(b"\x05\x05\x00\x01" + bytes(6))
                    return
                client.sendall(b"\x05\x00\x00\x01" + bytes(6))
                _relay(client, upstream)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, scheme: str = "socks5", user: str | None = None) -> str:
        auth = f"{user}:hemmelig@" if user is not None else ""
        return f"{scheme}://{auth}127.0.0.1:{self.port}"

    def targets(self) -> list[str]:
        with self._lock:
            return [seen.target for seen in self.seen]

    def start(self) -> SocksProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
