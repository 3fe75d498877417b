from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from zoneinfo import ZoneInfo

import pytest

from aggregator.digest import last_complete_week, parse_week, run_digest
from aggregator.digest.build import build_digest, week_containing
from aggregator.digest.render import render_digest
from aggregator.errors import DigestError
from aggregator.pipeline import poll
from tests.conftest import free_port, serve_fixture

CPH = ZoneInfo("Europe/Copenhagen")
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # a Wednesday in week 48
WEEK_47 = week_containing(date(2026, 11, 18), CPH)


def test_last_complete_week_runs_monday_to_monday_in_copenhagen():
    period = last_complete_week(NOW, CPH)
    assert period.start == datetime(2026, 11, 16, tzinfo=CPH)
    assert period.end == datetime(2026, 11, 23, tzinfo=CPH)
    assert period.start_utc == datetime(2026, 11, 15, 23, 0, tzinfo=UTC)
    assert period.slug == "2026-W47"
    # Sunday night just before midnight local time still belongs to the week before.
    sunday_late = datetime(2026, 11, 22, 22, 30, tzinfo=UTC)  # Sunday 23:30 local
    assert last_complete_week(sunday_late, CPH).slug == "2026-W46"
    monday_early = datetime(2026, 11, 22, 23, 30, tzinfo=UTC)  # 00:30 Monday local
    assert last_complete_week(monday_early, CPH).slug == "2026-W47"


def test_a_week_with_a_dst_change_has_169_hours():
    period = week_containing(date(2026, 10, 21), CPH)
    assert period.end_utc - period.start_utc == timedelta(hours=169)


@pytest.mark.parametrize("text", ["2026-W47", "2026-w47", "2026-11-16", "2026-11-22"])
def test_parse_week(text):
    assert parse_week(text, CPH) == WEEK_47


def test_parse_week_rejects_nonsense():
    with pytest.raises(ValueError, match="not a week"):
        parse_week("next tuesday", CPH)


@pytest.fixture
def week_of_posts(server, make_config, store):
    def make(**sections):
        feeds = [
            {"name": "OS2", "url": serve_fixture(server, "rss20.xml", "/os2"),
             "priority": 1},
            {"name": "Digst", "url": serve_fixture(server, "atom10.xml", "/digst")},
            {"name": "KL", "url": serve_fixture(server, "rss10.rdf", "/kl")},
        ]  # fmt: skip
        config = make_config(feeds, **sections)
        poll(config, store, clock=lambda: NOW)
        return config

    return make


def test_digest_groups_the_week_by_source(week_of_posts, store):
    week_of_posts()
    entries = store.entries_published_between(WEEK_47.start_utc, WEEK_47.end_utc)
    digest = build_digest(entries, WEEK_47, "Offentlig digitalisering")
    assert [g.source for g in digest.groups] == [
        "Digitaliseringsstyrelsen",
        "KL – digitalisering",
        "OS2 – nyheder",
    ]
    assert digest.entry_count == 5
    os2 = digest.groups[2]
    assert os2.items[0].title == "Fælles kommunal cloud: næste skridt"
    assert os2.items[0].also_in == ("Digitaliseringsstyrelsen",)
    assert os2.items[0].published.tzinfo == CPH


def test_rendered_digest_is_danish_by_default_and_english_by_setting(week_of_posts, store):
    week_of_posts()
    entries = store.entries_published_between(WEEK_47.start_utc, WEEK_47.end_utc)
    digest = build_digest(entries, WEEK_47, "Offentlig digitalisering")
    danish = render_digest(digest)
    assert danish.subject == "Offentlig digitalisering: uge 47, 2026"
    assert (
        "5 nye indlæg fra 3 kilder i ugen 16. november 2026 til 22. november 2026." in danish.text
    )
    assert "Også i: Digitaliseringsstyrelsen" in danish.text
    assert '<html lang="da">' in danish.html
    english = render_digest(digest, "en")
    assert english.subject == "Offentlig digitalisering: week 47, 2026"
    assert "5 new posts from 3 sources" in english.text
    assert "Also in: Digitaliseringsstyrelsen" in english.html


def test_empty_week_says_so(store):
    digest = build_digest([], WEEK_47, "Offentlig digitalisering")
    assert "Der blev ikke udgivet noget nyt" in render_digest(digest).text


def test_titles_are_escaped_in_the_html_part(server, make_config, store):
    url = serve_fixture(server, "hostile.xml", "/evil")
    poll(make_config([{"name": "Evil", "url": url}]), store, clock=lambda: NOW)
    entries = store.entries_published_between(WEEK_47.start_utc, WEEK_47.end_utc)
    html = render_digest(build_digest(entries, WEEK_47, "T")).html
    assert "<img src=x" not in html
    assert "Angreb" in html
    assert "<script" not in html


def test_digest_is_sent_through_smtp_as_multipart(week_of_posts, store, inbox):
    config = week_of_posts(
        digest={"recipients": ["digitalisering@kommune.dk", "it-chef@region.dk"]},
        smtp={"host": inbox.host, "port": inbox.port, "from": "nyt@offentlig-digitalisering.dk"},
    )
    outcome = run_digest(config, store, NOW)
    assert outcome.sent_to == ("digitalisering@kommune.dk", "it-chef@region.dk")
    assert outcome.entry_count == 5
    [received] = inbox.messages
    assert received.recipients == ["digitalisering@kommune.dk", "it-chef@region.dk"]
    assert received.sender == "nyt@offentlig-digitalisering.dk"
    message = received.message
    assert message["Subject"] == "Offentlig digitalisering: uge 47, 2026"
    assert message["To"] == "digitalisering@kommune.dk, it-chef@region.dk"
    assert message["From"] == "nyt@offentlig-digitalisering.dk"
    assert message["Message-ID"].endswith("@offentlig-digitalisering.dk>")
    assert message["Date"]
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain.get_content_charset() == "utf-8"
    assert html.get_content_charset() == "utf-8"
    for part in (plain.get_content(), html.get_content()):
        assert "Fælles kommunal cloud: næste skridt" in part
        assert "Søren Ærø" in part
        assert "Ny vejledning om MitID Erhverv" in part
    assert max(len(line) for line in received.raw.splitlines()) <= 998  # RFC 5322 line limit


def test_non_ascii_subject_is_encoded_on_the_wire(week_of_posts, store, inbox):
    config = week_of_posts(
        site={"title": "Økonomi og ældrepleje", "base_url": "https://x.dk/"},
        digest={"recipients": ["a@kommune.dk"]},
        smtp={"host": inbox.host, "port": inbox.port},
    )
    run_digest(config, store, NOW)
    raw = inbox.messages[0].raw
    subject_line = next(line for line in raw.splitlines() if line.startswith(b"Subject:"))
    assert subject_line.isascii()
    assert b"=?utf-8?" in subject_line.lower()
    decoded = message_from_bytes(raw, policy=policy.default)
    assert decoded["Subject"] == "Økonomi og ældrepleje: uge 47, 2026"


def test_same_week_is_not_sent_twice_unless_forced(week_of_posts, store, inbox):
    config = week_of_posts(
        digest={"recipients": ["a@kommune.dk"]}, smtp={"host": inbox.host, "port": inbox.port}
    )
    run_digest(config, store, NOW)
    again = run_digest(config, store, NOW + timedelta(hours=1))
    assert again.skipped_reason is not None
    assert "already sent" in again.skipped_reason
    assert len(inbox.messages) == 1
    run_digest(config, store, NOW, force=True)
    assert len(inbox.messages) == 2


def test_unreachable_smtp_server_is_a_clear_error_and_nothing_is_recorded(week_of_posts, store):
    config = week_of_posts(
        digest={"recipients": ["a@kommune.dk"]}, smtp={"host": "127.0.0.1", "port": free_port()}
    )
    with pytest.raises(DigestError, match=r"cannot send the digest through 127\.0\.0\.1"):
        run_digest(config, store, NOW)
    assert store.digest_record(WEEK_47.start_utc) is None


def test_dry_run_writes_eml_and_html(week_of_posts, store, tmp_path):
    config = week_of_posts(digest={"recipients": ["a@kommune.dk"]})
    outcome = run_digest(config, store, NOW, out_dir=tmp_path / "out")
    names = sorted(p.name for p in outcome.files)
    assert names == ["digest-2026-W47.eml", "digest-2026-W47.html"]
    message = message_from_bytes((tmp_path / "out" / names[0]).read_bytes(), policy=policy.default)
    assert message["Subject"] == "Offentlig digitalisering: uge 47, 2026"
    assert "Søren Ærø" in (tmp_path / "out" / names[1]).read_text(encoding="utf-8")
    assert store.digest_record(WEEK_47.start_utc) is None  # a dry run is not a send
