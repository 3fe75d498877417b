"""Lazy-loaded images, <noscript> copies and whole pages: the picture once, no tag text.

The shapes are those the WordPress lazy-load plugins, Jetpack, WP Rocket and the lazysizes
themes write (hand-written here), through the sanitiser as normalise calls it and through a
real poll.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from aggregator.clean import reveal_lazy_images, srcset_choice
from aggregator.normalise import html_to_text, sanitise_html
from aggregator.pipeline import poll
from tests.feedgen import Item, rss

BASE = "https://kommune.dk/nyhed/borgmester"
PHOTO = "https://kommune.dk/wp-content/uploads/2026/11/borgmester.jpg"
GIF = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"
SVG = "data:image/svg+xml,%3Csvg%20xmlns='http://www.w3.org/2000/svg'%20viewBox='0%200%20800%20600'%3E%3C/svg%3E"

SHAPES = {
    # lazysizes and the themes that use it: a data: GIF, the picture in data-src, a copy.
    "lazysizes": (
        f'<img class="lazyload" src="{GIF}" data-src="{PHOTO}" alt="Borgmester Åse Ø" '
        f'width="800" height="600"><noscript><img src="{PHOTO}" alt="Borgmester Åse Ø" '
        'width="800" height="600"></noscript>'
    ),
    # WP Rocket: an inline SVG of the right size, data-lazy-src and data-lazy-srcset.
    "wp-rocket": (
        f'<img width="800" height="600" src="{SVG}" class="attachment-large" '
        'alt="Borgmester Åse Ø" '
        f'data-lazy-srcset="{PHOTO} 800w, {PHOTO[:-4]}-300x225.jpg 300w" '
        f'data-lazy-sizes="(max-width: 800px) 100vw, 800px" data-lazy-src="{PHOTO}">'
        f'<noscript><img width="800" height="600" src="{PHOTO}" class="attachment-large" '
        f'alt="Borgmester Åse Ø" srcset="{PHOTO} 800w"></noscript>'
    ),
    # a3 Lazy Load: a placeholder file (a real URL), data-src and an empty srcset.
    "a3-lazy-load": (
        '<img class="lazy lazy-hidden" src="https://kommune.dk/wp-content/plugins/a3-lazy-load/'
        f'assets/images/lazy_placeholder.gif" data-lazy-type="image" data-src="{PHOTO}" '
        f'alt="Borgmester Åse Ø" srcset="" data-srcset="{PHOTO} 800w" width="800" height="600">'
        f'<noscript><img src="{PHOTO}" alt="Borgmester Åse Ø" width="800" height="600"></noscript>'
    ),
    # Jetpack: a 1x1 file, data-lazy-src marked as pending, a data: srcset.
    "jetpack": (
        '<img width="800" height="600" src="https://kommune.dk/wp-content/plugins/jetpack/modules/'
        f'lazy-images/images/1x1.trans.gif" data-lazy-src="{PHOTO}?is-pending-load=1" '
        f'srcset="{GIF}" class="jetpack-lazy-image" alt="Borgmester Åse Ø">'
        f'<noscript><img width="800" height="600" src="{PHOTO}" alt="Borgmester Åse Ø">'
        "</noscript>"
    ),
    # jQuery Lazy Load (older CMS themes): data-original, no copy.
    "data-original": f'<img class="lazy" data-original="{PHOTO}" alt="Borgmester Åse Ø">',
    # A theme that puts the copy first.
    "copy-first": (
        f'<noscript><img src="{PHOTO}" alt="Borgmester Åse Ø"></noscript>'
        f'<img class="lazyload" src="{GIF}" data-src="{PHOTO}" alt="Borgmester Åse Ø">'
    ),
    # A linked picture: the copy sits after the link.
    "linked": (
        f'<a href="{PHOTO}"><img src="{GIF}" data-src="{PHOTO}" alt="Borgmester Åse Ø"></a>'
        f'<noscript><img src="{PHOTO}" alt="Borgmester Åse Ø"></noscript>'
    ),
    # Responsive only: srcset without src.
    "srcset-only": (
        f'<img srcset="{PHOTO[:-4]}-300x225.jpg 300w, {PHOTO} 800w, {PHOTO[:-4]}-2048x1536.jpg '
        '2048w" sizes="100vw" alt="Borgmester Åse Ø">'
    ),
    # A placeholder only in src, the copy holds the picture.
    "placeholder-and-copy": (
        f'<img src="{GIF}" class="lazyload" alt="Borgmester Åse Ø">'
        f'<noscript><img src="{PHOTO}" alt="Borgmester Åse Ø"></noscript>'
    ),
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_the_picture_appears_once_and_no_tag_text(shape):
    body = f"<p>Indledning om æøå.</p>{SHAPES[shape]}<p>Resten af teksten.</p>"
    clean = sanitise_html(body, BASE)
    assert clean.count("<img") == 1, clean
    assert f'src="{PHOTO}"' in clean, clean
    for leftover in ("data:", "&lt;", "noscript"):
        assert leftover not in clean
    assert html_to_text(clean) == "Indledning om æøå. Resten af teksten."
    if shape != "srcset-only":
        assert 'alt="Borgmester Åse Ø"' in clean
    if shape == "linked":
        assert clean.index("<a ") < clean.index("<img") < clean.index("</a>")


def test_an_ordinary_image_is_left_as_it_is():
    native = f'<p>x</p><img loading="lazy" src="{PHOTO}" alt="Å" width="800" height="600">'
    assert reveal_lazy_images(native) == native
    assert sanitise_html(native, BASE) == (
        f'<p>x</p><img src="{PHOTO}" alt="Å" width="800" height="600">'
    )
    # A real src beside a plain srcset: src is the picture.
    both = f'<img src="{PHOTO}" srcset="https://kommune.dk/other.jpg 2x">'
    assert sanitise_html(both, BASE) == f'<img src="{PHOTO}">'


def test_the_lazy_source_is_checked_like_any_src():
    hostile = f'<img src="{GIF}" data-src="javascript:alert(1)" data-lazy-src="/ok.jpg">'
    assert sanitise_html(hostile, BASE) == '<img src="https://kommune.dk/ok.jpg">'
    assert sanitise_html(f'<img src="{GIF}" data-src="javascript:alert(1)">', BASE) == ""
    pixel = '<img data-src="https://pixel.wp.com/g.gif" src="data:,">'
    assert sanitise_html(pixel, BASE) == ""
    quoted = f"<img src='{GIF}' data-src='/a.jpg?x=\"1\"&amp;y=2' alt='\"Ø\"'>"
    plain = "<img src='/a.jpg?x=\"1\"&amp;y=2' alt='\"Ø\"'>"
    assert sanitise_html(quoted, BASE) == sanitise_html(plain, BASE)
    assert 'alt="&quot;Ø&quot;"' in sanitise_html(quoted, BASE)


def test_noscript_is_unwrapped_and_its_words_alone_dropped():
    assert sanitise_html("<noscript>Slå JavaScript til</noscript><p>Tekst</p>") == "<p>Tekst</p>"
    video = '<noscript><a href="https://kommune.dk/video">Se videoen</a></noscript>'
    assert sanitise_html(video) == (
        '<a href="https://kommune.dk/video" rel="noopener noreferrer nofollow">Se videoen</a>'
    )
    assert sanitise_html("<NOSCRIPT><p>åben til enden") == "<p>åben til enden</p>"
    # Markup in an attribute that ends the <noscript> for a browser stays an attribute.
    trick = '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></p></noscript>'
    assert sanitise_html(trick) == '<p title="&lt;img src=x onerror=alert(1)&gt;"></p>'


def test_a_whole_page_gives_its_body_without_the_title_or_code():
    page = (
        "<!doctype html><html><head><title>Sidetitel | Kommune</title>"
        "<style>p{color:red}</style><script>var x = 1;</script></head><body>"
        "<template><p>skabelon</p></template><p>Hej æøå</p></body></html>"
    )
    assert sanitise_html(page) == "<p>Hej æøå</p>"


@pytest.mark.parametrize(
    ("srcset", "chosen"),
    [
        ("a.jpg 300w, b.jpg 1024w, c.jpg 2048w", "b.jpg"),
        ("c.jpg 2048w, d.jpg 3000w", "c.jpg"),
        ("a.jpg 2x, b.jpg 1x", "b.jpg"),
        ("a.jpg, b.jpg 2x", "a.jpg"),
        ("a,b.jpg 300w,c.jpg 600w", "c.jpg"),
        ("  ", None),
        ("x.jpg 100q", "x.jpg"),
    ],
)
def test_srcset_choice(srcset, chosen):
    assert srcset_choice(srcset) == chosen


WHEN = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def test_a_poll_stores_the_picture_once_and_an_old_body_changes_once(
    server, make_config, store, clock, tmp_path
):
    lazy = Item("Borgmesteren", BASE, f"<p>Indledning.</p>{SHAPES['wp-rocket']}<p>Resten.</p>",
                WHEN, guid="post-1")  # fmt: skip
    other = Item("Anden nyhed", "https://kommune.dk/nyhed/2", "<p>Andet</p>", WHEN, guid="post-2")
    server.static_feed("/feed", rss("Kommune", "https://kommune.dk/", [lazy]))
    config = make_config([{"name": "Kommune", "url": server.url("/feed")}])
    report = poll(config, store, clock=clock)
    assert (report.new, report.updated) == (1, 0)
    [entry] = store.recent_entries(10)
    assert entry.content_html.count("<img") == 1
    assert f'src="{PHOTO}"' in entry.content_html
    assert entry.summary_text == "Indledning. Resten."

    # What the version before this one stored: the copy as text, no picture.
    with sqlite3.connect(tmp_path / "aggregator.db") as db:
        db.execute(
            "UPDATE entries SET content_html = ?, summary_text = ?",
            [f'<p>Indledning.</p>&lt;img src="{PHOTO}"&gt;<p>Resten.</p>',
             f'Indledning. <img src="{PHOTO}"> Resten.'],
        )  # fmt: skip
        db.execute("UPDATE entry_sources SET content_hash = 'old', raw_digest = 'old'")
    clock.advance(timedelta(hours=1))
    server.static_feed("/feed", rss("Kommune", "https://kommune.dk/", [lazy, other]))
    report = poll(config, store, clock=clock)
    assert (report.new, report.updated) == (1, 1)
    fixed = next(e for e in store.recent_entries(10) if e.title == "Borgmesteren")
    assert fixed.content_html == entry.content_html
    assert fixed.summary_text == "Indledning. Resten."

    clock.advance(timedelta(hours=1))
    third = Item("Tredje", "https://kommune.dk/nyhed/3", "<p>Tredje</p>", WHEN, guid="post-3")
    server.static_feed("/feed", rss("Kommune", "https://kommune.dk/", [lazy, other, third]))
    report = poll(config, store, clock=clock)
    assert (report.new, report.updated) == (1, 0)
