"""Review 8 R8-13: a proxy URL whose password holds ``#``, ``/`` or ``?`` (not
percent-encoded, as people write them) does not parse: urlsplit reads the password as the
port. A proxy environment variable (not checked at all) crashed every poll with ``unexpected
error: InvalidURL: Invalid port: 'S3cr'``, as did a scheme httpx does not take
(``socks4://``). It is now a setting error at load that names the variable and hides the user
and password."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from aggregator.cli import cli
from aggregator.errors import ConfigError
from aggregator.pipeline import poll
from aggregator.store import Store
from tests.conftest import Clock

VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy",
             "all_proxy", "no_proxy", "REQUEST_METHOD")  # fmt: skip


@pytest.fixture(autouse=True)
def _no_proxy_variables(monkeypatch: Any) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("HTTPS_PROXY", "http://kommune:S3cr#tPw@127.0.0.1:9"),
        ("https_proxy", "http://kommune:S3cr/tPw@127.0.0.1:9"),
        ("HTTP_PROXY", "kommune:S3cr?tPw@127.0.0.1:9"),  # no scheme: http, as curl
        ("ALL_PROXY", "socks4://kommune:S3crtPw@127.0.0.1:1080"),
        ("HTTPS_PROXY", "ftp://kommune:S3crtPw@127.0.0.1:21"),
    ],
)
def test_an_unusable_proxy_variable_is_refused_at_load_naming_it(
    tmp_path: Any, monkeypatch: Any, variable: str, value: str
) -> None:
    config = tmp_path / "feeds.yaml"
    config.write_text("feeds:\n  - {name: K, url: 'https://kommune.example/feed'}\n")
    monkeypatch.setenv(variable, value)
    result = CliRunner().invoke(cli, ["poll", "-c", str(config)])
    assert result.exit_code == 2, result.output
    assert f"{variable} (environment variable): not a proxy URL: " in result.output
    assert "S3cr" not in result.output, result.output
    assert "tPw" not in result.output
    assert "unexpected error" not in result.output


def test_a_proxy_variable_set_after_loading_is_a_setting_error_not_a_crash(
    make_config: Any, store: Store, clock: Clock, monkeypatch: Any
) -> None:
    config = make_config(
        [{"name": "K", "url": "https://kommune.example/feed"}], poll={"workers": 0}
    )
    monkeypatch.setenv("HTTPS_PROXY", "http://kommune:S3cr#tPw@127.0.0.1:9")
    with pytest.raises(ConfigError) as refused:
        poll(config, store, clock=clock)
    assert "HTTPS_PROXY" in str(refused.value)
    assert "S3cr" not in str(refused.value)


def test_a_good_proxy_variable_and_poll_proxy_are_taken(make_config: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://kommune:S3cr%23tPw@127.0.0.1:9")
    make_config([])
    # poll.proxy wins over the environment, so a broken variable does not matter then.
    monkeypatch.setenv("HTTPS_PROXY", "socks4://127.0.0.1:1080")
    make_config([], poll={"proxy": "http://kommune:S3cr%23tPw@127.0.0.1:9"})
