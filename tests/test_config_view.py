"""`status` reads a feeds.yaml the validator has accepted from a cached view, without pydantic;
any change to the file (even one that keeps its size and mtime), or a damaged cache, means a
full validation again. Through the entry point, with real files."""

from __future__ import annotations

import json
import os

import pytest
import yaml

from tests.test_cli import run
from tests.test_startup import imported_by


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(folder))
    return folder / "aggregator" / "config"


def write(folder, feeds, **sections):
    data = {**sections, "feeds": feeds}
    path = folder / "feeds.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    return path


def feeds_of(folder) -> list[tuple[str, str]]:
    result = run("status", "--json", cwd=folder)
    assert result.returncode == 0, result.stderr
    return [(f["name"], f["state"]) for f in json.loads(result.stdout)["feeds"]]


def test_a_validated_file_is_read_without_the_validator(tmp_path, cache):
    assert run("demo", "--out", str(tmp_path / "demo"), cwd=tmp_path).returncode == 0
    demo = tmp_path / "demo"
    first = run("status", cwd=demo)
    assert first.returncode == 0, first.stderr
    assert len(list(cache.iterdir())) == 1
    assert run("status", cwd=demo).stdout == first.stdout
    modules = imported_by(["status"], demo)
    assert {"pydantic", "pydantic_core", "yaml"} & modules == set()
    assert "sqlite3" in modules


def test_a_file_changed_in_place_is_validated_again(tmp_path, cache):
    """Same size, same mtime, other bytes: the cache is keyed by their hash too."""
    path = write(tmp_path, [{"name": "OS2", "url": "https://os2.dk/feed"},
                            {"name": "OS3", "url": "https://os3.dk/feed"}])  # fmt: skip
    assert feeds_of(tmp_path) == [("OS2", "new"), ("OS3", "new")]
    stat = path.stat()
    path.write_bytes(path.read_bytes().replace(b"name: OS3", b"name: OS2"))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)
    result = run("status", cwd=tmp_path)
    assert result.returncode == 2
    assert "feeds[1].name: 'OS2' is already the name of feeds[0]" in result.stderr
    # and a valid change is seen at once: the new feed is listed
    write(tmp_path, [{"name": "OS2", "url": "https://os2.dk/feed"},
                     {"name": "KL", "url": "https://kl.dk/feed", "enabled": False}])  # fmt: skip
    assert run("status", "--json", cwd=tmp_path).returncode == 0
    [kl] = [f for f in json.loads(run("status", "--json", cwd=tmp_path).stdout)["feeds"]
            if f["name"] == "KL"]  # fmt: skip
    assert kl["enabled"] is False


def test_a_rejected_file_is_never_cached(tmp_path, cache):
    write(tmp_path, [{"name": "OS2", "url": "not a url"}])
    for _ in range(2):
        result = run("status", cwd=tmp_path)
        assert result.returncode == 2
        assert "feeds[0].url: not a valid URL" in result.stderr
    assert not cache.exists() or list(cache.iterdir()) == []


@pytest.mark.parametrize(
    "damage",
    [
        b"not json",
        b"{}",
        b'{"key": 1, "view": {}}',
    ],
)
def test_a_damaged_cache_means_full_validation(tmp_path, cache, damage):
    write(tmp_path, [{"name": "Ærø Kommune", "url": "https://aeroe.dk/feed"}])
    assert feeds_of(tmp_path) == [("Ærø Kommune", "new")]
    [cached] = cache.iterdir()
    good = cached.read_bytes()
    cached.write_bytes(damage)
    assert feeds_of(tmp_path) == [("Ærø Kommune", "new")]
    assert cached.read_bytes() == good  # written again


def test_a_cache_whose_view_is_not_as_written_is_ignored(tmp_path, cache):
    """The right key with a view of the wrong shape: validated again, not trusted."""
    write(tmp_path, [{"name": "OS2", "url": "https://os2.dk/feed"}])
    assert feeds_of(tmp_path) == [("OS2", "new")]
    [cached] = cache.iterdir()
    document = json.loads(cached.read_text("utf-8"))
    document["view"]["database_path"] = "relative.db"
    cached.write_text(json.dumps(document), "utf-8")
    result = run("status", cwd=tmp_path)
    assert result.stdout == f"no database yet ({tmp_path / 'aggregator.db'}): run aggregator poll\n"


def test_no_cache_directory_is_no_error(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("", "utf-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))  # cannot hold a directory
    write(tmp_path, [{"name": "OS2", "url": "https://os2.dk/feed"}])
    assert feeds_of(tmp_path) == [("OS2", "new")]
    assert feeds_of(tmp_path) == [("OS2", "new")]


def test_an_empty_feed_list_is_warned_about_every_time(tmp_path, cache):
    write(tmp_path, [])
    for _ in range(2):
        result = run("status", cwd=tmp_path)
        assert result.returncode == 0
        assert "no feeds configured" in result.stderr
    assert len(list(cache.iterdir())) == 1


def test_entries_reads_the_cached_view_and_filters_as_validated(tmp_path, cache):
    """`entries` shares status's view: no validator once cached, and the same answers by
    --source and --tag (tags are in the view) as with a full validation."""
    assert run("demo", "--out", str(tmp_path / "demo"), cwd=tmp_path).returncode == 0
    demo = tmp_path / "demo"
    queries = (["--tag", "kommuner"], ["--tag", "stat", "--json"], ["--source", "KL"],
               ["--source", "OS2", "--tag", "kommuner", "--json"],
               ["--since", "3650d"])  # fmt: skip
    validated = []
    for query in queries:
        for folder in cache.iterdir() if cache.exists() else ():
            folder.unlink()  # no view yet: this run validates in full and writes it
        result = run("entries", *query, cwd=demo)
        assert result.returncode == 0, result.stderr
        validated.append(result.stdout)
    assert len(list(cache.iterdir())) == 1
    modules = imported_by(["entries", "--tag", "kommuner"], demo)
    assert {"pydantic", "pydantic_core", "yaml"} & modules == set()
    for query, expected in zip(queries, validated, strict=True):
        assert run("entries", *query, cwd=demo).stdout == expected
    stat = json.loads(validated[1])
    assert stat
    assert all("Digitaliseringsstyrelsen" in e["sources"] for e in stat)
    unknown = run("entries", "--source", "Ærø", cwd=demo)
    assert unknown.returncode == 2
    assert f"no feed named 'Ærø' in {demo / 'feeds.yaml'}" in unknown.stderr


def test_entries_rejects_a_file_changed_in_place(tmp_path, cache):
    """What the validator rejects, entries rejects too, even with the size and mtime kept."""
    path = write(tmp_path, [{"name": "OS2", "url": "https://os2.dk/feed", "tags": ["os2"]},
                            {"name": "OS3", "url": "https://os3.dk/feed"}])  # fmt: skip
    assert run("entries", "--tag", "os2", cwd=tmp_path).returncode == 0
    assert len(list(cache.iterdir())) == 1
    stat = path.stat()
    path.write_bytes(path.read_bytes().replace(b"name: OS3", b"name: OS2"))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    result = run("entries", "--tag", "os2", cwd=tmp_path)
    assert result.returncode == 2
    assert "feeds[1].name: 'OS2' is already the name of feeds[0]" in result.stderr


def test_a_cache_with_tags_not_as_written_is_ignored(tmp_path, cache):
    write(tmp_path, [{"name": "OS2", "url": "https://os2.dk/feed", "tags": ["os2"]}])
    assert feeds_of(tmp_path) == [("OS2", "new")]
    [cached] = cache.iterdir()
    document = json.loads(cached.read_text("utf-8"))
    document["view"]["feeds"][0][3] = "os2"  # a string, not a list of tags
    cached.write_text(json.dumps(document), "utf-8")
    assert feeds_of(tmp_path) == [("OS2", "new")]
    assert json.loads(cached.read_text("utf-8"))["view"]["feeds"][0][3] == ["os2"]


def test_search_reads_the_cached_view_and_finds_as_validated(tmp_path, cache):
    """`search` shares the view too: kilde: and tag: resolve against it as against the
    validated file, fra: in the site's zone, and no validator is imported once cached."""
    assert run("demo", "--out", str(tmp_path / "demo"), cwd=tmp_path).returncode == 0
    demo = tmp_path / "demo"
    queries = (["kommuner", "--json"], ["tag:kommuner"], ["kilde:KL", "--json"],
               ["kilde:digst tag:stat"], ["fra:2026-11-25 kommuner", "--json"])  # fmt: skip
    validated = []
    for query in queries:
        for folder in cache.iterdir() if cache.exists() else ():
            folder.unlink()
        result = run("search", *query, cwd=demo)
        assert result.returncode == 0, result.stderr
        validated.append(without_scores(result.stdout))
    kl = json.loads(validated[2])
    assert kl
    assert all(hit["source"] == "KL" for hit in kl)
    modules = imported_by(["search", "kilde:KL"], demo)
    assert {"pydantic", "pydantic_core", "yaml"} & modules == set()
    for query, expected in zip(queries, validated, strict=True):
        assert without_scores(run("search", *query, cwd=demo).stdout) == expected


def without_scores(output: str) -> str:
    """A hit's score moves with the clock (newer posts rank higher); the rest must not."""
    if not output.startswith("["):
        return output
    hits = json.loads(output)
    return json.dumps([{k: v for k, v in hit.items() if k != "score"} for hit in hits])


def test_search_rejects_a_file_changed_in_place(tmp_path, cache):
    path = write(tmp_path, [{"name": "OS2", "url": "https://os2.dk/feed"},
                            {"name": "OS3", "url": "https://os3.dk/feed"}])  # fmt: skip
    assert run("search", "kommune", cwd=tmp_path).returncode == 0
    stat = path.stat()
    path.write_bytes(path.read_bytes().replace(b"name: OS3", b"name: OS2"))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    result = run("search", "kommune", cwd=tmp_path)
    assert result.returncode == 2
    assert "feeds[1].name: 'OS2' is already the name of feeds[0]" in result.stderr
