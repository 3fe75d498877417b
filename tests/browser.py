"""A real headless browser for page tests: Debian's chromium driven by Playwright.

Playwright's own browser download cannot work here, so the system chromium is launched by path.
`check_page` is what every page test wants: both widths, no horizontal scroll, a screenshot kept
as an artifact, and an axe-core scan (axe.min.js as shipped by axe-playwright-python).

Playwright's sync API keeps an asyncio loop running in the thread that started it, which would
break every later `asyncio.run` (the poller's) in that thread; so the browser lives on a thread of
its own and tests hand it work with `browser.run(fn)`, where `fn` gets the Playwright Browser.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

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


T = TypeVar("T")


class BrowserThread:
    """One chromium, driven from one thread that no other test code runs on."""

    def __init__(self) -> None:
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chromium")
        self._thread.submit(self._start).result()

    def _start(self) -> None:
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        self._browser = self._playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )

    def run(self, work: Callable[[Any], T]) -> T:
        return self._thread.submit(work, self._browser).result()

    def close(self) -> None:
        def stop() -> None:
            self._browser.close()
            self._playwright.stop()

        self._thread.submit(stop).result()
        self._thread.shutdown()


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


# Per module, not per session: a browser thread and driver process left running would change how
# every later test's poll starts its workers (it forks only when the process has no other thread).
@pytest.fixture(scope="module")
def browser() -> Iterator[BrowserThread]:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.skip("no chromium here: `apt-get install chromium` (.ci/run does)")
    started = BrowserThread()
    yield started
    started.close()


def check_page(browser: BrowserThread, url: str, name: str, *, axe: bool = True) -> PageCheck:
    """Load `url` at phone and desktop width; assert no horizontal scroll; screenshot; axe scan."""
    return browser.run(lambda chromium: _check(chromium, url, name, axe))


def _check(browser: Any, url: str, name: str, axe: bool) -> PageCheck:
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
