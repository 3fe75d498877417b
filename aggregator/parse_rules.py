"""The small reading rules that parse.py (feedparser) and parse_fast.py (lxml) must share.

The fast path stores only what feedparser would: these are feedparser's rules for finishing a
text, joining a URI, reading a date, writing xhtml content back out as markup, and turning
its links and tags into our enclosures and categories, written once so that both roads use
them. Where a rule is only partly mirrored (dates, e-mail in authors), the mirror raises
``Unsupported`` for what it does not cover and the caller falls back to feedparser.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from contextlib import suppress
from datetime import UTC, date, datetime, timedelta
from html import unescape
from html.entities import entitydefs
from urllib.parse import urljoin
from xml.sax.saxutils import escape

from aggregator.types import Enclosure


class Unsupported(Exception):
    """A shape the fast path does not claim to read exactly as feedparser does."""


# windows-1252's letters for the C1 control points, which feedparser puts back in every text
# (a feed that says UTF-8 but was written in windows-1252 decodes to them).
_C1 = {
    code: bytes([code]).decode("cp1252")
    for code in range(0x80, 0xA0)
    if code not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)
}


_C1_TABLE = str.maketrans(_C1)
_C1_POINTS = re.compile("[\x80-\x9f]")
# U+0080-U+00BF: read as Latin-1, UTF-8's continuation bytes (and the C1 points among them).
# A text without any cannot be UTF-8 read as Latin-1, and has no C1 point to map: most
# Danish text (æ, ø and å are U+00E6, U+00F8 and U+00E5) is finished once stripped. In
# UTF-8 these are exactly the characters whose first byte is 0xC2 (no continuation byte
# is), so one encode and a byte search find them: a regular expression's scan for them
# cost five times as much on a post's text, and this runs on every text of every entry.
_CONTINUATION_LEAD = b"\xc2"


def finish(text: str) -> str:
    """A text as feedparser leaves it: stripped, UTF-8 read as Latin-1 undone, C1 mapped."""
    text = text.strip()
    if not text.isascii() and _CONTINUATION_LEAD in text.encode("utf-8", "surrogatepass"):
        with suppress(UnicodeEncodeError, UnicodeDecodeError):
            text = text.encode("iso-8859-1").decode("utf-8")
        if _C1_POINTS.search(text):  # translate() is slow; most texts have none
            text = text.translate(_C1_TABLE)
    return text


_SLASHES = re.compile(r"^([A-Za-z][A-Za-z0-9+-.]*://)(/*)(.*?)")
# The schemes feedparser lets an xml:base have; any other keeps the base before it.
_BASE_SCHEMES = frozenset(
    {
        "file", "ftp", "gopher", "h323", "hdl", "http", "https", "imap", "magnet", "mailto",
        "mms", "news", "nntp", "prospero", "rsync", "rtsp", "rtspu", "sftp", "shttp", "sip",
        "sips", "snews", "svn", "svn+ssh", "telnet", "wais", "aim", "callto", "cvs", "facetime",
        "feed", "git", "gtalk", "irc", "ircs", "irc6", "itms", "msnim", "skype", "ssh", "smb",
        "ymsg",
    }
)  # fmt: skip


# An absolute http(s) URL that urljoin gives back as it is: an ASCII authority without
# brackets (nothing for its IPv6 or NFKC checks), no ';' in the path and no empty query or
# fragment (which urlunparse would drop), no tab or newline (which urlsplit removes). Most
# links and ids are one, and urljoin's round trip costs a dozen times the match.
PLAIN_ABSOLUTE = re.compile(
    r"https?://[A-Za-z0-9.\-_~:%@!$&'()*+,=]+(?:/[^?#\s;]*)?(?:\?[^#\s]+)?(?:#\S+)?"
)


def join(base: str, uri: str) -> str:
    """feedparser's URI join: extra slashes after the scheme dropped, '' for what urljoin
    cannot read."""
    if PLAIN_ABSOLUTE.fullmatch(uri):
        return uri
    uri = _SLASHES.sub(r"\1\3", uri)
    try:
        return urljoin(base, uri)
    except ValueError:
        return ""


def rebase(base: str, declared: str | None) -> str:
    """The base in scope under an element whose xml:base is ``declared``."""
    if not declared:
        declared = base
    joined = join(base, declared)
    return joined if joined.strip().split(":", 1)[0] in _BASE_SCHEMES else base


_ISO = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d)(?::(\d\d)(?:\.\d+)?)?([Zz]|[+-]\d\d:\d\d)"
)
_RFC822 = re.compile(
    r"(?:(?:mon|tue|wed|thu|fri|sat|sun)\S*\s+)?(\d{1,2})\s+"
    r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\s+(\d{4}|\d\d)\s+"
    r"(\d{1,2}):(\d\d)(?::(\d\d))?\s+([a-z]+|[+-]\d\d:?\d\d)",
    re.IGNORECASE,
)
_MONTHS = {
    m: n
    for n, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
# Zone names feedparser gives an offset; it reads any other name as UTC.
_ZONES = {
    "ut": 0, "gmt": 0, "z": 0, "adt": -3, "ast": -4, "at": -4, "edt": -4, "est": -5, "et": -5,
    "cdt": -5, "cst": -6, "ct": -6, "mdt": -6, "mst": -7, "mt": -7, "pdt": -7, "pst": -8,
    "pt": -8, "a": -1, "n": 1, "m": -12, "y": 12, "met": 1, "mest": 2,
}  # fmt: skip


def _stamp(parts: Iterable[str | None], minutes_east: int) -> datetime:
    year, month, day, hour, minute, second = (int(p or 0) for p in parts)
    if not 1900 <= year <= 2200:
        raise Unsupported("date out of range")
    try:
        local = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        raise Unsupported("date") from None
    return local - timedelta(minutes=minutes_east) if minutes_east else local  # most are UTC


def read_date(text: str) -> datetime | None:
    """A date as feedparser reads it (W3C-DTF, then RFC 822), for the forms where our reading
    is known to be the same; None for an empty one."""
    if not text:
        return None
    if iso := _ISO.fullmatch(text):
        zone = iso.group(7)
        east = 0 if zone in "Zz" else int(zone[1:3]) * 60 + int(zone[4:6])
        return _stamp(iso.groups()[:6], -east if zone[0] == "-" else east)
    if rfc := _RFC822.fullmatch(text):
        day, month, year, hour, minute, second, zone = rfc.groups()
        if zone[0] in "+-":
            digits = zone[1:].replace(":", "")
            east = int(digits[:2]) * 60 + int(digits[2:])
            east = -east if zone[0] == "-" else east
        elif zone.lower().startswith("gmt") and len(zone) > 3:
            raise Unsupported("date zone")  # feedparser reads what follows "GMT" as a zone
        else:
            east = _ZONES.get(zone.lower(), 0) * 60
        if len(year) == 2:  # feedparser's century
            year = str(int(year) + (2000 if int(year) < 90 else 1900))
        return _stamp((year, str(_MONTHS[month.lower()]), day, hour, minute, second), east)
    raise Unsupported("date")


_DAY_FIRST = re.compile(r"\s*\d{1,2}[-./]\d{1,2}[-./]\d{4}")
# ISO 8601 with no zone: feedparser reads it as UTC, but it is the publisher's local time.
_ZONELESS_ISO = re.compile(r"\s*\d{4}-\d\d-\d\d(?:[Tt ]\d\d:\d\d(?::\d\d(?:[.,]\d+)?)?)?\s*")
# An RFC 822 date with no time ("Wed, 18 Nov 2026", "Nov 18 2026"): feedparser reads UTC
# midnight, but a day is the publisher's, midnight where it was written.
_MONTH_WORD = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_DAY_ONLY = re.compile(
    rf"\s*(?:[a-z]+\.?,?\s+)?(?:\d{{1,2}}\s+{_MONTH_WORD}|{_MONTH_WORD}\s+\d{{1,2}},?)"
    r"\s+(?:\d{4}|\d\d)\s*",
    re.IGNORECASE,
)
# Year first, the month in words ("2026 Nov 18", "2026 Nov 18 10:00 +0100": Hugo's "2006 Jan
# 02", Hungarian-style templates): feedparser reads the 1st of the next month, in the year.
_YEAR_FIRST = re.compile(
    r"\s*(?:[a-zæøå]+\.?,?\s+)?\d{4}\.?,?\s+"
    r"(?:jan|feb|mar|apr|ma[jy]|jun|jul|aug|sep|o[ck]t|nov|dec)[a-zæøå]*\.?\s+\d{1,2}(?!\d)",
    re.IGNORECASE,
)
_YEAR = re.compile(r"(?<!\d)(?:1[89]|2[01])\d\d(?!\d)")
_ISO_DAY = re.compile(r"\s*(\d{4})-(\d\d)-(\d\d)")
_NAMED_ZONE = re.compile(r"(\d{1,2}):(\d\d)(?::\d\d)?\s*([A-Za-z]{3,4})\s*$")
# Zones European feeds name (PHP's date("T") writes CET and CEST) that feedparser reads as
# UTC: minutes east.
_EUROPEAN_ZONES = {
    "cet": 60, "cest": 120, "mez": 60, "mesz": 120, "wet": 0, "west": 60, "eet": 120,
    "eest": 180, "bst": 60,
}  # fmt: skip


def checked_date(text: str, value: datetime | None) -> datetime | None:
    """feedparser's reading ``value`` of ``text``, put right where it is known to be wrong:
    None (left to the worded-date reader, which reads day first) for a day-first date, which
    feedparser reads as YY-MM-DD ("15-11-2026" as 2015-11-20), for a year-first one with the
    month in words, which it reads as the next month's first ("2026 Nov 18" as 1 December),
    for a reading in another year than the text names, and for an impossible day it rolls
    over ("2026-11-31"); None too for an ISO 8601 date with no zone and an RFC 822 date with
    no time, which it reads as UTC: normalise reads them in the site's zone, as it does an
    RFC 822 date with no zone (feed_dates); a zone it does not know (CET, CEST) taken at its
    offset instead of as UTC. Both roads apply it."""
    if value is None or refused_date(text):
        return None
    years = {int(year) for year in _YEAR.findall(text)}
    if years and not any(_in_year(value, year) for year in years):
        return None
    zone = _NAMED_ZONE.search(text)
    east = _EUROPEAN_ZONES.get(zone.group(3).lower()) if zone else None
    # Only where feedparser took the clock for UTC: the same hour and minute as written.
    if (
        zone
        and east is not None
        and (value.hour, value.minute) == tuple(map(int, zone.groups()[:2]))
    ):
        try:
            return value - timedelta(minutes=east)
        except OverflowError:  # "Mon, 01 Jan 0001 00:00:00 CET": left to the worded reader
            return None
    return value


def refused_date(text: str) -> bool:
    """A date whatever feedparser reads of it is not kept: day first, year first with the
    month in words, an impossible day, an ISO 8601 one without a zone, or an RFC 822 one
    without a time (both read later, in the site's zone)."""
    if _DAY_FIRST.match(text) or _ZONELESS_ISO.fullmatch(text) or _DAY_ONLY.fullmatch(text):
        return True
    if _YEAR_FIRST.match(text):
        return True
    if iso := _ISO_DAY.match(text):
        try:
            date(*(int(part) for part in iso.groups()))
        except ValueError:
            return True
    return False


def _in_year(value: datetime, year: int) -> bool:
    """In ``year``, or a day off it by the zone the text named."""
    if value.year == year:
        return True
    first, last = (value.month, value.day) == (1, 1), (value.month, value.day) == (12, 31)
    return (value.year == year + 1 and first) or (value.year == year - 1 and last)


def serialise_start(tag: str, attrs: Mapping[str, str]) -> str:
    """An element's start tag as feedparser writes xhtml content back out."""
    written = "".join(f' {k}="{escape(v, {chr(34): "&quot;"})}"' for k, v in attrs.items())
    return f"<{tag}{written}>"


def html_type(kind: str | None) -> str:
    """feedparser's content type for an Atom ``type`` attribute."""
    kind = (kind or "").lower()
    return {"text": "text/plain", "plain": "text/plain", "html": "text/html"}.get(
        kind, "application/xhtml+xml" if kind == "xhtml" else kind
    )


HTML_TYPES = ("text/html", "application/xhtml+xml")

# The elements feedparser's sanitizer accepts (feedparser.sanitizer._HTMLSanitizer's
# acceptable_elements; tests/test_parse_rules.py holds the two equal): a plain text with
# tags only among these may be taken for HTML.
_HTML_ELEMENTS = frozenset(
    {
        "a", "abbr", "acronym", "address", "area", "article", "aside", "audio", "b", "big",
        "blockquote", "br", "button", "canvas", "caption", "center", "cite", "code", "col",
        "colgroup", "command", "datagrid", "datalist", "dd", "del", "details", "dfn", "dialog",
        "dir", "div", "dl", "dt", "em", "event-source", "fieldset", "figcaption", "figure",
        "font", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "i", "img",
        "input", "ins", "kbd", "keygen", "label", "legend", "li", "m", "map", "menu", "meter",
        "multicol", "nav", "nextid", "noscript", "ol", "optgroup", "option", "output", "p", "pre",
        "progress", "q", "s", "samp", "section", "select", "small", "sound", "source", "spacer",
        "span", "strike", "strong", "sub", "sup", "table", "tbody", "td", "textarea", "tfoot",
        "th", "thead", "time", "tr", "tt", "u", "ul", "var", "video",
    }
)  # fmt: skip
_END_TAG = re.compile(r"</(\w+)>")
_REFERENCE = re.compile(r"&#?\w+;")
_TAG_NAME = re.compile(r"</?(\w+)")
_ENTITY_NAME = re.compile(r"&(\w+);")


def looks_like_html(text: str) -> bool:
    """feedparser's guess that a nominally plain text is HTML: an end tag or a reference,
    every tag one its sanitizer accepts, every named reference an HTML entity."""
    if "</" not in text and "&" not in text:
        return False  # most plain texts: neither can match
    if not (_END_TAG.search(text) or _REFERENCE.search(text)):
        return False
    if any(name.lower() not in _HTML_ELEMENTS for name in _TAG_NAME.findall(text)):
        return False
    return all(name in entitydefs for name in _ENTITY_NAME.findall(text))


def guessed_type(kind: str, text: str, version: str) -> str:
    """The type feedparser gives a text of type ``kind`` once read (``text`` as read, before
    ``finish``): outside Atom, a plain text that looks like HTML is HTML, whether the type
    was the element's default or written (.NET's ``a10:content type="text"``)."""
    if kind == "text/plain" and not version.startswith("atom") and looks_like_html(text):
        return "text/html"
    return kind


_TAG = re.compile(r"<[^>]*>")


def body(contents: Iterable[tuple[str, str]], summary: str) -> str:
    """The richest body of an entry from its (type, value) contents and its summary: the
    first HTML content, else the first content, else the summary.

    feedparser reads a description-like element after the first as content, so an image's
    caption (Mastodon's ``media:description``) would outrank the post itself: a plain first
    content with less text than the summary is taken for such a caption.
    """
    contents = list(contents)
    for kind, value in contents:
        if kind in HTML_TYPES and value:
            return value
    if contents and (first := contents[0][1]):
        return summary if len(first) < len(_visible(summary)) else first
    return summary


def _visible(fragment: str) -> str:
    """Roughly the text a reader sees of ``fragment``: only compared for length."""
    return unescape(_TAG.sub("", fragment)).strip()


def categories(tags: Iterable[Mapping[str, object]]) -> tuple[str, ...]:
    """Our categories from feedparser's tags: each one's term, or its label without one."""
    terms = ((tag.get("term") or tag.get("label") or "") for tag in tags)
    return tuple(term for term in (str(t).strip() for t in terms) if term)


def enclosure_length(value: object) -> int | None:
    try:
        number = int(str(value).strip())
    except ValueError:
        return None
    return number if number >= 0 else None


def enclosures(links: Iterable[Mapping[str, object]], document_url: str) -> tuple[Enclosure, ...]:
    """RSS enclosures and Atom rel=enclosure links, relative URLs resolved like links are."""
    found = []
    for link in links:
        href = str(link.get("href") or "").strip()
        if href:
            kind = str(link.get("type") or "").strip() or None
            found.append(
                Enclosure(urljoin(document_url, href), kind, enclosure_length(link.get("length")))
            )
    return tuple(found)
