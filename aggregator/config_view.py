"""What ``status`` and ``entries`` read of feeds.yaml, remembered once the full validator passed it.

Validating feeds.yaml imports pydantic and PyYAML and builds every settings model: about
0.25 s of CPU, more than the whole start-up budget of ``status``. So the few facts they need
(the database, the zone, the alert limit, each feed's name, URL, enabled flag and tags) are
kept in a small JSON file in the user's cache directory once the validator has accepted the file.

The cache is keyed by the file's resolved path, size, mtime and the SHA-256 of its bytes, by
the code that validated it (aggregator's version, the validating modules' files, the
directory of installed packages, Python's version) and by what else validation read: the
proxy variables of the environment (their hash) and the files it checked (poll.ca_bundle's
path, size and mtime). Any difference, or a cache file that cannot be read or is not as
written, means a full validation: the cache can make status fast, never make it accept a
file the validator rejects. Only the standard library here.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from aggregator import __version__
from aggregator.errors import ConfigError

try:  # the built-in module: hashlib would load OpenSSL, 5-14 ms of every status
    from _sha256 import sha256  # type: ignore[import-not-found]
except ImportError:
    try:
        from _sha2 import sha256  # type: ignore[import-not-found]  # Python 3.12 and later
    except ImportError:
        from hashlib import sha256

if TYPE_CHECKING:
    from aggregator.config import Config

# The modules whose code decides whether a feeds.yaml is valid (and this one, which reads it).
_VALIDATORS = (
    "config.py", "source_config.py", "types.py", "yamlfile.py", "hosts.py", "canonical.py",
    "trust.py", "proxies.py", "redact.py", "errors.py", "config_view.py",
)  # fmt: skip
# The environment validation reads (config._check_proxy_variables).
_ENVIRONMENT = (
    "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy",
    "REQUEST_METHOD",
)  # fmt: skip
_FORMAT = 3  # 2: each feed's tags; 3: the files validation checked
NO_FEEDS = "%s: no feeds configured: add them under `feeds:` with name and url"


@dataclass(frozen=True, slots=True)
class FeedRef:
    name: str
    url: str
    enabled: bool = True
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ConfigView:
    """The part of a validated Config that ``status`` and ``entries`` read."""

    database_path: Path
    timezone: str
    alert_after_hours: float
    feeds: tuple[FeedRef, ...]
    source_path: Path | None = None  # the file, resolved (not cached: known when it is read)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def view_of(config: Config) -> ConfigView:
    return ConfigView(
        database_path=config.database_path,
        timezone=config.site.timezone,
        alert_after_hours=config.poll.alert_after_hours,
        feeds=tuple(FeedRef(f.name, f.url, f.enabled, tuple(f.tags)) for f in config.feeds),
        source_path=config.source_path,
    )


def load_view(path: Path) -> ConfigView:
    """The view of feeds.yaml at ``path``: from the cache when it was made from these very
    bytes by this very code, else by full validation (whose errors are raised as usual)."""
    source = _source(path)
    if source is None:
        from aggregator.config import load_config

        return view_of(load_config(path))  # which words the error
    resolved, key, data = source
    cache = _cache_file(resolved)
    cached = _read(cache, key, resolved) if cache else None
    if cached is not None:
        if not cached.feeds:
            import logging  # here: a cached status logs nothing else

            logging.getLogger("aggregator.config").warning(NO_FEEDS, path)
        return cached
    from aggregator.config import config_from_text

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    config = config_from_text(path, text)  # the same bytes as the key was made from
    view = view_of(config)
    if cache:
        checked = [config.ca_bundle_path] if config.ca_bundle_path is not None else []
        _write(cache, key, view, [_file_stamp(file) for file in checked])
    return view


def cached_view(path: Path) -> ConfigView | None:
    """The view kept for these very bytes of ``path`` by this very code, or None (none kept,
    or the file cannot be read): then load_view validates, or words the error."""
    source = _source(path)
    if source is None:
        return None
    resolved, key, _ = source
    cache = _cache_file(resolved)
    return _read(cache, key, resolved) if cache else None


def _source(path: Path) -> tuple[Path, dict[str, Any], bytes] | None:
    """The file resolved, its cache key and its bytes; None when it cannot be read."""
    try:
        with path.open("rb") as file:
            stat = os.fstat(file.fileno())
            data = file.read()
    except OSError:
        return None
    resolved = path.resolve()
    return resolved, _key(resolved, stat, data), data


def _key(resolved: Path, stat: os.stat_result, data: bytes) -> dict[str, Any]:
    return {
        "format": _FORMAT,
        "path": str(resolved),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "sha256": sha256(data).hexdigest(),
        "code": _code_fingerprint(),
        "environment": _environment_stamp(),
    }


def _environment_stamp() -> str:
    """The proxy variables validation checked, hashed: their passwords stay out of the file."""
    values = "\0".join(f"{name}={os.environ.get(name, '')}" for name in _ENVIRONMENT)
    return str(sha256(os.fsencode(values)).hexdigest())


def _file_stamp(path: Path) -> list[object]:
    """A file validation read, as the cache checks it again: its path, size and mtime."""
    try:
        found = os.stat(path)
    except OSError:
        return [str(path), None, None]
    return [str(path), found.st_size, found.st_mtime_ns]


def _code_fingerprint() -> list[object]:
    """Changes when the validating code may have: a new version, an edited module (a
    development checkout keeps its version), a package installed or removed beside pydantic."""
    here = Path(__file__).parent
    stats: list[object] = [__version__, list(sys.version_info[:3])]
    for name in _VALIDATORS:
        try:
            found = os.stat(here / name)
        except OSError:
            stats.append(None)
        else:
            stats.append([name, found.st_size, found.st_mtime_ns])
    stats.append(_packages_stamp())
    return stats


def _packages_stamp() -> list[object] | None:
    """The mtime of the directories on sys.path that hold pydantic: pip changes them (a
    dist-info directory renamed) whenever it installs, upgrades or removes a package."""
    for entry in sys.path:
        if not entry:
            continue
        try:
            os.stat(os.path.join(entry, "pydantic", "__init__.py"))
            return [entry, os.stat(entry).st_mtime_ns]
        except OSError:
            continue
    return None


def _cache_file(resolved: Path) -> Path | None:
    base = os.environ.get("XDG_CACHE_HOME") or (
        os.path.join(os.path.expanduser("~"), ".cache") if os.path.expanduser("~") != "~" else ""
    )
    if not base or not os.path.isabs(base):
        return None
    name = sha256(os.fsencode(resolved)).hexdigest()[:32]
    return Path(base) / "aggregator" / "config" / f"{name}.json"


def _read(cache: Path, key: dict[str, Any], resolved: Path) -> ConfigView | None:
    try:
        document = json.loads(cache.read_bytes())
        if not isinstance(document, dict) or document.get("key") != key:
            return None
        files = document["files"]
        if not isinstance(files, list) or any(
            _file_stamp(Path(str(file[0]))) != file for file in files
        ):
            return None  # poll.ca_bundle changed or gone: validate again
        view = document["view"]
        feeds = tuple(FeedRef(str(n), str(u), bool(e), _strings(t)) for n, u, e, t in view["feeds"])
        result = ConfigView(
            database_path=Path(view["database_path"]),
            timezone=view["timezone"],
            alert_after_hours=float(view["alert_after_hours"]),
            feeds=feeds,
            source_path=resolved,
        )
        if not isinstance(result.timezone, str) or not result.database_path.is_absolute():
            return None
        result.zone  # noqa: B018 (a zone that no longer loads: validate again)
    except (OSError, ValueError, TypeError, KeyError, LookupError):
        return None
    return result


def _strings(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TypeError("not a list of strings")
    return tuple(value)


def _write(cache: Path, key: dict[str, Any], view: ConfigView, files: list[list[object]]) -> None:
    """Atomically, readable by this user only; a cache that cannot be written is no error."""
    document = {
        "key": key,
        "files": files,
        "view": {
            "database_path": str(view.database_path),
            "timezone": view.timezone,
            "alert_after_hours": view.alert_after_hours,
            "feeds": [[f.name, f.url, f.enabled, list(f.tags)] for f in view.feeds],
        },
    }
    temporary = cache.with_name(f".{cache.name}.{os.getpid()}")
    try:
        cache.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            json.dump(document, file, ensure_ascii=False)
        os.replace(temporary, cache)
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
