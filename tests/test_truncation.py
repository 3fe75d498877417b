"""A response cut off before its document ends is a failed poll that stores nothing and
keeps the validators: through the real server, both parser roads, and `aggregator poll`."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from aggregator.errors import ParseError, TruncatedDocument
from aggregator.parse import parse_feed
from aggregator.truncation import MESSAGE, xml_cut_off
from tests.equivalence import corpus
from tests.feedgen import Item, rss
from tests.feedserver import Request, Response
from tests.test_cli import run

WHEN = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
LONG = "<p>" + "Lang tekst om digitalisering og æøå. " * 20 + "</p>"
ITEMS = [Item(f"Post {k} om æøå", f"https://ex.dk/{k}", LONG, WHEN - timedelta(hours=k),
              guid=f"g{k}") for k in range(3)]  # fmt: skip
FULL = rss("T", "https://ex.dk/", ITEMS)
# Cut inside post 1's description, as a proxy that stopped would leave it.
CUT = FULL[: FULL.index(b"digitalisering", FULL.index(b"g1")) + 5]


def test_a_cut_response_stores_nothing_and_keeps_the_validators(tmp_path, server):
    served = {"polls": 0}

    def handle(request: Request) -> Response:
        served["polls"] += 1
        if served["polls"] == 2:
            cut_headers = {"Content-Type": "application/rss+xml", "ETag": '"cut"',
                           "Last-Modified": "Tue, 01 Dec 2026 09:00:00 GMT"}  # fmt: skip
            return Response(200, CUT, cut_headers)
        if request.headers.get("if-none-match") == '"whole"':
            return Response(304, b"", {"ETag": '"whole"'})
        return Response(200, FULL, {"Content-Type": "application/rss+xml", "ETag": '"whole"'})

    url = server.route("/f", handle)
    (tmp_path / "feeds.yaml").write_text(
        "site: {title: T, base_url: 'https://planet.example.dk/'}\n"
        "poll: {timeout_seconds: 3, allow_private_hosts: ['127.0.0.1']}\n"
        f"feeds: [{{name: F, url: '{url}'}}]\n",
        encoding="utf-8",
    )

    def stored() -> list[tuple[str, int]]:
        with sqlite3.connect(tmp_path / "aggregator.db") as db:
            return db.execute(
                "SELECT title, length(content_html) FROM entries ORDER BY title"
            ).fetchall()

    assert run("-c", "feeds.yaml", "poll", "--no-export", cwd=tmp_path).returncode == 0
    whole = stored()
    assert [length for _, length in whole] == [len(LONG)] * 3
    cut = run("-c", "feeds.yaml", "poll", "--no-export", cwd=tmp_path)
    assert MESSAGE in cut.stdout + cut.stderr
    assert stored() == whole
    with sqlite3.connect(tmp_path / "aggregator.db") as db:
        assert db.execute("SELECT etag, last_modified FROM feeds").fetchone() == ('"whole"', None)
    status = run("-c", "feeds.yaml", "status", cwd=tmp_path)
    assert MESSAGE in status.stdout
    again = run("-c", "feeds.yaml", "poll", "--no-export", cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert server.requests_to("/f")[-1].headers.get("if-none-match") == '"whole"'
    assert stored() == whole
    assert MESSAGE not in run("-c", "feeds.yaml", "status", cwd=tmp_path).stdout


_LAST_ENTRY_END = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?(?:item|entry)\s*>")
_BETWEEN_ENTRIES = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?(?:item|entry)\s*>\s*\Z")


def _end_of_document(body: bytes) -> int:
    """Where the last closing bracket of the document is, or of its last item or entry: every
    cut before it is one. (A document cut after its last item, before the root's end tags,
    is read as one that never had them: tests/test_review7_clean_unclosed.py.)"""
    if body.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return body.rindex(b"}")
    ends = list(_LAST_ENTRY_END.finditer(body))
    return ends[-1].start() if ends else body.rindex(b"</")


# UTF-16 bytes hold no ASCII end tag to cut before.
FEEDS = [f for f in corpus() if b"\x00" not in f.body[:4]]


@pytest.mark.parametrize("fixture", FEEDS, ids=[f.name for f in FEEDS])
@pytest.mark.parametrize("fast", [True, False], ids=["fast", "feedparser"])
def test_every_corpus_feed_cut_anywhere_is_truncated(fixture, fast):
    body = fixture.body
    parse_feed(body, fixture.url, fixture.headers, fast=fast)  # the whole is fine
    end = _end_of_document(body)
    for cut in sorted({end, end - 1, end * 9 // 10, end * 2 // 3, end // 2}):
        if _BETWEEN_ENTRIES.search(body[:cut]):
            # Just after a whole item: what a feed that never closes its root looks like.
            head = parse_feed(body[:cut], fixture.url, fixture.headers, fast=fast)
            assert "read as a whole document" in (head.warning or "")
            continue
        with pytest.raises(TruncatedDocument, match="cut off"):
            parse_feed(body[:cut], fixture.url, fixture.headers, fast=fast)


ATOM = (b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>'
        b"<id>tag:a</id><updated>2026-12-01T08:00:00Z</updated><entry><id>tag:a:1</id>"
        b"<title>Et</title><updated>2026-12-01T08:00:00Z</updated>"
        b'<content type="html">&lt;p&gt;Tekst&lt;/p&gt;</content></entry></feed>')  # fmt: skip
RDF = (b'<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
       b' xmlns="http://purl.org/rss/1.0/"><channel rdf:about="https://a.dk/"><title>A</title>'
       b'<link>https://a.dk/</link></channel><item rdf:about="https://a.dk/1"><title>Et</title>'
       b"<link>https://a.dk/1</link><description>Tekst</description></item></rdf:RDF>")  # fmt: skip


@pytest.mark.parametrize("body", [FULL, ATOM, RDF], ids=["rss", "atom", "rdf"])
@pytest.mark.parametrize(
    "tail",
    [b"", b"\n\n  ", b"<!-- WP Super Cache: served 0.02 s -->\n", b"<?pi x?>\r\n",
     b"\n<b>Notice</b>: Undefined index: foo in feed.php on line 3"],
)  # fmt: skip
def test_what_follows_the_root_does_not_matter(body, tail):
    assert not xml_cut_off(body + tail)
    assert parse_feed(body + tail, "https://a.dk/feed").entries


@pytest.mark.parametrize(
    "body",
    [
        b'<?xml version="1.0"?>\n<!-- with </rss> in it -->\n<rss version="2.0"><channel>',
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY nbsp "&#160;">]><rss><channel><item>',
        b'\xef\xbb\xbf<rss version="2.0"><channel><title>x</title></channel></rssx>',
        b'<atom:feed xmlns:atom="http://www.w3.org/2005/Atom"><atom:title>A</atom:title>',
        b'<rss version="2.',
    ],
    ids=["comment-before", "doctype", "longer-name", "prefixed", "in-start-tag"],
)
def test_roots_left_open_are_cut_off(body):
    with pytest.raises(TruncatedDocument):
        parse_feed(body, "https://a.dk/feed")


def test_a_cut_html_page_is_no_feed_not_a_cut_feed():
    with pytest.raises(ParseError) as raised:
        parse_feed(b"<!DOCTYPE html><html><head><title>Forside</title></head><body><p>Hej",
                   "https://a.dk/", {"content-type": "text/html"})  # fmt: skip
    assert not isinstance(raised.value, TruncatedDocument)
    assert parse_feed(b'<rss version="2.0"/>', "https://a.dk/feed").entries == ()


def test_json_cut_off_and_json_that_is_no_json():
    items = [{"id": "1", "content_html": "<p>Tekst om æøå</p>", "date_published": None}]
    document = json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "Æ",
                           "items": items})  # fmt: skip
    parse_feed(document.encode(), "https://a.dk/feed.json")
    for cut in range(1, len(document)):
        with pytest.raises(TruncatedDocument):
            parse_feed(document[:cut].encode(), "https://a.dk/feed.json")
    with pytest.raises(ParseError, match="not valid JSON") as raised:
        parse_feed(b'{"version": "https://jsonfeed.org/version/1.1", ]}', "https://a.dk/f.json")
    assert not isinstance(raised.value, TruncatedDocument)
