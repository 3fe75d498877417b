"""feedparser adapter: bytes + response headers -> ParsedFeed.

The bytes are decoded first, once, by aggregator.decode (the HTTP charset, the declaration
and the bytes themselves all take part), so every parser reads UTF-8 that says so. No
FeedParserDict leaves this module.
"""

from __future__ import annotations

import calendar
import re
import time
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from aggregator.decode import to_utf8
from aggregator.errors import ParseError
from aggregator.parse_fast import parse_fast
from aggregator.parse_json import looks_like_json, parse_json_feed
from aggregator.parse_rules import HTML_TYPES, body, categories, checked_date, enclosures
from aggregator.truncation import whole_xml
from aggregator.types import ParsedEntry, ParsedFeed

# Sanitising and resolving relative URLs (against the entry's own link) are done once, by nh3,
# in normalise; feedparser's own passes would only add cost.
_PARSE_OPTIONS: dict[str, Any] = {"sanitize_html": False, "resolve_relative_uris": False}


def _to_datetime(value: time.struct_time | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (OverflowError, ValueError, OSError):
        return None


def _get(entry: Any, key: str) -> Any:
    """Plain dict lookup: FeedParserDict.get aliases keys (updated -> published) and warns."""
    return dict.get(entry, key)


def _positive_int(value: object) -> int | None:
    try:
        number = int(str(value).strip())
    except ValueError:
        return None
    return number if number > 0 else None


def _plain_text(value: object) -> str | None:
    """An element's text; feedparser keeps an element it has no handler for as a dict of
    its attributes when it has any, and that is no text."""
    return (value.strip() or None) if isinstance(value, str) else None


def _content(entry: Any) -> str:
    """The richest body the entry has: full content before summary, HTML before text."""
    contents = entry.get("content") or []
    pairs = ((str(c.get("type") or ""), str(c.get("value") or "")) for c in contents)
    return body(pairs, str(entry.get("summary") or ""))


def _categories(entry: Any) -> tuple[str, ...]:
    """Terms of category, atom:category (its label when it has no term), dc:subject."""
    return categories(entry.get("tags") or [])


def _date(entry: Any, name: str, dropped: list[tuple[str, str]]) -> datetime | None:
    """The entry's date, or None, noting a date that was given but could not be read."""
    text = str(_get(entry, name) or "").strip()
    value = checked_date(text, _to_datetime(_get(entry, f"{name}_parsed")))
    if value is None and text:
        dropped.append((name, text))
    return value


def _entry(entry: Any, feed_language: str | None, document_url: str) -> ParsedEntry:
    detail = entry.get("content", [{}])[0] if entry.get("content") else {}
    # feedparser reports the document URL as base unless xml:base says otherwise: kept only
    # when it says otherwise, normalise falls back on the document URL (after redirects).
    base = (detail or entry.get("summary_detail") or {}).get("base") or None
    dropped: list[tuple[str, str]] = []
    return ParsedEntry(
        guid=(entry.get("id") or "").strip() or None,
        link=(entry.get("link") or "").strip() or None,
        title=str(entry.get("title") or ""),
        author=(entry.get("author") or "").strip() or None,
        content_html=_content(entry),
        published=_date(entry, "published", dropped),
        updated=_date(entry, "updated", dropped),
        language=(detail.get("language") or feed_language) if detail else feed_language,
        content_base=base if base and base != document_url else None,
        categories=_categories(entry),
        enclosures=enclosures(entry.get("enclosures") or [], document_url),
        unread_dates=tuple(dropped),
        title_is_html=(entry.get("title_detail") or {}).get("type") in HTML_TYPES,
    )


def _html_page_message(content: bytes, url: str, headers: Mapping[str, str]) -> str:
    """Point the admin at the feed the page links to, when it links to one."""
    from aggregator.discover import feed_links

    links = feed_links(content, url, headers)
    if not links:
        return (
            "not a feed: the server sent an HTML page, which links to no feed; "
            "read it as a type: html source (aggregator add URL proposes one)"
        )
    return (
        f"not a feed: the server sent an HTML page; it links to {links[0].url} "
        "— update feeds.yaml or run aggregator add"
    )


def parse_feed(
    content: bytes,
    url: str,
    headers: Mapping[str, str] | None = None,
    fast: bool = True,
    max_entries: int | None = None,
) -> ParsedFeed:
    """Parse feed bytes; raises ParseError when they are not a feed at all, or declare
    entities that could expand without bound.

    A JSON body is read as a JSON Feed; for XML the lxml fast path answers for the common
    well-formed shapes, feedparser for the rest. ``max_entries`` lets the fast path build
    only the newest entries that plan_update would keep of a long feed (the same ones).
    """
    response_headers = {k.lower(): v for k, v in (headers or {}).items()}
    if looks_like_json(content, response_headers.get("content-type", "")):
        return parse_json_feed(content, url)
    decoded = to_utf8(content, response_headers)
    refuse_entity_declarations(decoded.content)
    content, unclosed = whole_xml(decoded.content)
    notes = "; ".join([*decoded.notes, *([unclosed] if unclosed else [])]) or None
    if fast:
        parsed_fast = parse_fast(content, url, decoded.headers, max_entries)
        if parsed_fast is not None:
            return replace(parsed_fast, warning=notes) if notes else parsed_fast
    return parse_with_feedparser(content, url, decoded.headers, notes)


_ENTITY = re.compile(rb"<!ENTITY\s+(%\s*)?\S+\s+(.*?)>", re.DOTALL)
# The one kind of entity declaration feeds really use: a name for a character.
_ONE_CHARACTER = re.compile(
    rb"\s*([\"'])(?:&#[0-9]+;|&#x[0-9a-fA-F]+;|[^&%<\x80-\xff]|[\xc2-\xf4][\x80-\xbf]{1,3})\1\s*"
)


def refuse_entity_declarations(content: bytes) -> None:
    """Refuse a document declaring any entity but a single character: nested ("billion
    laughs"), long or parameter entities expand without bound in a parser, and external
    ones read files or the network. Refused before any parser sees them."""
    if b"<!ENTITY" not in content:
        return
    for declaration in _ENTITY.finditer(content):
        if declaration.group(1) or not _ONE_CHARACTER.fullmatch(declaration.group(2)):
            raise ParseError(
                "refused: the document declares entities that could expand without bound "
                "or read other resources"
            )


def _noise(feedparser: Any) -> tuple[type[Exception], ...]:
    return (
        feedparser.CharacterEncodingOverride,
        feedparser.CharacterEncodingUnknown,
        feedparser.NonXMLContentType,
    )


def parse_with_feedparser(
    content: bytes, url: str, headers: Mapping[str, str], notes: str | None = None
) -> ParsedFeed:
    """feedparser on the bytes as given (parse_feed hands it decoded UTF-8): the road for
    every shape the fast path declines, and the reference the equivalence tests hold it to."""
    # Imported on first need: most polls never leave the fast path, and it costs each
    # process that imports it memory and start-up time.
    import feedparser

    response_headers = {k.lower(): v for k, v in headers.items()}
    response_headers.setdefault("content-location", url)
    parsed = feedparser.parse(content, response_headers=response_headers, **_PARSE_OPTIONS)
    feed = parsed.get("feed", {})
    version = parsed.get("version") or ""
    problem = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if isinstance(problem, _noise(feedparser)):
        problem = None  # about the charset, which aggregator.decode has settled already
    if not version and not parsed.entries:
        content_type = response_headers.get("content-type", "")
        if "html" in content_type or content.lstrip()[:15].lower().startswith(b"<!doctype html"):
            raise ParseError(_html_page_message(content, url, response_headers))
        reason = f": {problem}" if problem else ""
        raise ParseError(f"not a feed{reason}")
    language = (feed.get("language") or "").strip() or None
    warnings = [w for w in (notes, str(problem) if problem else None) if w]
    return ParsedFeed(
        ttl_minutes=_positive_int(_get(feed, "ttl")),
        sy_period=_plain_text(_get(feed, "sy_updateperiod")),
        sy_frequency=_positive_int(_get(feed, "sy_updatefrequency")),
        url=url,
        title=(feed.get("title") or "").strip() or None,
        site_url=(feed.get("link") or "").strip() or None,
        language=language,
        version=version or "unknown",
        entries=tuple(_entry(e, language, url) for e in parsed.entries),
        warning="; ".join(warnings) or None,
    )
