"""The fault suite's harness: the real ``aggregator`` entry point in a subprocess, a real
loopback feed server, a real SQLite file, and checks of what came out.

Shared by tests/faults/ (few trials, for every CI run) and benchmarks/faults.py (more
trials, the table in the closing report).
"""

from __future__ import annotations

import os
import re
import resource
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from tests.feedgen import Item, rss
from tests.feedserver import FeedServer

EXE = Path(sys.executable).with_name("aggregator")
NOW = datetime.now(UTC).replace(microsecond=0)


def write_config(
    directory: Path, feeds: list[dict[str, Any]], database: Path | None = None, **poll: Any
) -> Path:
    data = {
        "site": {
            "title": "Offentlig digitalisering",
            "base_url": "https://planet.example.dk/",
            "database": str(database or directory / "aggregator.db"),
            "output_dir": str(directory / "output"),
        },
        "poll": {
            "timeout_seconds": 3,
            "total_timeout_seconds": 8,
            "startup_spread_seconds": 0,
            **poll,
        },
        "feeds": feeds,
    }
    path = directory / "feeds.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def command(*args: str, config: Path) -> list[str]:
    return [str(EXE), *args, "-c", str(config)]


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str
    peak_rss_mib: float  # the largest process of the tree (main or a worker)
    seconds: float


_MEASURE = (
    "import resource, subprocess, sys\n"
    "p = subprocess.run(sys.argv[1:])\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(p.returncode)\n"
)


def run(
    args: list[str], timeout: float = 120, preexec: Any = None, env: dict[str, str] | None = None
) -> Run:
    """Run to the end; the peak RSS is measured by a wrapper process of its own, so that
    earlier runs do not count."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        preexec_fn=preexec,
        env={**os.environ, **(env or {})},
    )
    *lines, peak = done.stderr.rstrip("\n").split("\n")
    return Run(
        done.returncode,
        done.stdout,
        "\n".join(lines),
        int(peak) / 1024,
        time.monotonic() - started,
    )


@contextmanager
def started(args: list[str], **kwargs: Any) -> Iterator[subprocess.Popen[str]]:
    """A process in a session of its own (so its whole group can be killed), ended after."""
    process = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True, **kwargs,
    )  # fmt: skip
    try:
        yield process
    finally:
        kill_group(process)


def kill_group(process: subprocess.Popen[str]) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with suppress(subprocess.TimeoutExpired, ValueError):
        process.communicate(timeout=10)


def group_members(pgid: int) -> list[int]:
    """Processes still alive in a process group (orphaned workers stay in their group)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


# ---------------------------------------------------------------------------------------------
# Feeds with known contents, and what the database holds of them


def known_feed(index: int, entries: int = 20) -> bytes:
    items = [
        Item(
            title=f"Indlæg {index}.{n}: digitalisering på tværs af kommuner æøå",
            link=f"https://blog{index}.example.dk/indlaeg/{n}",
            guid=f"feed{index}-entry{n}",
            html=f"<p>Unikt indhold {index} {n}: "
            + " ".join(f"ord{index}x{n}x{w}" for w in range(40))
            + "</p>",
            published=NOW - timedelta(hours=index * entries + n + 1),
        )
        for n in range(entries)
    ]
    return rss(f"Blog {index}", f"https://blog{index}.example.dk/", items)


def serve_known_feeds(server: FeedServer, count: int, entries: int = 20) -> list[dict[str, str]]:
    return [
        {"name": f"Blog {i}", "url": server.static_feed(f"/feed{i}", known_feed(i, entries))}
        for i in range(count)
    ]


@dataclass(frozen=True)
class Ledger:
    """What the database holds against what the feeds said."""

    lost: int
    duplicated: int
    corrupt: bool


def ledger(database: Path, feeds: int, entries: int = 20) -> Ledger:
    expected = {f"feed{i}-entry{n}" for i in range(feeds) for n in range(entries)}
    if not database.exists():
        return Ledger(len(expected), 0, False)
    conn = sqlite3.connect(database)
    try:
        try:
            corrupt = conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok"
        except sqlite3.DatabaseError:
            return Ledger(len(expected), 0, True)
        try:
            keys = [key for (key,) in conn.execute("SELECT entry_key FROM entry_sources")]
            links = [link for (link,) in conn.execute("SELECT link FROM entries")]
        except sqlite3.OperationalError:  # killed before the schema was made
            keys, links = [], []
    finally:
        conn.close()
    duplicated = (len(keys) - len(set(keys))) + (len(links) - len(set(links)))
    return Ledger(len(expected - set(keys)), duplicated, corrupt)


# ---------------------------------------------------------------------------------------------
# Outputs: nothing active, XML well-formed

_ACTIVE_ELEMENTS = frozenset(
    {"script", "style", "object", "embed", "applet", "form", "input", "button", "textarea",
     "select", "base", "meta", "link", "frame", "frameset", "svg", "math", "template"}
)  # fmt: skip
_URL_ATTRIBUTES = frozenset({"href", "src", "action", "formaction", "cite", "poster", "data",
                             "background", "xlink:href", "srcset"})  # fmt: skip
_SAFE_SCHEME = re.compile(r"^(https?:|mailto:|#|/|[^:/?#]*(?:[/?#]|$))", re.I)


_OWN_STYLING = frozenset({"style", "meta", "link", "title"})


def active_content(fragment: str, document: bool = False) -> list[str]:
    """What an HTML5 parser (html5lib) finds in ``fragment`` that a browser would run or
    follow to somewhere unsafe: scripts and the like, handlers, styles, unsafe URLs.

    A whole ``document`` (the page, the digest) may carry its own styling (a head, inlined
    style attributes): feed content can bring none, as sanitising drops every style."""
    import html5lib

    found = []
    if document:
        tree = html5lib.parse(fragment, namespaceHTMLElements=False)
    else:
        tree = html5lib.parseFragment(fragment, namespaceHTMLElements=False)
    for element in tree.iter():
        tag = element.tag if isinstance(element.tag, str) else ""
        name = tag.rsplit("}", 1)[-1].lower()
        if document and name in _OWN_STYLING:
            continue
        if name in _ACTIVE_ELEMENTS:
            found.append(f"<{name}>")
        if name == "iframe" and not (element.get("src") or "").startswith("https://"):
            found.append("<iframe> without an https player")
        for attribute, value in element.attrib.items():
            key = str(attribute).rsplit("}", 1)[-1].lower()
            if key.startswith("on") or key == "srcdoc" or (key == "style" and not document):
                found.append(f"{name}[{key}]")
            if key in _URL_ATTRIBUTES and not _SAFE_SCHEME.match(value.strip()):
                found.append(f"{name}[{key}={value[:40]!r}]")
    return found


def unsafe_url(value: str | None) -> bool:
    return bool(value) and not re.match(r"^https?://[^\s]+$", str(value))


def output_problems(output: Path, feeds: bool = True) -> list[str]:
    """Every output checked: XML well-formed, each HTML fragment and URL safe; ``feeds``
    False for a directory of HTML pages only (a digest preview)."""
    import json

    from lxml import etree

    problems: list[str] = []
    fragments: list[tuple[str, str]] = []
    urls: list[tuple[str, str | None]] = []
    for name in ("atom.xml", "rss.xml") if feeds else ():
        path = output / name
        if not path.exists():
            problems.append(f"{name} missing")
            continue
        try:
            root = etree.fromstring(path.read_bytes(), etree.XMLParser(resolve_entities=False))
        except etree.XMLSyntaxError as exc:
            problems.append(f"{name} not well-formed: {exc}")
            continue
        for element in root.iter():
            if not isinstance(element.tag, str):
                continue
            local = element.tag.rsplit("}", 1)[-1]
            if local in ("content", "description", "summary") and element.text:
                fragments.append((name, element.text))
            if local == "link":
                urls.append((name, element.get("href") or element.text))
    feed = output / "feed.json"
    if feed.exists():
        data = json.loads(feed.read_text(encoding="utf-8"))
        urls.append(("feed.json", data.get("home_page_url")))
        for item in data.get("items", []):
            fragments.append(("feed.json", item.get("content_html") or ""))
            urls.append(("feed.json", item.get("url")))
            urls.extend(("feed.json", a.get("url")) for a in item.get("authors", []))
    for where, fragment in fragments:
        problems.extend(f"{where}: {found}" for found in active_content(fragment))
    for page in output.rglob("*.html"):
        found = active_content(page.read_text(encoding="utf-8"), document=True)
        problems.extend(f"{page.name}: {problem}" for problem in found)
    problems.extend(f"{where}: unsafe URL {url!r}" for where, url in urls if unsafe_url(url))
    return problems


def secrets_in(output: Path, secrets: Iterable[str]) -> list[str]:
    text = "".join(
        p.read_text(encoding="utf-8", errors="replace") for p in output.rglob("*") if p.is_file()
    )
    return [secret for secret in secrets if secret in text]


def set_fsize_limit(limit: int) -> Any:
    """A preexec_fn: writes past ``limit`` bytes fail (EFBIG) instead of killing the process,
    the nearest a test gets to a full disk without mounting one."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def without_privileges() -> None:
    """A preexec_fn: the child keeps uid 0 but no capabilities (securebits NOROOT), so file
    permissions hold for it as for any user: a read-only directory is read-only."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_securebits, noroot, noroot_locked = 28, 1, 2
    if os.getuid() == 0 and libc.prctl(pr_set_securebits, noroot | noroot_locked, 0, 0, 0):
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECUREBITS)")


def damage(database: Path, pages: int = 3, page_size: int = 4096) -> None:
    """Overwrite ``pages`` pages in the middle of the file with garbage, as a bad disk would."""
    size = database.stat().st_size
    with database.open("r+b") as handle:
        for n in range(pages):
            handle.seek((size // page_size // 2 + n * 2) * page_size)
            handle.write(bytes((n * 37 + i) % 251 for i in range(page_size)))
