"""A real HTTP server on 127.0.0.1 for the tests: routes are scripted per test.

Each route answers with real status codes, headers, bodies, delays and gzip encoding, and every
request is recorded so tests can check what the client sent.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    trickle: float = 0.0  # seconds between body chunks
    header_trickle: float = 0.0  # seconds between bytes of the status line and headers


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]
    at: float


Handler = Callable[[Request], Response]


def feed_route(
    body: bytes,
    content_type: str = "application/rss+xml; charset=utf-8",
    etag: bool = True,
    last_modified: str | None = "Wed, 18 Nov 2026 10:00:00 GMT",
    gzip_body: bool = False,
) -> Handler:
    """A feed that honours conditional requests the way a careful server does."""
    tag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'

    def handle(request: Request) -> Response:
        headers = {"Content-Type": content_type}
        if etag:
            headers["ETag"] = tag
        if last_modified:
            headers["Last-Modified"] = last_modified
        if (etag and request.headers.get("if-none-match") == tag) or (
            not etag and last_modified and request.headers.get("if-modified-since") == last_modified
        ):
            return Response(304, b"", {k: v for k, v in headers.items() if k != "Content-Type"})
        payload = body
        if gzip_body and "gzip" in request.headers.get("accept-encoding", ""):
            payload = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        return Response(200, payload, headers)

    return handle


class _Server(ThreadingHTTPServer):
    # A listen backlog of 5 (the default) dropped connections opened at the same moment by
    # many fetch threads, and each waited a second for the retry.
    request_queue_size = 128
    daemon_threads = True


class FeedServer:
    def __init__(self, host: str = "127.0.0.1") -> None:
        """``host``: another loopback address (127.0.0.2) is another host to the client."""
        self.routes: dict[str, Handler] = {}
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # no 40 ms delayed-ACK stalls on keep-alive

            def do_GET(self) -> None:
                request = Request(
                    self.path, {k.lower(): v for k, v in self.headers.items()}, time.monotonic()
                )
                with server._lock:
                    server.requests.append(request)
                    route = server.routes.get(self.path)
                response = route(request) if route else Response(404, b"not found")
                if response.delay:
                    time.sleep(response.delay)
                try:
                    # send_response_only: a scripted Date header (a skewed server clock)
                    # must not be joined by the real one.
                    self.send_response_only(response.status)
                    if "Date" not in response.headers:
                        self.send_header("Date", self.date_time_string())
                    for key, value in response.headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(response.body)))
                    if response.header_trickle:
                        buffered: list[bytes] = getattr(self, "_headers_buffer", [])
                        head = b"".join([*buffered, b"\r\n"])
                        buffered.clear()
                        for i in range(len(head)):
                            self.wfile.write(head[i : i + 1])
                            self.wfile.flush()
                            time.sleep(response.header_trickle)
                    else:
                        self.end_headers()
                    if response.trickle:
                        for i in range(0, len(response.body), 16):
                            self.wfile.write(response.body[i : i + 16])
                            self.wfile.flush()
                            time.sleep(response.trickle)
                    else:
                        self.wfile.write(response.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, format: str, *args: object) -> None:
                pass

            def handle(self) -> None:
                # A client that gives up (a timeout test) resets the connection: expected.
                with contextlib.suppress(ConnectionResetError, BrokenPipeError):
                    super().handle()

        self._host = host
        self._server = _Server((host, 0), _Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://{self._host}:{self._server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def route(self, path: str, handler: Handler) -> str:
        self.routes[path] = handler
        return self.url(path)

    def static(self, path: str, response: Response) -> str:
        return self.route(path, lambda _request: response)

    def static_feed(self, path: str, body: bytes) -> str:
        """A feed with validators; replacing it changes its ETag, as a real server's would."""
        return self.route(path, feed_route(body, last_modified=None))

    def redirect(self, path: str, target: str, status: int = 302) -> str:
        return self.static(path, Response(status, b"", {"Location": target}))

    def requests_to(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]

    def start(self) -> FeedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
