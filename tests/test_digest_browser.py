"""The digest's HTML part as received over SMTP, and the archive pages, in a real chromium at
phone and desktop width: no horizontal scroll, no serious accessibility fault, screenshots
kept in artifacts/screenshots/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aggregator.digest import send_digest
from aggregator.pipeline import poll
from tests.browser import check_page
from tests.conftest import serve_fixture
from tests.feedgen import Item, rss
from tests.feedserver import Response

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
POLLED = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def _html(server, path: str, body: bytes):
    return server.route(
        path, lambda _: Response(200, body, {"Content-Type": "text/html; charset=utf-8"})
    )


def test_received_digest_and_archive_read_well_at_375_and_1280(
    browser, server, make_config, store, inbox
):
    long_word = "Digitaliseringsstyrelsesvejledningsopdateringsbekendtgørelsen" * 2
    hostile = [
        Item(f"{long_word} nr. {n}", f"https://os2.eu/{'x' * 120}/{n}",
             f"<p>{long_word} https://os2.eu/{'y' * 150} Sætning ét. Sætning to.</p>",
             POLLED - timedelta(hours=n), guid=f"lang-{n}", author="Åse Østergård")
        for n in range(14)
    ]  # fmt: skip
    feeds = [
        {"name": "OS2", "url": serve_fixture(server, "rss20.xml", "/os2"), "priority": 1},
        {"name": "Digst", "url": serve_fixture(server, "atom10.xml", "/digst")},
        {"name": "KL", "url": serve_fixture(server, "rss10.rdf", "/kl")},
        {"name": "Lang", "url": server.static_feed("/lang", rss("Lange ord", "https://x.dk/",
                                                                  hostile))},
        {"name": "Nede", "url": server.url("/nede")},
    ]  # fmt: skip
    config = make_config(
        feeds,
        digest={"recipients": ["digitalisering@kommune.dk"], "failed_sources": True,
                "unsubscribe_url": "https://planet.example.dk/afmeld?a={address}"},
        smtp={"host": inbox.host, "port": inbox.port},
    )  # fmt: skip
    # "Nede" fails from before the week began, so it is in the feed-health section.
    poll(config, store, [config.feeds[-1]], clock=lambda: POLLED - timedelta(days=8))
    poll(config, store, clock=lambda: POLLED)
    outcome = send_digest(config, store, NOW)
    assert outcome.sent_to == ("digitalisering@kommune.dk",)
    [received] = inbox.messages
    html = received.message.get_body(("html",)).get_content()
    assert "og 4 mere" in html  # 14 long posts, 10 shown
    assert "Kilder uden svar hele perioden" in html
    assert "Nede: fejler siden 14. nov." in html
    assert len(html.encode("utf-8")) < 100 * 1024
    check = check_page(browser, _html(server, "/mail.html", html.encode("utf-8")), "digest-email")
    assert check.violations == (), check.describe()

    page = (config.output_dir / "digests" / "2026-W47.html").read_bytes()
    assert b"digitalisering@kommune.dk" not in page
    check = check_page(browser, _html(server, "/archive.html", page), "digest-archive-page")
    assert check.violations == (), check.describe()
    index = (config.output_dir / "digests" / "index.html").read_bytes()
    check = check_page(browser, _html(server, "/index.html", index), "digest-archive-index")
    assert check.violations == (), check.describe()
