"""Long-lived worker processes, started once before any thread exists and reused by every poll.

A fork copies the whole process, with any lock another thread holds at that moment: it is only
safe while the process has one thread. So ``aggregator poll`` and ``aggregator run`` start a
pool first thing, before the store, the scheduler or any fetch thread: the pool forks a
*spawner*, a small process that never starts a thread, and the spawner forks the workers, at
once and again whenever one has died (a process that makes one poll, ``aggregator poll``,
forks its workers itself: it replaces none). The modules the workers need are imported before the
first fork, so every worker shares their pages with the main process instead of importing its
own copy (what a forkserver would do, at a second of start-up each).

Nothing outlives the main process:

- the spawner and each worker ask the kernel for SIGKILL when their parent dies
  (``PR_SET_PDEATHSIG``), which covers SIGKILL of the main process;
- only the main process holds the other end of a worker's request pipe, so a worker that
  misses the signal still stops at end-of-file;
- ``close()`` ends the spawner, which stops its workers and waits for them before it exits.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import gc
import logging
import os
import signal
import socket
import struct
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import TypeVar

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
PIPE_BYTES = 1 << 20  # Linux lets any user ask for up to this (fs.pipe-max-size)
_PID = struct.Struct("!i")

Serve = Callable[[Connection, Connection], None]


def die_with_parent(parent: int) -> None:
    """Ask the kernel to SIGKILL this process when ``parent`` goes; exit now if it already has."""
    if sys.platform == "linux":
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(0)


_HELD = {signal.SIGINT, signal.SIGTERM}


def _fork_holding_signals() -> int:
    """``os.fork`` with SIGINT and SIGTERM held until the child has its own handlers: one that
    came in between would run the parent's handler in the child, inside threading's after-fork
    hook (a traceback on the command's stderr when a pool is closed right after it started).

    Ctrl-C reaches the whole process group: the main process alone decides what it means (it
    stops the workers of an abandoned poll itself). SIGTERM ends a child quietly."""
    held = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, held)
    return pid


def _fork_child(child: Callable[[], int]) -> int:
    """Fork; the child asks to die with this process, runs ``child`` and exits with what it
    returns (1 if it raised), never returning into this process's code. The child's pid."""
    parent = os.getpid()
    pid = _fork_holding_signals()
    if pid == 0:
        code = 1
        try:
            die_with_parent(parent)
            code = child()
        finally:
            os._exit(code)
    return pid


@dataclass(slots=True)
class Worker:
    """The main process's side of one worker: its pid and both pipe ends."""

    pid: int
    requests: Connection  # main -> worker
    results: Connection  # worker -> main
    alive: bool = True

    def kill(self) -> None:
        """Stop a worker whose job was abandoned halfway: what it would still send is stale."""
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        self.alive = False
        self.requests.close()
        self.results.close()


@dataclass(slots=True)
class WorkerPool:
    """``size`` worker processes, each running ``serve(requests, results)`` until its request
    pipe ends. Use from one thread at a time (the service runs one job at a time).

    ``respawn``: keep a spawner, to replace a worker that dies, for a process that polls
    again and again. Without it (``aggregator poll``: one poll) the workers are forked here
    and a dead one is not replaced; no spawner holds a copy of every page they share, about
    7 MiB at N = 1000."""

    size: int
    serve: Serve
    respawn: bool = True
    workers: list[Worker] = field(default_factory=list)
    _spawner: int | None = None
    _control: socket.socket | None = None
    _forked: bool = False  # workers forked here, without a spawner
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> WorkerPool:
        limit_malloc()  # before the fetch threads and the workers: they inherit it
        if self.size <= 0 or self._spawner is not None or self._forked:
            return self
        if threading.active_count() > 1:
            log.warning("worker pool started with %d threads running", threading.active_count())
        if not self.respawn:
            self._forked = True
            # The pages as they are now are shared with every worker: the collector must
            # leave them alone, as marking an object writes to (and so copies) its page.
            gc.freeze()
            try:
                self.workers = [self._fork() for _ in range(self.size)]
            finally:
                gc.unfreeze()
            log.debug("forked %d worker processes", self.size)
            return self
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        gc.freeze()  # as above

        def spawner() -> int:
            ours.close()
            return _spawner(theirs, self.serve)

        pid = _fork_child(spawner)
        gc.unfreeze()
        theirs.close()
        self._spawner, self._control = pid, ours
        self.workers = [self._spawn() for _ in range(self.size)]
        log.debug("started %d worker processes", self.size)
        return self

    def _fork(self) -> Worker:
        """A worker forked from this process, which has one thread (see start)."""
        request_read, request_write = os.pipe()
        result_read, result_write = os.pipe()
        widen(request_write)
        widen(result_read)

        def worker() -> int:
            os.close(request_write)
            os.close(result_read)
            for other in self.workers:  # only the main process holds a worker's ends
                other.requests.close()
                other.results.close()
            return _worker(request_read, result_write, self.serve)

        pid = _fork_child(worker)
        os.close(request_read)
        os.close(result_write)
        return Worker(
            pid,
            Connection(request_write, readable=False),
            Connection(result_read, writable=False),
        )

    def _spawn(self) -> Worker:
        assert self._control is not None
        request_read, request_write = os.pipe()
        result_read, result_write = os.pipe()
        widen(request_write)
        widen(result_read)
        try:
            socket.send_fds(self._control, [b"spawn"], [request_read, result_write])
            pid = _PID.unpack(_receive(self._control, _PID.size))[0]
        finally:
            os.close(request_read)
            os.close(result_write)
        return Worker(
            pid,
            Connection(request_write, readable=False),
            Connection(result_read, writable=False),
        )

    def ready(self) -> list[Worker]:
        """The workers, with any that died since the last poll replaced first."""
        with self._lock:
            if self._forked:
                for worker in self.workers:
                    if worker.alive and _ended(worker.results):
                        worker.alive = False
                return [worker for worker in self.workers if worker.alive]
            if self._control is None:
                return []
            for index, worker in enumerate(self.workers):
                if worker.alive and _ended(worker.results):
                    worker.alive = False
                if not worker.alive:
                    with contextlib.suppress(OSError):
                        worker.requests.close()
                        worker.results.close()
                    self.workers[index] = self._spawn()
                    log.info("restarted a worker process that had stopped")
            return list(self.workers)

    def close(self) -> None:
        """Stop every worker and the spawner, and wait for them."""
        with self._lock:
            for worker in self.workers:
                with contextlib.suppress(OSError):
                    worker.requests.close()
                    worker.results.close()
            if self._forked:  # as the spawner does with its workers
                _stop(worker.pid for worker in self.workers)
                self._forked = False
            self.workers = []
            if self._control is not None:
                self._control.close()
                self._control = None
            if self._spawner is not None:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(self._spawner, 0)
                self._spawner = None

    def __enter__(self) -> WorkerPool:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


# glibc's mallopt parameters (malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
MALLOC_THRESHOLD_BYTES = 128 * 1024  # glibc's starting value, kept from rising
MALLOC_ARENAS = 2


def limit_malloc() -> None:
    """Keep glibc's malloc from holding memory the poll has freed, in this process and in
    the workers it forks (they inherit the settings):

    - a buffer over 128 KiB (a feed's body, a pickled plan) that the free heap cannot hold
      is mapped, and given back when freed; by default the threshold rises to the largest
      buffer freed so far, and the heap grows for later ones, and keeps what they free;
    - free memory at the top of the heap is given back once over 128 KiB (by default
      this rises with the threshold, to twice it);
    - the fetch threads share two arenas instead of one each (up to 8 a core), each
      holding its own freed memory.

    The same as ``GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072:...trim_threshold=
    131072:...arena_max=2``. Peak PSS of a cold poll's tree, wild corpus: N = 300 100.8 ->
    98.3 MiB, N = 1,000 106.1 -> 103.1 MiB (2 December 2026); no CPU lost beyond noise."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None)
        libc.mallopt(M_ARENA_MAX, MALLOC_ARENAS)
        libc.mallopt(M_MMAP_THRESHOLD, MALLOC_THRESHOLD_BYTES)
        libc.mallopt(M_TRIM_THRESHOLD, MALLOC_THRESHOLD_BYTES)


def widen(fd: int) -> None:
    """Let a pipe hold 1 MiB instead of 64 KiB, more than one feed's plan: with the default,
    a worker waited on almost every send until the main process, busy writing, came back to
    read, and a cold poll left a fifth of two cores idle."""
    # Over the user's pipe limits, the default size is slower, not wrong.
    if sys.platform == "linux":
        with contextlib.suppress(OSError):
            fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)


def _ended(connection: Connection) -> bool:
    """Whether a worker idle between polls has gone: its result pipe is readable only then."""
    try:
        if not connection.poll():
            return False
        connection.recv()  # a message from an abandoned job: the worker is not to be trusted
    except (EOFError, OSError):
        pass
    return True


def _receive(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise OSError("the worker spawner stopped")
        data += chunk
    return data


def _spawner(control: socket.socket, serve: Serve) -> int:
    """Fork a worker for each request on ``control``, until it ends; then stop them all."""
    children: set[int] = set()
    try:
        while True:
            try:
                _, fds, _, _ = socket.recv_fds(control, 16, 2)
            except OSError:
                break
            if len(fds) != 2:
                break  # end of file: the main process closed the pool or went away

            def worker(ends: list[int] = fds) -> int:
                control.close()
                return _worker(ends[0], ends[1], serve)

            pid = _fork_child(worker)
            for fd in fds:  # the next worker must not hold this one's pipe ends
                os.close(fd)
            children.add(pid)
            control.sendall(_PID.pack(pid))
            children -= _reaped()
    finally:
        _stop(children)
    return 0


def _stop(pids: Iterable[int]) -> None:
    """End these child processes and wait for them."""
    pids = list(pids)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    for pid in pids:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)


def _reaped() -> set[int]:
    done = set()
    with contextlib.suppress(ChildProcessError):
        while True:
            pid, _ = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            done.add(pid)
    return done


def _worker(requests: int, results: int, serve: Serve) -> int:
    requests_end = Connection(requests, writable=False)
    results_end = Connection(results, readable=False)
    try:
        serve(requests_end, results_end)
    except (BrokenPipeError, EOFError):
        pass  # the main process stopped listening: nothing left to do
    finally:
        requests_end.close()
        results_end.close()
    return 0


@contextlib.contextmanager
def started(size: int, serve: Serve) -> Iterator[WorkerPool]:
    with WorkerPool(size, serve) as pool:
        yield pool


T = TypeVar("T")
R = TypeVar("R")


def fork_map(
    work: Callable[[T], R],
    items: Sequence[T],
    processes: int,
    *,
    setup: Callable[[], None] = lambda: None,
    lost: Callable[[T], None] = lambda item: None,
) -> list[R]:
    """``[work(item) for item in items]``, dealt round-robin to this process and
    ``processes - 1`` children forked for it: for CPU-bound work of one job (an export's
    renders) on more than one core. The results come back in the items' order.

    Forking is only safe while this process has one thread (see the module's docstring); with
    more, or one process asked for, everything runs here. A child runs ``setup`` first (to
    open what must not be shared across a fork, such as a database connection), sends each
    result as it has it, and exits without running any of this process's finalisers. Should
    one die (or ``work`` fail in it with anything but a result), this process calls ``lost``
    for each item it did not report, then does that work itself, so a fault shows here with
    its own traceback. ``work`` must turn expected failures into results."""
    if processes < 2 or len(items) < 2 or threading.active_count() > 1 or not hasattr(os, "fork"):
        return [work(item) for item in items]
    processes = min(processes, len(items))
    results: dict[int, R] = {}
    children: list[tuple[int, Connection]] = []
    try:
        gc.freeze()  # the children only read what this process has: keep its pages shared
        try:
            for rank in range(1, processes):
                children.append(_fork_mapper(work, items, rank, processes, setup, children))
        finally:
            gc.unfreeze()
        for index in range(0, len(items), processes):
            results[index] = work(items[index])
        for _, results_end in children:
            with contextlib.suppress(EOFError, OSError):
                while (message := results_end.recv()) is not None:
                    index, result = message
                    results[index] = result
    finally:
        for pid, results_end in children:
            results_end.close()
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)  # one still running was abandoned: stop it
        for pid, _ in children:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
    missing = [index for index in range(len(items)) if index not in results]
    if missing:
        log.warning("a helper process stopped early: %d of its items done here", len(missing))
    for index in missing:
        lost(items[index])
        results[index] = work(items[index])
    return [results[index] for index in range(len(items))]


def _fork_mapper(
    work: Callable[[T], R],
    items: Sequence[T],
    rank: int,
    processes: int,
    setup: Callable[[], None],
    siblings: list[tuple[int, Connection]],
) -> tuple[int, Connection]:
    read, write = os.pipe()
    widen(write)

    def mapper() -> int:
        os.close(read)
        for _, sibling in siblings:  # only the parent reads a child's results
            sibling.close()
        results_end = Connection(write, readable=False)
        try:
            setup()
            for index in range(rank, len(items), processes):
                results_end.send((index, work(items[index])))
            results_end.send(None)  # done: every item of this share reported
        except BaseException:  # the parent does what is left, and shows the error itself
            log.debug("helper process failed", exc_info=True)
            return 1
        return 0

    pid = _fork_child(mapper)
    os.close(write)
    return pid, Connection(read, writable=False)
