"""Review 7 R12: a feed served with a certificate of an internal CA (made here by trustme),
on a real TLS server on 127.0.0.1: refused with words that name poll.ca_bundle, fetched once
the CA is given there, or by SSL_CERT_FILE / SSL_CERT_DIR; also through a CONNECT proxy."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import trustme
from click.testing import CliRunner

from aggregator.cli import cli
from aggregator.errors import ConfigError
from aggregator.health import what_to_do
from aggregator.pipeline import poll
from aggregator.trust import Trust, tls_context
from tests.conftest import FIXTURES
from tests.forwardproxy import ForwardProxy

BODY = (FIXTURES / "rss20.xml").read_bytes()
VARIABLES = ("SSL_CERT_FILE", "SSL_CERT_DIR", "HTTPS_PROXY", "https_proxy", "ALL_PROXY",
             "all_proxy", "NO_PROXY", "no_proxy")  # fmt: skip


@pytest.fixture(autouse=True)
def _no_trust_variables(monkeypatch) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA(organization_name="Kommunens interne CA")


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "kommune-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


class TlsFeedServer:
    """A feed at /feed.xml over TLS with ``certificate``'s key and chain."""

    def __init__(self, certificate: trustme.LeafCert) -> None:
        class _Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
                self.send_header("Content-Length", str(len(BODY)))
                self.end_headers()
                self.wfile.write(BODY)

            def log_message(self, format: str, *args: object) -> None:
                pass

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        certificate.configure_cert(context)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self._server.server_address[1]}/feed.xml"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def tls_server(ca) -> Iterator[TlsFeedServer]:
    server = TlsFeedServer(ca.issue_cert("127.0.0.1", "localhost"))
    yield server
    server.stop()


def one_feed(url: str) -> list[dict[str, object]]:
    return [{"name": "Intranet", "url": url}]


def test_an_internal_ca_is_refused_naming_poll_ca_bundle_then_trusted_with_it(
    tls_server, ca_file, make_config, store, clock, tmp_path
):
    config = make_config(one_feed(tls_server.url), poll={"workers": 0})
    (failed,) = poll(config, store, clock=clock).failed
    assert failed.error == (
        "untrusted certificate (unable to get local issuer certificate): if your "
        "organisation's own CA signed it, give that CA's PEM file as poll.ca_bundle"
    )
    (status,) = store.feed_statuses()
    assert what_to_do(status) == f"{failed.error} for 1 poll"  # the error says what to do
    # Relative to feeds.yaml, in a worker process as a poll runs it.
    config = make_config(one_feed(tls_server.url), poll={"workers": 1, "ca_bundle": ca_file.name})
    report = poll(config, store, clock=clock)
    assert report.failed == ()
    assert report.new > 0


def test_the_public_cas_stay_trusted_beside_the_bundle(ca_file):
    public = len(tls_context(Trust()).get_ca_certs())
    both = tls_context(Trust(ca_bundle=str(ca_file))).get_ca_certs()
    assert public > 50
    assert len(both) == public + 1
    assert any(
        ("organizationName", "Kommunens interne CA") in rdn
        for cert in both
        for rdn in cert["subject"]
    )


def test_ssl_cert_file_and_dir_are_honoured_when_poll_ca_bundle_is_unset(
    tls_server, ca_file, make_config, store, clock, monkeypatch, tmp_path
):
    config = make_config(one_feed(tls_server.url), poll={"workers": 0})
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    assert poll(config, store, clock=clock).failed == ()
    monkeypatch.delenv("SSL_CERT_FILE")
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("no openssl command to name a hashed CA directory's file")
    hashed = subprocess.run([openssl, "x509", "-hash", "-noout", "-in", str(ca_file)],
                            capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    directory = tmp_path / "certs"
    directory.mkdir()
    shutil.copy(ca_file, directory / f"{hashed}.0")
    monkeypatch.setenv("SSL_CERT_DIR", str(directory))
    assert poll(config, store, clock=clock).failed == ()


def test_an_unreadable_ssl_cert_file_is_a_setting_error(tmp_path, make_config, monkeypatch):
    config = make_config(one_feed("https://127.0.0.1:9/feed.xml"), poll={"workers": 0})
    missing = tmp_path / "nowhere.pem"
    monkeypatch.setenv("SSL_CERT_FILE", str(missing))
    result = CliRunner().invoke(cli, ["poll", "-c", str(config.source_path), "--no-export"])
    assert result.exit_code == 2, result.output
    assert f"error: SSL_CERT_FILE={missing}: cannot read CA certificates there" in result.output


def test_https_through_a_connect_proxy_with_the_bundle(
    tls_server, ca_file, make_config, store, clock
):
    proxy = ForwardProxy().start()
    try:
        poll_section = {"workers": 0, "ca_bundle": str(ca_file), "proxy": proxy.url()}
        config = make_config(one_feed(tls_server.url), poll=poll_section)
        assert poll(config, store, clock=clock).failed == ()
    finally:
        proxy.stop()
    port = tls_server.url.split(":")[2].split("/")[0]
    assert [(seen.method, seen.target) for seen in proxy.seen] == [("CONNECT", f"127.0.0.1:{port}")]


def test_an_expired_or_misnamed_certificate_says_so_not_ca_bundle(
    ca, ca_file, make_config, store, clock
):
    import datetime as dt

    expired = TlsFeedServer(
        ca.issue_cert("127.0.0.1", not_after=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    )
    other = TlsFeedServer(ca.issue_cert("intranet.kommune.local"))
    try:
        feeds = [{"name": "Gammel", "url": expired.url}, {"name": "Anden", "url": other.url}]
        config = make_config(feeds, poll={"workers": 0, "ca_bundle": str(ca_file)})
        errors = {r.feed_url: r.error for r in poll(config, store, clock=clock).failed}
    finally:
        expired.stop()
        other.stop()
    assert errors[expired.url] == (
        "the server's certificate has expired (certificate has expired): tell the site"
    )
    assert (errors[other.url] or "").startswith("the server's certificate is not for this host (")
    assert (errors[other.url] or "").endswith("): check the URL")


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (None, "no such file: "),
        ("hello", "holds no PEM certificate"),
        ("-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n", "not a PEM file"),
    ],
)
def test_a_bad_ca_bundle_is_refused_when_feeds_yaml_is_read(tmp_path, make_config, content, words):
    if content is not None:
        (tmp_path / "ca.pem").write_text(content, encoding="ascii")
    with pytest.raises(ConfigError) as refused:
        make_config([], poll={"ca_bundle": "ca.pem"})
    assert "poll.ca_bundle: " in str(refused.value)
    assert words in str(refused.value)


def test_a_ca_bundle_gone_since_feeds_yaml_was_read_is_a_setting_error(
    ca_file, make_config, store, clock
):
    config = make_config(one_feed("https://127.0.0.1:9/feed.xml"),
                         poll={"workers": 0, "ca_bundle": str(ca_file)})  # fmt: skip
    ca_file.unlink()
    with pytest.raises(ConfigError, match=f"^poll.ca_bundle: no such file: {ca_file}$"):
        poll(config, store, clock=clock)
