"""Values made strictly valid for every output: URIs, not IRIs; BCP 47 language tags.

Feeds in the wild carry ``…/ny-løsning-på-ærø`` and ``xml:lang="en_US"``; RSS wants URLs, JSON
Feed ``format: uri`` and Atom ``xml:lang`` a language tag, so values are fixed once, here.
"""

from __future__ import annotations

import functools
import re
from urllib.parse import quote, unquote_plus, urlsplit, urlunsplit

import langcodes

from aggregator.canonical import TRACKING_PARAMS

# What RFC 3986 allows unescaped in a path (pchar and "/"), and in a query or fragment (and
# "?"), plus "%" so that existing escapes stay as they are. Not "[" or "]" (a host's IPv6
# brackets only), "#" past the fragment's own, nor "|", "{", "}", "^", "`", "\\", '"', "<", ">".
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"
_QUERY_SAFE = _PATH_SAFE + "?"
# A character outside these means work: the usual link has none, and is answered without
# splitting it (brackets, even a host's, go the long way, which keeps a host's).
_NOT_URI = re.compile(r"[^A-Za-z0-9\-._~:/?#@!$&'()*+,;=%]")
_LONE_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _host(host: str) -> str:
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return quote(host, safe="")


def _escaped(component: str, safe: str) -> str:
    """UTF-8 escapes for what ``safe`` leaves out, and ``%25`` for a "%" that starts none."""
    quoted = quote(component, safe=safe)
    return _LONE_PERCENT.sub("%25", quoted) if "%" in quoted else quoted


def to_uri(iri: str) -> str:
    """Percent-encode an IRI into a URI (RFC 3987 §3.1): UTF-8 escapes in the path, query and
    fragment, IDNA for the host; and the ASCII characters RFC 3986 allows in none of them
    (``|``, ``{``, ``[`` past the host…) escaped too. A URI comes back unchanged."""
    iri = iri.strip()
    if (
        _NOT_URI.search(iri) is None
        and iri.count("#") <= 1
        and ("%" not in iri or _LONE_PERCENT.search(iri) is None)
    ):
        return iri
    parts = urlsplit(iri)
    netloc = parts.netloc
    if parts.hostname and not parts.hostname.isascii():
        userinfo, _, hostport = netloc.rpartition("@")
        host, colon, port = hostport.partition(":")
        netloc = (userinfo + "@" if userinfo else "") + _host(host) + colon + port
    return urlunsplit(
        (
            parts.scheme,
            netloc,
            _escaped(parts.path, _PATH_SAFE),
            _escaped(parts.query, _QUERY_SAFE),
            _escaped(parts.fragment, _QUERY_SAFE),
        )
    )


def without_tracking(url: str) -> str:
    """Drop ``utm_*`` and the click ids in canonical.TRACKING_PARAMS; everything else, and the
    order of what stays, is kept as written: decoding and encoding again would turn ``%26``
    in a value into a separator."""
    if "?" not in url:  # no query: most links, and splitting is most of a site's build
        return url
    parts = urlsplit(url)
    if not parts.query:
        return url
    pairs = parts.query.split("&")
    kept = [pair for pair in pairs if not _tracking(pair.partition("=")[0])]
    if len(kept) == len(pairs):
        return url
    return urlunsplit(parts._replace(query="&".join(kept)))


def _tracking(name: str) -> bool:
    key = unquote_plus(name).lower()
    return key.startswith("utm_") or key in TRACKING_PARAMS


def public_url(url: str | None) -> str | None:
    """A link as every output writes it: a URI without tracking parameters."""
    if not url or not url.strip():
        return None
    return without_tracking(to_uri(url))


@functools.lru_cache(maxsize=1024)  # a site has a few languages, and langcodes is slow
def language_tag(value: str | None) -> str | None:
    """``en_US`` -> ``en-US``; None for what is not a registered language."""
    if not value or not value.strip():
        return None
    try:
        tag = langcodes.standardize_tag(value.strip().replace("_", "-"))
    except ValueError:  # langcodes.LanguageTagError is one
        return None
    return tag if langcodes.tag_is_valid(tag) and tag != "und" else None


def primary_language(tag: str | None) -> str | None:
    return tag.split("-", 1)[0].lower() if tag else None
