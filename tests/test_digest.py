from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from zoneinfo import ZoneInfo

import pytest

from aggregator.digest import last_complete_week, parse_week, preview_digest, send_digest
from aggregator.digest.build import (
    MAX_GROUPS,
    Digest,
    DigestGroup,
    DigestItem,
    LeftOut,
    build_digest,
    cut_at_sentence,
)
from aggregator.digest.periods import (
    check_sendable,
    day_period,
    due_at,
    last_complete,
    parse_period,
    week_containing,
)
from aggregator.digest.render import (
    _ENV,
    HTML_LIMIT,
    _context,
    _inliner,
    _new_marks,
    render_digest,
)
from aggregator.errors import DigestError
from aggregator.pipeline import poll
from aggregator.types import SourceRef, StoredEntry
from tests.conftest import free_port, serve_fixture
from tests.feedgen import Item, rss

CPH = ZoneInfo("Europe/Copenhagen")
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # a Wednesday in week 48
POLLED = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)  # Sunday of week 47
WEEK_47 = week_containing(date(2026, 11, 18), CPH)
WEEK_48 = week_containing(date(2026, 11, 25), CPH)


class Ticking:
    """A clock that a sleep moves forward, for in-run retries without waiting."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def test_last_complete_week_runs_monday_to_monday_in_copenhagen():
    period = last_complete_week(NOW, CPH)
    assert period.start == datetime(2026, 11, 16, tzinfo=CPH)
    assert period.end == datetime(2026, 11, 23, tzinfo=CPH)
    assert period.start_utc == datetime(2026, 11, 15, 23, 0, tzinfo=UTC)
    assert period.slug == "2026-W47"
    sunday_late = datetime(2026, 11, 22, 22, 30, tzinfo=UTC)  # Sunday 23:30 local
    assert last_complete_week(sunday_late, CPH).slug == "2026-W46"
    monday_early = datetime(2026, 11, 22, 23, 30, tzinfo=UTC)  # 00:30 Monday local
    assert last_complete_week(monday_early, CPH).slug == "2026-W47"


def test_a_week_with_a_dst_change_has_169_hours_and_a_day_25():
    assert week_containing(date(2026, 10, 21), CPH).end_utc - week_containing(
        date(2026, 10, 21), CPH
    ).start_utc == timedelta(hours=169)
    day = day_period(date(2026, 10, 25), CPH)
    assert day.end_utc - day.start_utc == timedelta(hours=25)
    assert last_complete(NOW, "day", CPH).slug == "2026-11-24"


@pytest.mark.parametrize("text", ["2026-W47", "2026-w47", "2026-11-16", "2026-11-22"])
def test_parse_week(text):
    assert parse_week(text, CPH) == WEEK_47


def test_parse_period_rejects_nonsense_and_weeks_for_daily_digests():
    with pytest.raises(ValueError, match="not a week"):
        parse_week("next tuesday", CPH)
    with pytest.raises(DigestError, match="this digest is daily"):
        parse_period("2026-W47", "day", CPH)
    assert parse_period("2026-11-18", "day", CPH).slug == "2026-11-18"


@pytest.mark.parametrize(
    ("week", "message"),
    [
        ("2026-W48", "has not ended yet"),  # Wednesday of week 48
        ("2030-W01", "has not ended yet"),
        ("1999-W01", "ended more than 366 days ago"),
    ],
)
def test_unfinished_future_and_absurd_periods_are_refused(week, message):
    with pytest.raises(DigestError, match=message):
        check_sendable(parse_week(week, CPH), NOW)
    check_sendable(WEEK_47, NOW)


def test_due_time_follows_the_schedule():
    assert due_at(WEEK_47, "mon", datetime.min.time().replace(hour=7)) == datetime(
        2026, 11, 23, 7, 0, tzinfo=CPH
    )
    assert due_at(WEEK_47, "wed", datetime.min.time().replace(hour=9)) == datetime(
        2026, 11, 25, 9, 0, tzinfo=CPH
    )
    day = day_period(date(2026, 11, 24), CPH)
    assert due_at(day, "daily", datetime.min.time().replace(hour=6)) == datetime(
        2026, 11, 25, 6, 0, tzinfo=CPH
    )


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("Kort tekst.", 280, "Kort tekst."),
        ("Første sætning er her. Anden sætning er længere end grænsen tillader.", 40,
         "Første sætning er her."),
        ("Vi mødes bl.a. i Århus. Derefter i Odense om det hele.", 30, "Vi mødes bl.a. i Århus."),
        ("Et meget langt ord " * 5, 30, "Et meget langt ord Et meget…"),
    ],
)  # fmt: skip
def test_summary_is_cut_at_a_sentence(text, limit, expected):
    assert cut_at_sentence(text, limit) == expected


@pytest.fixture
def week_of_posts(server, make_config, store):
    def make(polled: datetime = POLLED, **sections):
        feeds = [
            {"name": "OS2", "url": serve_fixture(server, "rss20.xml", "/os2"), "priority": 1,
             "tags": ["kommuner"]},
            {"name": "Digst", "url": serve_fixture(server, "atom10.xml", "/digst"),
             "tags": ["stat"]},
            {"name": "KL", "url": serve_fixture(server, "rss10.rdf", "/kl"),
             "tags": ["kommuner"]},
        ]  # fmt: skip
        config = make_config(feeds, **sections)
        poll(config, store, clock=lambda: polled)
        return config

    return make


def smtp(inbox, **more):
    return {"host": inbox.host, "port": inbox.port, "from": "nyt@offentlig-digitalisering.dk",
            "retry_seconds": 1, **more}  # fmt: skip


def test_digest_holds_the_posts_first_seen_in_its_window_grouped_newest_first(week_of_posts, store):
    config = week_of_posts()
    from aggregator.digest import assemble

    digest = assemble(config, store, config.named_digest("default"), WEEK_47,
                      _window(WEEK_47))  # fmt: skip
    assert [g.name for g in digest.groups] == [
        "Digitaliseringsstyrelsen",
        "KL – digitalisering",
        "OS2 – nyheder",
    ]
    assert digest.entry_count == 5
    os2 = digest.groups[2]
    assert [i.published for i in os2.items] == sorted((i.published for i in os2.items),
                                                      reverse=True)  # fmt: skip
    cloud = next(i for i in os2.items if i.title == "Fælles kommunal cloud: næste skridt")
    assert cloud.also_in == ("Digitaliseringsstyrelsen",)
    assert cloud.published.tzinfo == CPH


def _window(period):
    from aggregator.digest import Window

    return Window(period.start_utc, period.end_utc)


def test_rendered_digest_is_danish_by_default_and_english_by_setting(week_of_posts, store):
    config = week_of_posts()
    from aggregator.digest import assemble

    digest = assemble(config, store, config.named_digest("default"), WEEK_47, _window(WEEK_47))
    danish = render_digest(digest)
    assert danish.subject == "Offentlig digitalisering · uge 47: 5 nye indlæg"
    assert "Uge 47 · 16.–22. november 2026" in danish.text
    assert "5 nye indlæg fra 3 kilder" in danish.text
    assert "Også bragt af Digitaliseringsstyrelsen" in danish.text
    assert '<html lang="da">' in danish.html
    assert max(len(line) for line in danish.text.splitlines() if not line.startswith("[")) <= 72
    english = render_digest(digest, "en")
    assert english.subject == "Offentlig digitalisering · week 47: 5 new posts"
    assert "Week 47 · 16–22 November 2026" in english.text
    assert "Also published by Digitaliseringsstyrelsen" in english.html


def test_titles_are_escaped_in_the_html_part(server, make_config, store):
    url = serve_fixture(server, "hostile.xml", "/evil")
    poll(make_config([{"name": "Evil", "url": url}]), store, clock=lambda: POLLED)
    entries = store.entries_first_seen_between(WEEK_47.start_utc, WEEK_47.end_utc)
    html = render_digest(build_digest(entries, WEEK_47, "T")).html
    assert "<img src=x" not in html
    assert "Angreb" in html
    assert "<script" not in html


def test_a_post_cannot_carry_a_recipients_address_or_unsubscribe_link(
    server, make_config, store, inbox
):
    """The places for each recipient's address and unsubscribe link are new for every
    render, so a feed that writes the old fixed marks (or any guess) gets them back as sent."""
    old_marks = "@@recipient-address@@ https://unsubscribe.invalid/@@recipient@@"
    bait = "https://evil.example/t?e=@@recipient-address@@"
    items = [
        Item(f"Vind en præmie, {old_marks}!", bait, f"<p>Kære {old_marks}, klik.</p>",
             POLLED - timedelta(hours=2), guid="bait"),
        Item("Læs om digitalisering", "https://unsubscribe.invalid/@@recipient@@",
             "<p>Tekst.</p>", POLLED - timedelta(hours=3), guid="bait2"),
    ]  # fmt: skip
    url = server.static_feed("/evil", rss("Evil", "https://evil.example/", items))
    config = make_config(
        [{"name": "Evil", "url": url}],
        digest={"recipients": ["r0@kommune.dk", "r1@kommune.dk"],
                "unsubscribe_url": "https://kommune.dk/afmeld?a={address}"},
        smtp=smtp(inbox),
    )  # fmt: skip
    poll(config, store, clock=lambda: POLLED)
    assert send_digest(config, store, NOW).sent_to == ("r0@kommune.dk", "r1@kommune.dk")
    for received in inbox.messages:
        [address] = received.recipients
        body = received.message.get_body(("html",)).get_content()
        text = received.message.get_body(("plain",)).get_content()
        for part in (body, text):
            assert bait.replace("&", "&amp;") in part or bait in part
            assert "https://unsubscribe.invalid/@@recipient@@" in part
            assert f"?e={address}" not in part
            # the address is in the footer only, once in each part
            assert part.count(address) == 1, part
        assert text.count("https://kommune.dk/afmeld?a=") == 1


def test_each_recipient_gets_their_own_message(week_of_posts, store, inbox):
    config = week_of_posts(
        digest={"recipients": ["digitalisering@kommune.dk", "it-chef@region.dk"],
                "unsubscribe_url": "https://planet.example.dk/afmeld?adresse={address}",
                "unsubscribe_mailto": "afmeld@offentlig-digitalisering.dk"},
        smtp=smtp(inbox, from_name="Nyt om digitalisering"),
    )  # fmt: skip
    outcome = send_digest(config, store, NOW)
    assert outcome.sent_to == ("digitalisering@kommune.dk", "it-chef@region.dk")
    assert outcome.entry_count == 5
    assert len(inbox.messages) == 2
    assert inbox.connections == 1  # one connection for every recipient
    ids = set()
    for received in inbox.messages:
        [address] = received.recipients
        message = received.message
        assert message["To"] == address
        other = ({"digitalisering@kommune.dk", "it-chef@region.dk"} - {address}).pop()
        assert other.encode() not in received.raw
        assert received.sender == "nyt@offentlig-digitalisering.dk"
        assert message["From"] == "Nyt om digitalisering <nyt@offentlig-digitalisering.dk>"
        assert message["Subject"] == "Offentlig digitalisering · uge 47: 5 nye indlæg"
        assert message["Message-ID"].endswith("@offentlig-digitalisering.dk>")
        ids.add(message["Message-ID"])
        assert message["Date"]
        assert message["Auto-Submitted"] == "auto-generated"
        assert message["List-Id"] == (
            '"Offentlig digitalisering" <default.digest.planet.example.dk>'
        )
        quoted = address.replace("@", "%40")
        assert message["List-Unsubscribe"] == (
            "<mailto:afmeld@offentlig-digitalisering.dk?subject=unsubscribe%20default>, "
            f"<https://planet.example.dk/afmeld?adresse={quoted}>"
        )
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message.get_content_type() == "multipart/alternative"
        plain = message.get_body(("plain",))
        html = message.get_body(("html",))
        assert plain.get_content_charset() == html.get_content_charset() == "utf-8"
        for part in (plain.get_content(), html.get_content()):
            assert "Fælles kommunal cloud: næste skridt" in part
            assert "Søren Ærø" in part
            assert address in part
        assert f"https://planet.example.dk/afmeld?adresse={quoted}" in html.get_content()
        assert len(html.get_content().encode()) < 100 * 1024
        assert "<style" in html.get_content()  # only the @media rules are left there
        assert 'style="' in html.get_content()  # the rest is inlined
        assert max(len(line) for line in received.raw.splitlines()) <= 998
    assert len(ids) == 2


def test_non_ascii_subject_is_encoded_on_the_wire(week_of_posts, store, inbox):
    config = week_of_posts(
        site={"title": "Økonomi og ældrepleje", "base_url": "https://x.dk/"},
        digest={"recipients": ["a@kommune.dk"], "subject": "[Digitalisering] Uge {week}: "
                "{count} nye indlæg fra {sources} kilder"},
        smtp=smtp(inbox),
    )  # fmt: skip
    send_digest(config, store, NOW)
    raw = inbox.messages[0].raw
    subject_line = next(line for line in raw.splitlines() if line.startswith(b"Subject:"))
    assert subject_line.isascii()
    assert b"=?utf-8?" in raw.lower()
    decoded = message_from_bytes(raw, policy=policy.default)
    assert decoded["Subject"] == "[Digitalisering] Uge 47: 5 nye indlæg fra 3 kilder"
    assert decoded["From"] == "Økonomi og ældrepleje <nyt@offentlig-digitalisering.dk>"


@pytest.mark.parametrize(
    "title",
    [
        "Økonomi og ældrepleje i Region Hovedstaden og Region Sjælland: uge for uge, år for år",
        'Nyt fra "KL" og KOMBIT \\ <digitalisering> i kommunerne, stat og regioner, hver uge',
    ],
    ids=["long Danish", "ASCII with quotes"],
)
def test_a_long_title_is_a_valid_list_id_when_sent_and_previewed(
    week_of_posts, store, inbox, tmp_path, title
):
    """A folded title must not break the List-Id header (it did from 62 characters of æøå)."""
    config = week_of_posts(
        site={"title": title, "base_url": "https://x.dk/"},
        digest={"recipients": ["a@kommune.dk"]},
        smtp=smtp(inbox),
    )
    preview = preview_digest(config, store, NOW, out_dir=tmp_path / "preview")
    send_digest(config, store, NOW)
    for raw in (inbox.messages[0].raw, preview.files[0].read_bytes()):
        headers = raw.split(b"\r\n\r\n")[0].replace(b"\r\n ", b" ").split(b"\r\n")
        [line] = [h for h in headers if h.startswith(b"List-Id:")]
        assert line.isascii()
        decoded = message_from_bytes(raw, policy=policy.default)
        list_id = str(decoded["List-Id"])
        assert list_id.endswith(" <default.digest.x.dk>"), list_id
        shown = list_id.removesuffix(" <default.digest.x.dk>").strip('"').replace('\\"', '"')
        assert shown.replace("\\\\", "\\") == title.replace("<", "").replace(">", "")


def test_a_rerun_sends_nothing_and_force_sends_again(week_of_posts, store, inbox):
    config = week_of_posts(digest={"recipients": ["a@kommune.dk"]}, smtp=smtp(inbox))
    send_digest(config, store, NOW)
    again = send_digest(config, store, NOW + timedelta(hours=1))
    assert again.skipped_reason is not None
    assert "already sent" in again.skipped_reason
    assert len(inbox.messages) == 1
    send_digest(config, store, NOW, force=True)
    assert len(inbox.messages) == 2


def test_unreachable_server_is_a_clear_error_and_the_recipient_stays_to_do(
    week_of_posts, store, inbox
):
    config = week_of_posts(
        digest={"recipients": ["a@kommune.dk"]},
        smtp={"host": "127.0.0.1", "port": free_port(), "retry_seconds": 0},
    )
    with pytest.raises(DigestError, match=r"cannot send the digest through 127\.0\.0\.1"):
        send_digest(config, store, NOW)
    run = store.ledger.run("default", WEEK_47.start_utc)
    [delivery] = store.ledger.deliveries(run.id)
    assert delivery.state == "retry"
    fixed = config.model_copy(update={"smtp": config.smtp.model_copy(update={"port": inbox.port})})
    assert send_digest(fixed, store, NOW).sent_to == ("a@kommune.dk",)
    assert inbox.copies() == {"a@kommune.dk": 1}


def test_a_server_down_past_catch_up_hours_fails_the_run_with_its_reason(week_of_posts, store):
    config = week_of_posts(
        digest={"recipients": ["a@kommune.dk", "b@kommune.dk"], "catch_up_hours": 24},
        smtp={"host": "127.0.0.1", "port": free_port(), "retry_seconds": 0},
    )
    for hours in (0, 1, 23):  # no recipient is charged while the digest can still catch up
        with pytest.raises(DigestError, match="cannot send the digest through"):
            send_digest(config, store, NOW + timedelta(hours=hours))
    run = store.ledger.run("default", WEEK_47.start_utc)
    assert [(d.state, d.attempts) for d in store.ledger.deliveries(run.id)] == [("retry", 0)] * 2
    with pytest.raises(DigestError, match="cannot send the digest through"):
        send_digest(config, store, NOW + timedelta(hours=24))
    deliveries = store.ledger.deliveries(run.id)
    assert [d.state for d in deliveries] == ["failed", "failed"]
    assert all("gave up: the server still fails" in (d.last_reply or "") for d in deliveries)


def test_451_is_retried_in_the_run_and_550_fails_with_the_servers_words(
    week_of_posts, store, inbox
):
    config = week_of_posts(
        digest={"recipients": ["grey@kommune.dk", "gone@kommune.dk", "ok@kommune.dk"]},
        smtp=smtp(inbox, retry_seconds=30, retry_wait_seconds=120),
    )
    inbox.rcpt_replies["grey@kommune.dk"] = ["451 4.7.1 Greylisted, try again", "451 4.7.1 Still"]
    inbox.rcpt_replies["gone@kommune.dk"] = ["550 5.1.1 Mailbox ukendt: gone@kommune.dk"]
    clock = Ticking(NOW)
    outcome = send_digest(config, store, NOW, clock=clock, sleep=clock.sleep)
    assert inbox.copies() == {"grey@kommune.dk": 1, "ok@kommune.dk": 1}
    states = {d.recipient: d for d in outcome.deliveries}
    assert states["grey@kommune.dk"].state == "sent"
    assert states["grey@kommune.dk"].attempts == 3
    assert clock.now - NOW == timedelta(seconds=30 + 60)  # backoff: 30 s, then 60 s
    assert states["gone@kommune.dk"].state == "failed"
    assert states["gone@kommune.dk"].last_reply == "RCPT: 550 5.1.1 Mailbox ukendt: gone@kommune.dk"
    assert "already sent" in str(send_digest(config, store, NOW).skipped_reason)


def test_a_retry_beyond_the_wait_is_left_for_later_runs(week_of_posts, store, inbox):
    config = week_of_posts(
        digest={"recipients": ["grey@kommune.dk"]},
        smtp=smtp(inbox, retry_seconds=600, retry_wait_seconds=60),
    )
    inbox.rcpt_replies["grey@kommune.dk"] = ["451 4.7.1 Greylisted"]
    clock = Ticking(NOW)
    outcome = send_digest(config, store, NOW, clock=clock, sleep=clock.sleep)
    [delivery] = outcome.deliveries
    assert delivery.state == "retry"
    assert delivery.next_attempt_at == NOW + timedelta(seconds=600)
    assert not inbox.messages
    clock.now += timedelta(seconds=601)
    later = send_digest(config, store, NOW, clock=clock, sleep=clock.sleep)
    assert later.sent_to == ("grey@kommune.dk",)
    assert inbox.copies() == {"grey@kommune.dk": 1}


def test_late_post_is_in_the_next_digest(server, make_config, store, inbox):
    """Dated Sunday 23:30 of week 47, first seen Monday 08:00 after week 47's digest."""
    sunday_night = datetime(2026, 11, 22, 22, 30, tzinfo=UTC)
    early = Item("Tidlig post om æøå", "https://os2.eu/tidlig", "<p>Tidlig.</p>",
                 datetime(2026, 11, 20, 10, 0, tzinfo=UTC), guid="early")  # fmt: skip
    late = Item("Sen post om Ærø", "https://os2.eu/sen", "<p>Sen.</p>", sunday_night, guid="late")
    url = server.static_feed("/os2", rss("OS2", "https://os2.eu/", [early]))
    config = make_config(
        [{"name": "OS2", "url": url}],
        digest={"recipients": ["a@kommune.dk"]},
        smtp=smtp(inbox),
    )
    poll(config, store, clock=lambda: datetime(2026, 11, 20, 12, 0, tzinfo=UTC))
    week_47 = send_digest(config, store, datetime(2026, 11, 23, 6, 0, tzinfo=UTC))
    assert week_47.entry_count == 1
    server.static_feed("/os2", rss("OS2", "https://os2.eu/", [late, early]))
    poll(config, store, clock=lambda: datetime(2026, 11, 23, 7, 0, tzinfo=UTC))
    week_48 = send_digest(config, store, datetime(2026, 11, 30, 6, 0, tzinfo=UTC))
    assert week_48.period.slug == "2026-W48"
    assert week_48.entry_count == 1
    text = inbox.messages[1].message.get_body(("plain",)).get_content()
    assert "Sen post om Ærø" in text
    assert "Tidlig post" not in text
    assert "Uge 48" in text


def test_archive_finds_are_left_out(server, make_config, store):
    old = Item("Gammel post", "https://os2.eu/gammel", "<p>x</p>",
               datetime(2026, 10, 1, 10, 0, tzinfo=UTC), guid="old")  # fmt: skip
    new = Item("Ny post", "https://os2.eu/ny", "<p>y</p>",
               datetime(2026, 11, 19, 10, 0, tzinfo=UTC), guid="new")  # fmt: skip
    url = server.static_feed("/os2", rss("OS2", "https://os2.eu/", [new, old]))
    config = make_config([{"name": "OS2", "url": url}])
    poll(config, store, clock=lambda: POLLED)
    from aggregator.digest import assemble

    digest = assemble(config, store, config.named_digest("default"), WEEK_47, _window(WEEK_47))
    assert [i.title for g in digest.groups for i in g.items] == ["Ny post"]


WEEK_49 = week_containing(date(2026, 12, 2), CPH)


def _gap_feed(server, make_config, inbox):
    """A feed first polled on 20 Nov with a back catalogue (one post of 1 Oct); the feed is
    then down for twelve days, and back inside week 49 (review 5 #15)."""
    back = WEEK_49.end_utc - timedelta(hours=12)  # Sunday noon of week 49
    before = back - timedelta(days=12)
    old = Item("Gammel post fra arkivet", "https://os2.eu/gammel", "<p>x</p>",
               datetime(2026, 10, 1, 10, 0, tzinfo=UTC), guid="old")  # fmt: skip
    url = server.static_feed("/os2", rss("OS2", "https://os2.eu/", [old]))
    config = make_config([{"name": "OS2 Ærø", "url": url}],
                         digest={"recipients": ["a@kommune.dk"]}, smtp=smtp(inbox))  # fmt: skip
    return config, url, old, before, back


def _posts_of_the_gap(server, old, before, back):
    p1 = Item(
        "Skrevet mens serveren var nede, æøå",
        "https://os2.eu/p1",
        "<p>Vigtig nyhed om digitalisering.</p>",
        back - timedelta(days=9),
        guid="p1",
    )
    p2 = Item(
        "Skrevet i går",
        "https://os2.eu/p2",
        "<p>Ny tekst.</p>",
        back - timedelta(days=1),
        guid="p2",
    )
    # First shown now, but dated three weeks before the last good poll: truly old.
    found = Item("Fundet i arkivet", "https://os2.eu/fundet", "<p>z</p>",
                 before - timedelta(days=21), guid="found")  # fmt: skip
    server.static_feed("/os2", rss("OS2", "https://os2.eu/", [p2, p1, found, old]))


def test_a_post_published_while_its_feed_was_down_for_a_week_is_in_the_next_digest(
    server, make_config, store, inbox
):
    from tests.feedserver import Response

    config, url, old, before, back = _gap_feed(server, make_config, inbox)
    poll(config, store, clock=lambda: before)
    server.static("/os2", Response(503, b"down"))
    poll(config, store, clock=lambda: before + timedelta(days=5))  # a failed poll
    _posts_of_the_gap(server, old, before, back)
    # A feed added today, whose back catalogue (a post of 30 days ago) is no news.
    added = server.static_feed("/kl", rss("KL", "https://www.kl.dk/", [
        Item("KL i denne uge", "https://www.kl.dk/ny", "<p>a</p>", back - timedelta(days=2)),
        Item("KL for en måned siden", "https://www.kl.dk/gl", "<p>b</p>",
             back - timedelta(days=30)),
    ]))  # fmt: skip
    config = make_config([{"name": "OS2 Ærø", "url": url}, {"name": "KL", "url": added}],
                         digest={"recipients": ["a@kommune.dk"]}, smtp=smtp(inbox))  # fmt: skip
    poll(config, store, clock=lambda: back)
    outcome = send_digest(config, store, WEEK_49.end_utc + timedelta(hours=6))
    assert outcome.period == WEEK_49
    assert outcome.sent_to == ("a@kommune.dk",)
    [message] = inbox.messages
    text = message.message.get_body(("plain",)).get_content()
    assert "Skrevet mens serveren var nede, æøå" in text  # dated 9 days before first seen
    assert "Skrevet i går" in text
    assert "Fundet i arkivet" not in text  # three weeks before the last good poll
    assert "KL i denne uge" in text
    assert "KL for en måned siden" not in text
    assert outcome.entry_count == 3


def test_a_feeds_back_catalogue_is_no_news_also_when_the_feed_is_put_back(
    server, make_config, store, inbox
):
    """A feed taken out of feeds.yaml and put back twelve days later: what it published
    meanwhile is its back catalogue, as on a first poll (only the last week is news)."""
    config, _url, old, before, back = _gap_feed(server, make_config, inbox)
    poll(config, store, clock=lambda: before)
    store.sync_feeds([], before + timedelta(days=1))  # taken out
    _posts_of_the_gap(server, old, before, back)
    poll(config, store, clock=lambda: back)  # put back: syncs it again
    outcome = send_digest(config, store, WEEK_49.end_utc + timedelta(hours=6))
    text = inbox.messages[0].message.get_body(("plain",)).get_content()
    assert "Skrevet i går" in text
    assert "Skrevet mens serveren var nede" not in text
    assert outcome.entry_count == 1


def test_an_earlier_period_than_the_last_digest_is_refused(week_of_posts, store, inbox):
    config = week_of_posts(digest={"recipients": ["a@kommune.dk"]}, smtp=smtp(inbox))
    send_digest(config, store, NOW)
    with pytest.raises(DigestError, match="is not after the last 'default' digest"):
        send_digest(config, store, NOW, period=parse_week("2026-W45", CPH))


def test_empty_period_is_skipped_by_default_and_a_note_by_setting(
    make_config, store, inbox, tmp_path
):
    config = make_config([], digest={"recipients": ["a@kommune.dk"]}, smtp=smtp(inbox))
    outcome = send_digest(config, store, NOW)
    assert outcome.skipped_reason == "nothing new: not sent"
    assert not inbox.messages
    noted = make_config(
        [], digests=[{"name": "ledelse", "recipients": ["a@kommune.dk"], "empty": "send"}],
        smtp=smtp(inbox),
    )  # fmt: skip
    outcome = send_digest(noted, store, NOW, name="ledelse")
    assert outcome.sent_to == ("a@kommune.dk",)
    message = inbox.messages[0].message
    assert message["Subject"] == "Offentlig digitalisering · uge 47: intet nyt"
    assert "Der er ikke kommet nye indlæg" in message.get_body(("plain",)).get_content()


def test_named_digests_filter_group_and_speak_their_language(week_of_posts, store, inbox):
    config = week_of_posts(
        digests=[
            {"name": "kommuner", "recipients": ["k@kommune.dk"], "tags": ["kommuner"],
             "group_by": "tag", "language": "en"},
            {"name": "stat", "recipients": ["s@stat.dk"], "sources": ["OS2"],
             "title": "Staten", "max_items_per_group": 1},
        ],
        smtp=smtp(inbox),
    )  # fmt: skip
    assert [d.name for d in config.all_digests] == ["kommuner", "stat"]
    send_digest(config, store, NOW, name="kommuner")
    send_digest(config, store, NOW, name="stat")
    by_address = {m.recipients[0]: m.message for m in inbox.messages}
    kommuner = by_address["k@kommune.dk"].get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "Week 47" in kommuner
    assert "\nkommuner\n========" in kommuner
    assert "Ny vejledning om MitID Erhverv" not in kommuner  # a Digst-only post
    stat = by_address["s@stat.dk"]
    assert stat["Subject"].startswith("Staten · uge 47: ")
    text = stat.get_body(("plain",)).get_content()
    assert "og 2 mere: se dem alle på siden [2]" in text
    assert stat["List-Id"] == '"Staten" <stat.digest.planet.example.dk>'


def test_legacy_digest_section_is_the_default_digest(make_config):
    config = make_config([], digest={"recipients": ["a@kommune.dk"], "day": "fri"})
    [default] = config.all_digests
    assert (default.name, default.day, default.recipients) == ("default", "fri", ("a@kommune.dk",))


def test_preview_is_private_has_no_addresses_and_leaves_the_ledger(week_of_posts, store, tmp_path):
    config = week_of_posts(digest={"recipients": ["secret@kommune.dk"]})
    outcome = preview_digest(config, store, NOW)
    assert outcome.period.slug == "2026-W47"  # the coming send is last week's
    names = sorted(p.name for p in outcome.files)
    assert names == ["default-2026-W47.eml", "default-2026-W47.html", "default-2026-W47.txt"]
    folder = outcome.files[0].parent
    assert folder == (tmp_path / "digest-previews").resolve()
    assert folder.stat().st_mode & 0o077 == 0
    for path in outcome.files:
        assert b"secret@kommune.dk" not in path.read_bytes()
        assert path.stat().st_mode & 0o077 == 0
    message = message_from_bytes(outcome.files[0].read_bytes(), policy=policy.default)
    assert message["To"] == "recipient@example.invalid"
    assert "Søren Ærø" in outcome.files[1].read_text(encoding="utf-8")
    assert store.ledger.latest_run("default") is None
    assert not (config.output_dir).exists() or not list(config.output_dir.rglob("*.eml"))
    with pytest.raises(DigestError, match="inside the published output"):
        preview_digest(config, store, NOW, out_dir=config.output_dir / "x")


def test_archive_page_index_and_feed_have_no_addresses(week_of_posts, store, inbox):
    config = week_of_posts(digest={"recipients": ["secret@kommune.dk"]}, smtp=smtp(inbox))
    outcome = send_digest(config, store, NOW)
    page = config.output_dir / "digests" / "2026-W47.html"
    assert page in outcome.files
    for path in (page, config.output_dir / "digests" / "index.html",
                 config.output_dir / "digests" / "atom.xml"):  # fmt: skip
        assert b"secret@kommune.dk" not in path.read_bytes()
    assert "Fælles kommunal cloud" in page.read_text(encoding="utf-8")
    assert 'href="2026-W47.html"' in (config.output_dir / "digests" / "index.html").read_text()
    import feedparser

    feed = feedparser.parse((config.output_dir / "digests" / "atom.xml").read_bytes())
    [entry] = feed.entries
    assert entry.link == "https://planet.example.dk/digests/2026-W47.html"


# A week larger than one message: groups past MAX_GROUPS are counted, not built.


def _post(number: int, feeds: int) -> StoredEntry:
    feed = number % feeds
    site = f"https://blog{feed}.example.dk/"
    source = SourceRef(f"{site}feed/", f"Blog {feed}", f"Blog {feed:03d} – æøå", site, None)
    at = WEEK_47.start_utc + timedelta(minutes=7 * number + 5)
    return StoredEntry(
        id=f"id-{number:05d}", title=f"Indlæg {number} om velfærd", author=None,
        link=f"https://blog{feed}.example.dk/{number}/", content_html="",
        summary_text="Kommunen vil dele data med borgerne.", published=at, updated=at,
        first_seen=at, sources=(source,),
    )  # fmt: skip


def test_a_week_of_more_sources_than_a_message_holds_shows_the_first_and_counts_the_rest():
    entries = [_post(n, 400) for n in range(800)]
    digest = build_digest(entries, WEEK_47, "Offentlig digitalisering")
    assert len(digest.groups) == MAX_GROUPS
    assert [g.name for g in digest.groups[:2]] == ["Blog 000 – æøå", "Blog 001 – æøå"]
    assert digest.groups[0].items[0].title == "Indlæg 400 om velfærd"  # newest first
    assert digest.left_out == LeftOut(groups=400 - MAX_GROUPS, posts=2 * (400 - MAX_GROUPS),
                                      sources=400 - MAX_GROUPS)  # fmt: skip
    assert (digest.entry_count, digest.source_count) == (800, 400)
    rendered = render_digest(digest)
    assert len(rendered.html.encode("utf-8")) <= HTML_LIMIT
    assert rendered.subject.endswith("uge 47: 800 nye indlæg")
    assert "800 nye indlæg fra 400 kilder" in rendered.text
    # Fewer groups still were rendered to fit the limit; the line counts every left-out post.
    shown = sum(g.name in rendered.text for g in digest.groups)
    assert 1 < shown < MAX_GROUPS
    line = next(x for x in rendered.text.splitlines() if x.startswith("Og "))
    assert line == f"Og {800 - 2 * shown} indlæg mere fra {400 - shown} andre kilder"
    assert "andre kilder" in rendered.html
    english = render_digest(digest, "en")
    assert "more posts from" in english.text
    assert "800 new posts from 400 sources" in english.text


def test_a_message_of_max_groups_of_one_tiny_post_each_is_over_the_size_limit():
    """Why MAX_GROUPS loses nothing: a digest of that many groups never fits one message."""
    at = WEEK_47.start_utc + timedelta(hours=1)
    groups = tuple(
        DigestGroup(str(n), None, (DigestItem("x", None, "", at, None, str(n), ()),))
        for n in range(MAX_GROUPS)
    )
    digest = Digest("default", "T", WEEK_47, _window(WEEK_47), groups)
    context = _context(digest, "da", *_new_marks())
    html = _inliner().inline(_ENV.get_template("digest.html").render(
        context, subject="", with_unsubscribe=False, personal=True))  # fmt: skip
    assert len(html.encode("utf-8")) > HTML_LIMIT


@pytest.mark.parametrize(
    "digest",
    [
        {},
        {"group_by": "tag"},
        {"tags": ["stat"]},
        {"sources": ["KL"], "group_by": "tag", "order": "oldest"},
        {"max_items_per_group": 1},
        {"archive_after_days": 3.5},  # the posts of the 19th only
    ],
)
def test_the_digest_read_from_the_store_is_the_one_built_from_every_post(
    week_of_posts, store, digest
):
    from aggregator.digest import assemble
    from aggregator.digest.deliver import feed_facts, links

    config = week_of_posts(digest=digest)
    settings = config.named_digest("default")
    window = _window(WEEK_47)
    every = store.entries_first_seen_between(window.start, window.end, content=False)
    expected = build_digest(every, WEEK_47, config.site.title, settings, window=window,
                            feeds=feed_facts(config), links=links(config))  # fmt: skip
    assert assemble(config, store, settings, WEEK_47, window) == expected
    assert expected.entry_count > 0


RELAY = ["vip@kommune.dk", "ekstern@firma.dk", "ekstern@region.dk", "anden@stat.dk"]


def _ledger_rows(store):
    run = store.ledger.run("default", WEEK_47.start_utc)
    return sorted((d.recipient, d.state, d.attempts) for d in store.ledger.deliveries(run.id))


def test_a_relay_refusing_every_recipient_is_the_servers_failure_not_theirs(
    week_of_posts, store, inbox
):
    """554 5.7.1 at RCPT for everyone (an unauthenticated relay): deferred like a refused
    sender, nobody charged; once the admin fixes the login, each gets one copy."""
    config = week_of_posts(digest={"recipients": RELAY, "catch_up_hours": 500}, smtp=smtp(inbox))
    for address in RELAY:
        inbox.rcpt_replies[address] = ["554 5.7.1 <" + address + ">: Relay access denied"]
    with pytest.raises(DigestError, match="refused every recipient at RCPT") as raised:
        send_digest(config, store, NOW)
    assert "554 5.7.1" in str(raised.value)
    assert "smtp.username" in str(raised.value)
    assert _ledger_rows(store) == sorted((a, "retry", 0) for a in RELAY)
    assert inbox.copies() == {}
    for address in RELAY:
        inbox.rcpt_replies[address] = []  # the admin set smtp.username
    outcome = send_digest(config, store, NOW + timedelta(minutes=5), retry_now=True)
    assert sorted(outcome.sent_to) == sorted(RELAY)
    assert inbox.copies() == dict.fromkeys(RELAY, 1)


def test_every_recipient_of_a_short_list_refused_for_policy_is_deferred_too(
    week_of_posts, store, inbox
):
    pair = RELAY[:2]
    config = week_of_posts(digest={"recipients": pair, "catch_up_hours": 500}, smtp=smtp(inbox))
    for address in pair:
        inbox.rcpt_replies[address] = ["550 5.7.1 Unable to relay"]
    with pytest.raises(DigestError, match="refused every recipient at RCPT"):
        send_digest(config, store, NOW)
    assert _ledger_rows(store) == sorted((a, "retry", 0) for a in pair)


def test_one_recipient_refused_for_policy_or_unknown_fails_only_that_one(
    week_of_posts, store, inbox
):
    """The relay takes the others: 5.7.1 for one address (a blocked recipient) and 5.1.1
    (no such mailbox) are those recipients' answers, failed for good."""
    config = week_of_posts(digest={"recipients": RELAY, "catch_up_hours": 500}, smtp=smtp(inbox))
    inbox.rcpt_replies[RELAY[0]] = ["550 5.7.1 Recipient address rejected: Access denied"]
    inbox.rcpt_replies[RELAY[2]] = ["550 5.1.1 Mailbox ukendt"]
    outcome = send_digest(config, store, NOW)
    assert sorted(outcome.sent_to) == sorted([RELAY[1], RELAY[3]])
    failed = {d.recipient: d.last_reply for d in outcome.in_state("failed")}
    assert failed == {
        RELAY[0]: "RCPT: 550 5.7.1 Recipient address rejected: Access denied",
        RELAY[2]: "RCPT: 550 5.1.1 Mailbox ukendt",
    }
    assert inbox.copies() == {RELAY[1]: 1, RELAY[3]: 1}
