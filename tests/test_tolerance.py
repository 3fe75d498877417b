"""One bad field drops that field, never the entry or its siblings, and status says so."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from aggregator.parse import parse_feed
from aggregator.pipeline import poll
from aggregator.store.times import from_db_time
from tests.conftest import FIXTURES
from tests.feedserver import feed_route
from tests.test_cli import EXE, run

CORPUS = FIXTURES.parent / "corpus"
GOOD = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def test_bad_dates_and_surrogates_keep_every_entry(server, make_config, store, clock, caplog):
    bad_dates = (CORPUS / "rss-bad-dates.xml").read_bytes()
    surrogates = (CORPUS / "rss-surrogate.xml").read_bytes()
    config = make_config(
        [
            {"name": "Datoer", "url": server.route("/d", feed_route(bad_dates))},
            {"name": "Surrogater", "url": server.route("/s", feed_route(surrogates))},
        ]
    )
    with caplog.at_level(logging.INFO):
        report = poll(config, store, clock=clock)
    assert not report.failed
    assert report.new == 5 + 3
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    rows = store.db.execute("SELECT title, published, backfill FROM entries").fetchall()
    by_title = {title: (from_db_time(published), backfill) for title, published, backfill in rows}
    # 9999 overflows, 0001 is no date (and not 2001), "i går" and 30 February are no dates:
    # all four stand at first-seen time (archive, as undated posts on a first poll are); the
    # good one keeps its own.
    assert by_title["Skæv dato 3"] == (GOOD, 0)
    for n in (0, 1, 2, 4):
        assert by_title[f"Skæv dato {n}"] == (clock.now, 1)
    assert "Surrogat 1 \ufffd" in by_title
    statuses = {s.name: s for s in store.feed_statuses()}
    assert statuses["Datoer"].state == "ok"
    assert statuses["Datoer"].last_warning == (
        "dropped unreadable or implausible fields, entries kept: published ×4"
    )
    assert "surrogate" in (statuses["Surrogater"].last_warning or "")


def test_status_shows_the_warning(tmp_path, server):
    body = (CORPUS / "enc-misdeclared-latin1.xml").read_bytes()
    config = tmp_path / "feeds.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "site": {"base_url": "https://planet.example.dk/"},
                "poll": {"allow_private_hosts": ["127.0.0.1"]},
                "feeds": [{"name": "Ærø", "url": server.route("/f", feed_route(body, "text/xml"))}],
            },
            allow_unicode=True,
        ),
        encoding="utf-8",
    )
    assert EXE.exists()
    assert run("poll", "-c", str(config), cwd=tmp_path).returncode == 0
    table = run("status", "-c", str(config), cwd=tmp_path).stdout
    assert "warning: declared ISO-8859-1 but sent UTF-8: read as UTF-8" in table
    (row,) = json.loads(run("status", "--json", "-c", str(config), cwd=tmp_path).stdout)["feeds"]
    assert row["last_warning"] == "declared ISO-8859-1 but sent UTF-8: read as UTF-8"


def test_a_304_keeps_the_last_warning(server, make_config, store, clock):
    body = (CORPUS / "rss-bad-dates.xml").read_bytes()
    config = make_config([{"name": "Datoer", "url": server.route("/d", feed_route(body))}])
    poll(config, store, clock=clock)
    clock.advance(timedelta(hours=3))
    assert poll(config, store, clock=clock).results[0].not_modified
    (status,) = store.feed_statuses()
    assert status.last_warning is not None


def test_an_attribute_on_sy_update_period_fails_no_feed(server, make_config, store, clock):
    """Ill-formed (a bare &) and sent without a Content-Type: feedparser's road, which keeps
    the attributed element as a dict; the feed and its neighbour are read all the same."""
    bad = (
        b'<?xml version="1.0"?><rss version="2.0" '
        b'xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"><channel><title>T</title>'
        b'<link>https://ex.dk/</link><sy:updatePeriod foo="x">daily</sy:updatePeriod>'
        b"<item><title>Sp\xc3\xb8rgsm\xc3\xa5l & svar</title><link>https://ex.dk/a</link>"
        b"<guid>g</guid></item></channel></rss>"
    )
    good = (CORPUS / "rss-sy-attributes.xml").read_bytes()
    config = make_config(
        [
            {"name": "Uden type", "url": server.route("/bad", feed_route(bad, ""))},
            {"name": "Attributter", "url": server.route("/good", feed_route(good))},
        ]
    )
    report = poll(config, store, clock=clock)
    assert not report.failed
    titles = {t for (t,) in store.db.execute("SELECT title FROM entries")}
    assert titles == {"Spørgsmål & svar", "Første"}
    assert {s.state for s in store.feed_statuses()} == {"ok"}


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "feedparser"])
@pytest.mark.parametrize("title", ["Q&A om digitalisering", "R&D i kommunerne", "AT&T",
                                   "Søg&Find", "Tom & Jerry"])  # fmt: skip
def test_a_bare_ampersand_is_read_as_itself(title, fast):
    """Not "Q&A;": feedparser's loose parser took "&A" for an unknown entity."""
    body = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
        f"<link>https://x.dk/?a=1&b=2</link><item><title>{title}</title>"
        f"<link>https://x.dk/a?id=1&amp;s=2</link><description>Om {title} &amp; mere"
        '<![CDATA[ <a href="?a=1&b=2">x</a>]]></description></item></channel></rss>'
    ).encode()
    headers = {"content-type": "application/rss+xml; charset=utf-8"}
    parsed = parse_feed(body, "https://x.dk/feed", headers, fast=fast)
    entry = parsed.entries[0]
    assert (parsed.site_url, entry.title, entry.link) == (
        "https://x.dk/?a=1&b=2",
        title,
        "https://x.dk/a?id=1&s=2",
    )
    assert entry.content_html == f'Om {title} & mere <a href="?a=1&b=2">x</a>'
    assert parsed.warning == "not well-formed XML: 3 bare & read as &amp;"


def test_a_bare_ampersand_is_stored_as_itself_on_a_real_poll(server, make_config, store, clock):
    body = (
        (CORPUS / "rss-malformed.xml")
        .read_bytes()
        .replace(b"Ulukket & ampersand 1", "AT&T & amp æøå".encode())
    )
    config = make_config([{"name": "Quirks", "url": server.route("/q", feed_route(body))}])
    assert poll(config, store, clock=clock).new == 2
    titles = sorted(t for (t,) in store.db.execute("SELECT title FROM entries"))
    assert titles == ["AT&T & amp æøå", "Ulukket & ampersand 2"]
    warning = store.feed_statuses()[0].last_warning or ""
    assert "not well-formed XML: 3 bare & read as &amp;" in warning
