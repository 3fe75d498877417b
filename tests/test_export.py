"""The merged feed: written atomically, valid for each format, and saying what is stored."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import jsonschema
import pytest

from aggregator.export import export_feeds
from aggregator.pipeline import poll
from tests.conftest import serve_fixture

SCHEMA = json.loads((Path(__file__).parent / "jsonfeed-1.1.schema.json").read_text())
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.fixture
def exported(server, make_config, store):
    feeds = [
        {"name": "OS2", "url": serve_fixture(server, "rss20.xml", "/os2"),
         "priority": 1},
        {"name": "Digst", "url": serve_fixture(server, "atom10.xml", "/digst")},
        {"name": "Evil", "url": serve_fixture(server, "hostile.xml", "/evil")},
    ]  # fmt: skip
    config = make_config(feeds)
    poll(config, store, clock=lambda: NOW)
    report = export_feeds(config, store, NOW)
    return config, store, report


def test_files_are_written_atomically(exported):
    config, _, report = exported
    assert sorted(p.name for p in report.files) == ["atom.xml", "feed.json", "rss.xml"]
    assert sorted(p.name for p in config.output_dir.iterdir()) == sorted(
        p.name for p in report.files
    )  # no temporary files left behind


@pytest.mark.parametrize(("name", "version"), [("atom.xml", "atom10"), ("rss.xml", "rss20")])
def test_xml_feeds_parse_back_cleanly_and_match_the_store(exported, name, version):
    config, store, _ = exported
    parsed = feedparser.parse((config.output_dir / name).read_bytes())
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == version
    assert parsed.feed.title == "Offentlig digitalisering"
    stored = store.recent_entries(100)
    assert [e.id for e in parsed.entries] == [s.id for s in stored]
    assert [e.title for e in parsed.entries] == [s.title for s in stored]
    links = [
        next((link.href for link in e.get("links", []) if link.rel == "alternate"), None)
        for e in parsed.entries
    ]
    assert links == [s.link for s in stored]


def test_atom_credits_every_source(exported):
    config, _, _ = exported
    parsed = feedparser.parse((config.output_dir / "atom.xml").read_bytes())
    shared = next(e for e in parsed.entries if e.title == "Fælles kommunal cloud: næste skridt")
    assert shared.source.title == "OS2 – nyheder"
    assert shared.source.id.endswith("/os2")
    via = [link.href for link in shared.links if link.rel == "via"]
    assert via == ["https://WWW.os2.eu/blog/faelles-kommunal-cloud/#kommentarer"]


def test_rss_names_the_source(exported):
    config, _, _ = exported
    text = (config.output_dir / "rss.xml").read_text(encoding="utf-8")
    assert '<source url="http://127.0.0.1:' in text
    assert ">OS2 – nyheder</source>" in text


def test_json_feed_is_valid_and_matches_the_store(exported):
    config, store, _ = exported
    document = json.loads((config.output_dir / "feed.json").read_text(encoding="utf-8"))
    jsonschema.validate(
        document, SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    stored = store.recent_entries(100)
    assert [i["id"] for i in document["items"]] == [s.id for s in stored]
    assert [i["title"] for i in document["items"]] == [s.title for s in stored]
    shared = next(i for i in document["items"] if i["title"].startswith("Fælles kommunal"))
    assert [s["name"] for s in shared["_aggregator"]["sources"]] == [
        "OS2 – nyheder",
        "Digitaliseringsstyrelsen",
    ]
    assert "æ" in (config.output_dir / "feed.json").read_text(encoding="utf-8")


def test_newest_n_entries_only(exported, make_config):
    config, store, _ = exported
    limited = config.model_copy(update={"site": config.site.model_copy(update={"max_entries": 2})})
    report = export_feeds(limited, store, NOW)
    assert report.entries == 2
    parsed = feedparser.parse((config.output_dir / "atom.xml").read_bytes())
    assert [e.id for e in parsed.entries] == [e.id for e in store.recent_entries(2)]


def test_hostile_content_is_inert_in_every_output(exported):
    config, _, _ = exported
    for name in ("atom.xml", "rss.xml", "feed.json"):
        parsed_text = (config.output_dir / name).read_text(encoding="utf-8")
        if name == "feed.json":
            contents = [i["content_html"] + i["title"] for i in json.loads(parsed_text)["items"]]
        else:
            contents = [
                e.get("content", [{}])[0].get("value", "") + e.get("description", "") + e.title
                for e in feedparser.parse(parsed_text, sanitize_html=False).entries
            ]
        for html in contents:
            for needle in ("<script", "onerror=", "onclick=", "javascript:", "<iframe"):
                assert needle not in html, (name, html)


def test_empty_store_exports_valid_empty_feeds(make_config, store):
    config = make_config([])
    export_feeds(config, store, NOW)
    assert not feedparser.parse((config.output_dir / "atom.xml").read_bytes()).bozo
    document = json.loads((config.output_dir / "feed.json").read_text())
    jsonschema.validate(document, SCHEMA)
    assert document["items"] == []


def test_an_output_that_would_not_parse_replaces_no_good_file(exported):
    """An entry stored with a control character (by an older version) stops the export
    with one line naming it, and the published files stay as they were."""
    from aggregator.errors import ExportError

    config, store, _ = exported
    before = {p.name: p.read_bytes() for p in config.output_dir.iterdir()}
    entry = store.recent_entries(1)[0]
    store.db.execute("UPDATE entries SET title = ? WHERE id = ?", ["Øl\x01 og vand", entry.id])
    store.db.conn.commit()
    with pytest.raises(ExportError, match=f"entry {entry.id}") as raised:
        export_feeds(config, store, NOW)
    assert "\n" not in str(raised.value)
    assert {p.name: p.read_bytes() for p in config.output_dir.iterdir()} == before
