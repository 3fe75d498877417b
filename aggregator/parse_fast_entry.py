"""An entry, read as feedparser's handlers read it, for the fast path.

Each element does to the entry what its feedparser handler does, in document order: the
first non-empty title at the shallowest depth wins (a ``media:title`` never outranks a later
one), a summary after a summary becomes content, content is copied to an empty summary, the
last author element gives the author string, tags are kept as (term, scheme, label) without
repeats, links and enclosures keep feedparser's defaults. ``parsed_entry`` then reads them
as parse.py reads feedparser's entry.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from lxml import etree

from aggregator.parse_fast_xml import (
    Scope,
    check_ignorable,
    element_name,
    is_base64,
    own_text,
    text_of,
    xhtml_markup,
)
from aggregator.parse_rules import (
    HTML_TYPES,
    Unsupported,
    body,
    categories,
    checked_date,
    enclosures,
    finish,
    guessed_type,
    html_type,
    join,
    read_date,
    refused_date,
)
from aggregator.types import ParsedEntry

# Elements whose feedparser handler keeps nothing we store; inside them only these too.
_ENTRY_IGNORED = frozenset(
    {
        "comments", "wfw_commentrss", "wfw_comment", "slash_comments", "thr_total",
        "thr_in-reply-to", "thr_children", "media_content", "media_thumbnail", "media_player",
        "media_credit", "media_rating", "media_restriction", "media_license", "media_embed",
        "media_hash", "media_copyright", "media_text", "media_statistics", "media_starrating",
        "media_community", "media_peerlink", "media_price", "media_status", "media_tags",
        "itunes_title", "itunes_duration", "itunes_episode", "itunes_season", "itunes_episodetype",
        "itunes_explicit", "itunes_image", "itunes_block", "itunes_subtitle", "itunes_order",
        "itunes_isclosedcaptioned", "yt_videoid", "yt_channelid", "dc_identifier", "dc_format",
        "dc_type", "dc_source", "dc_relation", "dc_coverage", "dc_rights", "dc_publisher",
        "dcterms_created", "rights", "feedburner_origlink", "feedburner_origenclosurelink",
        "podcast_transcript", "podcast_chapters", "podcast_season", "podcast_episode",
        "podcast_soundbite", "podcast_person", "podcast_location", "googleplay_description",
        "googleplay_explicit", "googleplay_image", "gd_extendedproperty", "contributor", "name",
        "email", "uri", "post-id", "georss_point", "geo_lat", "geo_long", "acast_episodeid",
        "acast_showid", "acast_episodeurl", "acast_settings",
    }
)  # fmt: skip
_SOURCE_CHILDREN = frozenset(
    {
        "id", "title", "link", "updated", "published", "author", "category", "subtitle", "rights",
        "icon", "logo", "generator", "contributor", "name", "email", "uri",
    }
)  # fmt: skip
_PUBLISHED = frozenset({"pubdate", "published", "issued", "dcterms_issued"})
_UPDATED = frozenset({"updated", "modified", "dc_date", "dcterms_modified", "lastbuilddate"})
_QUERY_ENTITY = re.compile(r"&([A-Za-z0-9_]+);")


@dataclass(slots=True)
class Entry:
    values: dict[str, str] = field(default_factory=dict)
    depths: dict[str, int] = field(default_factory=dict)
    authors: list[dict[str, str]] = field(default_factory=list)
    tags: list[tuple[str | None, str | None, str | None]] = field(default_factory=list)
    links: list[dict[str, str]] = field(default_factory=list)
    content: list[tuple[str, str, str | None, str]] = field(default_factory=list)
    summary_base: str | None = None
    title_kind: str = "text/plain"  # of the last title feedparser did not pass over
    dates: dict[str, datetime | None] = field(default_factory=dict)  # the last of each kind

    def store(self, key: str, value: str, depth: int) -> None:
        """feedparser keeps the value of the shallowest element, the last among equals."""
        old = self.depths.get(key)
        if old is None or depth <= old:
            self.depths[key] = depth
            self.values[key] = value

    def add_tag(self, term: str | None, scheme: str | None, label: str | None) -> None:
        if (term or scheme or label) and (term, scheme, label) not in self.tags:
            self.tags.append((term, scheme, label))

    def sync_author(self, final: bool = False) -> None:
        """feedparser's author string from the author being read, if it has a name or an
        e-mail address. Without either, feedparser copies the entry's author string so far
        into the author being read: harmless at its end, but read back by that author's
        next name or e-mail if it has one."""
        detail = self.authors[-1] if self.authors else {}
        if detail:
            name, email = detail.get("name"), detail.get("email")
            if name and email:
                self.values["author"] = f"{name} ({email})"
            elif name or email:
                self.values["author"] = name or email or ""
            return
        previous = self.values.get("author")
        if previous and self.authors:
            if "@" in previous and not final:
                raise Unsupported("author e-mail carried over")  # feedparser guesses here
            self.authors[-1]["name"] = previous

    def save_author(self, key: str, value: str) -> None:
        self.sync_author()  # before the value is set: feedparser's order
        if not self.authors:
            self.authors.append({})
        self.authors[-1][key] = value


class Document:
    """What feedparser carries from element to element across the whole document."""

    def __init__(self, version: str) -> None:
        self.version = version
        self.title_depth = -1  # the depth of the last title read; shallower ones outrank it
        self.has_content = False  # reset only at an entry's end, so a feed's is felt by one

    def title(
        self, el: etree._Element, scope: Scope, attrs: Mapping[str, str]
    ) -> tuple[str, str] | None:
        """The title's type and text, or None when an earlier title outranks it."""
        kind, value = self.body(el, scope, attrs, html_type(attrs.get("type", "text/plain")))
        blocked = -1 < self.title_depth <= scope.depth
        if value:
            self.title_depth = scope.depth
        return None if blocked else (kind, value)

    def link_text(self, el: etree._Element, scope: Scope) -> str:
        value = text_of(el).strip()
        return finish(join(scope.base, value) if value else value)

    def body(
        self, el: etree._Element, scope: Scope, attrs: Mapping[str, str], kind: str
    ) -> tuple[str, str]:
        """The element's type, as feedparser settles it once the text is read, and text."""
        if attrs.get("mode") or attrs.get("src") or is_base64(kind):
            raise Unsupported("base64 or out-of-line content")
        if kind == "application/xhtml+xml":
            return kind, xhtml_markup(el, self.version)
        text = text_of(el)
        return guessed_type(kind, text.strip(), self.version), finish(text)


def read_entry(doc: Document, el: etree._Element, outer: Scope) -> Entry:
    scope, attrs = outer.enter(el)
    if "href" in attrs or "lastmod" in attrs:
        raise Unsupported("CDF attributes")
    entry = Entry()
    about = attrs.get("rdf:about")
    if about:
        entry.values["id"] = about
    doc.title_depth = -1
    _children(doc, entry, el, scope, top=True)
    doc.has_content = False
    return entry


def _children(doc: Document, entry: Entry, parent: etree._Element, scope: Scope, top: bool) -> None:
    for child in parent:
        name = element_name(child)
        if not name:
            continue
        inner, attrs = scope.enter(child)
        handler = _ENTRY_HANDLERS.get(name)
        if handler is not None:
            handler(doc, entry, child, inner, attrs)
        elif name == "media_group" and top:
            _children(doc, entry, child, inner, top=False)
        elif name == "media_content" and len(child):
            # feedparser keeps no element for it: what is inside (a media:title, say) is
            # read as if it were the entry's own, one level deeper.
            if own_text(child).strip():
                raise Unsupported("text in media:content")
            _children(doc, entry, child, inner, top=False)
        elif name in _ENTRY_IGNORED:
            check_ignorable(child, _ENTRY_IGNORED)
        else:
            raise Unsupported(f"element {name}")


# -- entry handlers: what each element does to the entry, as its feedparser handler does


def _e_title(d: Document, e: Entry, el: etree._Element, s: Scope, a: Mapping[str, str]) -> None:
    read = d.title(el, s, a)
    if read is not None:
        # feedparser keeps the type of every title it does not pass over, even one whose
        # text a shallower title outranks.
        e.title_kind, value = read
        e.store("title", value, s.depth)


def _e_media_title(
    d: Document, e: Entry, el: etree._Element, s: Scope, a: Mapping[str, str]
) -> None:
    depth = d.title_depth
    _e_title(d, e, el, s, a)
    d.title_depth = depth  # feedparser's media:title never outranks a later title


def _e_link(d: Document, e: Entry, el: etree._Element, s: Scope, a: Mapping[str, str]) -> None:
    link = link_attrs(a, s)
    e.links.append(link)
    if "href" in link:
        if len(el):
            text_of(el)  # what is inside is read as elements of the entry; only text is known
        if link["rel"] == "alternate" and html_type(link["type"]) in HTML_TYPES:
            e.values["link"] = link["href"]
        return
    value = d.link_text(el, s).replace("&amp;", "&")
    value = _QUERY_ENTITY.sub(r"&\g<1>", value)
    e.values["link"] = value
    if value:
        link["href"] = value


def link_attrs(attrs: Mapping[str, str], scope: Scope) -> dict[str, str]:
    """A link as feedparser keeps it: rel and type defaulted, href resolved in scope."""
    link = dict(attrs)
    link.setdefault("rel", "alternate")
    link.setdefault("type", "application/atom+xml" if link["rel"] == "self" else "text/html")
    href = link.get("url", link.get("uri", link.get("href")))
    if href:
        link.pop("url", None)
        link.pop("uri", None)
        link["href"] = href
    if "href" in link:
        link["href"] = join(scope.base, link["href"])
    return link


def _e_guid(d: Document, e: Entry, el: etree._Element, s: Scope, a: Mapping[str, str]) -> None:
    is_link = a.get("ispermalink", "true") == "true"
    value = text_of(el).strip()
    if value and is_link:
        value = join(s.base, value)
    value = finish(value)
    e.store("id", value, s.depth)
    if is_link:
        e.values.setdefault("link", value)


def _e_description(
    d: Document, e: Entry, el: etree._Element, s: Scope, a: Mapping[str, str]
) -> None:
    if "summary" in e.values and not d.has_content:
        _e_content(d, e, el, s, a)
    else:
        _summary(d, e, el, s, a, "text/html")


def _e_summary(d: Document, e: Entry, el: etree._Element, s: Scope, a: Mapping[str, str]) -> None:
    if "summary" in e.values and not d.has_content:
        _e_content(d, e, el, s, a)
    else:
        _summary(d, e, el, s, a, "text/plain")


def _summary(
    d: Document, e: Entry, el: etree._Element, s: Scope, a: Mapping[str, str], default: str
) -> None:
    kind = html_type(a.get("type", default))
    e.store("summary", d.body(el, s, a, kind)[1], s.depth)
    e.summary_base = s.base


def _e_content(d: Document, e: Entry, el: etree._Element, s: Scope, a: Mapping[str, str]) -> None:
    _content(d, e, el, s, a, "text/plain")


def _e_content_encoded(
    d: Document, e: Entry, el: etree._Element, s: Scope, a: Mapping[str, str]
) -> None:
    _content(d, e, el, s, a, "text/html")


def _content(
    d: Document, e: Entry, el: etree._Element, s: Scope, a: Mapping[str, str], default: str
) -> None:
    d.has_content = True
    kind = html_type(a.get("type", default))
    copied = kind in ("text/plain", *HTML_TYPES)  # by the type before the text is read
    kind, value = d.body(el, s, a, kind)
    lang = s.lang.replace("_", "-") if s.lang else s.lang
    e.content.append((kind, value, lang, s.base))
    if copied:
        e.values.setdefault("summary", value)


def _e_author(d: Document, e: Entry, el: etree._Element, s: Scope, a: Mapping[str, str]) -> None:
    e.authors.append({})
    for child in el:
        name = element_name(child)
        if not name:
            continue
        inner, _ = s.enter(child)
        if name in ("name", "email", "itunes_name", "itunes_email"):
            # Read without expecting text: stripped, but not finished as other texts are.
            e.save_author(name.rpartition("_")[2], text_of(child).strip())
        elif name in ("uri", "url", "homepage"):
            value = text_of(child).strip()
            e.save_author("href", finish(join(inner.base, value) if value else value))
        elif name == "gd_image" and not len(child) and not (child.text or "").strip():
            pass
        else:
            raise Unsupported(f"element {name} in an author")
    e.store("author", finish(own_text(el)), s.depth)
    e.sync_author(final=True)


def _e_category(d: Document, e: Entry, el: etree._Element, s: Scope, a: Mapping[str, str]) -> None:
    e.add_tag(a.get("term"), a.get("scheme", a.get("domain")), a.get("label"))
    value = finish(text_of(el))
    if not value:
        return
    if e.tags and not e.tags[-1][0]:
        _, scheme, label = e.tags[-1]
        e.tags[-1] = (value, scheme, label)
    else:
        e.add_tag(value, None, None)


def _e_media_category(
    d: Document, e: Entry, el: etree._Element, s: Scope, a: Mapping[str, str]
) -> None:
    attrs = dict(a)
    attrs.setdefault("scheme", "http://search.yahoo.com/mrss/category_schema")
    _e_category(d, e, el, s, attrs)


def _keywords(scheme: str | None) -> Callable[..., None]:
    def read(d: Document, e: Entry, el: etree._Element, s: Scope, a: Mapping[str, str]) -> None:
        if a:
            raise Unsupported("keywords with attributes")  # feedparser then reads none
        for term in finish(text_of(el)).split(","):
            if term.strip():
                e.add_tag(term.strip(), scheme, None)

    return read


def _e_enclosure(d: Document, e: Entry, el: etree._Element, s: Scope, a: Mapping[str, str]) -> None:
    if len(el):
        text_of(el)
    link = dict(a)
    href = link.get("url", link.get("uri", link.get("href")))
    if href:
        link.pop("url", None)
        link.pop("uri", None)
        link["href"] = href
    link["rel"] = "enclosure"
    e.links.append(link)


def _date(key: str) -> Callable[..., None]:
    def read(d: Document, e: Entry, el: etree._Element, s: Scope, a: Mapping[str, str]) -> None:
        value = finish(text_of(el))
        # One that cannot be read as feedparser reads it sends the document there, unless
        # nothing feedparser reads of it would be kept.
        e.dates[key] = None if refused_date(value) else checked_date(value, read_date(value))
        e.store(key, value, s.depth)

    return read


def _e_source(d: Document, e: Entry, el: etree._Element, s: Scope, a: Mapping[str, str]) -> None:
    """Everything in a source is the source's; only the title rank it leaves matters."""
    d.title_depth = -1
    for child in el.iterdescendants():
        name = element_name(child)
        if name and name not in _SOURCE_CHILDREN:
            raise Unsupported(f"element {name} in a source")
    for child in el:
        if element_name(child) in ("title", "dc_title") and finish(text_of(child)):
            d.title_depth = s.depth + 1
            break


_Handler = Callable[[Document, Entry, etree._Element, Scope, Mapping[str, str]], None]
_ENTRY_HANDLERS: dict[str, _Handler] = {
    "title": _e_title,
    "dc_title": _e_title,
    "media_title": _e_media_title,
    "link": _e_link,
    "guid": _e_guid,
    "id": _e_guid,
    "description": _e_description,
    "dc_description": _e_description,
    "media_description": _e_description,
    "summary": _e_summary,
    "itunes_summary": _e_summary,
    "content": _e_content,
    "content_encoded": _e_content_encoded,
    "author": _e_author,
    "dc_creator": _e_author,
    "dc_author": _e_author,
    "itunes_author": _e_author,
    "category": _e_category,
    "dc_subject": _e_category,
    "media_category": _e_media_category,
    "itunes_keywords": _keywords("http://www.itunes.com/"),
    "media_keywords": _keywords(None),
    "enclosure": _e_enclosure,
    "source": _e_source,
    **{name: _date("published") for name in _PUBLISHED},
    **{name: _date("updated") for name in _UPDATED},
}


def parsed_entry(entry: Entry, feed_language: str | None, url: str, version: str) -> ParsedEntry:
    values = entry.values
    first = entry.content[0] if entry.content else None
    pairs = ((kind, value) for kind, value, _, _ in entry.content)
    content = body(pairs, values.get("summary") or "")
    base = first[3] if first else entry.summary_base
    dropped = []
    dates = {}
    for key in ("published", "updated"):
        dates[key] = entry.dates.get(key)
        if dates[key] is None and (text := (values.get(key) or "").strip()):
            dropped.append((key, text))
    return ParsedEntry(
        guid=(values.get("id") or "").strip() or None,
        link=(values.get("link") or "").strip() or None,
        title=values.get("title") or "",
        author=(values.get("author") or "").strip() or None,
        content_html=content,
        published=dates["published"],
        updated=dates["updated"],
        language=(first[2] or feed_language) if first else feed_language,
        content_base=base if base and base != url else None,
        categories=categories({"term": t, "label": label} for t, _, label in entry.tags),
        enclosures=enclosures((link for link in entry.links if link["rel"] == "enclosure"), url),
        unread_dates=tuple(dropped),
        title_is_html=entry.title_kind in HTML_TYPES,
    )
