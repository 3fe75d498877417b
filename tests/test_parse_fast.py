"""The lxml fast path must give what feedparser gives, entry for entry, after normalising."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from aggregator.demo import SAMPLES, render_sample
from aggregator.normalise import normalise_entry
from aggregator.parse import parse_feed
from aggregator.parse_fast import parse_fast
from benchmarks.corpus import feed_document
from tests.conftest import FIXTURES
from tests.dedup_cases import CASES
from tests.feedgen import rss

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
# Shapes that trip parsers: entities, CDATA, relative links, whitespace, missing fields.
EDGE_CASES = {
    "rss-entities": """<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>
        <title> A &amp;amp; B </title>
        <link>https://k.dk/</link><item><title>Ø &amp; Å &lt;b&gt;fed&lt;/b&gt; &#228;</title>
        <link> /relativ/sti </link><guid>12</guid><description><![CDATA[<p>Hej &amp; farvel <a
        href="../op">op</a></p>]]></description><pubDate>Tue, 17 Nov 2026 10:00:00 GMT</pubDate>
        </item><item><description>kun tekst &lt; og &gt;</description></item></channel></rss>""",
    "rss-permalink": """<?xml version='1.0' encoding='UTF-8'?><rss version="2.0"><channel>
        <title>t</title><item><title>x</title>
        <guid isPermaLink="true">https://k.dk/p/1</guid><author>a@k.dk (Åse)</author></item>
        <item><title>y</title><guid isPermaLink="false">intern-7</guid><link>https://k.dk/y</link>
        </item><ttl>90</ttl></channel></rss>""",
    "atom-kinds": """<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom"
        xml:lang="da"><title type="html">Fed &amp;lt;b&amp;gt;</title><link href="/"/>
        <entry><id>urn:x:1</id><title type="text">a &lt; b</title><summary>kun resumé</summary>
        <link rel="enclosure" href="/lyd.mp3"/><link href="/indlæg/1"/>
        <updated>2026-11-17T10:00:00+01:00</updated></entry>
        <entry xml:lang="en"><id>urn:x:2</id><title>B</title>
        <content type="text">ren tekst</content>
        <published>2026-11-16T10:00:00Z</published><author><name> Bo </name></author></entry>
        </feed>""",
    "rdf-sy": """<?xml version="1.0" encoding="utf-8"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
        xmlns="http://purl.org/rss/1.0/" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"
        xmlns:content="http://purl.org/rss/1.0/modules/content/">
        <channel rdf:about="https://k.dk/"><title>R</title><link>https://k.dk/</link>
        <description>d</description><sy:updatePeriod>daily</sy:updatePeriod>
        <sy:updateFrequency>2</sy:updateFrequency></channel><item rdf:about="https://k.dk/1">
        <title>T</title><link>https://k.dk/1</link><content:encoded>&lt;p&gt;Fuld&lt;/p&gt;</content:encoded>
        </item></rdf:RDF>""",
}
DEMO = Path(__file__).parent.parent / "aggregator" / "demo_feeds"


def corpus() -> list[tuple[str, bytes, dict[str, str]]]:
    documents: list[tuple[str, bytes, dict[str, str]]] = []
    for name, text in EDGE_CASES.items():
        documents.append((f"edge/{name}", text.encode(), {}))
    # No declaration: the server's charset decides.
    undeclared = EDGE_CASES["rss-permalink"].split("?>", 1)[1].encode()
    documents.append(("edge/header-charset", undeclared,
                      {"content-type": "application/rss+xml; charset=utf-8"}))  # fmt: skip
    for path in sorted(p for p in FIXTURES.iterdir() if p.suffix != ".html"):
        documents.append((path.name, path.read_bytes(), {}))
    for name in SAMPLES:
        text = render_sample((DEMO / name).read_text("utf-8"), NOW)
        documents.append((f"demo/{name}", text.encode(), {}))
    for n in range(0, 60, 3):
        for version in (0, 1):
            documents.append((f"bench/{n}/{version}", feed_document(n, version), {}))
    for case in CASES:
        documents.append(
            (f"case/{case.name}/a", rss("A", case.a_site, [*case.a_others, case.a]), {})
        )
        documents.append(
            (f"case/{case.name}/b", rss("B", case.b_site, [*case.b_others, case.b]), {})
        )
    return documents


CORPUS = corpus()


def normalised(parsed, url):
    feed = (parsed.title, parsed.site_url, parsed.language, parsed.ttl_minutes,
            parsed.sy_period, parsed.sy_frequency, len(parsed.entries))  # fmt: skip
    entries = [normalise_entry(entry, url, NOW) for entry in parsed.entries]
    return feed, entries


@pytest.mark.parametrize(("name", "body", "headers"), CORPUS, ids=[c[0] for c in CORPUS])
def test_fast_path_matches_feedparser(name, body, headers):
    """Where the fast path declines, parse_feed falls back and both sides are feedparser."""
    url = f"https://example.dk/{name}"
    ours = parse_feed(body, url, headers)
    reference = parse_feed(body, url, headers, fast=False)
    assert normalised(ours, url) == normalised(reference, url)


def test_fast_path_reads_most_of_the_corpus():
    used = [name for name, body, headers in CORPUS if parse_fast(body, "https://x.dk/", headers)]
    assert len(used) >= 0.8 * len(CORPUS)
    # The shapes it must leave to feedparser:
    assert "latin1.xml" not in used
    assert "cp1252.xml" not in used
    assert "rss091.xml" not in used
    assert "atom03.xml" not in used


def test_malformed_documents_fall_back():
    assert parse_fast(b"<rss version='2.0'><channel><item><title>half", "https://x.dk/", {}) is None
    assert parse_fast(b"\x00garbage", "https://x.dk/", {}) is None
