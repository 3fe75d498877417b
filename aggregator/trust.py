"""Which certificate authorities a fetch trusts: the public ones (certifi's bundle) and
``poll.ca_bundle`` beside them, an internal CA's PEM file; or, when that is unset and
SSL_CERT_FILE or SSL_CERT_DIR is set, those in their place, as OpenSSL and curl take them.

Both are common on a municipal network: an intranet's feeds signed by the municipality's
own CA, or a proxy that re-signs every site with it.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from aggregator.errors import ConfigError

# Certificate problems a CA bundle cannot mend (OpenSSL's verify codes): expired, and for
# another host name, e-mail address or IP address.
_EXPIRED, _NOT_FOR_THIS_HOST = 10, frozenset({62, 63, 64})


@dataclass(frozen=True, slots=True)
class Trust:
    ca_bundle: str | None = None  # poll.ca_bundle, trusted as well as the public CAs
    cert_file: str | None = None  # SSL_CERT_FILE, trusted instead of them
    cert_dir: str | None = None  # SSL_CERT_DIR, likewise
    # Each of those files' (mtime in ns, size) when trust() looked, so that a CA replaced
    # in the same place (a rotation) is a new key of tls_context's cache, not the old CA.
    stamp: tuple[tuple[int, int] | None, ...] = ()


def trust(ca_bundle: Path | None, environ: Mapping[str, str]) -> Trust:
    if ca_bundle is not None:
        return Trust(ca_bundle=str(ca_bundle), stamp=(_stamp(str(ca_bundle)),))
    cert_file = environ.get("SSL_CERT_FILE") or None
    cert_dir = environ.get("SSL_CERT_DIR") or None
    stamp = tuple(_stamp(path) for path in (cert_file, cert_dir) if path)
    return Trust(cert_file=cert_file, cert_dir=cert_dir, stamp=stamp)


def _stamp(path: str) -> tuple[int, int] | None:
    try:
        found = Path(path).stat()
    except OSError:
        return None  # tls_context says what is wrong with it
    return (found.st_mtime_ns, found.st_size)


@functools.lru_cache(maxsize=8)
def tls_context(trusted: Trust = Trust()) -> ssl.SSLContext:
    """One verifying context per process and trust: loading the CA bundle costs about 30 ms
    and 3 MiB, which a client of its own would spend on every poll. The trust's stamp is part
    of the key: a rotated CA file is loaded at the next poll, with no restart."""
    import certifi

    if trusted.cert_file or trusted.cert_dir:
        variables = " and ".join(
            f"{name}={value}"
            for name, value in (("SSL_CERT_FILE", trusted.cert_file),
                                ("SSL_CERT_DIR", trusted.cert_dir)) if value
        )  # fmt: skip
        try:
            return ssl.create_default_context(cafile=trusted.cert_file, capath=trusted.cert_dir)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"{variables}: cannot read CA certificates there ({exc}); correct or unset it, "
                "or give poll.ca_bundle"
            ) from None
    context = ssl.create_default_context(cafile=certifi.where())
    if trusted.ca_bundle:
        try:
            load_bundle(context, trusted.ca_bundle)
        except ValueError as exc:  # checked at load, and gone or changed since
            raise ConfigError(f"poll.ca_bundle: {exc}") from None
    return context


def load_bundle(context: ssl.SSLContext, path: str) -> None:
    """``path``'s CA certificates into ``context``; ValueError says what is wrong. OpenSSL
    reads the file itself, as curl and SSL_CERT_FILE do: the text its own tools write around
    the certificates (``openssl pkcs12``'s "friendlyName: Ærø Kommunes rod-CA") is skipped."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ValueError(f"no such file: {path}") from None
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc}") from None
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise ValueError(f"{path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
    try:
        context.load_verify_locations(cafile=path)
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"{path}: not a PEM file of CA certificates: {exc}") from None


def certificate_problem(exc: BaseException) -> str | None:
    """Plain words for a certificate that failed verification anywhere in ``exc``'s chain,
    with the setting or the person that can mend it; None for any other failure."""
    seen: BaseException | None = exc
    while seen is not None and not isinstance(seen, ssl.SSLCertVerificationError):
        seen = seen.__cause__ or seen.__context__
    if seen is None:
        return None
    reason = seen.verify_message or str(seen)
    if seen.verify_code == _EXPIRED:
        return f"the server's certificate has expired ({reason}): tell the site"
    if seen.verify_code in _NOT_FOR_THIS_HOST:
        return f"the server's certificate is not for this host ({reason}): check the URL"
    return (
        f"untrusted certificate ({reason}): if your organisation's own CA signed it, give "
        "that CA's PEM file as poll.ca_bundle"
    )
