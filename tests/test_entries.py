"""`aggregator entries`: what is stored, newest first, filtered as the admin asks."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import yaml

from tests.feedgen import Item, rss
from tests.test_cli import run


def test_entries_filters_by_source_tag_since_and_limit(tmp_path, server):
    def post(n: int, day: int) -> Item:
        return Item(f"Indlæg {n} om æøå", f"https://os2.eu/{n}", f"<p>Tekst {n} om noget helt "
                    f"andet end nummer {n * 7} og {n * 13}</p>",
                    datetime(2026, 11, day, 9, tzinfo=UTC), guid=f"p{n}")  # fmt: skip

    os2 = server.static_feed("/os2", rss("OS2", "https://os2.eu", [post(1, 20), post(2, 24)]))
    kl = server.static_feed("/kl", rss("KL", "https://kl.dk", [post(3, 22)]))
    data = {"poll": {"allow_private_hosts": ["127.0.0.1"]},
            "feeds": [{"name": "OS2", "url": os2, "tags": ["os2", "kommuner"]},
                      {"name": "KL", "url": kl, "tags": ["kommuner"]}]}  # fmt: skip
    (tmp_path / "feeds.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    assert run("entries", cwd=tmp_path).stdout.startswith("no database yet")
    assert run("poll", cwd=tmp_path).returncode == 0

    listed = run("entries", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert [line.split("  ")[0] for line in listed.stdout.splitlines()] == [
        "PUBLISHED", "2026-11-24 10:00 CET", "2026-11-22 10:00 CET", "2026-11-20 10:00 CET"
    ]  # fmt: skip
    assert "Indlæg 2 om æøå" in listed.stdout.splitlines()[1]

    def titles(*args: str) -> list[str]:
        result = run("entries", "--json", *args, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        return [e["title"] for e in json.loads(result.stdout)]

    assert titles("--source", "KL") == ["Indlæg 3 om æøå"]
    assert titles("--tag", "os2") == ["Indlæg 2 om æøå", "Indlæg 1 om æøå"]
    assert titles("--tag", "kommuner", "--limit", "2") == ["Indlæg 2 om æøå", "Indlæg 3 om æøå"]
    assert titles("--since", "2026-11-22") == ["Indlæg 2 om æøå", "Indlæg 3 om æøå"]
    assert titles("--source", "OS2", "--since", "2026-11-21T00:00+01:00") == ["Indlæg 2 om æøå"]
    assert titles("--tag", "nothing") == []

    bad = run("entries", "--since", "last week", cwd=tmp_path)
    assert bad.returncode == 2
    assert "'last week' is not a date" in bad.stderr
    unknown = run("entries", "--source", "Nope", cwd=tmp_path)
    assert unknown.returncode == 2
    assert "no feed named 'Nope'" in unknown.stderr
