"""The canonical form of a URL: what two spellings of one address share (a post's link, a
configured feed's URL). Standard library only, so feeds.yaml's checks use it without the
normaliser's imports (tests/test_startup.py); ``idna`` is imported for a host beyond ASCII
alone."""

from __future__ import annotations

import functools
import re
import string
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = [
    "SESSION_PARAMS",
    "TRACKING_PARAMS",
    "ascii_host",
    "canonical_path",
    "canonical_url",
    "canonical_url_of_many",
    "item_id",
    "session_param",
    "without_session",
]

TRACKING_PARAMS = frozenset(
    {"fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "_hsenc", "_hsmi", "igshid"}
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Session ids a server writes into its links for a client without cookies, as the poller is:
# new on every visit, so they name no page. Only names that are certainly a session (Java,
# PHP, ColdFusion, osCommerce/Zen Cart, ASP.NET); ``sid`` or ``s`` is a story id in some CMSs.
SESSION_PARAMS = frozenset(
    {"jsessionid", "phpsessid", "sessionid", "session_id", "asp.net_sessionid", "cfid",
     "cftoken", "oscsid", "zenid"}
)  # fmt: skip
# ``;jsessionid=…`` path parameters, and ASP.NET's cookieless ``/(S(…))/`` segment.
_SESSION_IN_PATH = re.compile(
    r";(?:jsessionid|phpsessid|sessionid|session_id)=[^/;?#]*|/\((?:[A-Za-z]\([^()/]*\))+\)(?=/|$)",
    re.I,
)


def canonical_url(url: str | None, keep_fragment: bool = False) -> str | None:
    """The form two links to the same post share: http/https, ``www.``, case of the host,
    its IDNA spelling (``ærø.dk`` is ``xn--r-3fa9c.dk``, the form kept), default port, trailing
    slash, fragment, tracking parameters and parameter order do not count, nor do dot
    segments (``/a/./b/../c`` is ``/a/c``) or an unreserved character's percent-encoding
    (``%7E`` is ``~``, ``%41`` is ``A``; a reserved one, ``%2F``, stays: see canonical_path).
    The fragment does count where the feed tells its posts apart by it (``keep_fragment``).
    """
    return _canonical(url, keep_fragment) if url else None


def item_id(link: str | None) -> str | None:
    """An HTML source's id for an item: its canonical URL, but with a host beyond ASCII as
    written (lower case) and the path's dot segments and percent-encodings as written, as
    ids were stored before those were compared in their normal form, so no stored post of
    such a link becomes a new one, its page followed again."""
    return _canonical(link, False, False) if link else None


def session_param(key: str) -> bool:
    lowered = key.lower()
    return lowered in SESSION_PARAMS or lowered.startswith("aspsessionid")


def without_session(url: str) -> str:
    """``url`` without the session ids in it (see SESSION_PARAMS), the rest as it was."""
    if ";" not in url and "(" not in url and "?" not in url:
        return url  # the usual link: nothing to look for
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    path = (
        _SESSION_IN_PATH.sub("", parts.path)
        if ";" in parts.path or "(" in parts.path
        else parts.path
    )
    query = parts.query
    if query:
        pairs = query.split("&")
        kept = [pair for pair in pairs if not session_param(pair.partition("=")[0])]
        query = "&".join(kept) if len(kept) < len(pairs) else query
    if path == parts.path and query == parts.query:
        return url
    return urlunsplit((parts.scheme, parts.netloc, path, query, parts.fragment))


@functools.lru_cache(maxsize=4096)
def _canonical(url: str, keep_fragment: bool, today: bool = True) -> str | None:
    """canonical_url, cached under one key however it is called: planning asks for each
    entry's link three times (fragments, own links, identity). Not ``today``: the form
    item ids were first stored in (item_id)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    if scheme not in ("http", "https") or not host:
        return None
    if today and not host.isascii():
        host = ascii_host(host)
    host = host.removeprefix("www.")
    if port and port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    path = canonical_path(parts.path, today)
    query = ""
    if parts.query:  # parse_qsl and urlencode give "" for "": most links have no query
        query = urlencode(
            sorted(
                (key, value)
                for key, value in parse_qsl(parts.query, keep_blank_values=True)
                if not key.lower().startswith("utm_")
                and key.lower() not in TRACKING_PARAMS
                and not session_param(key)
            )
        )
    fragment = parts.fragment if keep_fragment else ""
    return urlunsplit(("https", host, path, query, fragment))


def canonical_path(path: str, today: bool = True) -> str:
    """A URL's path in its canonical form: no session segment, doubled slash, trailing slash,
    dot segment (RFC 3986 5.2.4) or percent-encoded unreserved character (RFC 3986 6.2.2.2:
    ``%7E`` is ``~``); the hex of an escape that stays (``%2f``, a reserved character, is not
    ``/``) in capitals (6.2.2.1). Applied again it changes nothing, so migration 23 takes a
    stored form to it. Not ``today``: without the last two, as item ids were stored."""
    path = path or "/"
    if ";" in path or "(" in path:
        path = _SESSION_IN_PATH.sub("", path) or "/"
    if today and "%" in path:
        path = _ESCAPE.sub(_unescaped_if_unreserved, path)
    if "//" in path:
        path = re.sub(r"/{2,}", "/", path)
    if today and "/." in path:
        path = _without_dot_segments(path)
    if len(path) > 1:
        path = path.rstrip("/")
    return path


_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")


def _unescaped_if_unreserved(escape: re.Match[str]) -> str:
    char = chr(int(escape[1], 16))
    return char if char in _UNRESERVED else f"%{escape[1].upper()}"


def _without_dot_segments(path: str) -> str:
    """RFC 3986 5.2.4 for an absolute path with no empty segment but perhaps the last: ``.``
    goes, ``..`` takes the segment before it along (none above the root)."""
    kept: list[str] = []
    for segment in path.split("/")[1:]:
        if segment == "..":
            if kept:
                kept.pop()
        elif segment != ".":
            kept.append(segment)
    return "/" + "/".join(kept)


@functools.lru_cache(maxsize=256)
def ascii_host(host: str) -> str:
    """``host`` as its IDNA A-label (UTS 46, as httpx connects to it: ``ærø.dk`` as
    ``xn--r-3fa9c.dk``), so both spellings of a Danish name are one host; as written, lower
    case, when it is no valid name (the URL is then compared as it is spelled)."""
    import idna

    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError:
        return host.lower()


# The spellings most URLs are written in: a lower-case host, a path of plain characters, no
# port, query, fragment, userinfo or session segment. Their canonical form needs no parsing.
_PLAIN = re.compile(r"https?://([a-z0-9-]+(?:\.[a-z0-9-]+)*)(/[A-Za-z0-9._~!$&'*+,=:@%/-]*)?")


def canonical_url_of_many(url: str) -> str | None:
    """canonical_url(url), uncached and without urlsplit for the plain spellings: for a list
    as long as feeds.yaml can be (100,000 feeds: 2.4 s the long way, 0.2 s), which would
    only churn canonical_url's cache. tests/test_review7_store_config.py holds it to it."""
    plain = _PLAIN.fullmatch(url)
    path = (plain[2] or "") if plain is not None else ""
    if plain is None or "//" in path or "%" in path or "/." in path:
        return _canonical.__wrapped__(url, False)
    return f"https://{plain[1].removeprefix('www.')}{path.rstrip('/') or '/'}"
