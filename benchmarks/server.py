"""Loopback feed server for the benchmarks, run as its own process so its CPU is not the
client's: ETag, Last-Modified and 304s, an optional added latency, and a switch to the
corpus version where 10% of the feeds changed (``GET /_version/1``), for either corpus preset
(see corpus.py), each document with the Content-Type its kind of server sends."""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from benchmarks.corpus import PRESETS, document

Documents = dict[int, dict[int, tuple[bytes, str, str]]]


def build(n: int, preset: str) -> Documents:
    versions: Documents = {0: {}, 1: {}}
    for feed in range(n):
        for version in (0, 1):
            rendered = document(feed, version, preset)
            etag = '"' + hashlib.sha1(rendered.body).hexdigest()[:20] + '"'
            versions[version][feed] = (rendered.body, etag, rendered.content_type)
    return versions


def serve(n: int, port_file: Path, latency: float, preset: str) -> None:
    documents = build(n, preset)
    state = {"version": 0}
    modified = {0: "Sun, 01 Nov 2026 08:00:00 GMT", 1: "Mon, 02 Nov 2026 08:00:00 GMT"}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body in one segment, sent at once: otherwise Nagle's algorithm and the
        # client's delayed ACK add 40 ms to every keep-alive request and the server, not the
        # client, is what gets measured.
        disable_nagle_algorithm = True
        wbufsize = 256 * 1024

        def do_GET(self) -> None:
            if self.path.startswith("/_version/"):
                state["version"] = int(self.path.rsplit("/", 1)[1])
                self._reply(200, b"ok", {})
                return
            try:
                feed = int(self.path.rsplit("/", 1)[1])
                body, etag, content_type = documents[state["version"]][feed]
            except (ValueError, KeyError):
                self._reply(404, b"", {})
                return
            if latency:
                time.sleep(latency)
            last_modified = modified[state["version"]] if feed % 10 == 0 else modified[0]
            headers = {"ETag": etag, "Last-Modified": last_modified}
            if self.headers.get("If-None-Match") == etag:
                self._reply(304, b"", headers)
                return
            self._reply(200, body, {**headers, "Content-Type": content_type})

        def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        # Read by the constructor's listen(): the default of 5 dropped connections that
        # clients opened at the same moment, and each dropped one waited a second to retry.
        request_queue_size = 256
        daemon_threads = True

    server = Server(("127.0.0.1", 0), Handler)
    port_file.write_text(str(server.server_address[1]))
    server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--port-file", type=Path, required=True)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added per request")
    parser.add_argument("--corpus", choices=PRESETS, default="classic")
    args = parser.parse_args()
    try:
        serve(args.n, args.port_file, args.latency, args.corpus)
    except KeyboardInterrupt:
        sys.exit(0)
