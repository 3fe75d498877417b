"""The ASGI application: the exported files, search as a page and as feeds, and health.

Endpoints are plain functions that Starlette runs on its thread pool; each thread keeps its
own read-only connection to the database (SQLite in WAL mode lets them read while the
poller writes).
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aggregator.archive_search import search_archive
from aggregator.config import Config
from aggregator.errors import AggregatorError
from aggregator.redact import redacted_text, redacted_url
from aggregator.search import QueryError
from aggregator.serve import static
from aggregator.serve.feeds import MEDIA_TYPES, FeedFormat, render_search_feed
from aggregator.serve.pages import render_search_page
from aggregator.store import Store

log = logging.getLogger(__name__)

PER_PAGE = 20
MAX_PAGE = 50
FEED_ENTRIES = 50
SEARCH_MAX_AGE = 60


def _now() -> datetime:
    return datetime.now(UTC)


class _Stores(threading.local):
    store: Store | None = None


def create_app(config: Config, clock: Callable[[], datetime] = _now) -> Starlette:
    """The whole site: static files from ``output_dir`` plus the dynamic routes."""
    stores = _Stores()
    root = config.output_dir

    def store() -> Store:
        if stores.store is None:
            stores.store = Store.open_for_reading(config.database_path)
        return stores.store

    def today() -> date:
        return clock().astimezone(config.site.zone).date()

    def files(request: Request) -> Response:
        path = request.path_params.get("path", "")
        found = static.resolve(root, path)
        file = static.load(found) if found is not None else None
        if file is None:
            return Response("Not Found\n", 404, media_type="text/plain; charset=utf-8")
        cache = static.cache_control(path, file.media_type, today())
        return _respond(request, file.identity.body, file.media_type, cache, file=file)

    def search_page(request: Request) -> Response:
        query = request.query_params.get("q", "").strip()
        page = _page(request.query_params.get("side") or request.query_params.get("page"))
        results, error, status = None, None, 200
        if query:
            try:
                results = search_archive(
                    store(), config, query, clock(), PER_PAGE, (page - 1) * PER_PAGE
                )
            except QueryError as exc:
                error, status = exc.in_language(config.site.language), 400
        html = render_search_page(config, query, results, error, page, PER_PAGE)
        cache = "no-store" if error else f"public, max-age={SEARCH_MAX_AGE}"
        return _respond(request, html.encode(), "text/html; charset=utf-8", cache, status)

    def search_feed(fmt: FeedFormat) -> Callable[[Request], Response]:
        def endpoint(request: Request) -> Response:
            query = request.query_params.get("q", "").strip()
            try:
                if not query:
                    raise QueryError("no_words")
                now = clock()
                results = search_archive(
                    store(), config, query, now, min(FEED_ENTRIES, config.site.max_entries),
                    order="newest",
                )  # fmt: skip
            except QueryError as exc:
                message = exc.in_language(config.site.language)
                return Response(f"{message}\n", 400, media_type="text/plain; charset=utf-8")
            body = render_search_feed(config, query, [h.entry for h in results.hits], now, fmt)
            return _respond(request, body, MEDIA_TYPES[fmt], f"public, max-age={SEARCH_MAX_AGE}")

        return endpoint

    def healthz(request: Request) -> Response:
        now = clock()
        try:
            statuses = store().feed_statuses()
        except (AggregatorError, sqlite3.Error) as exc:
            log.warning("health check: %s", exc)
            failed = {"status": "error", "error": f"database: {exc}", "feeds": []}
            return JSONResponse(failed, 503, headers={"Cache-Control": "no-store"})
        polled = [s.last_fetched_at for s in statuses if s.last_fetched_at]
        last_poll = max(polled, default=None)
        stale_after = timedelta(minutes=2 * config.poll.max_interval_minutes)
        healthy = last_poll is not None and now - last_poll <= stale_after
        body: dict[str, Any] = {
            "status": "ok" if healthy else "stale",
            "last_poll": last_poll.isoformat() if last_poll else None,
            "stale_after_seconds": int(stale_after.total_seconds()),
            "entries": sum(s.entry_count for s in statuses),
            "feeds": [_health_row(asdict(s)) for s in statuses],
        }
        return JSONResponse(body, 200 if healthy else 503, headers={"Cache-Control": "no-store"})

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/search", search_page, methods=["GET"]),
        Route("/search.atom", search_feed("atom"), methods=["GET"]),
        Route("/search.json", search_feed("json"), methods=["GET"]),
        Route("/{path:path}", files, methods=["GET"]),
    ]
    return Starlette(routes=routes)


# What a stored feed state says that may hold a private feed's credentials: /healthz is public.
_URL_FIELDS = frozenset({"url", "moved_to"})
_TEXT_FIELDS = frozenset({"last_error", "last_warning"})


def _health_row(row: dict[str, Any]) -> dict[str, Any]:
    shown = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}
    for key, value in shown.items():
        if isinstance(value, str) and key in _URL_FIELDS:
            shown[key] = redacted_url(value)
        elif isinstance(value, str) and key in _TEXT_FIELDS:
            shown[key] = redacted_text(value)
    return shown


def _page(value: str | None) -> int:
    try:
        return max(1, min(int(value or 1), MAX_PAGE))
    except ValueError:
        return 1


def _respond(
    request: Request,
    body: bytes,
    media_type: str,
    cache: str,
    status: int = 200,
    file: static.StaticFile | None = None,
) -> Response:
    """Conditional GET, compression and caching headers for any body, dynamic or a file."""
    encoding = static.choose_encoding(request.headers.get("accept-encoding", ""))
    if file is None:
        file = static.StaticFile(
            path=Path(),
            identity=static.Representation(
                body, f'"{hashlib.sha256(body).hexdigest()[:32]}"', None
            ),
            media_type=media_type,
            last_modified=datetime.now(UTC).replace(microsecond=0),
            compressible=len(body) >= static.MIN_COMPRESS,
        )
        dynamic = True
    else:
        dynamic = False
    chosen = file.variant(encoding if file.compressible else None)
    headers = {"Cache-Control": cache, "ETag": chosen.etag}
    if file.compressible:
        headers["Vary"] = "Accept-Encoding"
    if not dynamic:
        headers["Last-Modified"] = static.http_date(file.last_modified)
    if status == 200 and static.not_modified(
        file,
        chosen,
        request.headers.get("if-none-match"),
        None if dynamic else request.headers.get("if-modified-since"),
    ):
        return Response(status_code=304, headers=headers)
    if chosen.encoding:
        headers["Content-Encoding"] = chosen.encoding
    return Response(chosen.body, status, headers=headers, media_type=media_type)
