"""Load test of `aggregator serve`: 200 concurrent clients on static files and on search.

    python -m benchmarks.bench_serve                      # 20,000 entries, 10 s per phase
    python -m benchmarks.bench_serve --db /tmp/s.db       # a database from bench_search
    python -m benchmarks.bench_serve --client httpx       # without Debian's wrk

The server runs as `aggregator serve` in a process of its own, as deployed; the load comes
from wrk (Debian's `wrk`, a Lua script cycling through the paths) or, without it, from an
httpx client on asyncio. Each phase prints requests/s, p50 and p99 latency and errors (a
failed connection, a timeout, or a status other than 200 and 304).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from aggregator.config import Config, FeedConfig
from aggregator.export import export_feeds
from aggregator.store import Store
from benchmarks.bench_search import FEEDS, NOW, build, document_frequencies, query_set

CLIENTS = 200

LUA = """
paths = {%(paths)s}
etags = {%(etags)s}
counter = 0
request = function()
  counter = counter + 1
  local i = (counter %% #paths) + 1
  local headers = {["Accept-Encoding"] = "gzip, br"}
  if etags[i] ~= "" then headers["If-None-Match"] = etags[i] end
  return wrk.format("GET", paths[i], headers)
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %%d %%f %%f %%f %%d %%d %%d %%d %%d\\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3,
    latency:percentile(99) / 1e3, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout, summary.errors.status))
end
"""


def site(directory: Path, db: Path | None, entries: int) -> Path:
    """feeds.yaml, a database and the exported files; returns the feeds.yaml path."""
    database = db or directory / "site.db"
    if db is None:
        store = build(database, entries, random.Random(16))
        store.rebuild_search_index()
    else:
        store = Store.open(database)
    lines = [
        "site:",
        f"  database: {database}",
        f"  output_dir: {directory / 'output'}",
        "  base_url: https://planet.example.dk/",
        "feeds:",
    ]
    lines += [
        f"  - {{name: Kommune {i}, url: 'https://kommune{i}.example.dk/feed', tags: [kommuner]}}"
        for i in range(FEEDS)
    ]
    config_path = directory / "feeds.yaml"
    config_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = Config(
        feeds=tuple(
            FeedConfig(name=f"Kommune {i}", url=f"https://kommune{i}.example.dk/feed")
            for i in range(FEEDS)
        )
    )
    export_feeds(config.model_copy(update={"source_path": config_path}), store, NOW)
    output = directory / "output"
    (output / "index.html").write_text(
        "<!doctype html><html lang=da><title>Forside</title>"
        + "<p>Nyheder fra kommunerne</p>" * 2000,
        encoding="utf-8",
    )
    store.close()
    return config_path


def start_server(config: Path, port: int) -> subprocess.Popen[bytes]:
    exe = Path(sys.executable).with_name("aggregator")
    process = subprocess.Popen(
        [str(exe), "serve", "-c", str(config), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/atom.xml", timeout=2)
            return process
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the server did not start")


def phases(base: str, queries: dict[str, list[str]]) -> dict[str, list[tuple[str, str]]]:
    """(path, If-None-Match) per phase; ETags fetched once so that half the static requests
    are revalidations, as feed readers send them."""
    static = ["/", "/atom.xml", "/rss.xml", "/feed.json"]
    etags = {
        path: httpx.get(base + path, headers={"Accept-Encoding": "gzip, br"}).headers["etag"]
        for path in static
    }
    words = queries["word in 0.2-2%"][:10] + queries["word in 2-8%"][:5]
    words += queries["word in 8-50% of posts"][:5]
    search = [f"/search?{httpx.QueryParams({'q': w})}" for w in words]
    feeds = [f"/search.atom?{httpx.QueryParams({'q': w})}" for w in words[:10]]
    return {
        "static files (half 304)": [(p, "") for p in static] + [(p, etags[p]) for p in static],
        "search pages": [(p, "") for p in search],
        "mixed: 80% static, 15% search, 5% search feeds": (
            [(p, "") for p in static] * 4
            + [(p, etags[p]) for p in static] * 4
            + [(p, "") for p in search[:6]]
            + [(p, "") for p in feeds[:2]]
        ),
    }


def run_wrk(base: str, requests: Sequence[tuple[str, str]], seconds: int) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(
            LUA
            % {
                "paths": ", ".join(f'"{p}"' for p, _ in requests),
                "etags": ", ".join('"' + e.replace('"', '\\"') + '"' for _, e in requests),
            }
        )
    try:
        out = subprocess.run(
            [
                "wrk",
                "-t",
                "2",
                "-c",
                str(CLIENTS),
                "-d",
                f"{seconds}s",
                "--timeout",
                "10s",
                "-s",
                script.name,
                base,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(script.name)
    found = re.search(r"RESULT (\d+) ([\d.]+) ([\d.]+) ([\d.]+) (\d+) (\d+) (\d+) (\d+) (\d+)", out)
    if found is None:
        raise SystemExit(f"wrk said:\n{out}")
    count, duration, p50, p99, *errors = (float(v) for v in found.groups())
    return {
        "requests": count,
        "rps": count / duration,
        "p50": p50,
        "p99": p99,
        "errors": sum(errors),
    }


async def _httpx_load(
    base: str, requests: Sequence[tuple[str, str]], seconds: int
) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    stop = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=10) as client:

        async def one_client(offset: int) -> None:
            nonlocal errors
            i = offset
            while time.monotonic() < stop:
                path, etag = requests[i % len(requests)]
                i += 1
                headers = {
                    "Accept-Encoding": "gzip, br",
                    **({"If-None-Match": etag} if etag else {}),
                }
                start = time.perf_counter()
                try:
                    response = await client.get(path, headers=headers)
                    await response.aread()
                    if response.status_code not in (200, 304):
                        errors += 1
                except httpx.HTTPError:
                    errors += 1
                latencies.append(time.perf_counter() - start)

        started = time.monotonic()
        await asyncio.gather(*(one_client(n) for n in range(CLIENTS)))
        duration = time.monotonic() - started
    ordered = sorted(latencies)
    return {
        "requests": len(ordered),
        "rps": len(ordered) / duration,
        "p50": statistics.median(ordered) * 1000,
        "p99": ordered[int(0.99 * (len(ordered) - 1))] * 1000,
        "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=20_000)
    parser.add_argument("--db", type=Path, help="an existing database (e.g. bench_search's)")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument(
        "--client", choices=["wrk", "httpx"], default="wrk" if shutil.which("wrk") else "httpx"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        config = site(directory, args.db, args.entries)
        store = Store.open(args.db or directory / "site.db")
        counts, sampled = document_frequencies(store)
        entries = store.entry_count()
        store.close()
        queries = query_set(counts, sampled, random.Random(16))
        port = 18000 + os.getpid() % 1000
        server = start_server(config, port)
        base = f"http://127.0.0.1:{port}"
        try:
            print(
                f"{entries:,} entries; {CLIENTS} concurrent clients, {args.seconds} s per phase, "
                f"load from {args.client}; server: aggregator serve (uvicorn, one process)"
            )
            print(f"{'phase':<48} | requests |    req/s |  p50 ms |  p99 ms | errors")
            for label, requests in phases(base, queries).items():
                if args.client == "wrk":
                    result = run_wrk(base, requests, args.seconds)
                else:
                    result = asyncio.run(_httpx_load(base, requests, args.seconds))
                print(
                    f"{label:<48} | {result['requests']:>8,.0f} | {result['rps']:>8,.0f} | "
                    f"{result['p50']:>7.1f} | {result['p99']:>7.1f} | {result['errors']:>6,.0f}"
                )
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
