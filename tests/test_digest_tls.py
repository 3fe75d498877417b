"""The digest's transport: STARTTLS with login, implicit TLS (port 465 style), the password only
from the environment, against a real aiosmtpd server with a certificate made for the test."""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from aggregator.digest import send_digest
from aggregator.errors import DigestError
from aggregator.pipeline import poll
from tests.conftest import free_port, serve_fixture
from tests.smtp import Inbox

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
POLLED = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture
def certificate(tmp_path, monkeypatch) -> tuple[Path, Path]:
    """A self-signed certificate for localhost, trusted through SSL_CERT_FILE as a company CA
    would be."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    return cert, key


def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth: Any) -> Any:
    ok = auth.login == b"digest" and auth.password == "hemmeligt-æøå".encode()
    return AuthResult(success=ok, handled=False)


@pytest.fixture(params=["starttls", "tls"])
def tls_inbox(request, certificate) -> Iterator[tuple[str, Inbox]]:
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox = Inbox("localhost", free_port())
    kwargs: dict[str, Any] = {"authenticator": _authenticate, "auth_require_tls": True}
    if request.param == "starttls":
        kwargs |= {"tls_context": context, "require_starttls": True}
    else:
        # aiosmtpd only counts STARTTLS as TLS; here the whole connection is.
        kwargs |= {"ssl_context": context, "auth_require_tls": False}
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port, **kwargs)
    controller.start()
    try:
        yield request.param, inbox
    finally:
        controller.stop()


def _config(server, make_config, store, mode: str, inbox: Inbox) -> Any:
    config = make_config(
        [{"name": "OS2", "url": serve_fixture(server, "rss20.xml", "/os2")}],
        digest={"recipients": ["a@kommune.dk"]},
        smtp={"host": "localhost", "port": inbox.port, mode: True, "username": "digest",
              "password_env": "DIGEST_SMTP_PASSWORD", "timeout_seconds": 5},
    )  # fmt: skip
    poll(config, store, clock=lambda: POLLED)
    return config


def test_login_over_tls_with_the_password_from_the_environment(
    tls_inbox, server, make_config, store, monkeypatch
):
    mode, inbox = tls_inbox
    config = _config(server, make_config, store, mode, inbox)
    assert "hemmeligt" not in config.model_dump_json()
    monkeypatch.setenv("DIGEST_SMTP_PASSWORD", "hemmeligt-æøå")
    outcome = send_digest(config, store, NOW)
    assert outcome.sent_to == ("a@kommune.dk",)
    assert inbox.copies() == {"a@kommune.dk": 1}


def test_a_wrong_password_is_a_clear_error_and_nothing_is_sent(
    tls_inbox, server, make_config, store, monkeypatch
):
    mode, inbox = tls_inbox
    config = _config(server, make_config, store, mode, inbox)
    monkeypatch.setenv("DIGEST_SMTP_PASSWORD", "forkert")
    with pytest.raises(DigestError, match=r"refused the login of \S+: 535 \S") as error:
        send_digest(config, store, NOW, clock=lambda: NOW)
    assert "b'" not in str(error.value)  # the server's words, not a tuple's repr
    # Not tried again by itself (each try counts towards locking the account) until the
    # digest is too old to send; no recipient is charged.
    run = store.ledger.latest_run("default")
    assert run is not None
    [delivery] = store.ledger.deliveries(run.id)
    assert (delivery.state, delivery.attempts) == ("retry", 0)
    assert delivery.next_attempt_at == run.created_at + timedelta(hours=48)
    monkeypatch.delenv("DIGEST_SMTP_PASSWORD")
    with pytest.raises(DigestError, match=r"\$DIGEST_SMTP_PASSWORD is empty"):
        send_digest(config, store, NOW, retry_now=True)
    assert not inbox.messages
