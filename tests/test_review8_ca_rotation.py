"""Review 8 R8-6: the TLS context was cached per process by the CA bundle's path, so after
a rotation of the internal CA (a new PEM in the same place, feeds.yaml read again on a
reload) every intranet fetch failed "untrusted certificate … give that CA's PEM file as
poll.ca_bundle" until a restart. The file's mtime and size are part of the cache's key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trustme

from aggregator.pipeline import poll
from aggregator.store import Store
from tests.conftest import Clock
from tests.test_review7_net_tls import TlsFeedServer

VARIABLES = ("SSL_CERT_FILE", "SSL_CERT_DIR", "HTTPS_PROXY", "https_proxy", "ALL_PROXY",
             "all_proxy", "NO_PROXY", "no_proxy")  # fmt: skip


@pytest.fixture(autouse=True)
def _no_trust_variables(monkeypatch: Any) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


def poll_signed_by(ca: trustme.CA, make_config: Any, store: Store, clock: Clock,
                   **poll_settings: Any) -> list[str | None]:  # fmt: skip
    """The errors of a poll of a TLS feed whose certificate ``ca`` signed."""
    server = TlsFeedServer(ca.issue_cert("127.0.0.1"))
    try:
        feeds = [{"name": "Intranet", "url": server.url}]
        config = make_config(feeds, poll={"workers": 0, **poll_settings})  # read again
        return [failed.error for failed in poll(config, store, clock=clock).failed]
    finally:
        server.stop()


def test_a_rotated_ca_bundle_is_trusted_after_feeds_yaml_is_read_again(
    tmp_path: Path, make_config: Any, store: Store, clock: Clock
) -> None:
    bundle = tmp_path / "kommune-ca.pem"
    old, new = trustme.CA(), trustme.CA()
    old.cert_pem.write_to_path(str(bundle))
    assert poll_signed_by(old, make_config, store, clock, ca_bundle=bundle.name) == []
    new.cert_pem.write_to_path(str(bundle))  # the rotation: a new CA in the same place
    assert poll_signed_by(new, make_config, store, clock, ca_bundle=bundle.name) == []


def test_a_rotated_ssl_cert_file_is_trusted_at_the_next_poll(
    tmp_path: Path, make_config: Any, store: Store, clock: Clock, monkeypatch: Any
) -> None:
    bundle = tmp_path / "ca-certificates.pem"
    old, new = trustme.CA(), trustme.CA()
    old.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    assert poll_signed_by(old, make_config, store, clock) == []
    new.cert_pem.write_to_path(str(bundle))
    assert poll_signed_by(new, make_config, store, clock) == []
