"""Every output file is strictly valid for its format, and a second, independent parser
(fastfeedparser) reads the same ids, titles, links and dates as feedparser.

Atom is checked against RFC 4287's grammar (tests/schemas/atom.rng, ours) plus the RFC's
Schematron rules; RSS 2.0 against the spec's required elements and RFC 822 dates; JSON Feed
against the 1.1 schema."""

from __future__ import annotations

import calendar
import json
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import fastfeedparser
import feedparser
import jsonschema
import langcodes
import pytest
from lxml import etree

from aggregator.export import export_feeds
from aggregator.pipeline import poll
from tests.test_export import NOW, SCHEMA, sources

ATOM_SCHEMA = etree.RelaxNG(etree.parse(Path(__file__).parent / "schemas" / "atom.rng"))
A = "{http://www.w3.org/2005/Atom}"
FH_ARCHIVE = "{http://purl.org/syndication/history/1.0}archive"
RFC822 = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"\d{4} \d{2}:\d{2}:\d{2} (GMT|[+-]\d{4})$"
)


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    """One export of Danish, IRI, foreign-language, undated, enclosure, merged and hostile
    fixture feeds; files grouped by format."""
    from tests.feedserver import FeedServer

    server = FeedServer().start()
    try:
        root = tmp_path_factory.mktemp("validity")
        import yaml

        from aggregator.config import load_config
        from aggregator.store import Store

        site = {"base_url": "https://planet.example.dk/", "websub_hub": "https://hub.example.dk/"}
        poll_settings = {"allow_private_hosts": ["127.0.0.1"]}
        data = {"site": site, "poll": poll_settings, "feeds": sources(server)}
        (root / "feeds.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
        config = load_config(root / "feeds.yaml")
        store = Store.open(config.database_path)
        try:
            poll(config, store, clock=lambda: NOW)
            report = export_feeds(config, store, NOW)
        finally:
            store.close()
    finally:
        server.stop()
    files: dict[str, list[Path]] = {"atom": [], "rss": [], "json": []}
    for path in report.files:
        if path.name.startswith("."):
            continue
        if path.name == "atom.xml" or path.suffix == ".atom":
            files["atom"].append(path)
        elif path.name == "rss.xml" or path.suffix == ".rss":
            files["rss"].append(path)
        elif path.suffix == ".json":
            files["json"].append(path)
    assert all(len(v) >= 10 for v in files.values()), files
    return files


def _ascii_uri(value: str | None) -> None:
    assert value, value
    assert value.isascii(), value
    assert " " not in value, value
    assert re.match(r"^[a-z][a-z0-9+.-]*:", value), value


def test_atom_files_are_valid_rfc_4287(outputs):
    for path in outputs["atom"]:
        document = etree.parse(str(path))
        assert ATOM_SCHEMA.validate(document), (path, ATOM_SCHEMA.error_log.last_error)
        feed = document.getroot()
        ids = [e.findtext(f"{A}id") for e in feed.iter(f"{A}entry")]
        assert len(ids) == len(set(ids)), path
        for entry in feed.iter(f"{A}entry"):
            # RFC 4287 §4.1.2: an author in the entry, its source, or the feed.
            assert entry.find(f"{A}author") is not None or (
                entry.find(f"{A}source/{A}author") is not None
            ), path
            source = entry.find(f"{A}source")
            for name in ("id", "title", "updated"):
                assert source.findtext(f"{A}{name}"), (path, name)
            # §4.1.1.1: alternate links unique per type and hreflang
            alternates = [
                (link.get("type"), link.get("hreflang"))
                for link in entry.findall(f"{A}link")
                if link.get("rel") == "alternate"
            ]
            assert len(alternates) == len(set(alternates))
        for element in feed.iter():
            if element.tag in (f"{A}content", f"{A}summary", f"{A}title"):
                assert (element.text or "").strip(), (path, element.tag)
            for attribute in ("href", "src", "scheme"):
                if element.get(attribute) is not None:
                    _ascii_uri(element.get(attribute))
        assert feed.find(f"{A}link[@rel='self']") is not None
        assert feed.find(f"{A}link[@rel='hub']") is not None


def test_atom_schema_rejects_what_the_issue_found():
    good = (Path(__file__).parent / "fixtures" / "atom10.xml").read_bytes()
    assert ATOM_SCHEMA.validate(etree.fromstring(good))
    for bad in (
        good.replace(b'xml:lang="da"', b'xml:lang="en_US"'),
        good.replace(
            b'href="https://digst.dk/nyheder/"', 'href="https://digst.dk/ny-løsning"'.encode()
        ),
        good.replace(b"<published>2026-11-17T12:00:00Z", b"<published>17 Nov 2026"),
        good.replace(b"<id>tag:digst.dk,2026:mitid</id>", b""),
    ):
        assert not ATOM_SCHEMA.validate(etree.fromstring(bad))


def test_rss_files_are_valid_rss_2(outputs):
    for path in outputs["rss"]:
        rss = etree.parse(str(path)).getroot()
        assert rss.tag == "rss"
        assert rss.get("version") == "2.0"
        [channel] = rss.findall("channel")
        for required in ("title", "link", "description"):
            assert (channel.findtext(required) or "").strip(), (path, required)
        _ascii_uri(channel.findtext("link"))
        assert langcodes.tag_is_valid(channel.findtext("language"))
        assert RFC822.match(channel.findtext("lastBuildDate"))
        for item in channel.findall("item"):
            assert item.findtext("title") or item.findtext("description"), path
            if item.find("link") is not None:
                _ascii_uri(item.findtext("link"))
            date = item.findtext("pubDate")
            assert RFC822.match(date), date
            assert parsedate_to_datetime(date).tzinfo is not None
            assert item.find("guid").text
            source = item.find("source")
            _ascii_uri(source.get("url"))
            assert source.text
            for enclosure in item.findall("enclosure"):
                _ascii_uri(enclosure.get("url"))
                assert enclosure.get("length").isdigit()
                assert "/" in enclosure.get("type")
            assert len(item.findall("enclosure")) <= 1
        for element in rss.iter():
            if element.tag == FH_ARCHIVE:  # empty by definition (RFC 5005 §4)
                continue
            assert (element.text or "").strip() or len(element) or element.attrib, (
                path, element.tag)  # fmt: skip
            for attribute in ("href", "url"):
                if element.get(attribute) is not None:
                    _ascii_uri(element.get(attribute))


def test_json_feeds_are_valid_json_feed_1_1(outputs):
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    for path in outputs["json"]:
        document = json.loads(path.read_text(encoding="utf-8"))
        jsonschema.validate(document, SCHEMA, format_checker=checker)
        assert document["hubs"] == [{"type": "WebSub", "url": "https://hub.example.dk/"}]
        for item in document["items"]:
            for key in ("url", "external_url"):
                if key in item:
                    _ascii_uri(item[key])
            for attachment in item.get("attachments", []):
                _ascii_uri(attachment["url"])
            if "language" in item:
                assert langcodes.tag_is_valid(item["language"])
            assert all(v not in ("", [], {}) for v in item.values()), item


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value).astimezone(UTC) if value else None


def _feedparser_view(path):
    parsed = feedparser.parse(path.read_bytes())
    assert not parsed.bozo, parsed.get("bozo_exception")
    return [(e.id, e.title, _alternate(e), _struct_time(e.get("published_parsed")))
            for e in parsed.entries]  # fmt: skip


def _struct_time(value) -> datetime | None:
    return datetime.fromtimestamp(calendar.timegm(value), UTC) if value else None


def _alternate(entry) -> str | None:
    # feedparser stands the id in for a missing link; the link as written is what is compared.
    return next((link.href for link in entry.get("links", []) if link.rel == "alternate"), None)


def _fastfeedparser_view(path: Path) -> list[tuple[str, str, str | None, datetime | None]]:
    parsed = fastfeedparser.parse(path.read_bytes())
    return [
        (e["id"], e["title"], e.get("link") or None, _when(e.get("published")))
        for e in parsed.entries
    ]


@pytest.mark.parametrize("kind", ["atom", "rss"])
def test_a_second_parser_agrees_with_feedparser(outputs, kind):
    compared = 0
    for path in outputs[kind]:
        ours, theirs = _feedparser_view(path), _fastfeedparser_view(path)
        assert ours == theirs, path
        compared += len(ours)
    assert compared >= 30


def test_a_second_parser_reads_the_json_feeds_as_written(outputs):
    for path in outputs["json"]:
        document = json.loads(path.read_text(encoding="utf-8"))
        expected = [
            (i["id"], i.get("title", ""), i.get("url"), _when(i["date_published"]))
            for i in document["items"]
        ]
        assert _fastfeedparser_view(path) == expected, path
