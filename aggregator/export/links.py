"""Values made strictly valid for every output: URIs, not IRIs; BCP 47 language tags.

Feeds in the wild carry ``…/ny-løsning-på-ærø`` and ``xml:lang="en_US"``; RSS wants URLs, JSON
Feed ``format: uri`` and Atom ``xml:lang`` a language tag, so values are fixed once, here.
"""

from __future__ import annotations

import functools
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import langcodes

from aggregator.canonical import TRACKING_PARAMS

# Characters RFC 3986 allows unescaped in a path, query or fragment, plus "%" so that existing
# escapes stay as they are.
_SAFE = "/:@!$&'()*+,;=-._~%?#[]"


def _host(host: str) -> str:
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return quote(host, safe="")


def to_uri(iri: str) -> str:
    """Percent-encode an IRI into a URI (RFC 3987 §3.1): UTF-8 escapes in the path, query and
    fragment, IDNA for the host. ASCII URIs come back unchanged."""
    iri = iri.strip()
    if iri.isascii() and " " not in iri:
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
            quote(parts.path, safe=_SAFE),
            quote(parts.query, safe=_SAFE),
            quote(parts.fragment, safe=_SAFE),
        )
    )


def without_tracking(url: str) -> str:
    """Drop ``utm_*`` and the click ids in canonical.TRACKING_PARAMS; everything else, and the
    order of what stays, is kept."""
    if "?" not in url:  # no query: most links, and splitting is most of a site's build
        return url
    parts = urlsplit(url)
    if not parts.query:
        return url
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    kept = [
        (k, v)
        for k, v in pairs
        if not k.lower().startswith("utm_") and k.lower() not in TRACKING_PARAMS
    ]
    if len(kept) == len(pairs):
        return url
    return urlunsplit(parts._replace(query=urlencode(kept, safe=_SAFE)))


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
