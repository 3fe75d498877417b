"""Review 7 R13: a post whose slug and title are edited in one update (its link, and so its
id where the guid is the permalink) is the same post under a new key, not a second post;
two posts of one day that say different things stay two. Through the loopback server,
the parser and a real SQLite file."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from aggregator.archive_search import search_archive
from aggregator.dedup import DedupSettings, near_identical
from aggregator.export import export_feeds
from aggregator.normalise import html_to_text
from aggregator.pipeline import poll
from tests.feedgen import Item, rss
from tests.feedserver import feed_route

WHEN = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
SITE = "https://kommune.dk/"
BODY = (
    "<p>Byrådet har vedtaget en ny strategi for digital velfærd, som skal gøre det lettere "
    "for borgerne at bruge selvbetjening. Strategien gælder fra næste år og omfatter "
    "både skoler, ældrepleje og jobcentre i hele kommunen.</p>"
)
OTHER = (
    "<p>Vejarbejdet på Hovedgaden begynder mandag, og trafikken ledes uden om via "
    "Skolevej i tre uger. Busserne kører efter en ændret køreplan, mens arbejdet står på, "
    "og cyklister kan bruge stien langs åen.</p>"
)


def post(slug: str, title: str, html: str, when: datetime = WHEN) -> Item:
    """A WordPress-like item whose guid is its permalink."""
    link = f"https://kommune.dk/nyheder/{slug}/"
    return Item(title, link, html, when, guid=link)


STEADY = post("aabningstider-jul", "Åbningstider i julen",
              "<p>Borgerservice holder lukket juleaftensdag og nytårsaftensdag, ellers som "
              "normalt med telefontid hver formiddag.</p>", WHEN - timedelta(days=3))  # fmt: skip


@pytest.fixture
def publish(server, make_config, store, clock):
    config = make_config([{"name": "Kommune", "url": server.url("/k")}])

    def publish_to(items: list[Item]):
        server.route("/k", feed_route(rss("Kommune", SITE, items), last_modified=None))
        clock.advance(timedelta(hours=2))
        return poll(config, store, clock=clock)

    publish_to.config = config  # type: ignore[attr-defined]
    return publish_to


def test_a_slug_and_title_edit_of_one_post_is_that_post_re_keyed(publish, store, clock):
    old = post("ny-strategi-for-velfaerd", "Ny strategi for velfærd", BODY)
    assert publish([old, STEADY]).new == 2
    (entry_id,) = store.db.execute(
        "SELECT entry_id FROM entry_sources WHERE entry_key = ?", [old.link]
    ).fetchone()
    # The editor fixes the title, WordPress writes the slug again; the body gets one word.
    edited = post("byraadet-vedtager-digital-velfaerdsstrategi",
                  "Byrådet vedtager strategi for digital velfærd",
                  BODY.replace("vedtaget en ny", "vedtaget en helt ny"))  # fmt: skip
    report = publish([edited, STEADY])
    assert (report.new, report.updated) == (0, 1)
    assert store.entry_count() == 2
    keys = dict(store.db.execute("SELECT entry_key, entry_id FROM entry_sources").fetchall())
    assert set(keys) == {edited.link, STEADY.link}
    assert keys[edited.link] == entry_id  # the stored post, under its new key
    (shown,) = [e for e in store.recent_entries(10) if e.id == entry_id]
    assert (shown.title, shown.link) == (edited.title, edited.link)

    # Search finds the one post under its new title, and not the old one.
    config = publish.config
    hits = search_archive(store, config, "velfærd", clock()).hits
    assert [(h.entry.title, h.entry.link) for h in hits] == [(edited.title, edited.link)]
    assert search_archive(store, config, '"Ny strategi for velfærd"', clock()).hits == ()

    # Every export shows it once, with the new title and link.
    export_feeds(config, store, clock())
    items = json.loads((config.output_dir / "feed.json").read_text(encoding="utf-8"))["items"]
    assert sorted((i["title"], i["url"]) for i in items) == sorted(
        [(edited.title, edited.link), (STEADY.title, STEADY.link)]
    )
    atom = (config.output_dir / "atom.xml").read_text(encoding="utf-8")
    assert edited.link in atom
    assert old.link not in atom
    assert old.title not in atom

    # The next poll repeats it: nothing new, nothing changed.
    assert (publish([edited, STEADY]).new, store.entry_count()) == (0, 2)


def test_two_posts_of_one_day_are_two_posts(publish, store):
    """The old post left the feed as the new one came, at the very same time (a feed that
    dates its posts by the day): a different text is a different post, whatever else."""
    first = post("ny-strategi-for-velfaerd", "Ny strategi for velfærd", BODY)
    assert publish([first, STEADY]).new == 1 + 1
    second = post("vejarbejde-paa-hovedgaden", "Vejarbejde på Hovedgaden", OTHER)
    assert publish([second, STEADY]).new == 1
    titles = sorted(e.title for e in store.recent_entries(10))
    assert titles == sorted([first.title, second.title, STEADY.title])


def test_same_day_posts_sharing_a_template_are_two_posts(publish, store):
    """A weekly newsletter: most of each issue is the feed's template (its opening and
    sign-off), the news in the middle is short. Two issues of one date are two posts, though
    their texts are alike but for the middle: the template, repeated in the feed's other
    posts, is no evidence."""
    opening = (
        "<p>Kære borger. Her er ugens nyt fra kommunen om veje, skoler, affald og kultur, "
        "samlet af redaktionen i borgerservice til dig, der bor i kommunen eller arbejder her.</p>"
    )
    closing = (
        "<p>Har du spørgsmål, så kontakt borgerservice på telefon eller mail. Du kan altid "
        "afmelde nyhedsbrevet på kommunens hjemmeside under selvbetjening, og du kan tilmelde "
        "dig igen når som helst.</p>"
    )

    def issue(week: int, news: str, when: datetime) -> Item:
        return post(f"nyhedsbrev-uge-{week}", f"Nyhedsbrev uge {week}",
                    f"{opening}<p>{news}</p>{closing}", when)  # fmt: skip

    earlier = [
        issue(44 + n, f"Nyhed nummer {n} om noget for sig", WHEN - timedelta(days=7 * (3 - n)))
        for n in range(3)
    ]
    first = issue(47, "Genbrugspladsen holder lukket fredag", WHEN)
    second = issue(48, "Svømmehallen åbner igen mandag", WHEN)
    # Without the feed's template taken out, the two texts would pass for one.
    assert near_identical(html_to_text(first.html), html_to_text(second.html), DedupSettings())
    assert publish([first, *earlier]).new == 4
    assert publish([second, *earlier]).new == 1
    assert store.entry_count() == 5


def test_a_short_stock_text_of_one_day_is_no_evidence(publish, store):
    """Below dedup.min_words a text says too little: two job ads of one day with the same
    teaser are two posts, though one left the feed as the other came."""
    teaser = "<p>Læs hele opslaget på vores hjemmeside.</p>"
    first = post("ledig-stilling-it-konsulent", "Ledig stilling: IT-konsulent", teaser)
    assert publish([first, STEADY]).new == 2
    second = post("ledig-stilling-sagsbehandler", "Ledig stilling: sagsbehandler", teaser)
    assert publish([second, STEADY]).new == 1
    assert store.entry_count() == 3


def test_an_edited_post_still_in_the_document_is_not_taken(publish, store):
    """A second post of one day with the same text, while the first is still in the feed,
    is the publisher's own repost: two posts, as before."""
    first = post("ny-strategi-for-velfaerd", "Ny strategi for velfærd", BODY)
    assert publish([first, STEADY]).new == 2
    again = post("ny-strategi-for-velfaerd-2", "Ny strategi for velfærd (genudgivet)", BODY)
    assert publish([again, first, STEADY]).new == 1
    assert store.entry_count() == 3
