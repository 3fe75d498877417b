"""A fast path for well-formed RSS 2.0, Atom 1.0 and RSS 1.0: lxml, and feedparser's rules.

feedparser stays the parser of record. This path reads a document only when lxml parses it
without recovery and it knows every element in it: the feed formats' own, ``dc:*``,
``content:*``, ``sy:*``, ``admin:*``, Media RSS, iTunes, and a list of extensions feedparser
keeps nothing of that we store (YouTube, Blogger's ``thr:``/``openSearch:``/``gd:``, ...).
For those it does what feedparser's handlers do, in document order: which of two titles,
authors, summaries or links wins, xml:base and xml:lang in scope, xhtml content written back
out as markup, tags and links turned into categories and enclosures. Anything else (an
unknown element or namespace, a DTD, a date form it cannot vouch for, an author e-mail it
would have to guess at) returns None, and the caller asks feedparser. ``tests/
test_equivalence*.py`` hold it to feedparser, field by field, over the fixture corpus and over
random documents.

It exists because feedparser's SAX handlers cost about a millisecond per entry.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from lxml import etree

from aggregator.parse_fast_entry import Document, Entry, link_attrs, parsed_entry, read_entry
from aggregator.parse_fast_xml import (
    ATOM,
    FOREIGN,
    RDF,
    Scope,
    check_ignorable,
    element_name,
    text_of,
)
from aggregator.parse_rules import HTML_TYPES, Unsupported, finish, html_type
from aggregator.types import ParsedFeed

_FEED_IGNORED = frozenset(
    {
        "generator", "docs", "copyright", "rights", "webmaster", "pubdate", "lastbuilddate",
        "updated", "published", "category", "cloud", "rating", "skiphours", "skipdays", "hour",
        "day", "icon", "logo", "subtitle", "tagline", "itunes_author", "itunes_image",
        "itunes_category", "itunes_explicit", "itunes_owner", "itunes_name", "itunes_email",
        "itunes_type", "itunes_keywords", "itunes_new-feed-url", "itunes_block", "itunes_complete",
        "itunes_subtitle", "sy_updatebase", "admin_generatoragent", "admin_errorreportsto",
        "dc_date", "dc_creator", "dc_rights", "dc_publisher", "dc_subject",
        "opensearch_totalresults", "opensearch_startindex", "opensearch_itemsperpage",
        "yt_channelid", "media_thumbnail", "media_copyright", "media_category", "media_keywords",
        "media_rating", "media_credit", "media_restriction", "items", "rdf_seq", "rdf_li",
        "feedburner_info", "feedburner_emailserviceid", "feedburner_feedburnerhostname",
        "webfeeds_icon", "webfeeds_logo", "webfeeds_accentcolor", "webfeeds_related",
        "webfeeds_cover", "webfeeds_analytics", "googleplay_author", "googleplay_category",
        "googleplay_image", "googleplay_description", "googleplay_explicit", "podcast_locked",
        "podcast_funding", "podcast_guid", "podcast_medium", "podcast_person", "podcast_location",
        "author", "contributor", "name", "email", "uri", "url", "managingeditor",
    }
)  # fmt: skip
_IMAGE_CHILDREN = frozenset({"url", "title", "link", "width", "height", "description"})
_TEXTINPUT_CHILDREN = frozenset({"title", "link", "description", "name"})
_CHARSET = re.compile(r"charset\s*=\s*\"?([A-Za-z0-9._-]+)", re.I)
_DECLARED = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)")
_QUERY_ENTITY = re.compile(r"&([A-Za-z0-9_]+);")
_UTF8 = {"utf-8", "utf8"}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


class _Feed:
    """The feed-level fields feedparser keeps, and the entries, read in document order."""

    def __init__(self, doc: Document, lang: str | None) -> None:
        self.doc = doc
        self.values: dict[str, str] = {}
        self.has_summary = False
        if lang:
            self.values["language"] = lang.replace("_", "-")
        self.entries: list[Entry] = []

    def children(self, parent: etree._Element, scope: Scope) -> None:
        for child in parent:
            name = element_name(child)
            if not name:
                continue
            if name in ("item", "entry"):
                self.entries.append(read_entry(self.doc, child, scope))
                continue
            inner, attrs = scope.enter(child)
            handler = _FEED_HANDLERS.get(name)
            if handler is not None:
                handler(self, child, inner, attrs)
            elif name in _FEED_IGNORED:
                check_ignorable(child, _FEED_IGNORED)
            else:
                raise Unsupported(f"feed element {name}")

    def parsed(self, url: str) -> ParsedFeed:
        values, version = self.values, self.doc.version
        language = (values.get("language") or "").strip() or None
        return ParsedFeed(
            url=url,
            title=(values.get("title") or "").strip() or None,
            site_url=(values.get("link") or "").strip() or None,
            language=language,
            version=version,
            entries=tuple(parsed_entry(e, language, url, version) for e in self.entries),
            ttl_minutes=_positive(values.get("ttl")),
            sy_period=(values.get("sy_updateperiod") or "").strip() or None,
            sy_frequency=_positive(values.get("sy_updatefrequency")),
        )


def _positive(value: str | None) -> int | None:
    try:
        number = int((value or "").strip())
    except ValueError:
        return None
    return number if number > 0 else None


# -- feed handlers


def _f_title(f: _Feed, el: etree._Element, s: Scope, a: Mapping[str, str]) -> None:
    value = f.doc.title(el, s, a)
    if value is not None:
        f.values["title"] = value


def _f_link(f: _Feed, el: etree._Element, s: Scope, a: Mapping[str, str]) -> None:
    link = link_attrs(a, s)
    if "href" in link:
        if len(el):
            text_of(el)
        if link["rel"] == "alternate" and html_type(link["type"]) in HTML_TYPES:
            f.values["link"] = link["href"]
        return
    f.values["link"] = _QUERY_ENTITY.sub(r"&\g<1>", f.doc.link_text(el, s))


def _f_id(f: _Feed, el: etree._Element, s: Scope, a: Mapping[str, str]) -> None:
    """A feed's id stands in for its link until one comes, as an entry's does."""
    if a.get("ispermalink", "true") == "true":
        f.values.setdefault("link", f.doc.link_text(el, s))
    else:
        text_of(el)


def _f_text(key: str) -> Callable[..., None]:
    def read(f: _Feed, el: etree._Element, s: Scope, a: Mapping[str, str]) -> None:
        f.values[key] = finish(text_of(el))

    return read


def _f_description(f: _Feed, el: etree._Element, s: Scope, a: Mapping[str, str]) -> None:
    if f.has_summary and not f.doc.has_content:
        f.doc.has_content = True  # read as the feed's content, and felt by its first entry
    f.doc.body(el, s, a, html_type(a.get("type", "text/html")))


def _f_summary(f: _Feed, el: etree._Element, s: Scope, a: Mapping[str, str]) -> None:
    if f.has_summary and not f.doc.has_content:
        f.doc.has_content = True
    f.has_summary = True
    f.doc.body(el, s, a, html_type(a.get("type", "text/plain")))


def _f_image(f: _Feed, el: etree._Element, s: Scope, a: Mapping[str, str]) -> None:
    """An image or text input: its title, link and the rest are its own; only the title
    rank it leaves matters."""
    allowed = (
        _TEXTINPUT_CHILDREN if el.tag.endswith(("textinput", "textInput")) else _IMAGE_CHILDREN
    )
    f.doc.title_depth = -1
    for child in el:
        name = element_name(child)
        if not name:
            continue
        if name not in allowed:
            raise Unsupported(f"element {name} in an image")
        text_of(child)
        if name == "title" and finish(text_of(child)) and f.doc.title_depth == -1:
            f.doc.title_depth = s.depth + 1


_FeedHandler = Callable[[_Feed, etree._Element, Scope, Mapping[str, str]], None]
_FEED_HANDLERS: dict[str, _FeedHandler] = {
    "title": _f_title,
    "dc_title": _f_title,
    "link": _f_link,
    "id": _f_id,
    "language": _f_text("language"),
    "dc_language": _f_text("language"),
    "ttl": _f_text("ttl"),
    "sy_updateperiod": _f_text("sy_updateperiod"),
    "sy_updatefrequency": _f_text("sy_updatefrequency"),
    "description": _f_description,
    "media_description": _f_description,
    "summary": _f_summary,
    "itunes_summary": _f_summary,
    "image": _f_image,
    "textinput": _f_image,
}


# -- the document


def _utf8_only(content: bytes, headers: Mapping[str, str]) -> bool:
    """UTF-8 said explicitly, by the server or the document, and contradicted by neither.

    Where neither says, feedparser guesses, and so must decide."""
    charset = _CHARSET.search(headers.get("content-type", ""))
    declared = _DECLARED.match(content[:200])
    named = [m.group(1).lower() for m in (charset,) if m] + [
        m.group(1).decode().lower() for m in (declared,) if m
    ]
    return bool(named) and all(name in _UTF8 for name in named)


_DECLARATION = re.compile(rb"xmlns(?::([A-Za-z_][\w.-]*))?\s*=\s*[\"']([^\"']*)[\"']")


def _declarations_understood(content: bytes, version: str) -> bool:
    """Namespace declarations that make feedparser read elements as we do: no foreign
    prefix bound twice, no unknown default namespace, and the version it would report."""
    prefixes: dict[str, str] = {}
    first_format = None
    for match in _DECLARATION.finditer(content):
        prefix = (match.group(1) or b"").decode("ascii", "replace").lower()
        uri = match.group(2).decode("utf-8", "replace")
        if prefixes.setdefault(prefix, uri) != uri and prefix in FOREIGN.values():
            return False
        lower = uri.lower()
        if lower == "http://www.w3.org/1999/xlink" or "netscape.com/rdf" in lower:
            return False
        if first_format is None and lower in (
            "http://purl.org/rss/1.0/",
            "http://www.w3.org/2005/atom",
        ):
            first_format = "rss10" if lower.endswith("/rss/1.0/") else "atom10"
    if version == "rss10":
        return first_format == "rss10"
    if version == "atom10":
        return first_format == "atom10"
    return first_format != "rss10"  # an RSS root corrects feedparser's guess from Atom


def parse_fast(content: bytes, url: str, headers: Mapping[str, str]) -> ParsedFeed | None:
    """The feed, or None when feedparser should read this document."""
    if not _utf8_only(content, headers):
        return None
    location = headers.get("content-location")
    if location is not None and location != url:
        return None  # feedparser would resolve against it
    try:
        root = etree.fromstring(content, _PARSER)
        if root.getroottree().docinfo.doctype:
            return None
        if root.tag == "rss":
            version = _rss_version(root.get("version") or "")
        elif root.tag == f"{ATOM}feed":
            version = "atom10"
        elif root.tag == f"{RDF}RDF":
            version = "rss10"
        else:
            return None
        if not _declarations_understood(content, version):
            return None
        return _read(root, url, version, headers.get("content-language"))
    except (Unsupported, etree.XMLSyntaxError, ValueError):
        return None


def _read(root: etree._Element, url: str, version: str, lang: str | None) -> ParsedFeed:
    feed = _Feed(Document(version), lang)
    scope, attrs = Scope(url, lang, 0).enter(root)
    if scope.lang and version != "rss10":
        feed.values["language"] = scope.lang.replace("_", "-")
    if version == "atom10":
        feed.children(root, scope)
        return feed.parsed(url)
    channels = 0
    for child in root:
        name = element_name(child)
        if not name:
            continue
        if name == "channel":
            channels += 1
            inner, attrs = scope.enter(child)
            if (channels > 1 and version == "rss10") or "href" in attrs or "lastmod" in attrs:
                raise Unsupported("channel")
            feed.children(child, inner)
        elif version == "rss10" and name == "item":
            feed.entries.append(read_entry(feed.doc, child, scope))
        elif version == "rss10" and name in ("image", "textinput"):
            inner, attrs = scope.enter(child)
            _f_image(feed, child, inner, attrs)
        else:
            raise Unsupported(f"element {name} outside the channel")
    if version == "rss10" and (channels != 1 or element_name(_first_element(root)) != "channel"):
        raise Unsupported("RDF without a channel first")
    return feed.parsed(url)


def _rss_version(declared: str) -> str:
    """feedparser's name for an RSS version attribute."""
    if declared.startswith("2."):
        return "rss20"
    named = {"0.91": "rss091u", "0.92": "rss092", "0.93": "rss093", "0.94": "rss094"}
    return named.get(declared, "rss")


def _first_element(root: etree._Element) -> etree._Element:
    return next(child for child in root if isinstance(child.tag, str))
