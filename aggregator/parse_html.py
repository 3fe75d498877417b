"""HTML page + selectors -> ParsedFeed, for sources that publish no feed (``type: html``).

The same ParsedFeed the feed parser yields, so normalise, dedup, store and export never learn
where a post came from. A page where the selectors find nothing usable is a ParseError that
names the selector and its match count: a selector that stopped matching is an error state,
never "0 new".
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from urllib.parse import urljoin, urlsplit

import parsel

from aggregator.canonical import item_id, without_session
from aggregator.decode import html_text
from aggregator.errors import ParseError
from aggregator.normalise import canonical_url, squash
from aggregator.page_dates import page_date, parse_date
from aggregator.types import HtmlSource, Page, ParsedEntry, ParsedFeed, Selector

# What a field reads when the source names no selector for it.
DEFAULTS = {
    "title": Selector("h1, h2, h3, h4, h5"),
    "link": Selector("a[href]"),
    "date": Selector("time"),
}
# An element matched for these fields gives this attribute, unless told to take text or HTML.
NATURAL_ATTRIBUTE = {"link": "href", "image": "src", "date": "datetime"}
_BAD_SCHEMES = ("javascript:", "mailto:", "tel:", "data:")


@dataclass(frozen=True, slots=True)
class FieldCount:
    name: str
    selector: str
    matched: int  # items in which it matched
    configured: bool


@dataclass(frozen=True, slots=True)
class Extraction:
    """What the selectors found on a list page, with how many matches each had."""

    url: str
    title: str | None
    language: str | None
    items: int
    item_selector: str
    counts: tuple[FieldCount, ...]
    entries: tuple[ParsedEntry, ...]  # items with a title and a link
    skipped: int  # items without one or the other

    def problem(self) -> str | None:
        """Why this extraction should put the source in an error state, in the admin's words."""
        if self.items == 0:
            return f"item selector `{self.item_selector}` matched 0 elements; the page changed?"
        if len(self.entries) * 2 >= self.items:
            return self._shared_link()
        missing = [
            f"{c.name} selector `{c.selector}` matched {c.matched} of {self.items} items"
            for c in self.counts
            if c.name in ("title", "link") and c.matched < self.items
        ]
        return f"{self.skipped} of {self.items} items have no title or link: " + "; ".join(
            missing or [f"item selector `{self.item_selector}`"]
        )

    def _shared_link(self) -> str | None:
        """Most items giving one link is a template change (a topic link put before the
        title's), not news: stored by link, all but the first would be dropped, now and after."""
        # A link to the list page itself is no link (normalise.without_own_links): notices
        # whose "Læs mere" leads back to the page are kept, each by what it says.
        page = canonical_url(self.url)
        links = Counter(e.link for e in self.entries if canonical_url(e.link) != page)
        if not links or len(links) * 2 >= sum(links.values()):
            return None
        link, count = links.most_common(1)[0]
        selector = next((c.selector for c in self.counts if c.name == "link"), DEFAULTS["link"])
        return (
            f"link selector `{selector}` gave the same link ({link}) for {count} of "
            f"{self.items} items; the page changed?"
        )


def document(content: bytes, headers: Mapping[str, str]) -> parsel.Selector:
    text = html_text(content, headers)
    return parsel.Selector(text=text or "<html></html>", type="html")


def select(node: parsel.Selector, selector: Selector) -> parsel.SelectorList[parsel.Selector]:
    try:
        return node.xpath(selector.query) if selector.xpath else node.css(selector.query)
    except ValueError as exc:  # parsel's wrapper of selector syntax errors
        raise ParseError(f"selector `{selector}` cannot be used: {exc}") from None


def _inner_html(match: parsel.Selector) -> str:
    if isinstance(match.root, str):
        return html.escape(match.root)
    return "".join(match.xpath("node()").getall())


def _text(match: parsel.Selector) -> str:
    if isinstance(match.root, str):
        return squash(match.root)
    return squash(" ".join(match.xpath(".//text()").getall()))


def take(
    matches: parsel.SelectorList[parsel.Selector], selector: Selector, natural: str | None
) -> str | None:
    """The value of the first match, as the selector says: text, inner HTML or an attribute."""
    if not matches:
        return None
    first = matches[0]
    if selector.take == "html":
        return _inner_html(first).strip() or None
    if selector.take == "attr":
        return None if isinstance(first.root, str) else first.attrib.get(selector.attr or "")
    if natural and not isinstance(first.root, str) and first.attrib.get(natural):
        return first.attrib[natural]
    return _text(first) or None


def take_all(matches: parsel.SelectorList[parsel.Selector], selector: Selector) -> list[str]:
    """Every match's value, for fields that are lists (categories)."""
    values = (take(matches[i : i + 1], selector, None) for i in range(len(matches)))
    return list(dict.fromkeys(value for value in values if value))


def _field(item: parsel.Selector, name: str, source: HtmlSource) -> tuple[str | None, bool]:
    selector = source.field(name) or DEFAULTS.get(name)
    if selector is None:
        return None, False
    natural = NATURAL_ATTRIBUTE.get(name)
    is_anchor = getattr(item.root, "tag", None) == "a"
    if name == "link" and source.field(name) is None and is_anchor:
        return item.attrib.get("href"), True  # the item is the link
    matches = select(item, selector)
    return take(matches, selector, natural), bool(matches)


def _base_url(page: parsel.Selector, url: str) -> str:
    base = page.css("base[href]::attr(href)").get()
    try:
        return urljoin(url, base.strip()) if base else url
    except ValueError:  # `<base href="http://[oops/">`: no base, as a browser ignores it
        return url


def _absolute(base: str, value: str | None) -> str | None:
    """The link as an absolute http(s) URL; None for one that is none, such as an editor's
    placeholder `http://[indsæt link]/` (urljoin raises on it) or a host IDNA refuses."""
    value = (value or "").strip()
    if not value or value.startswith("#") or value.lower().startswith(_BAD_SCHEMES):
        return None
    try:
        absolute = urljoin(base, value)
        parts = urlsplit(absolute)
        if parts.hostname:
            parts.hostname.encode("idna")
    except (ValueError, UnicodeError):
        return None
    return absolute if parts.scheme in ("http", "https") else None


def _page_title(page: parsel.Selector) -> str | None:
    for query in ('meta[property="og:site_name"]::attr(content)', "title::text"):
        if value := squash(page.css(query).get() or ""):
            return value
    return None


def extract(content: bytes, url: str, headers: Mapping[str, str], source: HtmlSource) -> Extraction:
    """Read the items off a list page; pure."""
    page = document(content, headers)
    base = _base_url(page, url)
    items = select(page, source.items)
    names = [name for name, _ in source.fields]
    names += [name for name in DEFAULTS if name not in names]
    matched = dict.fromkeys(names, 0)
    entries: list[ParsedEntry] = []
    skipped = 0
    for item in items:
        values: dict[str, str | None] = {}
        for name in names:
            value, found = _field(item, name, source)
            matched[name] += found and value is not None
            values[name] = value
        link = _absolute(base, values["link"])
        link = without_session(link) if link else None
        title = values["title"]
        if not link or not title:
            skipped += 1
            continue
        categories: tuple[str, ...] = ()
        if (chosen := source.field("categories")) is not None:
            categories = tuple(take_all(select(item, chosen), chosen))
        entries.append(_entry(values, link, base, source, categories))
    counts = tuple(
        FieldCount(
            name,
            str(source.field(name) or DEFAULTS[name]),
            matched[name],
            source.field(name) is not None,
        )
        for name in names
    )
    return Extraction(
        url=url,
        title=_page_title(page),
        language=squash(page.xpath("/html/@lang").get() or "") or None,
        items=len(items),
        item_selector=str(source.items),
        counts=counts,
        entries=tuple(entries),
        skipped=skipped,
    )


def _entry(
    values: Mapping[str, str | None],
    link: str,
    base: str,
    source: HtmlSource,
    categories: tuple[str, ...] = (),
) -> ParsedEntry:
    summary = values.get("summary") or ""
    summary_field = source.field("summary")
    if summary and not (summary_field and summary_field.take == "html"):
        summary = f"<p>{html.escape(summary)}</p>"
    if image := _absolute(base, values.get("image")):
        summary = f'<p><img src="{html.escape(image)}" alt=""></p>' + summary
    return ParsedEntry(
        guid=item_id(link),  # an item is its page: the canonical URL is its id
        link=link,
        title=values["title"] or "",
        author=values.get("author"),
        content_html=summary,
        published=parse_date(values.get("date"), source.timezone),
        updated=None,
        content_base=base,
        categories=categories,
        title_is_html=(source.field("title") or DEFAULTS["title"]).take == "html",
    )


def item_links(
    content: bytes, url: str, headers: Mapping[str, str], source: HtmlSource
) -> list[str]:
    """The links of the usable items, in page order: what ``follow`` fetches."""
    return [e.link for e in extract(content, url, headers, source).entries if e.link]


_WRAPPER = re.compile(r"</?(?:html|body)>")


def main_content(page: Page, source: HtmlSource) -> str | None:
    """A followed page's post: the ``content`` selector's inner HTML, else trafilatura's
    main-content extraction (which leaves cookie banners, menus and footers behind)."""
    if page.content is None:
        return None
    if source.content is not None:
        parsed = document(page.content, page.headers)
        found = take(select(parsed, source.content), source.content, None)
        if found and source.content.take == "text":
            return f"<p>{html.escape(found)}</p>"
        return found
    import trafilatura

    text = html_text(page.content, page.headers)
    extracted = trafilatura.extract(
        text, url=page.url, output_format="html", include_links=True, include_images=True
    )
    return _WRAPPER.sub("", extracted).strip() if extracted else None


def _with_page(entry: ParsedEntry, page: Page, source: HtmlSource) -> ParsedEntry:
    if page.content is None:
        # A page we may not or could not read: the list page's word stands; one that failed
        # for now is read again next poll.
        return replace(entry, page_unread=page.error or "not read") if page.retry else entry
    if not _is_web_page(page):
        return entry  # minutes as PDF, a hearing draft as .docx: the list's title and date stand
    content = main_content(page, source) or entry.content_html
    published = entry.published or page_date(html_text(page.content, page.headers), source.timezone)
    return replace(entry, content_html=content, published=published, content_base=page.url)


_NOT_PAGES = ("application/", "image/", "audio/", "video/", "font/")


def _is_web_page(page: Page) -> bool:
    """HTML or XHTML by its Content-Type; with none, by its first bytes."""
    kind = {k.lower(): v for k, v in page.headers.items()}.get("content-type", "").lower()
    if "html" in kind or "xml" in kind:
        return True
    if kind.startswith(_NOT_PAGES):
        return False
    return (page.content or b"").lstrip()[:1] == b"<"


def followed(
    entries: Iterable[ParsedEntry], pages: Iterable[Page], source: HtmlSource
) -> tuple[ParsedEntry, ...]:
    """With ``follow``, only the items whose page was fetched this poll: the others are stored
    already, or wait for a later poll."""
    by_link = {page.url: page for page in pages}
    return tuple(
        _with_page(entry, by_link[entry.link], source) for entry in entries if entry.link in by_link
    )


def parse_html(
    content: bytes,
    url: str,
    headers: Mapping[str, str],
    source: HtmlSource,
    pages: Iterable[Page] = (),
) -> ParsedFeed:
    """Parse a list page (and followed item pages) into a ParsedFeed; raises ParseError when
    the selectors find nothing usable."""
    found = extract(content, url, headers, source)
    if problem := found.problem():
        raise ParseError(problem)
    entries = followed(found.entries, pages, source) if source.follow else found.entries
    read = {entry.guid for entry in entries}
    still_listed = tuple(
        e.guid for e in found.entries if source.follow and e.guid and e.guid not in read
    )
    if found.language:
        entries = tuple(replace(entry, language=found.language) for entry in entries)
    return ParsedFeed(
        url=url,
        title=found.title,
        site_url=url,
        language=found.language,
        version="html",
        entries=entries,
        still_listed=still_listed,
        warning=_warning(found, pages if source.follow else ()),
    )


def _warning(found: Extraction, pages: Iterable[Page]) -> str | None:
    """What this poll could not do as asked, for ``status``: items it could not read, pages
    that failed for now (their posts stored from the list page) or led elsewhere."""
    notes = [f"{found.skipped} items without a title or link"] if found.skipped else []
    pages = tuple(pages)
    if failed := [page.error or "no answer" for page in pages if page.retry]:
        reasons = ", ".join(dict.fromkeys(failed))
        notes.append(
            f"{_count(len(failed), 'item page')} not read ({reasons}): stored from the list "
            "page, read again next poll"
        )
    if moved := [page.redirected_to for page in pages if page.redirected_to]:
        notes.append(
            f"{_count(len(moved), 'item page')} led to another page ({moved[0]}): a login or "
            "consent wall? The list page's words are kept"
        )
    return "; ".join(notes) or None


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
