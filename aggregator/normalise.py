"""Pure normalisation: ParsedFeed + fetch metadata + now -> UpdatePlan.

Identity, canonical URLs, dates in UTC and sanitised HTML are decided here, with no I/O, so
the rules can be tested in isolation and the store only has to write what it is given.
"""

from __future__ import annotations

import functools
import hashlib
import html
import re
import uuid
from collections import deque
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

import nh3

# Lives in a light module of its own (feeds.yaml's checks use it); named here too, where
# identity uses it and its users import it: PEP 484's re-export, as mypy --strict asks.
from aggregator.canonical import canonical_url as canonical_url  # noqa: PLC0414
from aggregator.clean import (
    MAX_AUTHOR_CHARS,
    MAX_CONTENT_BYTES,
    MAX_LANGUAGE_CHARS,
    MAX_MEDIA_TYPE_CHARS,
    MAX_TITLE_CHARS,
    cut_at_word,
    cut_html,
    cut_raw_content,
    flatten_nesting,
    line_text,
    maybe_xml_text,
    over_content_cap,
    reveal_lazy_images,
    safe_url,
    strip_shortcodes,
    web_parts,
    xml_text,
)
from aggregator.dedup import sketch, title_key
from aggregator.feed_dates import read_worded_dates
from aggregator.parse_rules import PLAIN_ABSOLUTE
from aggregator.policy import publisher_hint
from aggregator.search import stem_entry
from aggregator.types import (
    Enclosure,
    EntryPlan,
    FetchResult,
    ParsedEntry,
    ParsedFeed,
    UpdatePlan,
)

SUMMARY_LENGTH = 300
# Entries taken from one poll of one feed, newest first (poll.max_entries_per_feed).
MAX_ENTRIES_PER_POLL = 500
# A longer guid is kept as its hash: it identifies as well and stays a sane key.
MAX_KEY_CHARS = 512
_ID_NAMESPACE = uuid.UUID("6f1c1b8e-3d55-4c1a-9a53-2c6f0e0f7a10")

ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "dd", "del", "dfn",
        "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6",
        "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "small",
        "span", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr",
        "u", "ul", "iframe",
    }
)  # fmt: skip
# Embeds worth keeping; any other iframe is removed.
IFRAME_HOSTS = frozenset(
    {"www.youtube.com", "youtube.com", "www.youtube-nocookie.com", "player.vimeo.com",
     "www.dailymotion.com", "w.soundcloud.com"}
)  # fmt: skip
TRACKER_HOSTS = frozenset(
    {"feeds.feedburner.com", "pixel.wp.com", "stats.wordpress.com", "www.google-analytics.com",
     "pixel.quantserve.com", "www.facebook.com", "ad.doubleclick.net", "t.co"}
)  # fmt: skip
URL_ATTRIBUTES = frozenset({("a", "href"), ("img", "src"), ("iframe", "src"),
                            ("blockquote", "cite"), ("q", "cite")})  # fmt: skip
# A feed whose ids are repeated for more than this share of the items that have one has ids
# that identify nothing; its entries are then keyed by link (FreshRSS makes the same call).
BROKEN_ID_SHARE = 0.2
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title", "hreflang"},
    "img": {"src", "alt", "title", "width", "height"},
    "abbr": {"title"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "blockquote": {"cite"},
    "q": {"cite"},
    "ol": {"start"},
    "iframe": {"src", "width", "height", "title", "allowfullscreen"},
}
_BLOCK_TAG = re.compile(r"<(?=/?(?:p|br|div|li|h[1-6]|tr|td|th|blockquote|pre|hr|dd|dt)\b)", re.I)


def squash(text: str) -> str:
    """Runs of whitespace to one space, ends trimmed: ``str.split`` splits on the same characters
    as a ``\\s+`` regex, five times faster on long text."""
    return " ".join(text.split())


_SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
_EMPTY_IFRAME = re.compile(r"<iframe(?![^>]*\ssrc=)[^>]*>.*?</iframe>", re.S)
_IMG = re.compile(r"<img\b[^>]*>")
_SIZE = re.compile(r'\s(width|height)="\s*(\d+)')


# The base URL of the fragment being cleaned: the cleaner is built once, its filter reads this.
_BASE_URL: ContextVar[str | None] = ContextVar("base_url", default=None)


@functools.lru_cache(maxsize=256)
def _origin(base: str) -> tuple[str, str, str] | None:
    """Scheme, host and ``scheme://netloc`` of an http(s) base URL with no surprises in it."""
    parts = web_parts(base)
    if parts is None:
        return None
    return parts.scheme, (parts.hostname or "").lower(), f"{parts.scheme}://{parts.netloc}"


def _check_url(element: str, attribute: str, value: str) -> str | None:
    if (element, attribute) not in URL_ATTRIBUTES:
        return value
    value = value.strip()
    if element == "a" and value.startswith(("https://", "http://")):
        return value  # the common case, already absolute and safe: no parsing
    absolute, scheme, host = resolve(value, _BASE_URL.get())
    if scheme not in _SAFE_SCHEMES:
        return None
    if element == "iframe" and (scheme != "https" or host not in IFRAME_HOSTS):
        return None
    if element == "img" and host in TRACKER_HOSTS:
        return None
    return absolute


# Paths that urljoin puts after the base's host (from the root) or directory (relative)
# and changes nothing else in: no parameter, no empty query or fragment (which it drops);
# the relative one also no scheme, query or fragment. Dot and empty segments are checked
# apart.
_PLAIN_FROM_ROOT = re.compile(r"/(?!/)[^?#\s;]*(?:\?[^#\s]+)?(?:#\S+)?")
_PLAIN_RELATIVE = re.compile(r"[^\s./:?#;][^\s:?#;]*")


def resolve(value: str, base: str | None) -> tuple[str, str, str]:
    """``value`` made absolute against ``base``, with its scheme and lower-case host, as
    ``urljoin`` and ``urlsplit`` give them; without their cost for the usual forms (an
    absolute URL, a path from the root, a plain relative path)."""
    if PLAIN_ABSOLUTE.fullmatch(value):
        # urljoin gives it back as it is (see parse_rules.join); the host is what urlsplit
        # reads from an authority without brackets.
        scheme, _, rest = value.partition("://")
        authority = rest.partition("/")[0].partition("?")[0].partition("#")[0]
        return value, scheme, authority.rpartition("@")[2].partition(":")[0].lower()
    origin = _origin(base) if base else None
    if origin and value.isprintable():
        if "/." not in value and _PLAIN_FROM_ROOT.fullmatch(value):
            return origin[2] + value, origin[0], origin[1]
        directory = _directory(base) if base else None
        plain = "//" not in value and "/." not in value and _PLAIN_RELATIVE.fullmatch(value)
        if directory and plain:
            return directory + value, origin[0], origin[1]
    absolute = urljoin(base, value) if base else value
    parts = urlsplit(absolute)
    return absolute, parts.scheme, (parts.hostname or "").lower()


@functools.lru_cache(maxsize=256)
def _directory(base: str) -> str | None:
    """``scheme://netloc/dir/`` of a base whose path has no dot segment, empty segment or
    parameter: what urljoin puts a plain relative path after."""
    parts = web_parts(base)
    if parts is None or "//" in parts.path or "/." in parts.path or ";" in parts.path:
        return None
    return f"{parts.scheme}://{parts.netloc}{parts.path[: parts.path.rfind('/') + 1] or '/'}"


# Built once: nh3.clean() with these arguments rebuilds the same cleaner on every call, which
# costs more than the cleaning.
_CLEANER = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
    url_schemes=set(_SAFE_SCHEMES),
    link_rel="noopener noreferrer nofollow",
    strip_comments=True,
    attribute_filter=_check_url,
    # Their text is no part of the post: a whole page's <title> would lead its summary.
    clean_content_tags={"script", "style", "title", "template"},
)
_TEXT_ONLY = nh3.Cleaner(tags=set(), attributes={})


def _drop_pixel(match: re.Match[str]) -> str:
    tag = match.group(0)
    if "src=" not in tag:
        return ""
    if "width" not in tag and "height" not in tag:
        return tag  # no size to read: most images
    sizes = dict(_SIZE.findall(tag))
    tiny = sizes and all(int(v) <= 1 for v in sizes.values())
    return "" if tiny else tag


def sanitise_html(fragment: str, base_url: str | None = None) -> str:
    """Allowlist sanitising: no scripts, handlers, styles, javascript: URLs, frames other than
    known video players, or tracking pixels; relative URLs made absolute against ``base_url``."""
    token = _BASE_URL.set(base_url)
    try:
        cleaned = _CLEANER.clean(reveal_lazy_images(fragment))
    finally:
        _BASE_URL.reset(token)
    if "<iframe" in cleaned:
        cleaned = _EMPTY_IFRAME.sub("", cleaned)
    if "<img" in cleaned:
        cleaned = _IMG.sub(_drop_pixel, cleaned)
    return cleaned.strip()


def html_to_text(fragment: str) -> str:
    """Visible text of an HTML fragment, with block boundaries kept as spaces."""
    if "<" not in fragment and "&" not in fragment:
        return squash(fragment)  # plain text already: skip the parser
    spaced = _BLOCK_TAG.sub(" <", fragment)
    return squash(html.unescape(_TEXT_ONLY.clean(spaced)))


_TAG = re.compile(r"""<(?:[^>"']|"[^"]*"|'[^']*')*>""")
_BLOCK_TAG_ONLY = re.compile(r"<(?=/?(?:p|br|div|li|h[1-6]|tr|td|th|blockquote|pre|hr|dd|dt)\b)")


def sanitised_text(clean_html: str) -> str:
    """html_to_text for nh3's own output, without a second parse: that output is well formed
    and holds no script or style content, so dropping the tags leaves exactly the text."""
    if "<" not in clean_html and "&" not in clean_html:
        return squash(clean_html)
    text = _TAG.sub("", _BLOCK_TAG_ONLY.sub(" <", clean_html))
    return squash(html.unescape(text))


def shorten(text: str, limit: int = SUMMARY_LENGTH) -> str:
    """Cut at a word boundary so a summary never ends mid-word."""
    return cut_at_word(text, limit)


def ids_are_broken(entries: Sequence[ParsedEntry]) -> bool:
    """Only a repeated id is evidence against the others: an item without one (an event, a
    sticky post) says nothing about them, and is keyed by its link anyway."""
    guids = [e.guid for e in entries if e.guid]
    if not guids:
        return False
    return (len(guids) - len(set(guids))) / len(guids) > BROKEN_ID_SHARE


def entry_key(entry: ParsedEntry, trust_guid: bool = True) -> str:
    """Identity inside one feed: guid, else link, else a hash of what the entry says."""
    if entry.guid and trust_guid:
        return _bounded_key(entry.guid)
    if entry.link:
        return _bounded_key(entry.link)
    when = entry.published or entry.updated
    date = when.isoformat() if when else ""
    digest = hashlib.sha256(f"{entry.title}\0{date}\0{entry.content_html}".encode()).hexdigest()
    return f"sha256:{digest[:32]}"


def _bounded_key(key: str) -> str:
    key = xml_text(key)
    if len(key) <= MAX_KEY_CHARS:
        return key
    return "sha256:" + hashlib.sha256(key.encode(errors="surrogatepass")).hexdigest()[:32]


def document_keys(entries: Sequence[ParsedEntry], trust_guid: bool) -> list[str]:
    """The key of each entry of one document: ``entry_key``, except that two entries with
    different ids never share a key. When ids are not trusted, links key the entries; posts
    that share a link (a sponsor post and a linked-list post) but have ids of their own are
    keyed by those, or, if an id is repeated too, by what they say. The keys do not depend on
    the order of the entries, so a feed that reorders them keeps its posts."""
    if trust_guid:
        return _apart_by_content(entries, [entry_key(entry, trust_guid) for entry in entries])
    ids_of_link: dict[str, set[str]] = {}
    items_of_id: dict[str, set[tuple[str | None, str, str]]] = {}
    for entry in entries:
        if entry.guid:
            item = (entry.link, entry.title, entry.content_html)
            items_of_id.setdefault(entry.guid, set()).add(item)
            if entry.link:
                ids_of_link.setdefault(entry.link, set()).add(entry.guid)
    keys = []
    for entry in entries:
        shared_link = entry.link is not None and len(ids_of_link.get(entry.link, ())) > 1
        if entry.guid and (shared_link or not entry.link):
            # The id is what tells this post apart, if no other post has it.
            unique_id = len(items_of_id[entry.guid]) == 1
            keys.append(_bounded_key(entry.guid) if unique_id else entry_key(_anonymous(entry)))
        else:
            keys.append(entry_key(entry, trust_guid))
    # A link key that is another post's id (one post's guid is the URL another links to):
    # the post keyed by its link has an id of its own to go by. Going by it can make it
    # collide with a third post's link, so shared keys are worked off until none is left;
    # each entry moves at most twice (link -> id -> what it says), so this ends, and only
    # the keys a move touched are looked at again.
    members: dict[str, list[int]] = {}
    for index, key in enumerate(keys):
        members.setdefault(key, []).append(index)
    work = deque(key for key, group in members.items() if len(group) > 1)
    while work:
        key = work.popleft()
        group = members.get(key, [])
        if len({entries[i].guid for i in group}) < 2:
            continue
        for index in list(group):
            entry = entries[index]
            if not entry.guid or key == _bounded_key(entry.guid):
                continue
            unique_id = len(items_of_id[entry.guid]) == 1
            own = _bounded_key(entry.guid) if unique_id else entry_key(_anonymous(entry))
            if own != key:
                group.remove(index)
                members.setdefault(own, []).append(index)
                keys[index] = own
                work.append(own)
    return _apart_by_content(entries, keys)


def _apart_by_content(entries: Sequence[ParsedEntry], keys: list[str]) -> list[str]:
    """A link that keys several posts of one document (a news index, the front page, a
    SharePoint list) names none of them: each of those is keyed by what it says instead, the
    link staying its link. Entries keyed by an id keep it; the same item repeated is one
    post, and keeps its link (counted as several, a repeated post took the key of what it
    says, which another post of its title, date and text has too: one of them was lost)."""
    holders: dict[str, set[tuple[object, ...]]] = {}
    for entry, key in zip(entries, keys, strict=True):
        holders.setdefault(key, set()).add(_item(entry))
    if len(holders) == len(keys):
        return keys  # every key is one entry's: the usual case
    keys = [
        entry_key(_anonymous(entry))
        if len(holders[key]) > 1 and entry.link and key == _bounded_key(entry.link)
        and not (entry.guid and key == _bounded_key(entry.guid))
        else key
        for entry, key in zip(entries, keys, strict=True)
    ]  # fmt: skip
    return _ids_apart(entries, keys)


def _item(entry: ParsedEntry) -> tuple[object, ...]:
    """What makes two entries of a document the same item repeated."""
    return (entry.guid, entry.link, entry.title, entry.content_html, entry.published,
            entry.updated)  # fmt: skip


def _ids_apart(entries: Sequence[ParsedEntry], keys: list[str]) -> list[str]:
    """Two entries with different ids are two posts: where they still share a key (two
    posts of one title, date and text, each keyed by what it says), each that is not keyed
    by its own id takes a key of what it says and its id. Keys no two ids share are left
    as they are, so this changes nothing a document did not lose a post by."""
    ids_of_key: dict[str, set[str]] = {}
    for entry, key in zip(entries, keys, strict=True):
        if entry.guid:
            ids_of_key.setdefault(key, set()).add(entry.guid)
    if all(len(ids) < 2 for ids in ids_of_key.values()):
        return keys
    return [
        _content_and_id_key(entry, entry.guid)
        if entry.guid and len(ids_of_key[key]) > 1 and key != _bounded_key(entry.guid)
        else key
        for entry, key in zip(entries, keys, strict=True)
    ]


def _content_and_id_key(entry: ParsedEntry, guid: str) -> str:
    when = entry.published or entry.updated
    date = when.isoformat() if when else ""
    text = f"{entry.title}\0{date}\0{entry.content_html}\0{guid}"
    return f"sha256:{hashlib.sha256(text.encode(errors='surrogatepass')).hexdigest()[:32]}"


def keyed_by_content(entry: ParsedEntry, key: str) -> bool:
    """Whether the entry's link is one it shares with other entries of its document, so that
    neither its id nor its link is its key (see document_keys): that link is no post's
    address, and merging by it would make them all one."""
    return bool(entry.link) and key not in {
        _bounded_key(entry.link or ""),
        _bounded_key(entry.guid) if entry.guid else "",
    }


def _anonymous(entry: ParsedEntry) -> ParsedEntry:
    return ParsedEntry(None, None, entry.title, None, entry.content_html, entry.published,
                       entry.updated)  # fmt: skip


def pages_told_apart_by_fragment(entries: Sequence[ParsedEntry]) -> frozenset[str]:
    """Pages that entries of one document link with different fragments: a daily-page blog
    whose posts are anchors (``/2017/06/26.html#a080605``). There the fragment is the post."""
    fragments: dict[str, set[str]] = {}
    for entry in entries:
        if entry.link and (page := canonical_url(entry.link)):
            fragments.setdefault(page, set()).add(urlsplit(entry.link.strip()).fragment)
    return frozenset(page for page, seen in fragments.items() if len(seen) > 1)


def without_own_links(
    entries: Sequence[ParsedEntry], document_urls: Sequence[str]
) -> list[ParsedEntry]:
    """Entries whose link is the feed itself (``href=""`` resolves to it) have no link: such a
    link names no post, and keying or merging by it would make all of them one."""
    own = {canonical_url(url) for url in document_urls} - {None}
    return [
        replace(entry, link=None) if entry.link and canonical_url(entry.link) in own else entry
        for entry in entries
    ]


def entry_id(feed_url: str, key: str, canonical: str | None) -> str:
    """Stable id of a merged entry: from the canonical link, so the same post from two feeds
    gets the same id; from feed and key when there is no link."""
    name = canonical or f"{feed_url}\0{key}"
    # uuid5 (RFC 9562 §5.5) from its definition: uuid.uuid5 builds two UUID objects on the way
    # and took a tenth of a cold poll's store time.
    digest = bytearray(hashlib.sha1(_ID_NAMESPACE.bytes + name.encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    h = digest.hex()
    return f"urn:uuid:{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


# Syndication feeds began in 1999: an earlier date is a placeholder (0001-01-01, the Unix
# epoch) or a misreading, not when the post was written, and is dropped for first-seen time.
EARLIEST_DATE = datetime(1995, 1, 1, tzinfo=UTC)
MAX_WARNING_CHARS = 500


def _clamp(value: datetime | None, now: datetime) -> datetime | None:
    # A date in the future would pin an entry to the top of the merged feed.
    if value is None or value < EARLIEST_DATE:
        return None
    return min(value, now)


_NAME_AND_ADDRESS = re.compile(r"^(?P<outer>[^()<>]*?)\s*[(<](?P<inner>[^()<>]*)[)>]$")


def person_name(author: str) -> str:
    """The name in ``name (address)``, ``address (name)`` and ``name <address>``, the forms
    RSS and feedparser give (Blogger: ``Jens (noreply@blogger.com)``); an address alone is
    kept, unless it is a no-reply address, which names nobody."""
    match = _NAME_AND_ADDRESS.match(author.strip())
    if match:
        outer, inner = match.group("outer").strip(), match.group("inner").strip()
        if "@" in inner and outer and "@" not in outer:
            return outer
        if "@" in outer and inner and "@" not in inner:
            return inner
    if "@" in author and author.strip().lower().startswith(("noreply@", "no-reply@")):
        return ""
    return author


def dropped_fields(entry: ParsedEntry) -> list[str]:
    """What the feed said about the entry that is not kept: unreadable or implausible dates."""
    dropped = list(entry.dropped)
    for name, value in (("published", entry.published), ("updated", entry.updated)):
        if value is not None and value < EARLIEST_DATE:
            dropped.append(name)
    return dropped


def _warning(parse_warning: str | None, dropped: dict[str, int], repeated: int = 0) -> str | None:
    parts = [parse_warning] if parse_warning else []
    if dropped:
        counts = ", ".join(f"{name} ×{count}" for name, count in sorted(dropped.items()))
        parts.append(f"dropped unreadable or implausible fields, entries kept: {counts}")
    if repeated:
        # A feed that lists one item twice, or one id for two posts: say so, since the
        # second is never stored.
        parts.append(
            f"dropped {repeated} repeated {'entry' if repeated == 1 else 'entries'}"
            " (the id, or the link, title, date and text, of another entry)"
        )
    return "; ".join(parts)[:MAX_WARNING_CHARS] or None


# Part of every raw digest: bump it when a change to the rules here should rewrite stored
# entries on their next poll, even those whose feed did not change them.
# 3: XML-forbidden characters, unsafe URLs and field caps; 4: names, dates; 5: lazy images,
# <noscript> and a page's <title>; 6: plain-text titles kept as written; 7: C1 controls and
# open bidi controls in one-line fields; 8: relative URLs in content against the document,
# not the entry's link; 9: WordPress shortcodes; 10: bracketed words are not shortcodes
NORMALISE_VERSION = 10


def raw_digest(entry: ParsedEntry, key: str) -> str:
    """What the feed said about an entry, before any of our rules: equal digests normalise
    to equal plans, so an entry whose digest is stored needs no sanitising or sketching."""
    said = (
        key, entry.guid, entry.link, entry.title, entry.author, entry.content_html,
        entry.published.isoformat() if entry.published else None,
        entry.updated.isoformat() if entry.updated else None,
        entry.language, entry.content_base, "\1".join(entry.categories),
        "html" if entry.title_is_html else "text",
        "\1".join(f"{e.url}\2{e.type or ''}\2{e.length}" for e in entry.enclosures),
    )  # fmt: skip
    # Fields joined with a separator that feed text cannot hold (XML forbids U+0000), None
    # told apart from "" by a marker of its own; repr() of the tuple cost four times more.
    joined = "\0".join("\0\1" if value is None else value for value in said)
    return hashlib.blake2b(
        f"{NORMALISE_VERSION}\0{joined}".encode(errors="surrogatepass"), digest_size=16
    ).hexdigest()


MAX_CATEGORIES = 50
MAX_CATEGORY_LENGTH = 200


def clean_categories(terms: Sequence[str]) -> tuple[str, ...]:
    """Trimmed, markup gone, each once (ignoring case, the first spelling kept), and bounded:
    a feed can tag a post with anything, and a tag is shown and indexed."""
    seen: set[str] = set()
    kept: list[str] = []
    for term in terms:
        text = line_text(xml_text(html_to_text(xml_text(term)))[:MAX_CATEGORY_LENGTH].strip())
        folded = text.casefold()
        if text and folded not in seen:
            seen.add(folded)
            kept.append(text)
            if len(kept) == MAX_CATEGORIES:
                break
    return tuple(kept)


def clean_enclosures(
    enclosures: Sequence[Enclosure], base_url: str | None = None
) -> tuple[Enclosure, ...]:
    """Only absolute http(s) URLs (the one URL check, see clean.safe_url), each once: an
    enclosure is a link readers will follow. A type of text/html is dropped: feedparser
    gives it to every Atom link that names none."""
    kept: dict[str, Enclosure] = {}
    for enclosure in enclosures:
        url = safe_url(enclosure.url, base_url)
        if url is not None:
            kind = maybe_xml_text(enclosure.type) if enclosure.type != "text/html" else None
            kept.setdefault(
                url, Enclosure(url, kind and kind[:MAX_MEDIA_TYPE_CHARS], enclosure.length)
            )
    return tuple(kept.values())


def sanitised_content(fragment: str, base_url: str | None) -> str:
    """Sanitised HTML within the caps: depth flattened before nh3, whose cost is quadratic
    in it, and at most MAX_CONTENT_BYTES, cut before a tag and sanitised again to close
    what the cut left open."""
    # nh3 fails on lone surrogates; a shortcode left as written is no part of the post.
    raw = flatten_nesting(strip_shortcodes(cut_raw_content(xml_text(fragment))))
    content = sanitise_html(raw, base_url)
    if "&#" in raw:
        # Only a numeric character reference can bring nh3's output a character XML forbids.
        content = xml_text(content)
    if over_content_cap(content):
        # The margin leaves room for the end tags the second pass adds (depth <= MAX_NESTING).
        cut = cut_html(content, MAX_CONTENT_BYTES - 4096)
        content = xml_text(sanitise_html(cut, base_url))
    return content


def normalise_entry(
    entry: ParsedEntry,
    feed_url: str,
    now: datetime,
    trust_guid: bool = True,
    digest: str = "",
    document_url: str | None = None,
    key: str | None = None,
    keep_fragment: bool = False,
    shared_link: bool = False,
) -> EntryPlan:
    """One entry, with every text field free of characters XML forbids, every URL
    absolute http(s) (resolved against ``document_url``, default the feed's) and every
    field within its cap. ``shared_link``: other entries of the document have its link."""
    document = document_url or feed_url
    link = safe_url(entry.link, document)
    # feedparser's rule (RFC 3986 with xml:base): the content's xml:base, else the document;
    # never the entry's link, which in a link post is another site's page.
    base = safe_url(entry.content_base, document) or document
    content = sanitised_content(entry.content_html, base)
    text = sanitised_text(content)
    title = _title_text(entry) or shorten(text, 80) or link or ""
    title = line_text(cut_at_word(title, MAX_TITLE_CHARS))
    author = person_name(xml_text(html_to_text(xml_text(entry.author)))) if entry.author else ""
    published = _clamp(entry.published, now) or _clamp(entry.updated, now) or now
    updated = max(_clamp(entry.updated, now) or published, published)
    dated = _clamp(entry.published, now) is not None or _clamp(entry.updated, now) is not None
    language = _language(entry.language)
    canonical = canonical_url(link, keep_fragment)
    link = link if canonical else None
    author = line_text(cut_at_word(author, MAX_AUTHOR_CHARS))
    content_hash = hashlib.sha256(
        "\0".join((title, content, link or "", author)).encode()
    ).hexdigest()
    return EntryPlan(
        key=key or entry_key(entry, trust_guid),
        canonical_url=canonical,
        link=link,
        title=title,
        author=author or None,
        content_html=content,
        summary_text=shorten(text),
        published=published,
        updated=updated,
        content_hash=content_hash,
        language=language,
        dated=dated,
        sketch=sketch(text),
        title_key=title_key(title),
        raw_digest=digest,
        categories=clean_categories(entry.categories),
        enclosures=clean_enclosures(entry.enclosures, document),
        stemmed=stem_entry(title, text, language),
        shared_link=shared_link and canonical is not None,
        page_unread=entry.page_unread,
    )


def _title_text(entry: ParsedEntry) -> str:
    """The title as text: markup read only in an HTML title; in a plain one ``<video>`` and
    ``&lt;`` are what the author wrote."""
    if entry.title_is_html:
        return xml_text(html_to_text(xml_text(entry.title)))
    return squash(xml_text(entry.title))


def _language(value: str | None) -> str | None:
    cleaned = maybe_xml_text(value)
    return cleaned[:MAX_LANGUAGE_CHARS].strip() or None if cleaned else None


def newest(entries: Sequence[ParsedEntry], limit: int) -> Sequence[ParsedEntry]:
    """The ``limit`` newest entries, dated ones by date, undated ones in document order
    after them; the feed's order otherwise kept."""
    if len(entries) <= limit:
        return entries

    def age(index: int) -> tuple[bool, float, int]:
        when = entries[index].published or entries[index].updated
        return (when is None, -when.timestamp() if when else 0.0, index)

    chosen = sorted(range(len(entries)), key=age)[:limit]
    return [entries[i] for i in sorted(chosen)]


def body_hash(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def plan_update(
    fetch: FetchResult,
    parsed: ParsedFeed | None,
    now: datetime,
    known_digests: frozenset[str] = frozenset(),
    max_entries: int = MAX_ENTRIES_PER_POLL,
    zone: str = "Europe/Copenhagen",
) -> UpdatePlan:
    """What to write for one poll of one feed. Repeated keys in a feed keep the first entry
    (the others are counted in the warning);
    entries whose raw digest is in ``known_digests`` are only listed as unchanged; only the
    newest ``max_entries`` are taken. Dates in words the parser could not read are read in
    ``zone`` (the site's) when they name none."""
    document = fetch.final_url or fetch.feed_url
    entries: dict[str, EntryPlan] = {}
    unchanged: dict[str, None] = {}
    dropped: dict[str, int] = {}
    repeated = 0
    hint = None
    if parsed is not None:
        parsed = read_worded_dates(parsed, zone, now)
        raws = without_own_links(
            newest(parsed.entries, max_entries), (parsed.url, fetch.feed_url, fetch.final_url)
        )
        trust_guid = not ids_are_broken(raws)
        fragment_pages = pages_told_apart_by_fragment(raws)
        for raw in raws:
            for name in dropped_fields(raw):
                dropped[name] = dropped.get(name, 0) + 1
        for raw, key in zip(raws, document_keys(raws, trust_guid), strict=True):
            if key in entries or key in unchanged:
                repeated += 1
                continue
            digest = raw_digest(raw, key)
            if digest in known_digests:
                unchanged[key] = None
            else:
                keep_fragment = bool(fragment_pages) and canonical_url(raw.link) in fragment_pages
                entries[key] = normalise_entry(
                    raw, fetch.feed_url, now, trust_guid, digest, document, key, keep_fragment,
                    keyed_by_content(raw, key),
                )  # fmt: skip
        for guid in parsed.still_listed:
            if (key := _bounded_key(guid)) not in entries:
                unchanged.setdefault(key, None)
        hint = publisher_hint(parsed.ttl_minutes, parsed.sy_period, parsed.sy_frequency)
    return UpdatePlan(
        body_hash=body_hash(fetch.content) if parsed is not None and fetch.content else None,
        permanent_redirect=fetch.permanent_redirect,
        publisher_hint_seconds=int(hint.interval.total_seconds()) if hint else None,
        publisher_hint_reason=hint.reason if hint else None,
        feed_url=fetch.feed_url,
        fetched_at=fetch.fetched_at,
        status=fetch.status,
        etag=fetch.etag,
        last_modified=fetch.last_modified,
        not_modified=fetch.not_modified,
        error=fetch.error,
        keep_validators=fetch.error is not None,
        feed_title=_feed_title(parsed.title) if parsed else None,
        site_url=safe_url(parsed.site_url, document) if parsed else None,
        entries=tuple(entries.values()),
        unchanged_keys=tuple(unchanged),
        warning=_warning(parsed.warning, dropped, repeated) if parsed else None,
    )


def _feed_title(title: str | None) -> str | None:
    return line_text(cut_at_word(xml_text(title), MAX_TITLE_CHARS)) or None if title else None


def failed_update(fetch: FetchResult, error: str, keep_validators: bool = False) -> UpdatePlan:
    """A body that is not a usable feed: forget the validators so the next poll refetches it
    in full instead of being told 304 about a broken document. A body cut off on its way
    (``keep_validators``) saves none of its own and keeps those stored, which name the
    document we have."""
    return UpdatePlan(
        feed_url=fetch.feed_url,
        fetched_at=fetch.fetched_at,
        status=fetch.status,
        etag=None,
        last_modified=None,
        not_modified=False,
        error=error,
        keep_validators=keep_validators,
    )
