"""Two sources whose feeds carry the same title ("Nyheder", two municipalities' WordPress
blogs) read as two on every output, as in the digest (9baf965): "Nyheder (Herning Kommune)"
and "Nyheder (Odense Kommune)" on the page, its list of sources, the merged and per-source
feeds (Atom, RSS, JSON Feed) and the OPML; a title no other source has is shown as it is
(left over from review 7 R1)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import feedparser
import lxml.html
from lxml import etree

from aggregator.export import export_feeds
from aggregator.pipeline import poll
from aggregator.store import Store
from tests.feedgen import Item, rss
from tests.feedserver import FeedServer

POLLED = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
HERNING, ODENSE = "Nyheder (Herning Kommune)", "Nyheder (Odense Kommune)"
KL = "KL – digitalisering"


def _feed(server: FeedServer, path: str, title: str, site: str) -> str:
    item = Item(f"Byrådet {path}", f"{site}1/", f"<p>Byrådet i {path} har besluttet noget.</p>",
                datetime(2026, 11, 18, 9, 0, tzinfo=UTC))  # fmt: skip
    return server.static_feed(path, rss(title, site, [item]))


def test_two_sources_with_the_same_title_are_named_apart_everywhere(
    server: FeedServer, make_config: Any, store: Store
) -> None:
    config = make_config([
        {"name": "Herning Kommune",
         "url": _feed(server, "/herning", "Nyheder", "https://herning.example.dk/")},
        {"name": "Odense Kommune",
         "url": _feed(server, "/odense", "NYHEDER ", "https://odense.example.dk/")},
        {"name": "KL", "url": _feed(server, "/kl", KL, "https://kl.example.dk/")},
    ])  # fmt: skip
    poll(config, store, clock=lambda: POLLED)
    export_feeds(config, store, POLLED)
    out = config.output_dir
    odense = "NYHEDER (Odense Kommune)"  # its own spelling, told apart all the same

    atom = feedparser.parse((out / "atom.xml").read_bytes())
    assert sorted(e.source.title for e in atom.entries) == sorted([HERNING, odense, KL])
    channel = etree.fromstring((out / "rss.xml").read_bytes())
    assert sorted(s.text for s in channel.iter("source")) == sorted([HERNING, odense, KL])
    merged = json.loads((out / "feed.json").read_text(encoding="utf-8"))
    assert sorted(i["_aggregator"]["sources"][0]["name"] for i in merged["items"]) == sorted(
        [HERNING, odense, KL]
    )

    page = lxml.html.fromstring((out / "index.html").read_bytes())
    text = page.text_content()
    for label in (HERNING, odense, KL):
        assert label in text
    assert f"{KL} (KL)" not in text  # a title no other source has is shown as it is

    for slug, label in (("herning-kommune", HERNING), ("odense-kommune", odense)):
        own = feedparser.parse((out / "source" / slug / "atom.xml").read_bytes())
        assert label in own.feed.title
        html = lxml.html.fromstring((out / "source" / slug / "index.html").read_bytes())
        assert label in html.findtext(".//title")

    opml = etree.fromstring((out / "sources.opml").read_bytes())
    assert sorted(o.get("text") for o in opml.iter("outline") if o.get("xmlUrl")) == sorted(
        [HERNING, odense, KL]
    )
