"""Limits that hold against a hostile server or network: one deadline over the name lookup
(aggregator/resolve.py), connect, headers and body, bounded decompression, and the check of
every address connected to.

httpx's own timeouts are per operation, so a server sending one byte a second never trips
them; and httpx inflates each compressed chunk whole, so a 2 KB brotli bomb becomes
gigabytes before any limit is checked. Each fetch thread sets its deadline and its feed's
port here, and the network streams and the decoders read them.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import brotli
import httpcore

if TYPE_CHECKING:
    from aggregator.resolve import Resolver

STEP = 64 * 1024  # decompressed bytes produced per step
ACCEPT_ENCODING = "gzip, deflate, br"


class BodyTooLarge(Exception):
    pass


class UnsupportedEncoding(Exception):
    pass


class DeadlinePassed(httpcore.ReadTimeout):
    pass


class _Current(threading.local):
    deadline: float | None = None
    feed_port: int | None = None
    # An HTML source's list page port while its item pages and their robots.txt are
    # fetched: an allowed bare host is allowed on the source's port only, not on any port
    # an item link names.
    source_port: int | None = None
    # While a request through a proxy is sent: the streams connected for it (_ByProxy).
    opened: list[httpcore.NetworkStream] | None = None


current = _Current()


def remaining(timeout: float | None) -> float | None:
    """``timeout`` shortened to what is left of this thread's deadline; raises once it
    has passed, so the trickling server's next byte ends the fetch."""
    deadline = current.deadline
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise DeadlinePassed("the total time limit has passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, remaining(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, remaining(timeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(
            self._stream.start_tls(ssl_context, server_hostname, remaining(timeout))
        )

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class BlockedAddress(httpcore.ConnectError):
    """The target resolves to an address a public feed has no business being on."""


Admit = Callable[[str, int, str], str | None]


class DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's network backend with the lookup and every connect, read and write held to
    the deadline. Each address is checked by ``admit`` (a refusal, or None) right before it
    is connected to, so a name that resolves anew between a check and the connection (DNS
    rebinding) cannot slip through."""

    def __init__(self, backend: httpcore.NetworkBackend, resolver: Resolver,
                 admit: Admit | None = None) -> None:  # fmt: skip
        self._backend = backend
        self._resolver = resolver
        self._admit = admit

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = self._resolver.addresses(host, port, timeout)
        if self._admit is not None:
            for address in addresses:
                if refusal := self._admit(host, port, address):
                    raise BlockedAddress(refusal)
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in addresses:
            try:
                stream = self._backend.connect_tcp(
                    address, port, remaining(timeout), local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                # The next address may answer (a blackholed IPv6 one before a working IPv4
                # one), as socket.create_connection would try it; the deadline still holds.
                failure = exc
                continue
            if current.opened is not None:
                current.opened.append(stream)
            return _DeadlineStream(stream)
        raise failure or httpcore.ConnectError(f"no address for {host}")

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(
            self._backend.connect_unix_socket(path, remaining(timeout), socket_options)
        )

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


# ---------------------------------------------------------------------------------------------
# Bounded decompression

Step = Callable[[bytes], Iterator[bytes]]


def _zlib(wbits: int) -> Step:
    state = {"d": zlib.decompressobj(wbits)}

    def step(data: bytes) -> Iterator[bytes]:
        while data:
            d = state["d"]
            out = d.decompress(data, STEP)
            yield out
            while d.unconsumed_tail:
                yield d.decompress(d.unconsumed_tail, STEP)
            # A gzip body may be several members: the next begins after this one's end.
            data = d.unused_data if d.eof else b""
            if data:
                state["d"] = zlib.decompressobj(wbits)

    return step


def _deflate() -> Step:
    """HTTP's deflate is zlib-wrapped, but servers send raw deflate too: the header tells."""
    chosen: list[Step] = []

    def step(data: bytes) -> Iterator[bytes]:
        if not chosen:
            wrapped = (
                len(data) >= 2 and (data[0] & 0x0F) == 8 and (data[0] << 8 | data[1]) % 31 == 0
            )
            chosen.append(_zlib(15 if wrapped else -15))
        yield from chosen[0](data)

    return step


def _brotli() -> Step:
    d = brotli.Decompressor()

    def step(data: bytes) -> Iterator[bytes]:
        yield d.process(data, output_buffer_limit=STEP)
        while not d.can_accept_more_data():
            yield d.process(b"", output_buffer_limit=STEP)

    return step


def _identity(data: bytes) -> Iterator[bytes]:
    yield data


_DECODERS: dict[str, Callable[[], Step]] = {
    "gzip": lambda: _zlib(16 + zlib.MAX_WBITS),
    "x-gzip": lambda: _zlib(16 + zlib.MAX_WBITS),
    "deflate": _deflate,
    "br": _brotli,
    "identity": lambda: _identity,
}


def decoder(content_encoding: str) -> Step:
    """One step function for a Content-Encoding list, applied in reverse of their order."""
    names = [n.strip().lower() for n in content_encoding.split(",") if n.strip()]
    steps = []
    for name in reversed(names):
        if name not in _DECODERS:
            raise UnsupportedEncoding(name)
        steps.append(_DECODERS[name]())

    def chain(data: bytes) -> Iterator[bytes]:
        pieces: Iterable[bytes] = (data,)
        for step in steps:
            pieces = _through(step, pieces)
        yield from pieces

    return chain


def _through(step: Step, pieces: Iterable[bytes]) -> Iterator[bytes]:
    for piece in pieces:
        yield from step(piece)


def read_body(raw: Iterable[bytes], content_encoding: str, max_bytes: int) -> bytes:
    """The decoded body, raising BodyTooLarge as soon as it passes ``max_bytes``: memory
    stays within the limit plus one step, however much a bomb would inflate to."""
    inflate = decoder(content_encoding)
    body = bytearray()
    for chunk in raw:
        for piece in inflate(chunk):
            if len(body) + len(piece) > max_bytes:
                raise BodyTooLarge
            body += piece
        remaining(None)
    return bytes(body)
