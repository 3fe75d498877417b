"""Serving the exported files: the one job a plain web server would do, done as well.

Strong ETags from the bytes (one per encoding, as RFC 9110 §8.8.3 asks of different
representations), Last-Modified from the file, 304 for If-None-Match and If-Modified-Since,
gzip or brotli as the client accepts, cache lifetimes by kind of file, and finished monthly
archives kept for a day: they change only when a post arrives late for their month (or a
prune), so caches keep them long but still revalidate them. A request can only
reach regular, visible files under ``output_dir``; anything else is 404.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import re
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path

import brotli

# Feed formats by name; .xml files are recognised by their root element below.
_TYPES = {
    ".atom": "application/atom+xml",
    ".rss": "application/rss+xml",
    ".json": "application/json",
    ".opml": "text/x-opml",
    ".html": "text/html",
    ".css": "text/css",
    ".js": "text/javascript",
    ".svg": "image/svg+xml",
    ".txt": "text/plain",
    ".eml": "message/rfc822",
    ".webmanifest": "application/manifest+json",
}
_TEXT_PREFIXES = ("text/", "application/atom", "application/rss", "application/json",
                  "application/feed", "application/xml", "image/svg", "application/manifest",
                  "message/")  # fmt: skip
_ROOTS = ((b"<feed", "application/atom+xml"), (b"<rss", "application/rss+xml"),
          (b"<rdf:RDF", "application/rdf+xml"), (b"<opml", "text/x-opml"))  # fmt: skip
_MONTH = re.compile(r"(?:^|/)archive/(\d{4})-(\d{2})(?:[./]|$)")

FEED_MAX_AGE = 300
PAGE_MAX_AGE = 60
ASSET_MAX_AGE = 86400
# Not `immutable`: a late post or a prune rewrites a finished month (export/archive.py).
FINISHED_MONTH = "public, max-age=86400"
MIN_COMPRESS = 256  # smaller bodies gain nothing from compression
CACHE_FILES = 1024


@dataclass(frozen=True, slots=True)
class Representation:
    body: bytes
    etag: str
    encoding: str | None  # Content-Encoding, None for identity


@dataclass(frozen=True, slots=True)
class StaticFile:
    """One file's bytes and what is said about them; compressed forms made when first asked."""

    path: Path
    identity: Representation
    media_type: str
    last_modified: datetime
    compressible: bool

    def variant(self, encoding: str | None) -> Representation:
        if encoding is None or not self.compressible:
            return self.identity
        return _compressed(self, encoding)


_compressed_cache: dict[tuple[str, str], Representation] = {}
_files: dict[Path, tuple[tuple[int, int, int], StaticFile]] = {}
_lock = threading.Lock()


def _compressed(file: StaticFile, encoding: str) -> Representation:
    key = (file.identity.etag, encoding)
    found = _compressed_cache.get(key)
    if found is None:
        data = file.identity.body
        body = brotli.compress(data, quality=9) if encoding == "br" else gzip.compress(data, 6)
        suffix = "br" if encoding == "br" else "gz"
        found = Representation(body, f'{file.identity.etag[:-1]}-{suffix}"', encoding)
        with _lock:
            if len(_compressed_cache) > 2 * CACHE_FILES:
                _compressed_cache.clear()
            _compressed_cache[key] = found
    return found


def media_type(path: Path, head: bytes) -> str:
    suffix = path.suffix.lower()
    if suffix == ".json" and (path.name.endswith("feed.json") or b"jsonfeed.org/version" in head):
        kind = "application/feed+json"
    elif suffix == ".xml":
        start = head.lstrip()[:400]
        kind = next((t for root, t in _ROOTS if root in start), "application/xml")
    else:
        kind = (
            _TYPES.get(suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        )
    text = kind.startswith(_TEXT_PREFIXES) or kind.endswith("+xml")
    return f"{kind}; charset=utf-8" if text and "charset" not in kind else kind


# Never written by the export: a database, its journal, a lock or a configuration that
# ended up in the output folder (config.py refuses that set-up) is not handed out.
_PRIVATE_SUFFIXES = (".db", ".db-wal", ".db-shm", ".db-journal", ".lock", ".yaml", ".yml")


def resolve(root: Path, url_path: str) -> Path | None:
    """The file a URL path names under root, or None: no '..', no hidden names (the
    exporter's temporary files start with a dot), no escaping through a symlink."""
    if "\x00" in url_path or "\\" in url_path:
        return None
    parts = [p for p in url_path.split("/") if p]
    if any(p in (".", "..") or p.startswith(".") for p in parts):
        return None
    if parts and parts[-1].lower().endswith(_PRIVATE_SUFFIXES):
        return None
    candidate = root.joinpath(*parts)
    try:
        real = candidate.resolve(strict=True)
        base = root.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if real != base and base not in real.parents:
        return None
    if real.is_dir():
        real = real / "index.html"
    return real if real.is_file() else None


def load(path: Path) -> StaticFile | None:
    """The file, from the cache while its size, mtime and inode are the same."""
    try:
        info = path.stat()
    except OSError:
        return None
    stamp = (info.st_mtime_ns, info.st_size, info.st_ino)
    cached = _files.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    try:
        data = path.read_bytes()
    except OSError:
        return None
    kind = media_type(path, data[:512])
    file = StaticFile(
        path=path,
        identity=Representation(data, f'"{hashlib.sha256(data).hexdigest()[:32]}"', None),
        media_type=kind,
        last_modified=datetime.fromtimestamp(int(info.st_mtime), UTC),
        compressible=len(data) >= MIN_COMPRESS and _compressible(kind),
    )
    with _lock:
        if len(_files) >= CACHE_FILES:
            _files.pop(next(iter(_files)))
        _files[path] = (stamp, file)
    return file


def _compressible(kind: str) -> bool:
    return kind.startswith(_TEXT_PREFIXES) or "+xml" in kind or "+json" in kind


def choose_encoding(accept_encoding: str) -> str | None:
    """br, else gzip, else identity, by the client's Accept-Encoding with q-values."""
    weights: dict[str, float] = {}
    for item in accept_encoding.split(","):
        name, _, params = item.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if name:
            weights[name.strip().lower()] = q
    star = weights.get("*", 0.0)
    for encoding in ("br", "gzip"):
        if weights.get(encoding, star) > 0:
            return encoding
    return None


def cache_control(url_path: str, kind: str, today: date) -> str:
    found = _MONTH.search(url_path)
    if found:
        year, month = int(found.group(1)), int(found.group(2))
        if (year, month) < (today.year, today.month):
            return FINISHED_MONTH
    if kind.startswith("text/html"):
        return f"public, max-age={PAGE_MAX_AGE}"
    if kind.startswith(("application/atom", "application/rss", "application/feed", "text/x-opml",
                        "application/rdf", "application/xml", "application/json")):  # fmt: skip
        return f"public, max-age={FEED_MAX_AGE}"
    return f"public, max-age={ASSET_MAX_AGE}"


def not_modified(
    file: StaticFile, chosen: Representation, if_none_match: str | None, if_modified: str | None
) -> bool:
    """RFC 9110 §13.1.2-3: If-None-Match (weak comparison) wins over If-Modified-Since."""
    if if_none_match is not None:
        tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return "*" in tags or chosen.etag in tags
    if if_modified is None:
        return False
    try:
        since = parsedate_to_datetime(if_modified)
    except (TypeError, ValueError, IndexError):
        return False
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return file.last_modified <= since


def http_date(value: datetime) -> str:
    return format_datetime(value.astimezone(UTC), usegmt=True)


__all__ = [
    "StaticFile",
    "cache_control",
    "choose_encoding",
    "http_date",
    "load",
    "media_type",
    "not_modified",
    "resolve",
]
