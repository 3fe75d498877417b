"""A fast path for well-formed RSS 2.0, Atom 1.0 and RSS 1.0: lxml, and feedparser's rules.

feedparser stays the parser of record. This path reads a document only when lxml parses it
without recovery and it knows every element in it: the feed formats' own, ``dc:*``,
``content:*``, ``sy:*``, ``admin:*``, Media RSS, iTunes, and a list of extensions feedparser
keeps nothing of that we store (YouTube, Blogger's ``thr:``/``openSearch:``/``gd:``, Acast,
Spotify, WordPress.com's feed additions, ...).
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

import heapq
import re
from collections.abc import Callable, Mapping
from io import BytesIO

from lxml import etree

from aggregator.parse_fast_entry import Document, Entry, link_attrs, parsed_entry, read_entry
from aggregator.parse_fast_xml import (
    ATOM,
    FOREIGN,
    RDF,
    UNPREFIXED,
    Scope,
    check_ignorable,
    element_name,
    text_of,
)
from aggregator.parse_rules import HTML_TYPES, Unsupported, finish, html_type, rebase
from aggregator.types import ParsedFeed

_XLINK = "http://www.w3.org/1999/xlink"

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
        "author", "contributor", "name", "email", "uri", "url", "managingeditor", "gd_image",
        "site", "acast_showid", "acast_showurl", "acast_signature", "acast_settings",
        "acast_network", "acast_importedfeed", "spotify_countryoforigin", "spotify_limit",
    }
)  # fmt: skip
_IMAGE_CHILDREN = frozenset({"url", "title", "link", "width", "height", "description"})
_TEXTINPUT_CHILDREN = frozenset({"title", "link", "description", "name"})
_CHARSET = re.compile(r"charset\s*=\s*\"?([A-Za-z0-9._-]+)", re.I)
_DECLARED = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)")
_QUERY_ENTITY = re.compile(r"&([A-Za-z0-9_]+);")
_UTF8 = {"utf-8", "utf8"}
_OPTIONS = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "remove_comments": False,
}


class _Feed:
    """The feed-level fields feedparser keeps, and the entries, read in document order."""

    def __init__(self, doc: Document, lang: str | None, limit: int | None) -> None:
        self.doc = doc
        self.values: dict[str, str] = {}
        self.has_summary = False
        if lang:
            self.values["language"] = lang.replace("_", "-")
        self.limit = limit
        # The entries kept so far, as (-age, entry): a heap whose top is the oldest kept.
        self.kept: list[tuple[tuple[int, float, int], Entry]] = []
        self.count = 0

    def child(self, child: etree._Element, scope: Scope) -> None:
        """One element of the feed (a channel's child, or an Atom feed's)."""
        name = element_name(child)
        if name in ("item", "entry"):
            self.add(read_entry(self.doc, child, scope))
            return
        inner, attrs = scope.enter(child)
        handler = _FEED_HANDLERS.get(name)
        if handler is not None:
            handler(self, child, inner, attrs)
        elif name in _FEED_IGNORED:
            check_ignorable(child, _FEED_IGNORED)
        else:
            raise Unsupported(f"feed element {name}")

    def add(self, entry: Entry) -> None:
        """Keep the entry if it is among the ``limit`` newest so far, as normalise.newest
        would choose them (dated by date, newest first, then undated in document order)."""
        index, self.count = self.count, self.count + 1
        when = entry.dates.get("published") or entry.dates.get("updated")
        age = (-int(when is None), when.timestamp() if when else 0.0, -index)
        heapq.heappush(self.kept, (age, entry))
        if self.limit is not None and len(self.kept) > self.limit:
            heapq.heappop(self.kept)

    def parsed(self, url: str) -> ParsedFeed:
        values, version = self.values, self.doc.version
        language = (values.get("language") or "").strip() or None
        return ParsedFeed(
            url=url,
            title=(values.get("title") or "").strip() or None,
            site_url=(values.get("link") or "").strip() or None,
            language=language,
            version=version,
            entries=tuple(parsed_entry(e, language, url, version) for e in self._in_order()),
            ttl_minutes=_positive(values.get("ttl")),
            sy_period=(values.get("sy_updateperiod") or "").strip() or None,
            sy_frequency=_positive(values.get("sy_updatefrequency")),
        )

    def _in_order(self) -> list[Entry]:
        return [entry for _, entry in sorted(self.kept, key=lambda kept: -kept[0][2])]


def _positive(value: str | None) -> int | None:
    try:
        number = int((value or "").strip())
    except ValueError:
        return None
    return number if number > 0 else None


# -- feed handlers


def _f_title(f: _Feed, el: etree._Element, s: Scope, a: Mapping[str, str]) -> None:
    read = f.doc.title(el, s, a)
    if read is not None:
        f.values["title"] = read[1]


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


def _f_plain(key: str) -> Callable[..., None]:
    """An element feedparser has no handler for: with any attribute of its own it keeps the
    attributes (a dict), not the text, which then reads as nothing."""

    def read(f: _Feed, el: etree._Element, s: Scope, a: Mapping[str, str]) -> None:
        parent = el.getparent()
        if _XLINK in el.nsmap.values() and (parent is None or _XLINK not in parent.nsmap.values()):
            raise Unsupported("an xlink declaration, which feedparser counts as an attribute")
        text = finish(text_of(el))
        f.values[key] = "" if el.keys() else text

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
    "ttl": _f_plain("ttl"),
    "sy_updateperiod": _f_plain("sy_updateperiod"),
    "sy_updatefrequency": _f_plain("sy_updatefrequency"),
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
        if uri == UNPREFIXED and prefix:
            return False  # feedparser would name its elements by this prefix, once seen
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


def parse_fast(
    content: bytes, url: str, headers: Mapping[str, str], max_entries: int | None = None
) -> ParsedFeed | None:
    """The feed, or None when feedparser should read this document. With ``max_entries``,
    only that many of the newest entries are built (those plan_update would take)."""
    if not _utf8_only(content, headers):
        return None
    location = headers.get("content-location")
    if location is not None and location != url:
        return None  # feedparser would resolve against it
    try:
        return _Stream(content, url, headers.get("content-language"), max_entries).read()
    except (Unsupported, etree.XMLSyntaxError, ValueError):
        return None


class _Stream:
    """The document read as lxml parses it: each child of the feed (or channel) is read as
    soon as it ends, in document order, and then freed, so that a feed of 50,000 entries
    never holds more than one of them and the ones it keeps."""

    def __init__(self, content: bytes, url: str, lang: str | None, limit: int | None) -> None:
        self.content, self.url, self.lang, self.limit = content, url, lang, limit
        self.feed: _Feed | None = None
        self.root = Scope(rebase(url, None), lang, 0)
        self.channel: Scope | None = None  # while inside a channel
        self.channels = 0
        self.elements = 0  # the root's element children so far

    def read(self) -> ParsedFeed:
        depth = 0
        for event, el in etree.iterparse(BytesIO(self.content), ("start", "end"), **_OPTIONS):
            if event == "start":
                depth += 1
                if depth == 1:
                    self.start_root(el)
                elif depth == 2:
                    self.start_top(el)
                continue
            depth -= 1  # now the depth of its parent
            if depth == 1:
                self.end_top(el)
            elif depth == 2 and self.channel is not None:
                self.feed_of().child(el, self.channel)
                _free(el)
        feed = self.feed_of()
        if feed.doc.version == "rss10" and self.channels != 1:
            raise Unsupported("RDF without one channel")
        return feed.parsed(self.url)

    @property
    def feed_version(self) -> str:
        return self.feed_of().doc.version

    def feed_of(self) -> _Feed:
        if self.feed is None:
            raise Unsupported("no root")
        return self.feed

    def start_root(self, root: etree._Element) -> None:
        if root.getroottree().docinfo.doctype:
            raise Unsupported("DOCTYPE")
        if root.tag == "rss":
            version = _rss_version(root.get("version") or "")
        elif root.tag == f"{ATOM}feed":
            version = "atom10"
        elif root.tag == f"{RDF}RDF":
            version = "rss10"
        else:
            raise Unsupported("root")
        if not _declarations_understood(self.content, version):
            raise Unsupported("namespace declarations")
        self.feed = _Feed(Document(version), self.lang, self.limit)
        self.root, _ = self.root.enter(root)
        if self.root.lang and version != "rss10":
            self.feed.values["language"] = self.root.lang.replace("_", "-")

    def start_top(self, el: etree._Element) -> None:
        """A child of the root begins: a channel is entered; the rest is read at its end."""
        if self.feed_version == "atom10":
            return
        self.elements += 1
        name = element_name(el)
        if name == "channel":
            self.channels += 1
            self.channel, attrs = self.root.enter(el)
            if "href" in attrs or "lastmod" in attrs:
                raise Unsupported("CDF attributes")
            if self.feed_version == "rss10" and (self.channels > 1 or self.elements > 1):
                raise Unsupported("RDF channel not first")
        elif self.feed_version != "rss10" or name not in ("item", "image", "textinput"):
            raise Unsupported(f"element {name} outside the channel")

    def end_top(self, el: etree._Element) -> None:
        """A child of the root ends (an Atom feed's child, or RDF's item, image, channel)."""
        feed = self.feed_of()
        if feed.doc.version == "atom10":
            feed.child(el, self.root)
        elif element_name(el) == "channel":
            self.channel = None
        elif element_name(el) == "item":
            feed.add(read_entry(feed.doc, el, self.root))
        else:
            inner, attrs = self.root.enter(el)
            _f_image(feed, el, inner, attrs)
        _free(el)


def _free(el: etree._Element) -> None:
    """Drop an element that has been read, and the ones before it."""
    el.clear()
    while el.getprevious() is not None:
        parent = el.getparent()
        if parent is None:
            break
        del parent[0]


def _rss_version(declared: str) -> str:
    """feedparser's name for an RSS version attribute."""
    if declared.startswith("2."):
        return "rss20"
    named = {"0.91": "rss091u", "0.92": "rss092", "0.93": "rss093", "0.94": "rss094"}
    return named.get(declared, "rss")
