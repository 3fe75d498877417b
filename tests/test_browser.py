"""The browser helper itself: it must catch what it claims to catch, or page tests prove nothing."""

from __future__ import annotations

import pytest

from tests.browser import check_page
from tests.feedserver import FeedServer, Response

GOOD = """<!doctype html><html lang="da"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Blåbær</title></head>
<body><main><h1>Blåbær på Ærø</h1><p>Kort tekst.</p></main></body></html>"""
WIDE = GOOD.replace("<p>Kort tekst.</p>", '<div style="width:900px">bred</div>')
UNLABELLED = GOOD.replace("<p>Kort tekst.</p>", '<form><input type="text"></form>')


def _serve(server: FeedServer, path: str, html: str) -> str:
    body = html.encode("utf-8")
    return server.route(
        path, lambda _: Response(200, body, {"Content-Type": "text/html; charset=utf-8"})
    )


def test_a_clean_page_passes_and_leaves_two_screenshots(browser, server):
    check = check_page(browser, _serve(server, "/good", GOOD), "selftest-good")
    assert check.violations == ()
    assert [shot.name for shot in check.screenshots] == [
        "selftest-good-375.png",
        "selftest-good-1280.png",
    ]
    assert all(shot.stat().st_size > 1000 for shot in check.screenshots)


def test_horizontal_scroll_on_a_phone_fails(browser, server):
    with pytest.raises(AssertionError, match="px wide at 375 px"):
        check_page(browser, _serve(server, "/wide", WIDE), "selftest-wide")


def test_axe_reports_a_serious_violation(browser, server):
    check = check_page(browser, _serve(server, "/form", UNLABELLED), "selftest-axe")
    assert "label" in {v["id"] for v in check.violations}, check.describe()


def test_the_poller_still_runs_its_own_event_loop_beside_the_browser(browser):
    import asyncio

    assert browser.run(lambda chromium: chromium.is_connected())
    assert asyncio.run(asyncio.sleep(0, result="ok")) == "ok"
