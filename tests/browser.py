"""A real headless browser for page tests: Debian's chromium driven by Playwright.

Playwright's own browser download cannot work here, so the system chromium is launched by path.
`check_page` is what every page test wants: both widths, no horizontal scroll, a screenshot kept
as an artifact, and an axe-core scan (axe.min.js as shipped by axe-playwright-python).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
WIDTHS = (375, 1280)
# Without these, chromium keeps trying to reach Google's hosts on a machine with no network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass(frozen=True)
class PageCheck:
    """What a page looked like at each width, and what axe found at the widest."""

    screenshots: tuple[Path, ...]
    violations: tuple[dict[str, Any], ...]  # serious and critical only

    def describe(self) -> str:
        return "; ".join(
            f"{v['id']} ({v['impact']}): {v['help']} x{len(v['nodes'])}" for v in self.violations
        )


def _axe_script() -> str:
    import axe_playwright_python

    return (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.skip("no chromium here: `apt-get install chromium` (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


def check_page(browser: Any, url: str, name: str, *, axe: bool = True) -> PageCheck:
    """Load `url` at phone and desktop width; assert no horizontal scroll; screenshot; axe scan."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shots: list[Path] = []
    violations: list[dict[str, Any]] = []
    for width in WIDTHS:
        context = browser.new_context(viewport={"width": width, "height": 900})
        try:
            page = context.new_page()
            response = page.goto(url, wait_until="load")
            assert response is None or response.ok, f"{url}: HTTP {response.status}"
            scroll_width = page.evaluate("document.documentElement.scrollWidth")
            assert scroll_width <= width, f"{name}: {scroll_width} px wide at {width} px"
            shot = ARTIFACTS / f"{name}-{width}.png"
            page.screenshot(path=str(shot), full_page=True)
            shots.append(shot)
            if axe and width == WIDTHS[-1]:
                page.evaluate(_axe_script())
                result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
                violations = [
                    v for v in result["violations"] if v.get("impact") in {"serious", "critical"}
                ]
        finally:
            context.close()
    return PageCheck(tuple(shots), tuple(violations))
