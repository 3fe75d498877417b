"""Review 7 R10: a link with a space in it is a link, as a browser reads it (WHATWG URL:
percent-encoded, the ends trimmed), and every URI an export writes is one RFC 3986 allows:
``[ ] | { }`` and the like escaped outside the host, an IPv6 host's brackets kept."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from aggregator.clean import safe_url
from aggregator.export import export_feeds
from aggregator.export.links import public_url, to_uri
from aggregator.pipeline import poll

WHEN = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)
FEED = "https://kommune.dk/feed.atom"

# RFC 3986 URI (scheme, authority with an IP literal or a reg-name, path, query, fragment),
# ASCII and every "%" an escape.
_CHAR = r"[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2}"
RFC3986 = re.compile(
    rf"[A-Za-z][A-Za-z0-9+.\-]*://(?:(?:{_CHAR}|:)*@)?(?:\[[0-9A-Fa-f:.]+\]|(?:{_CHAR})*)"
    rf"(?::\d*)?(?:{_CHAR}|[:@/])*(?:\?(?:{_CHAR}|[:@/?])*)?(?:#(?:{_CHAR}|[:@/?])*)?"
)

LINKS = {
    "Referat som PDF": (
        "https://kommune.dk/nyheder/min side.pdf",
        "https://kommune.dk/nyheder/min%20side.pdf",
    ),
    "Mellemrum om linket": (
        "  https://kommune.dk/nyheder/budget-2027  ",
        "https://kommune.dk/nyheder/budget-2027",
    ),
    "Relativt med mellemrum": (
        "/dagsordener/Byrådet 12. november.pdf",
        "https://kommune.dk/dagsordener/Byrådet%2012.%20november.pdf",
    ),
    "Søgning med klammer": (
        "https://kommune.dk/søg?filter[type]=nyhed&tags={skole}|{trafik}",
        "https://kommune.dk/søg?filter[type]=nyhed&tags={skole}|{trafik}",
    ),
    "Intranet på IPv6": (
        "http://[2001:db8::7]:8080/nyt/afsnit[2]",
        "http://[2001:db8::7]:8080/nyt/afsnit[2]",
    ),
}
# As every export writes them.
PUBLIC = {
    "Referat som PDF": "https://kommune.dk/nyheder/min%20side.pdf",
    "Mellemrum om linket": "https://kommune.dk/nyheder/budget-2027",
    "Relativt med mellemrum": "https://kommune.dk/dagsordener/Byr%C3%A5det%2012.%20november.pdf",
    "Søgning med klammer": (
        "https://kommune.dk/s%C3%B8g?filter%5Btype%5D=nyhed&tags=%7Bskole%7D%7C%7Btrafik%7D"
    ),
    "Intranet på IPv6": "http://[2001:db8::7]:8080/nyt/afsnit%5B2%5D",
}


def _atom(base: str) -> bytes:
    entries = "".join(
        f"<entry><id>urn:k:{k}</id><title>{title}</title>"
        f'<link rel="alternate" href="{href.replace("&", "&amp;")}"/>'
        f"<updated>{(WHEN - timedelta(minutes=k)).isoformat()}</updated>"
        f"<content type='html'>&lt;p&gt;{title} er lagt op.&lt;/p&gt;</content></entry>"
        for k, (title, (href, _)) in enumerate(LINKS.items())
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom" '
        f'xml:base="https://kommune.dk/"><title>Kommunen</title><id>urn:k</id>'
        f"<updated>{WHEN.isoformat()}</updated>{entries}</feed>"
    ).encode()


def test_links_with_spaces_are_kept_and_every_export_writes_uris(server, make_config, store):
    url = server.static_feed("/feed.atom", _atom(server.base_url))
    config = make_config([{"name": "Kommunen", "url": url}])
    assert poll(config, store, clock=lambda: WHEN).new == len(LINKS)
    stored = {entry.title: entry.link for entry in store.recent_entries(20)}
    assert stored == {title: link for title, (_, link) in LINKS.items()}

    export_feeds(config, store, WHEN)
    out = config.output_dir
    feed = json.loads((out / "feed.json").read_text(encoding="utf-8"))
    assert {item["title"]: item["url"] for item in feed["items"]} == PUBLIC
    for name in ("atom.xml", "rss.xml", "feed.json", "index.html"):
        text = (out / name).read_text(encoding="utf-8")
        for title, link in PUBLIC.items():
            assert link.replace("&", "&amp;") in text or link in text, (name, title)
        for written in re.findall(r'(?:href|url)="(https?://[^"]*)"', text):
            assert RFC3986.fullmatch(written.replace("&amp;", "&")), (name, written)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://kommune.dk/min side.pdf", "https://kommune.dk/min%20side.pdf"),
        (" https://kommune.dk/x ", "https://kommune.dk/x"),
        ("https://kommune.dk/lang\n  /sti", "https://kommune.dk/lang%20%20/sti"),
        ("https://kommune.dk/a?q=to ord#et afsnit", "https://kommune.dk/a?q=to%20ord#et%20afsnit"),
        ("min side.pdf", "https://kommune.dk/min%20side.pdf"),
        ("https://kom mune.dk/x", None),  # no host has a space
        ("java\tscript:alert(1)", None),  # a browser reads it as javascript: too
        ("https://kommune.dk/x\x07", None),
    ],
)  # fmt: skip
def test_safe_url_reads_an_href_as_a_browser_does(value, expected):
    assert safe_url(value, FEED) == expected


@pytest.mark.parametrize(
    ("iri", "uri"),
    [
        ("https://kommune.dk/nyheder/artikel?id=5#top", "https://kommune.dk/nyheder/artikel?id=5#top"),
        ("https://a.dk/a|b?x={1}&y=[2]", "https://a.dk/a%7Cb?x=%7B1%7D&y=%5B2%5D"),
        ("https://a.dk/x#afsnit#2", "https://a.dk/x#afsnit%232"),
        ("https://a.dk/100%", "https://a.dk/100%25"),
        ("https://a.dk/%C3%A6%zz", "https://a.dk/%C3%A6%25zz"),
        ('https://a.dk/"a"<b>^`\\', "https://a.dk/%22a%22%3Cb%3E%5E%60%5C"),
        ("http://[::1]:8080/", "http://[::1]:8080/"),
        ("http://user@[2001:db8::1]/p[1]?a=]", "http://user@[2001:db8::1]/p%5B1%5D?a=%5D"),
        ("https://æblerød.dk/æble", "https://xn--blerd-rra4k.dk/%C3%A6ble"),
    ],
)  # fmt: skip
def test_to_uri_escapes_what_rfc_3986_allows_nowhere(iri, uri):
    assert to_uri(iri) == uri
    assert RFC3986.fullmatch(uri)
    assert to_uri(uri) == uri


def test_dropping_tracking_parameters_keeps_the_others_as_written():
    assert public_url("https://a.dk/x?utm_source=nl&q=R%26D&s=a+b&fbclid=1#top") == (
        "https://a.dk/x?q=R%26D&s=a+b#top"
    )
