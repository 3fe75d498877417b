"""Feed URLs as the public sees them: without the credentials a private feed's URL carries.

An admin may subscribe to a members-only feed as ``https://user:pass@…`` or ``…?token=…``.
``/healthz`` and every export (sources.opml, each post's source in the feeds, the page)
show feed URLs to anyone, so there the userinfo and the values of parameters named like a
credential are replaced. The admin's commands (status, entries) keep URLs whole.
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, unquote_plus, urlsplit, urlunsplit

HIDDEN = "***"


def _names(*owners: str, of: str) -> set[str]:
    return {owner + of for owner in owners}


# Parameter names that name a secret, compared whole, ignoring case and the separators
# ``-``, ``_`` and ``.`` (``api_key``, ``apiKey``, ``X-Amz-Signature``): a name is in the
# list or not, so ``monkey``, ``keyword``, ``sortKey`` and TYPO3's ``cHash`` (a checksum of
# the other parameters, which tells two feeds of one site apart) are shown as they are.
SECRET_NAMES = frozenset(
    _names("", "access", "api", "app", "auth", "bearer", "client", "csrf", "feed", "id",
           "oauth", "private", "refresh", "rss", "security", "session", "user",
           "xamzsecurity", of="token")
    | _names("", "access", "api", "app", "auth", "client", "feed", "license", "private", "rss",
             "secret", "subscription", "user", of="key")
    | _names("", "api", "app", "client", "consumer", "oauthtoken", "shared", of="secret")
    | _names("", "user", "feed", of="password")
    | {"passwd", "pwd", "pass", "passphrase", "auth", "authorization", "credential",
       "credentials", "xamzcredential", "xgoogcredential", "awsaccesskeyid", "googleaccessid",
       "sig", "signature", "xamzsignature", "xgoogsignature", "oauthsignature", "hmac", "jwt",
       "otp"}
    # Session ids, which let anyone act as the session's owner.
    | {"session", "sid", "sessid", "sessionid", "phpsessid", "jsessionid", "aspnetsessionid",
       "cfid", "cftoken", "oscsid", "zenid"}
)  # fmt: skip
_SEPARATORS = str.maketrans("", "", "-_.[]")
_URL_IN_TEXT = re.compile(r"https?://[^\s\"'<>]+", re.I)

# A name is also a secret's when one of its word parts is a credential word: the list above
# cannot hold every ``x-auth-token``, ``aws_secret_access_key`` or ``new_password``. Parts are
# whole (``tokens``, ``authors``, ``keyword`` and ``cHash`` hold none), and ``key`` counts only
# after a word that makes it a credential (``api_key``, ``access_key_id``, not ``sortKey``).
_PARTS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
SECRET_PARTS = frozenset(
    {"token", "secret", "password", "passwd", "pwd", "pass", "passphrase", "apikey", "auth",
     "authorization", "signature", "sig", "credential", "credentials", "session", "sessid",
     "sessionid", "sid", "adgangskode", "kodeord"}
)  # fmt: skip
KEY_OWNERS = frozenset(
    {"api", "access", "secret", "private", "signing", "client", "app", "auth", "license",
     "subscription", "encryption", "master"}
)  # fmt: skip


def name_parts(name: str) -> list[str]:
    """``name``'s word parts, lower case: split on ``-``, ``_``, ``.``, ``[``, ``]``, other
    punctuation and camelCase (``X-Api-Key`` and ``XApiKey`` -> x, api, key)."""
    return [part.lower() for part in _PARTS.findall(name)]


def secret_name(name: str) -> bool:
    """Whether a query parameter (as written, escapes and all) names a secret."""
    name = unquote_plus(name).strip()
    if name.lower().translate(_SEPARATORS) in SECRET_NAMES:
        return True
    parts = name_parts(name)
    return any(
        part in SECRET_PARTS or (part == "key" and index and parts[index - 1] in KEY_OWNERS)
        for index, part in enumerate(parts)
    )


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
    elif "@" in url and _port_is_broken(parts):
        return redacted_url(_without_broken_userinfo(url))
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


def _port_is_broken(parts: SplitResult) -> bool:
    try:
        parts.port  # noqa: B018 (raises for a port that is no number or out of range)
    except ValueError:
        return True
    return False


def _without_broken_userinfo(url: str) -> str:
    """``https://jens:pa#ss@os2.eu/feed`` (a password with a bare ``#``, ``/`` or ``?``,
    which urlsplit takes for the end of the host, and its start for the port) with all up to
    the last ``@`` before the host's end hidden: such a URL is broken anyway, and its
    netloc holds no ``@`` for the usual rule to hide."""
    scheme, separator, rest = url.partition("://")
    first = rest.find("@")
    end = rest.find("/", first)
    last = rest.rfind("@", 0, end if end >= 0 else len(rest))
    return f"{scheme}{separator}{HIDDEN}@{rest[last + 1 :]}"


def redacted_text(text: str) -> str:
    """Every http(s) URL in ``text`` (an error message, say) redacted."""
    if "://" not in text:
        return text
    return _URL_IN_TEXT.sub(_redacted_match, text)


def _redacted_match(match: re.Match[str]) -> str:
    found = match.group(0)
    url = found.rstrip(".,;:!?)]")  # the sentence's punctuation, not the URL's
    return redacted_url(url) + found[len(url) :]
