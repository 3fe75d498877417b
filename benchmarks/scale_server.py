"""The internet in one process, for benchmarks/scale.py: many hosts, slow answers, failures.

Each host is a loopback address of its own (127.1.x.y, all routed to ``lo`` on Linux), so a
client's per-host limits act as they do against real servers. Every answer waits 50–200 ms.
A feed's fate is fixed by its number, as on the internet the same feeds keep failing:

    1.0%  404 Not Found        0.5%  500 Internal Server Error
    0.3%  never answers (the client's timeout)   0.2%  connection reset mid-answer

The rest answer 200 with their document, or 304 to a matching ``If-None-Match``. In each
cycle (``GET /_cycle/N`` on any host) about one feed in ten has a new entry. A small
asyncio server, not http.server: 100,000 requests an hour with 100 in flight need no thread
each.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import random
import socket
import struct
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

CHANGE_SHARE = 10  # one feed in CHANGE_SHARE changes per cycle
ENTRIES = 3
START = datetime(2026, 11, 1, 8, tzinfo=UTC)
WORDS = (  # noqa: SIM905
    "kommunen borgerne digitalisering løsning data sikkerhed arkitektur fællesskab "
    "velfærd sundhed skole indkøb platform tjenester åbenhed fremtidens øget møde "
    "strategi udbud projektet medarbejdere systemet brugerne være blive også nye"
).split()


def host_address(host: int) -> str:
    return f"127.1.{host // 250}.{host % 250 + 1}"


def feed_url(feed: int, hosts: int, port: int) -> str:
    return f"http://{host_address(feed % hosts)}:{port}/f/{feed}"


def _roll(*parts: int) -> int:
    """A stable number in [0, 1000) for a feed (and a cycle): the same run after run."""
    digest = hashlib.blake2b(struct.pack(f"{len(parts)}q", *parts), digest_size=4).digest()
    return int.from_bytes(digest) % 1000


def fate(feed: int) -> str:
    roll = _roll(feed)
    for limit, kind in ((10, "404"), (15, "500"), (18, "timeout"), (20, "reset")):
        if roll < limit:
            return kind
    return "ok"


def changed(feed: int, cycle: int) -> bool:
    return cycle > 0 and _roll(feed, cycle) < 1000 // CHANGE_SHARE


def version(feed: int, cycle: int) -> int:
    return sum(changed(feed, c) for c in range(1, cycle + 1))


def document(feed: int, version: int) -> bytes:
    """A small WordPress-like RSS 2.0 document: its newest ENTRIES entries, in Danish."""
    items = []
    for number in range(version + ENTRIES - 1, version - 1, -1):
        rng = random.Random(feed * 7919 + number)
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(12, 30)))
        published = format_datetime(START + timedelta(hours=number), usegmt=True)
        items.append(
            f"<item><title>Indlæg {number} fra blog {feed}: {words[:40]}</title>"
            f"<link>https://blog{feed}.example.dk/{number}/</link>"
            f'<guid isPermaLink="false">blog{feed}-{number}</guid>'
            f"<pubDate>{published}</pubDate>"
            f"<description>&lt;p&gt;Blog {feed} skriver: {words}.&lt;/p&gt;</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>Blog {feed} – æøå</title><link>https://blog{feed}.example.dk/</link>"
        f"<description>Digitalisering i kommune {feed}</description>{''.join(items)}"
        "</channel></rss>"
    ).encode()


class World:
    def __init__(self, seed: int) -> None:
        self.cycle = 0
        self.rng = random.Random(seed)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if not await self.answer(head, writer):
                    return
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def answer(self, head: bytes, writer: asyncio.StreamWriter) -> bool:
        """One request; False when the connection is to end."""
        lines = head.decode("latin-1").split("\r\n")
        path = lines[0].split(" ")[1]
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in lines[1:] if line)
        }
        if path.startswith("/_cycle/"):
            self.cycle = int(path.rsplit("/", 1)[1])
            self.reply(writer, 200, b"ok")
            return True
        await asyncio.sleep(self.rng.uniform(0.05, 0.2))
        try:
            feed = int(path.rsplit("/", 1)[1])
        except ValueError:
            self.reply(writer, 404, b"")
            return True
        kind = fate(feed)
        if kind == "timeout":
            await asyncio.sleep(3600)
            return False
        if kind == "reset":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n<rss")
            await writer.drain()
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return False
        if kind != "ok":
            self.reply(writer, int(kind), b"not here" if kind == "404" else b"oops")
            return True
        current = version(feed, self.cycle)
        etag = f'"{feed}-{current}"'
        if headers.get("if-none-match") == etag:
            self.reply(writer, 304, b"", {"ETag": etag})
            return True
        body = document(feed, current)
        type_ = {"ETag": etag, "Content-Type": "application/rss+xml; charset=UTF-8"}
        self.reply(writer, 200, body, type_)
        return True

    @staticmethod
    def reply(writer: asyncio.StreamWriter, status: int, body: bytes,
              headers: dict[str, str] | None = None) -> None:  # fmt: skip
        reason = {200: "OK", 304: "Not Modified", 404: "Not Found", 500: "Server Error"}
        lines = [f"HTTP/1.1 {status} {reason[status]}", f"Content-Length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)


async def serve(hosts: int, port: int, seed: int) -> None:
    world = World(seed)
    addresses = [host_address(host) for host in range(hosts)]
    server = await asyncio.start_server(world.handle, addresses, port, backlog=512)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.hosts, args.port, args.seed))
