"""Hostile entries: nothing active reaches the merged feeds or the digest."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from html.parser import HTMLParser

import feedparser
import pytest

from aggregator.digest import make_digest
from aggregator.digest.periods import week_containing
from aggregator.export import export_feeds
from aggregator.parse_rules import looks_like_html
from aggregator.pipeline import poll
from tests.feedgen import Item, rss

WHEN = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)
PAYLOADS = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(2)">',
    '<a href="javascript:alert(3)">klik</a>',
    '<a href="JaVaScRiPt:alert(4)">klik</a>',
    '<a href="java&#x09;script:alert(5)">klik</a>',
    '<svg onload="alert(6)"><circle r="1"/></svg>',
    '<iframe src="https://evil.example/"></iframe>',
    '<object data="https://evil.example/x.swf"></object>',
    '<p style="background:url(javascript:alert(7))">stil</p>',
    '<math><mi xlink:href="javascript:alert(8)">x</mi></math>',
    '<form action="https://evil.example/"><input name="pw"></form>',
    '"><script>alert(9)</script>',
    "<scr<script>ipt>alert(10)</script>",
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxMSk8L3NjcmlwdD4=">data</a>',
    '<base href="https://evil.example/">',
    '<meta http-equiv="refresh" content="0;url=https://evil.example/">',
]


class ActiveContent(HTMLParser):
    """Collects anything a browser would run or load from an attacker."""

    def __init__(self, template: bool = False) -> None:
        super().__init__()
        self.found: list[str] = []
        self.template = template  # our own digest template: its meta tags and inline styles
        self.own_style = template  # and its one <style>, the @media rules left by css-inline

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if (
            self.template
            and tag == "meta"
            and {n for n, _ in attrs} <= {"charset", "name", "content"}
        ):
            attrs = []
            tag = "ours"
        if self.template:
            attrs = [(n, v) for n, v in attrs if n != "style"]
        if tag == "style" and self.own_style and not attrs:
            self.own_style = False
            return
        if tag in {"script", "object", "embed", "form", "input", "base", "meta", "svg",
                   "math", "style", "link"}:  # fmt: skip
            self.found.append(f"<{tag}>")
        if tag == "iframe" and not any(
            name == "src" and (value or "").startswith("https://www.youtube")
            for name, value in attrs
        ):
            self.found.append("<iframe>")
        for name, value in attrs:
            lowered = (value or "").replace("\t", "").replace("\n", "").strip().lower()
            if name.startswith("on") or name == "style":
                self.found.append(f"{tag}[{name}]")
            if name in {"href", "src", "action", "xlink:href"} and lowered.startswith(
                ("javascript:", "data:", "vbscript:")
            ):
                self.found.append(f"{tag}[{name}={value}]")


def active(html: str, template: bool = False) -> list[str]:
    parser = ActiveContent(template)
    parser.feed(html)
    return parser.found


@pytest.fixture
def hostile(server, make_config, store, clock):
    items = [
        Item(f"Titel {n} {payload}", f"https://os2.eu/post/{n}", f"<p>Tekst {n}</p>{payload}",
             WHEN, guid=f"id-{n}", author=f"Forfatter {payload}")
        for n, payload in enumerate(PAYLOADS)
    ]  # fmt: skip
    items.append(Item("Link", "javascript:alert(12)", "<p>x</p>", WHEN, guid="js-link"))
    url = server.static_feed(
        "/evil", rss("Ond <script>alert(13)</script>", "https://os2.eu/", items)
    )
    config = make_config([{"name": "Ond", "url": url}])
    poll(config, store, clock=clock)
    export_feeds(config, store, clock.now)
    return config


def test_stored_html_is_inert(hostile, store):
    entries = store.recent_entries(100)
    assert len(entries) == len(PAYLOADS) + 1
    for entry in entries:
        assert active(entry.content_html) == [], entry.content_html
        assert entry.link is None or entry.link.startswith("https://")
        # A title feedparser takes for HTML is read as HTML, and its markup is gone; one it
        # does not ("<img src=x onerror=...>": no end tag, no reference) is plain text, kept
        # as written, escaped in every output, and read as text again from our feeds (below).
        assert active(entry.title) == [] or not looks_like_html(entry.title)
        assert entry.author is None or "<" not in entry.author


@pytest.mark.parametrize("name", ["atom.xml", "rss.xml"])
def test_xml_feeds_carry_only_inert_html(hostile, name):
    parsed = feedparser.parse((hostile.output_dir / name).read_bytes(), sanitize_html=False)
    assert len(parsed.entries) == len(PAYLOADS) + 1
    for entry in parsed.entries:
        html = entry.get("content", [{}])[0].get("value") or entry.get("summary", "")
        assert active(html) == [], html
        if entry.title_detail.type != "text/plain":  # a plain title is text, not markup
            assert active(entry.title) == []
        assert not (entry.get("link") or "").lower().startswith("javascript")


def test_json_feed_carries_only_inert_html(hostile):
    document = json.loads((hostile.output_dir / "feed.json").read_text(encoding="utf-8"))
    for item in document["items"]:
        assert active(item["content_html"]) == []
        assert not item.get("url", "").lower().startswith("javascript")


def test_digest_is_inert(hostile, store, clock):
    # The posts are dated nine days before they were first seen: keep them in the digest.
    config = hostile.model_copy(
        update={
            "digest": hostile.digest.model_copy(
                update={"archive_after_days": 30, "max_items_per_group": 100}
            )
        }
    )
    polled = week_containing(clock.now.date(), hostile.site.zone)
    _, rendered, message = make_digest(config, store, polled, clock.now)
    assert active(rendered.html, template=True) == []
    html_body = message.get_body(("html",))
    assert html_body is not None
    html_part = html_body.get_content()
    assert active(html_part, template=True) == []
    assert "Titel 0" in rendered.html  # the post itself is still there
    assert "Titel 0" in rendered.text
