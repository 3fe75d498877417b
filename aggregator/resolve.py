"""Name lookups held to the fetch's deadline, answers shared by the fetch threads.

``getaddrinfo`` has no timeout of its own, and a dead name server holds it for tens of seconds.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import httpcore

from aggregator.fetch_limits import remaining

LOOKUP_TIMED_OUT = "timed out looking up"


class NotFound(httpcore.ConnectError):
    """The name servers here have no address for the name (as opposed to not answering in
    time): a proxy may still know it."""


Lookup = Callable[[str, int], Iterable[tuple[Any, ...]]]


def _system_lookup(host: str, port: int) -> Iterable[tuple[Any, ...]]:
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


class Resolver:
    """Name lookups held to the fetch's deadline.

    ``getaddrinfo`` has no timeout of its own, and a dead name server holds it for tens of
    seconds: each lookup runs on a daemon thread (so a hung one never delays exit) and the
    fetch waits only for what is left of its time. Answers are kept for ``ttl`` seconds, since
    a poll asks for the same few hosts many times, and one lookup per host is in flight.
    """

    def __init__(self, lookup: Lookup = _system_lookup, ttl: float = 300.0,
                 max_pending: int = 32) -> None:  # fmt: skip
        self._lookup = lookup
        self._ttl = ttl
        self._answers: dict[tuple[str, int], tuple[float, tuple[str, ...]]] = {}
        self._pending: dict[tuple[str, int], Future[tuple[str, ...]]] = {}
        self._lock = threading.Lock()
        # Hung lookups hold their threads; past this many, new ones wait for a free slot.
        self._slots = threading.BoundedSemaphore(max_pending)

    def addresses(self, host: str, port: int, timeout: float | None = None) -> tuple[str, ...]:
        """The addresses ``host`` resolves to, an IP literal as itself; raises
        ``httpcore.ConnectTimeout`` or ``httpcore.ConnectError`` in plain words."""
        try:
            return (str(ipaddress.ip_address(host)),)
        except ValueError:
            pass
        key = (host.lower(), port)
        wait = remaining(timeout)  # raises once the deadline has passed: before any state
        with self._lock:
            answer = self._answers.get(key)
            if answer is not None and answer[0] > time.monotonic():
                return answer[1]
            future = self._pending.get(key)
            if future is None:
                future = self._pending[key] = Future()
                started = True
            else:
                started = False
        if started:
            try:
                self._start(key, future, wait)
            except BaseException as exc:  # no thread: the lookup must not stay pending
                self._settle(key, future, error=OSError(f"cannot look up {host}: {exc}"))
                raise
        try:
            return future.result(wait)
        except FutureTimeout:
            raise httpcore.ConnectTimeout(f"{LOOKUP_TIMED_OUT} {host}") from None
        except socket.gaierror as exc:
            raise NotFound(f"cannot resolve {host}: {exc}") from exc
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc

    def _start(self, key: tuple[str, int], future: Future[tuple[str, ...]],
               wait: float | None) -> None:  # fmt: skip
        if not self._slots.acquire(timeout=-1 if wait is None else wait):
            self._settle(key, future, error=OSError("too many name lookups hanging"))
            return

        def run() -> None:
            try:
                infos = self._lookup(*key)
                found = tuple(dict.fromkeys(str(info[4][0]) for info in infos))
            except OSError as exc:
                self._settle(key, future, error=exc)
            else:
                self._settle(key, future, found=found)
            finally:
                self._slots.release()

        try:
            threading.Thread(target=run, name=f"lookup {key[0]}", daemon=True).start()
        except BaseException:
            self._slots.release()
            raise

    def _settle(self, key: tuple[str, int], future: Future[tuple[str, ...]],
                found: tuple[str, ...] = (), error: OSError | None = None) -> None:  # fmt: skip
        with self._lock:
            self._pending.pop(key, None)
            if error is None:
                self._answers[key] = (time.monotonic() + self._ttl, found)
        if error is None:
            future.set_result(found)
        else:
            future.set_exception(error)
