"""Bracketed words are not WordPress shortcodes (review 8 R8-3): a bracketed address ending in
a slash, or a word followed by ``=``, was read as a self-closing shortcode or an attribute,
and the bracket went from the post, words and all. A tag's name is ended by a space, ``]``
or ``/]``; a name WordPress would not know needs a quoted attribute, a ``/]`` after the name
or a space, or an end tag to count."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aggregator.clean import strip_shortcodes
from aggregator.normalise import plan_update
from aggregator.parse import parse_feed
from aggregator.types import FetchResult

URL = "https://kommune.example/feed"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def stored_html(html: str) -> str:
    """The content a poll stores for an item whose description is ``html``."""
    body = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>K</title>'
        "<link>https://kommune.example/</link><item><title>Rapport</title>"
        "<link>https://kommune.example/1</link><guid>urn:1</guid>"
        "<pubDate>Tue, 01 Dec 2026 10:00:00 +0100</pubDate>"
        f"<description><![CDATA[{html}]]></description></item></channel></rss>"
    ).encode()
    parsed = parse_feed(body, URL, {})
    (entry,) = plan_update(FetchResult(URL, NOW, URL, 200, body, {}), parsed, NOW).entries
    return entry.content_html or ""


WORDS = [
    "[https://kl.dk/rapport/]",
    "[www.dst.dk/]",
    "[kl.dk/]",
    "[Kilde https://kl.dk/rapport/]",
    "[Valuta: 1 EUR = 7,46 kr.]",
    "[red. 2+2=4]",
    "[Opdateret: a=b]",
    "[Note a=b]",
]


@pytest.mark.parametrize("words", WORDS)
def test_bracketed_words_are_stored_as_written(words: str) -> None:
    assert f"Læs rapporten {words} i dag." in stored_html(f"<p>Læs rapporten {words} i dag.</p>")


@pytest.mark.parametrize(
    ("fragment", "expected"),
    [
        ('Se [note id="1"] nu', "Se  nu"),
        ("Se [note /] og [note/] nu", "Se  og  nu"),
        ("Se [note]dette[/note] nu", "Se dette nu"),
        ("Se [note id=1 /] nu", "Se  nu"),
        ("Se [gallery id=1] nu", "Se  nu"),  # a name WordPress knows needs no quotes
    ],
)
def test_a_shortcode_with_its_evidence_still_goes(fragment: str, expected: str) -> None:
    assert strip_shortcodes(fragment) == expected
