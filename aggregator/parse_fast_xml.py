"""lxml elements as feedparser's SAX handlers see them, for the fast path.

feedparser names an element ``prefix_local`` (its own prefix for a namespace it knows, the
document's for one it does not), lower-cases names, sees a namespaced attribute under two
names, tracks xml:base and xml:lang on every element, and writes inline xhtml back out as
markup. The fast path must see the same, or decline: ``Unsupported``.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape

from lxml import etree

from aggregator.parse_rules import Unsupported, finish, rebase, serialise_start

ATOM = "{http://www.w3.org/2005/Atom}"
RSS1 = "{http://purl.org/rss/1.0/}"
RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
XHTML = "{http://www.w3.org/1999/xhtml}"
XML = "http://www.w3.org/XML/1998/namespace"

# feedparser's prefix for the namespaces it knows (URIs lower-cased, as it compares them);
# "" for the feed formats' own. Elements are named as feedparser names its handlers.
KNOWN = {
    "": "",
    "http://www.w3.org/2005/atom": "",
    "http://purl.org/rss/1.0/": "",
    "http://purl.org/dc/elements/1.1/": "dc",
    "http://purl.org/dc/terms/": "dcterms",
    "http://purl.org/rss/1.0/modules/content/": "content",
    "http://purl.org/rss/1.0/modules/syndication/": "sy",
    "http://webns.net/mvcb/": "admin",
    "http://search.yahoo.com/mrss/": "media",
    "http://search.yahoo.com/mrss": "media",
    "http://www.itunes.com/dtds/podcast-1.0.dtd": "itunes",
    "http://wellformedweb.org/commentapi/": "wfw",
    "http://purl.org/rss/1.0/modules/slash/": "slash",
    "http://purl.org/rss/1.0/modules/threading/": "thr",
    "http://www.w3.org/1999/02/22-rdf-syntax-ns#": "rdf",
    "http://www.w3.org/1999/xhtml": "xhtml",
    "http://www.w3.org/xml/1998/namespace": "xml",
    "http://www.w3.org/1999/xlink": "xlink",
    "http://www.georss.org/georss": "georss",
    "http://www.w3.org/2003/01/geo/wgs84_pos#": "geo",
    "http://rssnamespace.org/feedburner/ext/1.0": "feedburner",
}
# Namespaces feedparser does not know, which it names by the document's own prefix: read
# only under the usual prefix, bound to nothing else in the document.
FOREIGN = {
    "http://purl.org/syndication/thread/1.0": "thr",
    "http://a9.com/-/spec/opensearchrss/1.0/": "opensearch",
    "http://a9.com/-/spec/opensearch/1.1/": "opensearch",
    "http://www.youtube.com/xml/schemas/2015": "yt",
    "http://schemas.google.com/g/2005": "gd",
    "http://podcastindex.org/namespace/1.0": "podcast",
    "https://podcastindex.org/namespace/1.0": "podcast",
    "http://www.google.com/schemas/play-podcasts/1.0": "googleplay",
    "http://webfeeds.org/rss/1.0": "webfeeds",
    "http://www.rssboard.org/media-rss": "media",  # Squarespace's Media RSS URI
    "https://schema.acast.com/1.0/": "acast",
    "http://www.spotify.com/ns/rss": "spotify",
}
# WordPress.com and Jetpack write <site> and <post-id> in a default namespace of their own,
# which feedparser names by the local name alone.
UNPREFIXED = "com-wordpress:feed-additions:1"

_NAMES: dict[str, str] = {}


def element_name(el: etree._Element) -> str:
    """The element's name as feedparser dispatches on it: ``prefix_local``, lower case."""
    tag = el.tag
    if not isinstance(tag, str):
        if tag is etree.Comment or tag is etree.PI:
            return ""
        raise Unsupported("entity reference")
    name = _NAMES.get(tag)
    if name is not None:
        return name
    namespace, _, local = tag[1:].rpartition("}") if tag[0] == "{" else ("", "", tag)
    prefix = KNOWN.get(namespace.lower())
    if prefix is None:
        if namespace == UNPREFIXED and el.prefix is None:
            return local.lower()
        prefix = FOREIGN.get(namespace)
        if prefix is None or (el.prefix or "").lower() != prefix:
            raise Unsupported(f"namespace {namespace}")
        return f"{prefix}_{local.lower()}"  # checked per document: not cached
    name = f"{prefix}_{local.lower()}" if prefix else local.lower()
    if len(_NAMES) < 4096:
        _NAMES[tag] = name
    return name


def attributes(el: etree._Element) -> dict[str, str]:
    """The attributes as feedparser's handlers see them: a namespaced one by feedparser's
    prefix for its namespace (bare when it knows none) and then by the document's own,
    names lower-cased, ``rel`` and ``type`` values lower-cased."""
    found: dict[str, str] = {}
    items = el.items()
    written = []
    for name, value in items:
        if name[0] == "{":
            namespace, _, local = name[1:].rpartition("}")
            prefix = KNOWN.get(namespace.lower(), "")
            found[(f"{prefix}:{local}" if prefix else local).lower()] = value
            written.append((f"{_prefix_of(el, namespace)}:{local}".lower(), value))
        else:
            found[name.lower()] = value
            written.append((name.lower(), value))
    for name, value in written:
        found[name] = value
    for key in ("rel", "type"):
        if key in found:
            found[key] = found[key].lower()
    return found


def _prefix_of(el: etree._Element, namespace: str) -> str:
    """The prefix the document wrote for a namespaced attribute (one, or we cannot tell)."""
    if namespace == XML:
        return "xml"
    prefixes = [prefix for prefix, uri in el.nsmap.items() if uri == namespace and prefix]
    if len(prefixes) != 1:
        raise Unsupported("attribute prefix")
    return str(prefixes[0])


def text_of(el: etree._Element) -> str:
    """The character data of an element that holds text only (comments allowed)."""
    if not len(el):
        return el.text or ""
    pieces = [el.text or ""]
    for child in el:
        if element_name(child):
            raise Unsupported("markup inside a text element")
        pieces.append(child.tail or "")
    return "".join(pieces)


def own_text(el: etree._Element) -> str:
    """The character data directly in an element, between its children."""
    return (el.text or "") + "".join(child.tail or "" for child in el)


@dataclass(slots=True)
class Scope:
    base: str
    lang: str | None
    depth: int

    def enter(self, el: etree._Element) -> tuple[Scope, dict[str, str]]:
        """The scope under ``el`` (its xml:base and xml:lang, or plain base and lang, which
        feedparser reads the same way), with its attributes."""
        if not el.keys():
            return Scope(self.base, self.lang, self.depth + 1), {}
        attrs = attributes(el)
        declared = attrs.get("xml:base", attrs.get("base"))
        # feedparser joins the base with itself under every element; that changes a base
        # only the first time, which the root's scope has done.
        base = rebase(self.base, declared) if declared else self.base
        lang = attrs.get("xml:lang", attrs.get("lang"))
        if lang is None:
            lang = self.lang
        return Scope(base, lang or None, self.depth + 1), attrs


def is_base64(kind: str) -> bool:
    """feedparser base64-decodes content of any type but text, xml and html."""
    return not (kind.startswith("text/") or kind.endswith(("+xml", "/xml")))


def check_ignorable(el: etree._Element, allowed: frozenset[str]) -> None:
    """Every element inside ``el`` is one whose handler keeps nothing we store."""
    for child in el.iterdescendants():
        name = element_name(child)
        if name and name not in allowed:
            raise Unsupported(f"element {name} inside {el.tag}")


def _xhtml_pieces(el: etree._Element, pieces: list[str]) -> None:
    if el.text:
        pieces.append(escape(el.text))
    for child in el:
        tag = child.tag
        if not isinstance(tag, str):
            if tag is not etree.Comment and tag is not etree.PI:
                raise Unsupported("entity reference")
        else:
            if not tag.startswith(XHTML):
                raise Unsupported("non-xhtml element in xhtml content")
            local = tag[len(XHTML) :].lower()
            if local in ("body", "svg", "math"):
                raise Unsupported(f"xhtml {local}")
            attrs = attributes(child) if child.keys() else {}
            pieces.append(serialise_start(local, attrs))
            _xhtml_pieces(child, pieces)
            pieces.append(f"</{local}>")
        if child.tail:
            pieces.append(escape(child.tail))


def xhtml_markup(el: etree._Element, version: str) -> str:
    """Inline xhtml written back out as feedparser writes it: start and end tag for every
    element (``<br></br>``), attributes as its handlers see them, and in Atom 1.0 the one
    wrapping ``div`` taken off."""
    pieces: list[str] = []
    _xhtml_pieces(el, pieces)
    while len(pieces) > 1 and not pieces[-1].strip():
        del pieces[-1]
    while len(pieces) > 1 and not pieces[0].strip():
        del pieces[0]
    if (
        version == "atom10"
        and pieces
        and (pieces[0] == "<div>" or pieces[0].startswith("<div "))
        and pieces[-1] == "</div>"
    ):
        depth = 0
        for piece in pieces[:-1]:
            if piece.startswith("</"):
                depth -= 1
                if depth == 0:
                    break
            elif piece.startswith("<") and not piece.endswith("/>"):
                depth += 1
        else:
            pieces = pieces[1:-1]
    return finish("".join(pieces))
