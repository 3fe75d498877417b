"""The public archive of sent digests in the output directory: a page per digest (the HTML
part without any address), an index, and an Atom feed of past digests."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urljoin

from aggregator.config import Config, DigestSettings
from aggregator.digest.build import Digest, Window
from aggregator.digest.periods import Period, PeriodKind
from aggregator.digest.render import _ENV, period_label, render_digest
from aggregator.export.dates import rfc3339
from aggregator.export.files import write_atomic
from aggregator.export.view import GENERATOR
from aggregator.store import DigestRun, Store

ARCHIVE_DIR = "digests"
NS = "http://www.w3.org/2005/Atom"
WORDS = {
    "da": {"heading": "Tidligere udsendelser", "feed": "Abonnér på udsendelserne (Atom)",
           "count": "{n} indlæg"},
    "en": {"heading": "Past digests", "feed": "Subscribe to the digests (Atom)",
           "count": "{n} posts"},
}  # fmt: skip


def page_name(settings: DigestSettings, slug: str) -> str:
    return f"{slug}.html" if settings.name == "default" else f"{settings.name}-{slug}.html"


def run_period(run: DigestRun, config: Config) -> Period:
    zone = config.site.zone
    kind: PeriodKind = "day" if run.kind == "day" else "week"
    return Period(run.period_start.astimezone(zone), run.period_end.astimezone(zone), kind)


@dataclass(frozen=True, slots=True)
class _Page:
    settings: DigestSettings
    run: DigestRun
    period: Period
    href: str
    label: str
    count: str


def _pages(config: Config, store: Store) -> list[_Page]:
    language = config.site.language
    pages = []
    for settings in config.all_digests:
        if not settings.archive:
            continue
        lang = settings.language or language
        for run in store.ledger.sent_runs(settings.name):
            period = run_period(run, config)
            window = Window(run.window_start, run.window_end)
            stub = Digest(settings.name, settings.title or config.site.title, period, window, ())
            pages.append(
                _Page(settings, run, period, page_name(settings, period.slug),
                      period_label(stub, lang), WORDS[lang]["count"].format(n=run.entry_count))
            )  # fmt: skip
    return pages


def write_archive(
    config: Config, store: Store, settings: DigestSettings, digest: Digest, now: datetime
) -> tuple[Path, ...]:
    """This digest's page, then the index and the feed of every archived digest."""
    folder = config.output_dir / ARCHIVE_DIR
    language = settings.language or config.site.language
    page = folder / page_name(settings, digest.period.slug)
    archived = render_digest(digest, language, settings, personal=False)
    write_atomic(page, archived.html.encode("utf-8"))
    pages = _pages(config, store)
    words = WORDS[config.site.language]
    sections = []
    for each in config.all_digests:
        mine = [p for p in pages if p.settings.name == each.name]
        if mine:
            sections.append({"title": each.title or config.site.title, "pages": mine})
    index = _ENV.get_template("archive_index.html").render(
        lang=config.site.language,
        heading=f"{config.site.title}: {words['heading'].lower()}",
        feed_label=words["feed"],
        sections=sections,
    )
    write_atomic(folder / "index.html", index.encode("utf-8"))
    write_atomic(folder / "atom.xml", _atom(config, pages, now))
    return (page, folder / "index.html", folder / "atom.xml")


def _atom(config: Config, pages: list[_Page], now: datetime) -> bytes:
    ET.register_namespace("", NS)
    base = (
        config.site.base_url if config.site.base_url.endswith("/") else config.site.base_url + "/"
    )
    archive = urljoin(base, f"{ARCHIVE_DIR}/")

    def el(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{NS}}}{tag}", attrs)
        element.text = text
        return element

    words = WORDS[config.site.language]
    feed = ET.Element(f"{{{NS}}}feed")
    el(feed, "id", urljoin(archive, "atom.xml"))
    el(feed, "title", f"{config.site.title}: {words['heading'].lower()}")
    updated = max((p.run.created_at for p in pages), default=now)
    el(feed, "updated", rfc3339(updated))
    el(feed, "link", rel="self", type="application/atom+xml", href=urljoin(archive, "atom.xml"))
    el(feed, "link", rel="alternate", type="text/html", href=archive)
    el(el(feed, "author"), "name", config.site.title)
    el(feed, "generator", GENERATOR)
    for page in sorted(pages, key=lambda p: p.run.period_end, reverse=True):
        url = urljoin(archive, page.href)
        entry = el(feed, "entry")
        el(entry, "id", url)
        title = page.settings.title or config.site.title
        el(entry, "title", f"{title} · {page.label}", type="text")
        el(entry, "link", rel="alternate", type="text/html", href=url)
        el(entry, "updated", rfc3339(page.run.created_at))
        el(entry, "summary", f"{page.label}: {page.count}", type="text")
    ET.indent(feed)
    return bytes(ET.tostring(feed, encoding="utf-8", xml_declaration=True)) + b"\n"
