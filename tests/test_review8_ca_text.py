"""Review 8 R8-10: poll.ca_bundle was read as ASCII text, so a PEM bundle with the readable
text OpenSSL's own tools write around certificates (``openssl pkcs12 -nokeys``'s "Bag
Attributes / friendlyName", ``openssl x509 -text``'s Subject), in Danish, was refused at load
("cannot read … as a PEM file"), while OpenSSL, curl and SSL_CERT_FILE take the same file."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest
import trustme

from aggregator.config import config_from_text
from aggregator.errors import ConfigError
from aggregator.pipeline import poll
from aggregator.store import Store
from tests.conftest import Clock
from tests.test_review7_net_tls import TlsFeedServer

SETTING = "poll:\n  workers: 0\n  ca_bundle: kommune-ca.pem\nfeeds: []\n"


@pytest.fixture(autouse=True)
def _no_trust_variables(monkeypatch: Any) -> None:
    for name in ("SSL_CERT_FILE", "SSL_CERT_DIR", "HTTPS_PROXY", "https_proxy", "ALL_PROXY",
                 "all_proxy"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)


def with_text(ca: trustme.CA) -> str:
    return (
        "Bag Attributes\n    friendlyName: Ærø Kommunes rod-CA\nsubject=O = Ærø Kommune\n"
        + ca.cert_pem.bytes().decode()
        + "Certifikatet fornyes i 2030.\n"
    )


def test_a_bundle_with_danish_text_around_the_certificate_is_taken_and_trusted(
    tmp_path: Path, make_config: Any, store: Store, clock: Clock
) -> None:
    ca = trustme.CA(organization_name="Ærø Kommune")
    bundle = tmp_path / "kommune-ca.pem"
    bundle.write_text(with_text(ca), encoding="utf-8")
    ssl.create_default_context(cafile=str(bundle))  # as OpenSSL reads it
    config_from_text(tmp_path / "feeds.yaml", SETTING)
    server = TlsFeedServer(ca.issue_cert("127.0.0.1"))
    try:
        feeds = [{"name": "Intranet", "url": server.url}]
        config = make_config(feeds, poll={"workers": 0, "ca_bundle": bundle.name})
        assert poll(config, store, clock=clock).failed == ()
    finally:
        server.stop()


def test_a_bundle_of_text_alone_is_still_refused(tmp_path: Path) -> None:
    (tmp_path / "kommune-ca.pem").write_text("friendlyName: Ærø Kommunes rod-CA\n")
    with pytest.raises(ConfigError, match="holds no PEM certificate"):
        config_from_text(tmp_path / "feeds.yaml", SETTING)
