"""Feed URLs as the public sees them: without the credentials a private feed's URL carries.

An admin may subscribe to a members-only feed as ``https://user:pass@…`` or ``…?token=…``.
``/healthz`` and every export (sources.opml, each post's source in the feeds, the page)
show feed URLs to anyone, so there the userinfo and the values of parameters named like a
credential are replaced. The admin's commands (status, entries) keep URLs whole.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_plus, urlsplit, urlunsplit

HIDDEN = "***"
# Parameter names, split into words (api_key, apiKey, X-Amz-Signature), that name a secret.
SECRET_WORDS = frozenset(
    {"key", "apikey", "token", "password", "passwd", "pwd", "pass", "secret", "auth",
     "authorization", "sig", "signature", "credential", "credentials", "session", "sid",
     "hmac", "jwt", "otp", "hash"}
)  # fmt: skip
# And these anywhere in the name run together (accesstoken, clientsecret, passphrase).
SECRET_PARTS = ("token", "secret", "passw", "apikey", "signature", "credential")
_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_URL_IN_TEXT = re.compile(r"https?://[^\s\"'<>]+", re.I)


def secret_name(name: str) -> bool:
    words = [word.lower() for word in _WORD.findall(unquote_plus(name))]
    joined = "".join(words)
    return any(word in SECRET_WORDS for word in words) or any(p in joined for p in SECRET_PARTS)


def redacted_url(url: str) -> str:
    """``url`` with its userinfo and its secret-looking parameters' values as ``***``; the
    rest as it was, byte for byte (most URLs come back unchanged)."""
    if "@" not in url and "?" not in url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{HIDDEN}@{netloc.rpartition('@')[2]}"
    query = parts.query
    if query:
        pairs = query.split("&")
        for index, pair in enumerate(pairs):
            name, equals, value = pair.partition("=")
            if equals and value and secret_name(name):
                pairs[index] = f"{name}={HIDDEN}"
        query = "&".join(pairs)
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def redacted_text(text: str) -> str:
    """Every http(s) URL in ``text`` (an error message, say) redacted."""
    if "://" not in text:
        return text
    return _URL_IN_TEXT.sub(_redacted_match, text)


def _redacted_match(match: re.Match[str]) -> str:
    found = match.group(0)
    url = found.rstrip(".,;:!?)]")  # the sentence's punctuation, not the URL's
    return redacted_url(url) + found[len(url) :]
