"""Every output, from one export of fixture feeds: what files appear, what they say, and that
an export that changed nothing rewrites nothing."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import jsonschema
import lxml.html
import pytest
from lxml import etree

from aggregator.export import export_feeds
from aggregator.export.slugs import slugify
from aggregator.export.writer import LISTING_FILE, LOCK_FILE, PENDING_FILE
from aggregator.pipeline import poll
from tests.conftest import serve_fixture
from tests.feedserver import feed_route

SCHEMA = json.loads((Path(__file__).parent / "jsonfeed-1.1.schema.json").read_text())
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
FEED_FILES = ("atom.xml", "rss.xml", "feed.json")


def sources(server):
    return [
        {"name": "OS2", "url": serve_fixture(server, "rss20.xml", "/os2"), "priority": 1,
         "tags": ["kommuner", "høringer"]},
        {"name": "Digst", "url": serve_fixture(server, "atom10.xml", "/digst"), "tags": ["stat"]},
        {"name": "Evil", "url": serve_fixture(server, "hostile.xml", "/evil")},
        {"name": "Ærø", "url": serve_fixture(server, "iri-atom.xml", "/aeroe"),
         "tags": ["kommuner"]},
    ]  # fmt: skip


@pytest.fixture
def exported(server, make_config, store):
    config = make_config(sources(server))
    poll(config, store, clock=lambda: NOW)
    report = export_feeds(config, store, NOW)
    return config, store, report


def read(config, name):
    return (config.output_dir / name).read_text(encoding="utf-8")


def test_every_kind_of_output_is_written_and_nothing_temporary_is_left(exported):
    config, _, report = exported
    names = {p.relative_to(config.output_dir).as_posix() for p in report.files}
    for prefix in ("", "tag/kommuner/", "tag/hoeringer/", "tag/stat/", "source/os2/",
                   "source/aeroe/", "source/evil/"):  # fmt: skip
        for name in (*FEED_FILES, "index.html"):
            assert prefix + name in names
    assert {"sources.opml", "style.css"} <= names
    for month in ("2026-09", "2026-10", "2026-11"):
        assert {f"archive/{month}.atom", f"archive/{month}.rss", f"archive/{month}.json",
                f"archive/{month}/index.html"} <= names  # fmt: skip
    on_disk = {
        p.relative_to(config.output_dir).as_posix()
        for p in config.output_dir.rglob("*")
        if p.is_file() and p.name not in (LOCK_FILE, LISTING_FILE)  # the writer's own
    }
    assert on_disk == names
    assert not [n for n in on_disk if n.endswith(".tmp")]


def test_slugs_transliterate_danish_letters():
    assert slugify("høringer") == "hoeringer"
    assert slugify("Ærø Kommune") == "aeroe-kommune"
    assert slugify("Små & store") == "smaa-store"
    assert slugify("😀") == "x"


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


def test_atom_credits_every_source_with_a_complete_source_element(exported):
    config, _, _ = exported
    parsed = feedparser.parse((config.output_dir / "atom.xml").read_bytes())
    shared = next(e for e in parsed.entries if e.title == "Fælles kommunal cloud: næste skridt")
    assert shared.source.title == "OS2 – nyheder"
    assert shared.source.id.endswith("/os2")
    assert shared.source.updated
    assert shared.source.link == "https://www.os2.eu/"
    via = [link.href for link in shared.links if link.rel == "via"]
    assert via == ["https://WWW.os2.eu/blog/faelles-kommunal-cloud/#kommentarer"]
    assert shared.author == "Søren Ærø"


def test_the_site_is_never_the_author(exported):
    config, _, _ = exported
    text = read(config, "atom.xml")
    assert "<author>\n    <name>Offentlig digitalisering</name>" not in text
    parsed = feedparser.parse(text)
    assert "author" not in parsed.feed
    undated_author = next(e for e in parsed.entries if e.title.startswith("Digital government"))
    assert undated_author.source.author == "Ærø Kommune – digitalisering"
    document = json.loads(read(config, "feed.json"))
    item = next(i for i in document["items"] if i["title"].startswith("Digital government"))
    assert "authors" not in item


def test_rss_names_the_source(exported):
    config, _, _ = exported
    text = read(config, "rss.xml")
    assert '<source url="http://127.0.0.1:' in text
    assert ">OS2 – nyheder</source>" in text


def test_links_are_uris_without_tracking_parameters(exported):
    config, _, report = exported
    for path in report.files:
        if path.suffix in (".xml", ".json", ".atom", ".rss", ".html", ".opml"):
            text = path.read_text(encoding="utf-8")
            assert "utm_" not in text, path
            for link in re.findall(r'(?:href|url)="([^"]*)"', text):
                assert link.isascii(), (path, link)
    feed = json.loads(read(config, "feed.json"))
    urls = {i.get("url") for i in feed["items"]}
    assert "https://example.dk/nyheder/ny-l%C3%B8sning-p%C3%A5-%C3%A6r%C3%B8?id=5" in urls
    assert "https://xn--r8jz45g.jp/%E8%A8%98%E4%BA%8B1%E3%81%AEURL#top" in urls


def test_languages_are_bcp47_and_empty_elements_are_omitted(exported):
    config, _, _ = exported
    atom = read(config, "atom.xml")
    assert 'xml:lang="en_US"' not in atom
    assert 'xml:lang="en-US"' in atom
    assert '<content type="html" />' not in atom
    assert not re.search(r"<(\w+)[^>]*/>", atom.replace("<link ", "").replace("<category ", ""))


def test_categories_are_the_entrys_own_and_its_sources_tags(exported):
    config, _, _ = exported
    parsed = feedparser.parse((config.output_dir / "atom.xml").read_bytes())
    shared = next(e for e in parsed.entries if e.title == "Fælles kommunal cloud: næste skridt")
    assert {t.term for t in shared.tags} == {"kommuner", "høringer", "stat"}
    rss = feedparser.parse((config.output_dir / "rss.xml").read_bytes())
    shared_rss = next(e for e in rss.entries if e.title == shared.title)
    assert {t.term for t in shared_rss.tags} == {"kommuner", "høringer", "stat"}
    document = json.loads(read(config, "feed.json"))
    item = next(i for i in document["items"] if i["title"] == shared.title)
    assert set(item["tags"]) == {"kommuner", "høringer", "stat"}


def test_tag_and_source_feeds_hold_their_entries_only(exported):
    config, _, _ = exported
    stat = feedparser.parse((config.output_dir / "tag/stat/atom.xml").read_bytes())
    assert stat.feed.title == "stat"
    assert {e.title for e in stat.entries} == {
        "Fælles kommunal cloud: næste skridt",
        "Ny vejledning om MitID Erhverv",
    }
    hoeringer = json.loads(read(config, "tag/hoeringer/feed.json"))
    assert hoeringer["title"] == "høringer"
    assert {i["title"] for i in hoeringer["items"]} == {
        "Fælles kommunal cloud: næste skridt", "OS2mo 12.0 er udkommet", "Temadag om åben kildekode"
    }  # fmt: skip
    aeroe = json.loads(read(config, "source/aeroe/feed.json"))
    assert aeroe["feed_url"] == "https://planet.example.dk/source/aeroe/feed.json"
    assert len(aeroe["items"]) == 3
    assert aeroe["home_page_url"] == "https://planet.example.dk/source/aeroe/"


def test_json_feed_is_valid_and_matches_the_store(exported):
    config, store, report = exported
    for path in report.files:
        if path.suffix == ".json" and not path.name.startswith("."):
            jsonschema.validate(
                json.loads(path.read_text(encoding="utf-8")),
                SCHEMA,
                format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
            )
    document = json.loads(read(config, "feed.json"))
    stored = store.recent_entries(100)
    assert [i["id"] for i in document["items"]] == [s.id for s in stored]
    shared = next(i for i in document["items"] if i["title"].startswith("Fælles kommunal"))
    assert [s["name"] for s in shared["_aggregator"]["sources"]] == [
        "OS2 – nyheder",
        "Digitaliseringsstyrelsen",
    ]
    assert "æ" in read(config, "feed.json")


def test_newest_n_entries_only(exported):
    config, store, _ = exported
    limited = config.model_copy(update={"site": config.site.model_copy(update={"max_entries": 2})})
    report = export_feeds(limited, store, NOW)
    assert report.entries == 2
    parsed = feedparser.parse((config.output_dir / "atom.xml").read_bytes())
    assert [e.id for e in parsed.entries] == [e.id for e in store.recent_entries(2)]


def _active_markup(html: str) -> list[str]:
    """Scripts, frames, event handlers and javascript: URLs in HTML, as a browser reads it."""
    found = []
    for el in lxml.html.fragment_fromstring(html, create_parent="div").iter():
        if not isinstance(el.tag, str):
            continue
        if el.tag in ("script", "iframe"):
            found.append(el.tag)
        for name, value in el.attrib.items():
            if name.startswith("on") or value.strip().lower().startswith("javascript:"):
                found.append(f"{el.tag} {name}")
    return found


def test_hostile_content_is_inert_in_every_output(exported):
    """Markup in every place an output gives HTML; the hostile feed's title is plain text
    (as feedparser reads it), so it is text wherever it goes."""
    _, _, report = exported
    hostile_title = "<img src=x onerror=alert(1)>Angreb"
    for path in report.files:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".json":  # JSON Feed titles are plain text
            items = json.loads(text).get("items", [])
            contents = [i.get("content_html", "") for i in items]
        elif path.suffix == ".html":
            main = lxml.html.document_fromstring(text).find(".//main")
            contents = [lxml.html.tostring(main, encoding="unicode")]
        elif path.suffix in (".xml", ".atom", ".rss"):
            entries = feedparser.parse(text, sanitize_html=False).entries
            contents = [
                e.get("content", [{}])[0].get("value", "") + e.get("description", "")
                for e in entries
            ]
            for entry in entries:
                if entry.title == hostile_title:
                    assert entry.title_detail.type == "text/plain", path
                else:
                    contents.append(entry.title)
        else:
            continue
        for html in contents:
            assert _active_markup(html) == [], (path, html)


def test_an_export_that_changed_nothing_rewrites_nothing(exported):
    config, store, report = exported
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in report.files}
    os.utime(config.output_dir / "atom.xml", ns=(1, 1))
    os.utime(config.output_dir / "index.html", ns=(1, 1))
    again = export_feeds(config, store, NOW + timedelta(minutes=5))
    assert again.changed == ()
    for path, (data, mtime) in before.items():
        assert path.read_bytes() == data
        if path.name not in ("atom.xml", "index.html") or path.parent != config.output_dir:
            assert path.stat().st_mtime_ns == mtime, path
    assert (config.output_dir / "atom.xml").stat().st_mtime_ns == 1


def test_only_the_sources_that_changed_are_rendered_again(exported, server, make_config):
    """A new post in one source rewrites that source's files, and a paused source its page;
    every other source's files are left as they are, and a deleted one comes back."""
    _, store, report = exported
    source_files = [p for p in report.files if p.parts[-3] == "source"]
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in source_files}
    fixture = (Path(__file__).parent / "fixtures" / "rss20.xml").read_text(encoding="utf-8")
    newer = fixture.replace(
        "<item>",
        """<item><title>Nyt om Ærø og Østerbro</title>
    <link>https://os2.eu/blog/nyt</link><guid isPermaLink="false">nyt-1</guid>
    <pubDate>Thu, 26 Nov 2026 08:00:00 +0100</pubDate>
    <description>Årets første møde.</description></item><item>""",
        1,
    )
    feeds = sources(server)
    server.route("/os2", feed_route(newer.encode()))
    feeds[1] = {**feeds[1], "enabled": False}  # Digst paused: its page says so
    changed = make_config(feeds)
    poll(changed, store, clock=lambda: NOW + timedelta(hours=1))
    (changed.output_dir / "source" / "evil" / "rss.xml").unlink()
    again = export_feeds(changed, store, NOW + timedelta(hours=1))
    rewritten = {p.relative_to(changed.output_dir).as_posix() for p in again.changed}
    assert {f"source/os2/{name}" for name in (*FEED_FILES, "index.html")} <= rewritten
    assert "source/digst/index.html" in rewritten
    assert "source/evil/rss.xml" in rewritten
    assert "Nyt om Ærø og Østerbro" in read(changed, "source/os2/atom.xml")
    assert "sat på pause" in read(changed, "source/digst/index.html")
    for path, (data, mtime) in before.items():
        if path.parent.name in ("aeroe", "evil") and path.name != "rss.xml":
            assert path.read_bytes() == data
            assert path.stat().st_mtime_ns == mtime, path


def test_a_source_page_lists_its_own_source_and_a_tag_page_its_sources(exported):
    """Every source on every page made the export quadratic in the number of sources."""
    config, _, _ = exported

    def listed(name: str) -> set[str]:
        return set(re.findall(r'<li><a href="(?:\.\./)*source/([a-z0-9-]+)/', read(config, name)))

    assert listed("source/digst/index.html") == {"digst"}
    assert listed("tag/kommuner/index.html") == {"os2", "aeroe"}
    assert listed("index.html") == {"os2", "digst", "evil", "aeroe"}


def test_stale_temporaries_of_a_killed_export_are_removed(exported):
    config, store, _ = exported
    (config.output_dir / PENDING_FILE).write_bytes(b"")  # what a killed export leaves
    stale = [config.output_dir / ".atom.xml.0123456789ab.tmp",
             config.output_dir / "tag" / "stat" / ".feed.json.abcdefabcdef.tmp"]  # fmt: skip
    for path in stale:
        path.write_bytes(b"half a file")
    keep = config.output_dir / ".well-known"
    keep.write_bytes(b"not ours")
    export_feeds(config, store, NOW)
    assert not any(p.exists() for p in stale)
    assert keep.exists()


@pytest.mark.parametrize(
    "planted",
    ["../aggregator.db", "/{outside}", "tag/../../aggregator.db", "tag/stat", "tag/./x",
     "tag\\..\\..\\aggregator.db", "notes/private.txt"],
)  # fmt: skip
def test_a_damaged_file_listing_deletes_nothing_outside_the_owned_folders(exported, planted):
    """The listing's lines name the files the next export removes: a line the writer could
    not have written (outside tag/, source/, archive/; a folder; a dotted part) means the
    folders are walked instead, and nothing it names is believed (review 2 #2)."""
    config, store, _ = exported
    out = config.output_dir
    outside = out.parent / "outside.txt"
    outside.write_text("kept", encoding="utf-8")
    (out / "notes").mkdir()
    (out / "notes" / "private.txt").write_text("not ours", encoding="utf-8")
    listing = out / LISTING_FILE
    line = planted.format(outside=str(outside).lstrip("/"))
    listing.write_text(listing.read_text("utf-8") + line + "\n", encoding="utf-8")
    export_feeds(config, store, NOW)
    export_feeds(config, store, NOW)
    assert config.database_path.is_file()
    assert outside.read_text(encoding="utf-8") == "kept"
    assert (out / "notes" / "private.txt").is_file()
    assert (out / "tag" / "stat" / "index.html").is_file()
    assert line not in listing.read_text("utf-8").splitlines()


def test_removed_sources_leave_every_output_and_disabled_ones_stay(exported, server, make_config):
    _, store, _ = exported
    feeds = sources(server)
    without_aeroe = [f for f in feeds if f["name"] != "Ærø"]
    without_aeroe[1] = {**without_aeroe[1], "enabled": False}  # Digst paused
    changed = make_config(without_aeroe)
    report = export_feeds(changed, store, NOW)
    names = {p.relative_to(changed.output_dir).as_posix() for p in report.files}
    assert "source/aeroe/index.html" not in names
    assert not (changed.output_dir / "source" / "aeroe").exists()
    everything = "".join(p.read_text(encoding="utf-8") for p in report.files)
    assert "Ny løsning på Ærø" not in everything
    assert "Ny vejledning om MitID Erhverv" in read(changed, "atom.xml")
    assert "sat på pause" in read(changed, "index.html")


def test_opml_lists_every_source_with_its_tags(exported):
    config, _, _ = exported
    document = etree.fromstring((config.output_dir / "sources.opml").read_bytes())
    assert document.get("version") == "2.0"
    assert document.findtext("head/title") == "Offentlig digitalisering"
    outlines = document.findall("body/outline")
    assert [o.get("text") for o in outlines] == [
        "OS2 – nyheder",
        "Digitaliseringsstyrelsen",
        "Hostile <script>alert(1)</script>",
        "Ærø Kommune – digitalisering",
    ]  # fmt: skip
    first = outlines[0]
    assert first.get("type") == "rss"
    assert first.get("xmlUrl").endswith("/os2")
    assert first.get("htmlUrl") == "https://www.os2.eu/"
    assert first.get("category") == "/kommuner,/høringer"


def test_empty_store_exports_valid_empty_feeds(make_config, store):
    config = make_config([])
    export_feeds(config, store, NOW)
    assert not feedparser.parse((config.output_dir / "atom.xml").read_bytes()).bozo
    document = json.loads((config.output_dir / "feed.json").read_text())
    jsonschema.validate(document, SCHEMA)
    assert document["items"] == []
    assert "Der er ingen indlæg endnu." in read(config, "index.html")


def test_enclosures_in_every_format_and_own_categories(exported):
    config, _, _ = exported
    mp3 = "https://example.dk/podcast/afsnit-1.mp3"
    atom = feedparser.parse((config.output_dir / "atom.xml").read_bytes())
    japan = next(e for e in atom.entries if e.title.startswith("Digital government"))
    [enclosure] = [link for link in japan.links if link.rel == "enclosure"]
    assert (enclosure.href, enclosure.type, enclosure.length) == (mp3, "audio/mpeg", "1234567")
    rss = etree.fromstring((config.output_dir / "rss.xml").read_bytes())
    assert {"url": mp3, "length": "1234567", "type": "audio/mpeg"} in [
        dict(e.attrib) for e in rss.iter("enclosure")
    ]
    item = next(i for i in json.loads(read(config, "feed.json"))["items"]
                if i["title"].startswith("Digital government"))  # fmt: skip
    assert item["attachments"] == [
        {"url": mp3, "mime_type": "audio/mpeg", "size_in_bytes": 1234567}
    ]
    assert f'<a href="{mp3}">audio/mpeg (1.2 MB)</a>' in read(config, "index.html")
    aeroe = next(e for e in atom.entries if e.title == "Ny løsning på Ærø")
    assert [t.term for t in aeroe.tags] == ["høringer", "kommuner"]
    hoeringer = json.loads(read(config, "tag/hoeringer/feed.json"))
    # Tag feeds are the feeds.yaml tags of sources; a post's own category does not add it.
    assert "Ny løsning på Ærø" not in {i["title"] for i in hoeringer["items"]}
    assert "<li>høringer</li>" in read(config, "index.html")


def test_a_stored_control_character_never_reaches_an_output(exported):
    """An entry stored with a control character (by an older version) is published without
    it: every output stays well-formed."""
    config, store, _ = exported
    entry = store.recent_entries(1)[0]
    store.db.execute("UPDATE entries SET title = ? WHERE id = ?", ["Øl\x01 og vand", entry.id])
    store.db.conn.commit()
    report = export_feeds(config, store, NOW)
    for path in report.changed:
        assert "\x01" not in path.read_text(encoding="utf-8")
    assert "Øl og vand" in read(config, "atom.xml")
    assert not feedparser.parse((config.output_dir / "rss.xml").read_bytes()).bozo


def test_an_output_that_would_not_parse_replaces_no_good_file(exported, monkeypatch):
    """A renderer's bug stops the export with one line naming the file, and the published
    files stay as they were: the generation is never renamed into place."""
    from aggregator import export
    from aggregator.errors import ExportError

    config, store, _ = exported

    def published():
        return {p: p.read_bytes() for p in config.output_dir.rglob("*") if p.is_file()}

    before = published()
    broken = export.FEED_RENDERERS["rss"]
    monkeypatch.setitem(
        export.FEED_RENDERERS, "rss", lambda selection, site: broken(selection, site)[:-20]
    )
    store.db.execute("UPDATE entries SET title = 'Ny titel' WHERE id = ?",
                     [store.recent_entries(1)[0].id])  # fmt: skip
    store.db.conn.commit()
    with pytest.raises(ExportError, match=r"rss\.xml would not be well-formed") as raised:
        export_feeds(config, store, NOW)
    assert "\n" not in str(raised.value)
    assert published() == before
    assert not list(config.output_dir.rglob(".*.tmp"))


def test_both_roads_to_the_entries_of_some_feeds_agree(exported):
    """Few feeds are read through entry_sources, many by walking all entries newest first:
    the same entries either way."""
    config, store, _ = exported
    groups = [[f.url] for f in config.feeds] + [[f.url for f in config.feeds[:2]]]
    for urls in groups:
        for limit in (1, 3, 100):
            walked = [e.id for e in store.recent_entries(limit, urls)]
            looked_up = [e.id for e in store.recent_entries(limit, urls, few=True)]
            assert looked_up == walked, urls
    assert store.feed_urls() == {f.url for f in config.feeds}


def test_the_merged_feeds_read_only_the_sources_they_show(tmp_path):
    """The site's sources are made when an output shows them: the newest posts' sources
    are read by their URLs, not every feed's row (20,000 at scale), and the feeds are
    byte for byte what a site made of every feed's row gives, also with feeds in the store
    that feeds.yaml no longer lists."""
    import yaml

    from aggregator.config import load_config
    from aggregator.export import FEED_RENDERERS
    from aggregator.export.select import Selector, build_site
    from aggregator.store import Store
    from benchmarks.export_scale import NOW as LATER
    from benchmarks.export_scale import build, write_config

    build(tmp_path / "store.db", 60, posts=2)
    path = write_config(tmp_path, 60)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["site"]["max_entries"] = 5
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    every = load_config(path)
    del data["feeds"][55:]  # five feeds stay in the store only
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    fewer = load_config(path)
    store = Store.open(tmp_path / "store.db")
    try:
        for config in (every, fewer):
            statements: list[str] = []
            store.db.conn.set_trace_callback(statements.append)
            try:
                lazy = build_site(config, store, LATER)
                recent = Selector(config, store, lazy).recent()
            finally:
                store.db.conn.set_trace_callback(None)
            [read] = [s for s in statements if "entries_version" in s]
            assert "json_each" in read
            eager = build_site(config, store, LATER, store.feeds_shown())
            assert Selector(config, store, eager).recent() == recent
            for render in FEED_RENDERERS.values():
                assert render(recent, lazy) == render(recent, eager)
            assert len(recent.entries) == 5
            assert (lazy.scope is None) == (config is every)
            configured = {f.name for f in config.feeds}
            assert {c.source.name for e in recent.entries for c in e.copies} <= configured
            assert [s.name for s in lazy.sources] == [f.name for f in config.feeds]
    finally:
        store.close()


def test_the_scope_is_decided_again_when_a_feed_joins_or_leaves_the_store(tmp_path):
    """Whether every stored feed is configured is remembered with the feeds table's
    signature, not read again on every merged export; a feed added to the store (by a
    poll with another feeds.yaml) or removed from it is seen at once, also one that takes
    the rowid of a removed newest row, and the same answer is not read twice."""
    import sqlite3

    from aggregator.config import load_config
    from aggregator.export.select import Selector, build_site
    from aggregator.export.view import Site
    from aggregator.store import Store
    from benchmarks.export_scale import NOW as LATER
    from benchmarks.export_scale import build, feed_url, insert_posts, write_config

    build(tmp_path / "store.db", 4, posts=2)
    config = load_config(write_config(tmp_path, 3))  # the fourth feed is in the store only
    store = Store.open(tmp_path / "store.db")
    other = sqlite3.connect(tmp_path / "store.db", isolation_level=None)

    def site_and_reads() -> tuple[Site, int]:
        statements: list[str] = []
        store.db.conn.set_trace_callback(statements.append)
        try:
            site = build_site(config, store, LATER)
        finally:
            store.db.conn.set_trace_callback(None)
        return site, sum("SELECT url FROM feeds" in s for s in statements)

    def shown_feeds() -> set[str]:
        site = build_site(config, store, LATER)
        return {c.source.feed_url for e in Selector(config, store, site).recent().entries
                for c in e.copies}  # fmt: skip

    try:
        site, reads = site_and_reads()
        assert site.scope is not None
        assert reads == 1
        site, reads = site_and_reads()
        assert site.scope is not None
        assert reads == 0  # remembered
        other.execute("DELETE FROM feeds WHERE url = ?", [feed_url(3)])
        site, reads = site_and_reads()
        assert site.scope is None
        assert reads == 1
        assert shown_feeds() == {feed_url(f) for f in range(3)}
        # The newest row goes and an unconfigured feed takes its rowid: seen by its URL.
        newest = other.execute("SELECT max(rowid) FROM feeds").fetchone()[0]
        other.execute("DELETE FROM feeds WHERE rowid = ?", [newest])
        other.execute(
            "INSERT INTO feeds (url, name, created_at) VALUES (?, 'x', '2026-11-20T00:00:00Z')",
            [feed_url(7)],
        )
        assert other.execute("SELECT max(rowid) FROM feeds").fetchone()[0] == newest
        other.execute("BEGIN")
        insert_posts(other, [(7, 50)])  # newer than every other post
        other.execute("COMMIT")
        site, reads = site_and_reads()
        assert site.scope is not None
        assert reads == 1
        assert feed_url(7) not in shown_feeds()
    finally:
        other.close()
        store.close()
