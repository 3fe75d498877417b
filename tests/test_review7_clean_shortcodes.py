"""Review 7 R9: WordPress shortcodes a feed carries as written (the plugin that renders them
is off, or never runs for the feed) are markup, not words: gone from the summary, the page,
the digest and the sanitised HTML, with what they enclose kept. Bracketed words stay."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from aggregator.clean import strip_shortcodes
from aggregator.digest.build import build_digest
from aggregator.digest.periods import week_containing
from aggregator.digest.render import render_digest
from aggregator.export import export_feeds
from aggregator.normalise import normalise_entry
from aggregator.pipeline import poll
from aggregator.types import ParsedEntry
from tests.feedgen import Item, rss

WHEN = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)
WEEK = week_containing(date(2026, 11, 18), ZoneInfo("Europe/Copenhagen"))
SITE = "https://kommune.dk/"

# Items as WordPress sites write them into their feeds, shortcodes and all.
CAPTION = (
    '<p>[caption id="attachment_12" align="alignnone" width="300"]<img class="size-medium" '
    'src="https://kommune.dk/wp-content/uploads/2026/11/bro.jpg" alt="" width="300" '
    'height="200" /> Billedtekst: Den nye bro over åen[/caption]</p>'
    "<p>Broen åbner for gående i december.</p>"
)
EMBED = (
    "<p>Se borgmesterens tale:</p>\n"
    "<p>[embed]https://www.youtube.com/watch?v=dQw4w9WgXcQ[/embed]</p>\n"
    "<p>Talen blev holdt ved indvielsen.</p>"
)
GALLERY = '<p>Billeder fra dagen:</p>\n<p>[gallery ids="1,2" columns="2" link="file"]</p>'
BUILDER = (
    '[vc_row][vc_column width="1/1"][vc_column_text]<p>Kommunen søger frivillige til '
    "sommerens aktiviteter.</p>[/vc_column_text][/vc_column][/vc_row][vc_row][vc_column]"
    '[vc_single_image image="443" img_size="large"][/vc_column][/vc_row]'
)
DIVI = (
    '[et_pb_section fb_built="1" _builder_version="4.16" global_colors_info="{}"]'
    '[et_pb_row _builder_version="4.16"][et_pb_column type="4_4"][et_pb_text '
    '_builder_version="4.16"]<p>Høringen om lokalplanen slutter fredag.</p>[/et_pb_text]'
    "[/et_pb_column][/et_pb_row][/et_pb_section]"
)
# A shortcode WordPress does not know is texturized like the words around it.
TEXTURIZED = (
    "<p>[vc_row css=&#8221;.vc_custom_1524{margin-top: 0px !important;}&#8221;][vc_column]"
    "Åbningstider i julen er ændret.[/vc_column][/vc_row]</p>"
)
OLD_CAPTION = (
    '[caption id="" align="aligncenter" width="500" caption="Foto: Jens Hansen"]'
    '<img src="https://kommune.dk/foto.jpg" alt="" width="500" />[/caption]Rådhuset i sne.'
)
# Brackets that are words: references, labels, a checklist in code, WordPress's escape.
WORDS = (
    "<p>Se bilag [1] og referatet [PDF]. [opdateret 14.30] Vejen er åben igen [x].</p>"
    '<pre>[gallery ids="1"]</pre><p>Skriv <code>[[caption]]</code> eller [[gallery]].</p>'
)

ITEMS = [
    ("Ny bro over åen", CAPTION),
    ("Borgmesterens tale", EMBED),
    ("Billeder fra indvielsen", GALLERY),
    ("Frivillige søges", BUILDER),
    ("Høring om lokalplan", DIVI),
    ("Åbningstider i julen", TEXTURIZED),
    ("Rådhuset i sne", OLD_CAPTION),
    ("Vejen er åben", WORDS),
]
SUMMARIES = {
    "Ny bro over åen": "Billedtekst: Den nye bro over åen Broen åbner for gående i december.",
    "Borgmesterens tale": (
        "Se borgmesterens tale: https://www.youtube.com/watch?v=dQw4w9WgXcQ "
        "Talen blev holdt ved indvielsen."
    ),
    "Billeder fra indvielsen": "Billeder fra dagen:",
    "Frivillige søges": "Kommunen søger frivillige til sommerens aktiviteter.",
    "Høring om lokalplan": "Høringen om lokalplanen slutter fredag.",
    "Åbningstider i julen": "Åbningstider i julen er ændret.",
    "Rådhuset i sne": "Foto: Jens Hansen Rådhuset i sne.",
    "Vejen er åben": (
        "Se bilag [1] og referatet [PDF]. [opdateret 14.30] Vejen er åben igen [x]. "
        '[gallery ids="1"] Skriv [[caption]] eller [gallery].'
    ),
}
LEFT_OVER = ("[caption", "[/caption]", "[embed", "[gallery ids=\"1,2\"", "vc_", "et_pb",
             "&#8221;", "”")  # fmt: skip


def test_shortcodes_leave_summary_page_digest_and_html(server, make_config, store):
    items = [
        Item(title, f"{SITE}nyheder/{k}", body, WHEN - timedelta(minutes=k), guid=f"wp-{k}")
        for k, (title, body) in enumerate(ITEMS)
    ]
    url = server.static_feed("/feed/", rss("Kommunen", SITE, items))
    config = make_config([{"name": "Kommunen", "url": url}])
    assert poll(config, store, clock=lambda: WHEN).new == len(ITEMS)
    stored = {entry.title: entry for entry in store.recent_entries(20)}
    assert {title: entry.summary_text for title, entry in stored.items()} == SUMMARIES

    html = {title: entry.content_html for title, entry in stored.items()}
    assert '<img src="https://kommune.dk/wp-content/uploads/2026/11/bro.jpg"' in html[ITEMS[0][0]]
    assert (
        '<a href="https://www.youtube.com/watch?v=dQw4w9WgXcQ" rel="noopener noreferrer nofollow">'
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ</a>"
    ) in html["Borgmesterens tale"]
    assert "<p>Kommunen søger frivillige" in html["Frivillige søges"]
    for title, content in html.items():
        if title != "Vejen er åben":
            assert not any(left in content for left in LEFT_OVER), (title, content)
    assert "[1]" in html["Vejen er åben"]
    assert '<pre>[gallery ids="1"]</pre>' in html["Vejen er åben"]

    export_feeds(config, store, WHEN)
    page = (config.output_dir / "index.html").read_text(encoding="utf-8")
    digest = render_digest(build_digest(list(stored.values()), WEEK, "Ugens nyt")).text
    for shown in (page, digest):
        assert "Broen åbner for gående" in shown
        for left in ("[caption id", "[/caption]", "[embed]", "[gallery ids=\"1,2\"", "[vc_",
                     "[et_pb"):  # fmt: skip
            assert left not in shown
    assert "Se bilag [1] og referatet [PDF]." in page


@pytest.mark.parametrize(
    ("fragment", "expected"),
    [
        ('[audio mp3="https://kommune.dk/podcast/ep1.mp3"][/audio]',
         '<a href="https://kommune.dk/podcast/ep1.mp3">https://kommune.dk/podcast/ep1.mp3</a>'),
        ('[video width="1280" height="720" src="https://kommune.dk/v.mp4?a=1&amp;b=2" /]',
         '<a href="https://kommune.dk/v.mp4?a=1&amp;b=2">https://kommune.dk/v.mp4?a=1&amp;b=2</a>'),
        ("[embed]<iframe src=x></iframe>[/embed]", "<iframe src=x></iframe>"),
        ('[button link="/tilmeld"]Tilmeld dig[/button] nu', "Tilmeld dig nu"),
        ("Tekst[/vc_column][vc_column]Mere", "Tekst Mere"),
        ("[note]Husk madpakke[/note]", "Husk madpakke"),
        ("Se [video] og [Tab]", "Se [video] og [Tab]"),
        ("[opdateret] og [1] og [...] og [&hellip;]", "[opdateret] og [1] og [...] og [&hellip;]"),
        ("[[Forside]] og [[Hovedside|side]]", "[[Forside]] og [[Hovedside|side]]"),
        ("[[caption] x", "[ x"),  # as WordPress reads it: a "[" before the shortcode
        ('<a title="[gallery id=1]" href="/x">x</a>', '<a title="[gallery id=1]" href="/x">x</a>'),
        ('<!-- [gallery ids="1"] -->Tekst', '<!-- [gallery ids="1"] -->Tekst'),
        ("<code>[x]</code> [x] <kbd>[Tab]</kbd>", "<code>[x]</code> [x] <kbd>[Tab]</kbd>"),
        ("[contact-form-7 id=\"42\" title=\"Kontakt\"]", ""),
    ],
)  # fmt: skip
def test_which_brackets_are_shortcodes(fragment, expected):
    assert strip_shortcodes(fragment) == expected


@pytest.mark.parametrize(
    "hostile",
    ["[a " * 100_000 + "<" * 100_000, "[vc_row]" * 40_000, "[a]" * 40_000 + "[/b]" * 40_000,
     "<!--" * 40_000 + "[gallery /]", "x[/vc_column]" * 40_000],
    ids=["open-brackets", "bare-tags", "unmatched-ends", "open-comments", "gaps"],
)  # fmt: skip
def test_a_hostile_fragment_costs_one_scan(hostile):
    """Quadratic work here was minutes at these sizes; the raw content cap is 2 MiB."""
    started = time.perf_counter()
    strip_shortcodes(hostile)
    assert time.perf_counter() - started < 10


def test_summary_of_a_caption_only_post_is_its_caption():
    entry = ParsedEntry(
        guid="g", link=f"{SITE}1", title="", author=None, content_html=CAPTION,
        published=WHEN, updated=None,
    )  # fmt: skip
    plan = normalise_entry(entry, f"{SITE}feed/", WHEN)
    assert plan.title == "Billedtekst: Den nye bro over åen Broen åbner for gående i december."
