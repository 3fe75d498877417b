"""A fast path for the common, well-formed shapes of RSS 2.0, Atom 1.0 and RSS 1.0.

feedparser stays the parser of record: this path answers only for UTF-8 documents that lxml
reads without recovery and whose every field it understands, and returns None otherwise, so
the caller falls back to feedparser. ``tests/test_parse_fast.py`` checks over the whole fixture
corpus that both paths give the same entries after normalising. It exists because feedparser's
pure-Python SAX handlers cost about a millisecond per entry; lxml builds the same tree in a
tenth of that.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin

from lxml import etree

from aggregator.types import Enclosure, ParsedEntry, ParsedFeed

ATOM = "{http://www.w3.org/2005/Atom}"
RSS1 = "{http://purl.org/rss/1.0/}"
RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
DC = "{http://purl.org/dc/elements/1.1/}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}"
SY = "{http://purl.org/rss/1.0/modules/syndication/}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"

# Children of an item or entry this path reads, or knows feedparser keeps nothing of that we
# store; any other child (itunes:*, media:*, dc:title, ...) sends the document to feedparser.
_RSS2_ITEM = frozenset(
    {"title", "link", "guid", "description", "pubDate", "author", "category", "enclosure",
     "comments", f"{CONTENT}encoded", f"{DC}creator", f"{DC}subject",
     "{http://wellformedweb.org/CommentAPI/}commentRss",
     "{http://purl.org/rss/1.0/modules/slash/}comments"}
)  # fmt: skip
_ATOM_ENTRY = frozenset(
    f"{ATOM}{tag}"
    for tag in ("id", "title", "link", "updated", "published", "author", "content", "summary",
                "category", "rights")
)  # fmt: skip
_RSS1_ITEM = frozenset(
    {f"{RSS1}title", f"{RSS1}link", f"{RSS1}description", f"{CONTENT}encoded",
     f"{DC}creator", f"{DC}date", f"{DC}subject", f"{DC}description"}
)  # fmt: skip

_YEAR = re.compile(r"\b(\d{4})\b")
_DECLARED = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)")
_CHARSET = re.compile(r"charset\s*=\s*\"?([A-Za-z0-9._-]+)", re.I)
_UTF8 = {"utf-8", "utf8"}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


class _Unsupported(Exception):
    """A shape this path does not claim to read exactly as feedparser does."""


def _text(element: etree._Element | None) -> str | None:
    if element is None:
        return None
    if len(element):
        raise _Unsupported("markup inside a text element")
    return element.text or ""


def _child_text(parent: etree._Element, tag: str) -> str | None:
    found = parent.findall(tag)
    if len(found) > 1:
        raise _Unsupported(f"repeated {tag}")
    return _text(found[0]) if found else None


def _known_children(parent: etree._Element, known: frozenset[str]) -> None:
    for child in parent:
        if isinstance(child.tag, str) and child.tag not in known:
            raise _Unsupported(f"element {child.tag}")


def _categories(parent: etree._Element, tags: tuple[str, ...]) -> tuple[str, ...]:
    """Category texts in document order, as feedparser's tags."""
    return tuple(
        term for child in parent if child.tag in tags and (term := (_text(child) or "").strip())
    )


def _length(value: str | None) -> int | None:
    if value is None:
        return None
    if not value.strip().isdigit():
        raise _Unsupported("enclosure length")
    return int(value)


def _stripped(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


def _xml_lang(value: str | None) -> str | None:
    """As feedparser reads xml:lang: ``en_US`` becomes ``en-US``."""
    return value.replace("_", "-") if value else value


def _rfc822(value: str | None) -> datetime | None:
    if value is None or not value.strip():
        return None
    try:
        parsed = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError):
        raise _Unsupported("date") from None
    if parsed.tzinfo is None:
        raise _Unsupported("date without a zone")
    year = _YEAR.search(value)
    if year is None or int(year.group(1)) != parsed.year:
        # email.utils reads a two-digit year, and so "0001", as 20xx; feedparser does not.
        raise _Unsupported("date with a short or odd year")
    try:
        return parsed.astimezone(UTC).replace(microsecond=0)
    except OverflowError:
        raise _Unsupported("date out of range") from None


def _iso(value: str | None) -> datetime | None:
    if value is None or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise _Unsupported("date") from None
    if parsed.tzinfo is None:
        raise _Unsupported("date without a zone")
    try:
        return parsed.astimezone(UTC).replace(microsecond=0)
    except OverflowError:
        raise _Unsupported("date out of range") from None


def _positive(value: str | None) -> int | None:
    try:
        number = int((value or "").strip())
    except ValueError:
        return None
    return number if number > 0 else None


def _utf8_only(content: bytes, headers: Mapping[str, str]) -> bool:
    """UTF-8 said explicitly, by the server or the document, and contradicted by neither.

    Where neither says, feedparser guesses, and so must decide."""
    charset = _CHARSET.search(headers.get("content-type", ""))
    declared = _DECLARED.match(content[:200])
    named = [m.group(1).lower() for m in (charset,) if m] + [
        m.group(1).decode().lower() for m in (declared,) if m
    ]
    return bool(named) and all(name in _UTF8 for name in named)


def _rss2(channel: etree._Element, url: str) -> ParsedFeed:
    language = _stripped(_child_text(channel, "language"))
    entries = []
    for item in channel.iterfind("item"):
        _known_children(item, _RSS2_ITEM)
        guid_element = item.find("guid")
        guid = _stripped(_child_text(item, "guid"))
        link = _stripped(_child_text(item, "link"))
        permalink = guid_element is not None and guid_element.get("isPermaLink") != "false"
        if guid and permalink:
            # feedparser reads a permalink guid as a URI, relative to the document.
            guid = urljoin(url, guid)
            link = link or guid
        authors = [a for a in (_child_text(item, f"{DC}creator"), _child_text(item, "author")) if a]
        if len(authors) > 1:
            raise _Unsupported("two authors")
        content = _child_text(item, f"{CONTENT}encoded")
        entries.append(
            ParsedEntry(
                guid=guid,
                link=urljoin(url, link) if link else None,
                title=_child_text(item, "title") or "",
                author=_stripped(authors[0]) if authors else None,
                content_html=content if content else (_child_text(item, "description") or ""),
                published=_rfc822(_child_text(item, "pubDate")),
                updated=None,
                language=language,
                categories=_categories(item, ("category", f"{DC}subject")),
                enclosures=tuple(_rss_enclosure(e, url) for e in item.iterfind("enclosure")),
            )
        )
    return ParsedFeed(
        url=url,
        title=_stripped(_child_text(channel, "title")),
        site_url=_stripped(_child_text(channel, "link")),
        language=language,
        version="rss20",
        entries=tuple(entries),
        ttl_minutes=_positive(_child_text(channel, "ttl")),
        sy_period=_stripped(_child_text(channel, f"{SY}updatePeriod")),
        sy_frequency=_positive(_child_text(channel, f"{SY}updateFrequency")),
    )


def _rss_enclosure(element: etree._Element, url: str) -> Enclosure:
    href = (element.get("url") or "").strip()
    if not href:
        raise _Unsupported("enclosure without a URL")
    # feedparser leaves an RSS enclosure's URL as written; parse.py resolves it as a link.
    kind = (element.get("type") or "").strip() or None
    return Enclosure(urljoin(url, href), kind, _length(element.get("length")))


def _atom_enclosures(entry: etree._Element, url: str) -> tuple[Enclosure, ...]:
    found = []
    for link in entry.iterfind(f"{ATOM}link"):
        if link.get("rel") == "enclosure":
            href = (link.get("href") or "").strip()
            if not href:
                raise _Unsupported("enclosure without a URL")
            kind = (link.get("type") or "").strip() or None
            found.append(Enclosure(urljoin(url, href), kind, _length(link.get("length"))))
    return tuple(found)


def _atom_categories(entry: etree._Element) -> tuple[str, ...]:
    terms = (c.get("term") or c.get("label") or "" for c in entry.iterfind(f"{ATOM}category"))
    return tuple(term for term in (t.strip() for t in terms) if term)


def _atom_author(entry: etree._Element) -> str | None:
    authors = entry.findall(f"{ATOM}author")
    if not authors:
        return None
    if len(authors) > 1:
        raise _Unsupported("several authors")
    name = _stripped(_text(authors[0].find(f"{ATOM}name")))
    email = _stripped(_text(authors[0].find(f"{ATOM}email")))
    if email and not name:
        raise _Unsupported("author with an e-mail address only")
    # feedparser's own form, which normalise then reads the name out of.
    return f"{name} ({email})" if name and email else name


def _resolved(url: str, value: str | None) -> str | None:
    return urljoin(url, value) if value else None


def _atom_link(parent: etree._Element, url: str) -> str | None:
    for link in parent.iterfind(f"{ATOM}link"):
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            href: str = link.get("href", "")
            return urljoin(url, href.strip())
    return None


def _atom_text(element: etree._Element | None) -> str | None:
    if element is None:
        return None
    if element.get("type", "text") not in ("text", "html") or element.get("src"):
        raise _Unsupported("xhtml or out-of-line content")
    return _text(element)


def _atom(root: etree._Element, url: str) -> ParsedFeed:
    language = _stripped(_xml_lang(root.get(XML_LANG)))
    entries = []
    for entry in root.iterfind(f"{ATOM}entry"):
        content_element = entry.find(f"{ATOM}content")
        content = _atom_text(content_element)
        summary = _atom_text(entry.find(f"{ATOM}summary"))
        _known_children(entry, _ATOM_ENTRY)
        lang = language
        if content_element is not None:
            lang = _xml_lang(content_element.get(XML_LANG) or entry.get(XML_LANG)) or language
        guid = _resolved(url, _stripped(_child_text(entry, f"{ATOM}id")))
        entries.append(
            ParsedEntry(
                guid=guid,
                link=_atom_link(entry, url) or guid,  # feedparser's fallback too
                title=_atom_text(entry.find(f"{ATOM}title")) or "",
                author=_atom_author(entry),
                content_html=content if content else (summary or ""),
                published=_iso(_child_text(entry, f"{ATOM}published")),
                updated=_iso(_child_text(entry, f"{ATOM}updated")),
                language=lang,
                categories=_atom_categories(entry),
                enclosures=_atom_enclosures(entry, url),
            )
        )
    return ParsedFeed(
        url=url,
        title=_stripped(_atom_text(root.find(f"{ATOM}title"))),
        site_url=_atom_link(root, url),
        language=language,
        version="atom10",
        entries=tuple(entries),
    )


def _rss1(root: etree._Element, url: str) -> ParsedFeed:
    channel = root.find(f"{RSS1}channel")
    if channel is None:
        raise _Unsupported("RDF without a channel")
    language = _stripped(_child_text(channel, f"{DC}language"))
    entries = []
    for item in root.iterfind(f"{RSS1}item"):
        _known_children(item, _RSS1_ITEM)
        content = _child_text(item, f"{CONTENT}encoded")
        link = _stripped(_child_text(item, f"{RSS1}link"))
        descriptions = [
            d
            for d in (
                _child_text(item, f"{RSS1}description"),
                _child_text(item, f"{DC}description"),
            )
            if d is not None
        ]
        if len(descriptions) > 1:
            raise _Unsupported("description and dc:description")
        entries.append(
            ParsedEntry(
                guid=_stripped(item.get(f"{RDF}about")),
                link=urljoin(url, link) if link else None,
                title=_child_text(item, f"{RSS1}title") or "",
                author=_stripped(_child_text(item, f"{DC}creator")),
                content_html=content if content else (descriptions[0] if descriptions else ""),
                published=None,
                updated=_iso(_child_text(item, f"{DC}date")),
                language=language,
                categories=_categories(item, (f"{DC}subject",)),
            )
        )
    return ParsedFeed(
        url=url,
        title=_stripped(_child_text(channel, f"{RSS1}title")),
        site_url=_stripped(_child_text(channel, f"{RSS1}link")),
        language=language,
        version="rss10",
        entries=tuple(entries),
        sy_period=_stripped(_child_text(channel, f"{SY}updatePeriod")),
        sy_frequency=_positive(_child_text(channel, f"{SY}updateFrequency")),
    )


def parse_fast(content: bytes, url: str, headers: Mapping[str, str]) -> ParsedFeed | None:
    """The feed, or None when feedparser should read this document."""
    if not _utf8_only(content, headers):
        return None
    try:
        root = etree.fromstring(content, _PARSER)
        if root.get(XML_BASE) is not None or b"xml:base" in content:
            return None
        if root.tag == "rss" and root.get("version") == "2.0":
            channels = root.findall("channel")
            if len(channels) != 1:
                return None
            return _rss2(channels[0], url)
        if root.tag == f"{ATOM}feed":
            return _atom(root, url)
        if root.tag == f"{RDF}RDF":
            return _rss1(root, url)
    except (_Unsupported, etree.XMLSyntaxError, ValueError):
        return None
    return None
