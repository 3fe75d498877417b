"""Review 8 R8-11: `status` answers from a cache of "the validator accepted this feeds.yaml",
keyed by the file's bytes and the validating modules. Validation also reads poll.ca_bundle's
file and the proxy variables of the environment, so with the bundle gone (or a proxy
variable no fetch could use) `status` exited 0 from its cache while `poll`, and `status`
without a cache, exited 2. Through the entry point, with real files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trustme

from tests.test_cli import run
from tests.test_startup import imported_by

FEEDS = (
    "site:\n  title: T\n  base_url: https://planet.example.dk/\n"
    "poll:\n  ca_bundle: ca.pem\n"
    "feeds:\n  - name: K\n    url: https://kommune.example/feed\n"
)


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: Any) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                 "all_proxy", "REQUEST_METHOD"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    trustme.CA().cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    (tmp_path / "feeds.yaml").write_text(FEEDS, encoding="utf-8")
    first = run("status", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert len(list((tmp_path / "cache" / "aggregator" / "config").iterdir())) == 1
    return tmp_path


def test_status_refuses_a_ca_bundle_that_is_gone_as_poll_does(folder: Path) -> None:
    (folder / "ca.pem").unlink()
    cached = run("status", cwd=folder)
    assert cached.returncode == 2, cached.stderr
    assert "poll.ca_bundle: no such file" in cached.stderr
    assert run("poll", cwd=folder).returncode == 2


def test_status_reads_a_replaced_ca_bundle_again(folder: Path) -> None:
    (folder / "ca.pem").write_text("not a certificate\n", encoding="utf-8")
    cached = run("status", cwd=folder)
    assert cached.returncode == 2, cached.stderr
    assert "holds no PEM certificate" in cached.stderr


def test_status_refuses_a_proxy_variable_no_fetch_could_use(folder: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "socks4://127.0.0.1:1080")
    cached = run("status", cwd=folder)
    assert cached.returncode == 2, cached.stderr
    assert "HTTPS_PROXY (environment variable): not a proxy URL" in cached.stderr


def test_nothing_changed_is_still_answered_from_the_cache(folder: Path) -> None:
    again = run("status", cwd=folder)
    assert again.returncode == 0, again.stderr
    assert {"pydantic", "yaml"} & imported_by(["status"], folder) == set()
