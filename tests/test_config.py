from __future__ import annotations

from pathlib import Path

import pytest

from aggregator.config import load_config, parse_config
from aggregator.errors import ConfigError

REPO = Path(__file__).parent.parent


def test_shipped_feeds_yaml_is_valid():
    config = load_config(REPO / "feeds.yaml")
    assert len(config.feeds) >= 6
    assert config.site.timezone == "Europe/Copenhagen"
    assert config.database_path == REPO / "aggregator.db"
    assert all(feed.url.startswith("https://") for feed in config.feeds)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"feeds": [{"name": "a", "url": "https://a.dk/"}] * 3 + [{"name": "b", "url": "nope"}]},
         "feeds[3].url: not a valid URL"),
        ({"feeds": [{"name": "a", "url": "https://a.dk/", "tagz": ["x"]}]},
         "feeds[0].tagz: unknown key"),
        ({"feeds": [{"url": "https://a.dk/"}]}, "feeds[0].name: required key is missing"),
        ({"feeds": [{"name": "a", "url": "https://a.dk/", "interval_minutes": "often"}]},
         "feeds[0].interval_minutes: a whole number, e.g. 60, not 'often'"),
        ({"site": {"timezone": "Europe/Kobenhavn"}}, "site.timezone: unknown time zone"),
        ({"sitee": {}}, "sitee: unknown key"),
        ({"digest": {"recipients": ["ikke-en-adresse"]}}, "digest.recipients: not an e-mail"),
        ({"smtp": {"password": "hemmeligt"}}, "smtp.password: unknown key"),
        ({"feeds": [{"name": "a", "url": "https://a.dk/"}, {"name": "b", "url": "https://a.dk/"}]},
         "feeds[1].url: 'b' has the same URL as 'a' (feeds[0].url); keep one"),
        ({"feeds": [{"name": "a", "url": "ftp://a.dk/feed"}]}, "feeds[0].url: not a valid URL"),
    ],
)  # fmt: skip
def test_invalid_settings_name_the_key_path(data, message):
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    assert message in str(caught.value)


def test_all_problems_are_reported_at_once():
    with pytest.raises(ConfigError) as caught:
        parse_config({"feeds": [{"name": "a", "url": "x"}, {"name": "b", "url": "y", "z": 1}]})
    lines = str(caught.value).splitlines()
    assert lines == ["feeds[0].url: not a valid URL", "feeds[1].url: not a valid URL",
                     "feeds[1].z: unknown key"]  # fmt: skip


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = tmp_path / "feeds.yaml"
    path.write_text("feeds:\n  - name: a\n    url: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"not valid YAML \(line \d+"):
        load_config(path)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "nope.yaml")


def test_paths_are_relative_to_the_config_file(tmp_path):
    path = tmp_path / "conf" / "feeds.yaml"
    path.parent.mkdir()
    path.write_text("site:\n  database: data/agg.db\n  output_dir: public\n", encoding="utf-8")
    config = load_config(path)
    assert config.database_path == tmp_path / "conf" / "data" / "agg.db"
    assert config.output_dir == tmp_path / "conf" / "public"


def test_smtp_password_comes_from_the_environment(monkeypatch):
    config = parse_config({"smtp": {"password_env": "MY_SMTP_SECRET"}})
    monkeypatch.delenv("MY_SMTP_SECRET", raising=False)
    assert config.smtp.password is None
    monkeypatch.setenv("MY_SMTP_SECRET", "s3cret")
    assert config.smtp.password == "s3cret"


@pytest.mark.parametrize(
    "url",
    [
        "https://a.dk/feed", "http://127.1.0.7:18473/feed/9?x=1#y", "http://a.dk", "http://a.dk?q",
        "HTTPS://A.DK/feed", " https://a.dk/feed ", "https://blåbær.dk/feed", "http://[::1]:8080/",
        "https://user:pw@a.dk/", "ftp://a.dk/", "https://", "http:///feed", "http://:80/",
        "https//a.dk", "a.dk/feed", "https://a.dk/with space", "https://a.dk/\tfeed",
        "mailto:x@a.dk", "http://[::1/", "https://a.dk:/", "javascript://a.dk/%0aalert(1)",
    ],
)  # fmt: skip
def test_a_feed_url_is_checked_as_urlsplit_sees_it(url):
    """The quick match for plain URLs must accept exactly what the full check accepts."""
    from urllib.parse import urlsplit

    problem = "not a valid URL"
    try:
        parts = urlsplit(url.strip())
        expected = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError as exc:
        expected, problem = False, str(exc)  # "Invalid IPv6 URL", as before
    data = {"feeds": [{"name": "a", "url": url}]}
    if expected:
        assert parse_config(data).feeds[0].url == url.strip()
    else:
        with pytest.raises(ConfigError) as raised:
            parse_config(data)
        assert str(raised.value) == f"feeds[0].url: {problem}"


def test_many_feeds_are_light_frozen_values():
    """100,000 feeds as pydantic models took 240 MiB; as frozen dataclasses about a tenth."""
    import dataclasses
    import tracemalloc

    data = {"feeds": [{"name": f"Blog {i}", "url": f"https://b{i}.dk/feed"} for i in range(20_000)]}
    tracemalloc.start()
    try:
        config = parse_config(data)
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    feed = config.feeds[0]
    assert dataclasses.is_dataclass(feed)
    assert not hasattr(feed, "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        feed.name = "x"  # type: ignore[misc]
    assert held / len(config.feeds) < 600  # bytes a feed, its two strings included


@pytest.mark.parametrize(
    ("site", "named"),
    [
        ({"output_dir": "."}, "the database"),
        ({"output_dir": "www", "database": "www/data/agg.db"}, "the database"),
        ({"output_dir": ".", "database": "/var/tmp/elsewhere.db"}, "this configuration file"),
    ],
)
def test_private_files_cannot_be_published(tmp_path, site, named):
    """serve (or any web server) publishes output_dir: the database holds the recipients'
    addresses, feeds.yaml the SMTP account."""
    path = tmp_path / "feeds.yaml"
    lines = "".join(f"  {key}: {value}\n" for key, value in site.items())
    path.write_text(f"site:\n{lines}feeds: []\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="would be inside the published output_dir") as error:
        load_config(path)
    assert named in str(error.value)
    assert "put the output in a folder of its own" in str(error.value)


def test_private_files_beside_the_output_are_fine(tmp_path):
    path = tmp_path / "feeds.yaml"
    path.write_text("site:\n  output_dir: www\n  database: data/agg.db\nfeeds: []\n", "utf-8")
    assert load_config(path).output_dir == tmp_path / "www"


@pytest.mark.parametrize(
    "sender",
    ["Digitalisering <digital@kommune.dk>", "digital@kommune.dk\nBcc: x@y.dk", "ingen-snabel-a"],
)
def test_a_from_address_the_digest_cannot_use_is_refused_at_load(sender):
    with pytest.raises(ConfigError, match=r"smtp\.from.*not an e-mail address") as error:
        parse_config({"smtp": {"from": sender}, "feeds": []})
    assert "the name goes in smtp.from_name" in str(error.value)


def test_a_plain_from_address_is_kept():
    config = parse_config({"smtp": {"from": "digital@kommune.dk"}, "feeds": []})
    assert config.smtp.sender == "digital@kommune.dk"
