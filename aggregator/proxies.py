"""Which proxy a fetch goes through: ``poll.proxy`` for every fetch when it is set, else the
standard environment variables as curl reads them (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY,
NO_PROXY, in either case; HTTP_PROXY only in lower case under CGI, where a request's
``Proxy:`` header would set it).

Only the proxy variables are read, not httpx's whole ``trust_env``: that would also send the
passwords in ~/.netrc to the feed hosts it names, and read SSL_CERT_FILE, which the TLS
context reads on purpose (fetch.tls_context).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from aggregator.errors import ConfigError

if TYPE_CHECKING:
    import ssl

    import httpx


@dataclass(frozen=True, slots=True, repr=False)
class Proxies:
    """The proxy for each scheme of the URLs fetched (None: connect directly), and the
    NO_PROXY hosts that are fetched directly whatever the scheme."""

    http: str | None = None
    https: str | None = None
    bypass: tuple[str, ...] = ()
    # Where each was set: poll.proxy, or the variable's name (for messages).
    http_from: str = ""
    https_from: str = ""

    def __repr__(self) -> str:  # logged or printed, never with the proxy's password
        return (
            f"Proxies(http={self.shown(self.http)!r}, https={self.shown(self.https)!r}, "
            f"bypass={self.bypass!r})"
        )

    @staticmethod
    def shown(proxy: str | None) -> str | None:
        return shown_proxy(proxy) if proxy else None

    def for_url(self, scheme: str, host: str) -> str | None:
        """The proxy for a URL of ``scheme`` on ``host``, or None for a direct connection."""
        proxy = self.https if scheme == "https" else self.http if scheme == "http" else None
        if proxy is None or _bypassed(_ascii(host.lower().strip("[]").rstrip(".")), self.bypass):
            return None
        return proxy

    def describe(self, scheme: str) -> str:
        """The proxy of ``scheme``'s URLs as a message shows it: its URL without credentials,
        and where it is set."""
        if scheme == "https":
            return f"the proxy {self.shown(self.https)}, from {self.https_from}"
        return f"the proxy {self.shown(self.http)}, from {self.http_from}"


def proxies(setting: str | None, environ: Mapping[str, str]) -> Proxies:
    """``poll.proxy`` for both schemes, or what the environment ``environ`` sets. A proxy
    variable that is no proxy URL httpx can use is a ConfigError naming it (it would
    otherwise fail every fetch of every poll as an unexpected error)."""
    if setting:
        return Proxies(setting, setting, (), "poll.proxy", "poll.proxy")
    found = _environment_proxies(environ)
    every = found.get("all")
    http, https = found.get("http") or every, found.get("https") or every
    if not (http or https):
        return Proxies()
    for chosen in (http, https):
        if chosen and (problem := proxy_url_problem(_with_scheme(chosen[1]))):
            raise ConfigError(f"{chosen[0]} (environment variable): {problem}")
    no = found.get("no")
    entries = tuple(
        _ascii(entry.strip().lower()) for entry in (no[1] if no else "").split(",") if entry.strip()
    )
    return Proxies(
        _with_scheme(http[1]) if http else None,
        _with_scheme(https[1]) if https else None,
        entries,
        http[0].upper() if http else "",
        https[0].upper() if https else "",
    )


def shown_proxy(url: str) -> str:
    """``url`` with everything up to its last ``@`` hidden, found before any parsing: a
    password with ``#``, ``/`` or ``?`` in it ends urlsplit's netloc early, which then holds
    no ``@`` to hide. A proxy URL has no path, so no ``@`` of a path is hidden by mistake."""
    scheme, separator, rest = url.partition("://")
    if not separator:
        scheme, rest = "", url
    if "@" in rest:
        rest = "***@" + rest.rpartition("@")[2]
    return f"{scheme}{separator}{rest}"


def proxy_url_problem(url: str) -> str | None:
    """Why ``url`` is not a proxy URL that httpx takes, in words that show it without its
    user and password (and without urlsplit's own words, which repeat the would-be port);
    None when it is one."""
    shown = shown_proxy(url)
    example = "give it as http://proxy.kommune.local:3128"
    encode = "a #, /, ? or @ in the user or password is written %23, %2F, %3F or %40"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises for a port that is no number or out of range)
    except ValueError as exc:
        if "out of range" in str(exc):
            return f"not a proxy URL: {shown} (its port is out of range); {example}"
        return f"not a proxy URL: {shown} (its port is no number; {encode}); {example}"
    if parts.scheme.lower() not in PROXY_SCHEMES:
        return (
            f"not a proxy URL: {shown} (it must start with http://, https://, socks5:// or "
            f"socks5h://); {example}"
        )
    if not parts.hostname:
        return f"not a proxy URL: {shown} names no host; {example}"
    if parts.path.strip("/") or parts.query or parts.fragment:
        return f"not a proxy URL: {shown} has a path ({encode}); {example}"
    import httpx

    try:
        httpx.Proxy(url)
    except (httpx.InvalidURL, ValueError):
        return f"not a proxy URL: {shown} ({encode}); {example}"
    return None


PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")


def httpx_proxy(url: str, context: ssl.SSLContext) -> httpx.Proxy:
    """``url`` for httpx; an https:// proxy's certificate is verified as the servers' are."""
    import httpx

    https = url.lower().startswith("https://")
    return httpx.Proxy(url, ssl_context=context) if https else httpx.Proxy(url)


def _environment_proxies(environ: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """The ``*_proxy`` variables by kind (http, https, all, no), each as (the variable's
    name, its value); lower case wins, as curl and urllib have it."""
    found: dict[str, tuple[str, str]] = {}
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        kind = name.removesuffix("_PROXY").lower()
        cgi = name == "HTTP_PROXY" and "REQUEST_METHOD" in environ
        for spelling in (name.lower(), "" if cgi else name):
            if spelling and (value := environ.get(spelling, "").strip()):
                found[kind] = (spelling, value)
                break
    return found


def _ascii(name: str) -> str:
    """A host name as the URLs' hosts are matched: IDNA's ASCII form (ærø.dk as
    xn--r-3fa9c.dk)."""
    if name.isascii():
        return name
    dot = "." if name.startswith(".") else ""  # NO_PROXY's .domain
    try:
        return dot + name.removeprefix(".").encode("idna").decode("ascii")
    except UnicodeError:
        return name


def _with_scheme(proxy: str) -> str:
    """``proxy.kommune.local:3128`` as curl takes it: an http proxy."""
    return proxy if "://" in proxy else f"http://{proxy}"


def _bypassed(host: str, entries: tuple[str, ...]) -> bool:
    """Whether NO_PROXY names ``host``: ``*``, the host, a domain it is in (``kommune.local``
    and ``.kommune.local`` both take ``intranet.kommune.local``), an address or a network of
    addresses (``10.0.0.0/8``), as curl reads them. A host:port entry names the host."""
    address = _address(host)
    for entry in entries:
        if entry == "*":
            return True
        name = _without_port(entry).strip("[]").lstrip(".").rstrip(".")
        if not name:
            continue
        if address is not None and "/" in name:
            try:
                if address in ipaddress.ip_network(name, strict=False):
                    return True
            except ValueError:
                pass
            continue
        if host == name or host.endswith(f".{name}"):
            return True
        if address is not None and (other := _address(name)) is not None and address == other:
            return True
    return False


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


def _without_port(entry: str) -> str:
    if entry.startswith("["):  # [::1]:8080
        return entry.split("]", 1)[0] + "]"
    host, colon, port = entry.rpartition(":")
    return host if colon and port.isdigit() and ":" not in host else entry
