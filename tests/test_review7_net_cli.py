"""Review 7 R15: command-line values past what dates and URLs can hold end in a one-line
message naming the option and exit 2, not an unexpected error with a traceback."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from aggregator.cli import cli


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "feeds.yaml"
    path.write_text("feeds:\n  - {name: OS2, url: 'http://127.0.0.1:9/feed'}\n", encoding="utf-8")
    return path


def invoke(config, *args):
    return CliRunner().invoke(cli, [args[0], "-c", str(config), *args[1:]])


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (("prune", "--older-than", "99999999d"), "--older-than"),
        (("prune", "--older-than", "0001-01-01"), "--older-than"),  # year 0 in UTC
        (("entries", "--since", "99999999d"), "--since"),
        (("entries", "--since", "99999999999999999h"), "--since"),  # past timedelta's range
        (("digest", "--period", "9999-W52"), "--period"),  # ends in year 10000
        (("digest", "--period", "9999-12-31"), "--period"),  # a date in that week
        (("digest", "--period", "0001-W01"), "--period"),  # starts in year 0 in UTC
    ],
)
def test_a_date_out_of_range_is_a_usage_error_naming_the_option(config, args, option):
    result = invoke(config, *args)
    assert result.exit_code == 2, result.output
    assert f"Invalid value for {option}: {args[-1]!r}" in result.output
    assert "unexpected error" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://[::1", "an IPv6 address in it lacks its ]"),
        ("http://[::1/feed", "an IPv6 address in it lacks its ]"),
        ("http://", "it names no host"),
        ("https:///feed", "it names no host"),
        ("http://kommune.dk:99999/feed", "Port out of range"),
    ],
)
def test_add_refuses_a_url_without_a_usable_host_in_one_line(config, url, why):
    result = invoke(config, "add", url)
    assert result.exit_code == 2, result.output
    assert f"error: {url!r} is not a web address: {why}" in result.output
    assert "unexpected error" not in result.output
    assert "broken redirect" not in result.output  # nothing was fetched, nothing redirected


@pytest.mark.parametrize("url", ["http://[::1", "http://"])
def test_preview_of_such_a_url_is_a_one_line_error(config, url):
    result = invoke(config, "preview", url)
    assert result.exit_code == 2, result.output
    assert "unexpected error" not in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize("command", ["entries", "dupes"])
def test_a_limit_past_what_sqlite_holds_is_as_many_as_there_are(config, command):
    from aggregator.store import Store

    Store.open(config.parent / "aggregator.db").close()
    result = invoke(config, command, "--limit", "99999999999999999999999")
    assert result.exit_code == 0, result.output
    assert "unexpected error" not in result.output
    assert invoke(config, command, "--limit", "0").exit_code == 2


@pytest.mark.parametrize("url", ["http:// /feed", "http://kommune .dk/feed"])
def test_add_refuses_a_space_in_the_host_before_fetching(config, url):
    result = invoke(config, "add", url)
    assert result.exit_code == 2, result.output
    assert f"error: {url!r} is not a web address: a space in its host name" in result.output
