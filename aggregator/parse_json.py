"""JSON Feed 1.0 and 1.1 -> ParsedFeed, the same value the XML parsers give.

Read field by field and tolerant of each: a field of the wrong type is dropped (and named in
the warning), an item that is not an object is skipped, the rest is kept. ``next_url``
(paging) is not followed.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

from aggregator.errors import ParseError, TruncatedDocument
from aggregator.truncation import MESSAGE as TRUNCATED
from aggregator.truncation import json_cut_off
from aggregator.types import Enclosure, ParsedEntry, ParsedFeed

_VERSION = re.compile(r"^https?://jsonfeed\.org/version/(1(?:\.\d+)?)/?$")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def looks_like_json(content: bytes, content_type: str) -> bool:
    """A body that opens with an object where XML would open a tag, or one served as JSON
    that does not open with a tag."""
    head = content[:256].lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    return head == b"{" or ("json" in content_type.lower() and head not in (b"<", b""))


class _Problems:
    """Fields dropped while reading, for the feed's warning."""

    def __init__(self) -> None:
        self.dropped: dict[str, int] = {}

    def drop(self, field: str) -> None:
        self.dropped[field] = self.dropped.get(field, 0) + 1

    def warning(self) -> str | None:
        if not self.dropped:
            return None
        parts = [
            f"{field} ×{count}" if count > 1 else field for field, count in self.dropped.items()
        ]
        return "dropped unreadable JSON Feed fields: " + ", ".join(parts)


def _string(value: object, field: str, problems: _Problems) -> str | None:
    """A string field, lone surrogates (legal in JSON escapes, not in text) replaced."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        problems.drop(field)
        return None
    text = str(value)
    return _LONE_SURROGATE.sub("\ufffd", text) if _LONE_SURROGATE.search(text) else text


def _stripped(value: object, field: str, problems: _Problems) -> str | None:
    text = _string(value, field, problems)
    return text.strip() or None if text is not None else None


def _date(
    value: object, field: str, problems: _Problems, unread: list[tuple[str, str]]
) -> datetime | None:
    """An RFC 3339 date; any other text is left, as on the XML roads, to the worded-date
    reader ("Tue, 01 Dec 2026 10:00:00 +0100", "1. december 2026"), and so is one with no
    zone, which is the publisher's local time: read there in the site's zone."""
    text = _stripped(value, field, problems)
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        unread.append(("published" if field == "date_published" else "updated", text))
        return None
    if parsed.tzinfo is None:
        unread.append(("published" if field == "date_published" else "updated", text))
        return None
    try:
        return parsed.astimezone(UTC).replace(microsecond=0)
    except (OverflowError, ValueError):
        problems.drop(field)
        return None


def _authors(container: Mapping[str, Any], problems: _Problems) -> str | None:
    """``authors`` (1.1) or ``author`` (1.0): the names, joined."""
    found = container.get("authors")
    if found is None and container.get("author") is not None:
        found = [container.get("author")]
    if found is None:
        return None
    if not isinstance(found, list):
        problems.drop("authors")
        return None
    names = []
    for author in found:
        if not isinstance(author, dict):
            problems.drop("authors")
            continue
        name = _stripped(author.get("name"), "author.name", problems)
        if name:
            names.append(name)
    return ", ".join(names) or None


def _tags(item: Mapping[str, Any], problems: _Problems) -> tuple[str, ...]:
    tags = item.get("tags")
    if tags is None:
        return ()
    if not isinstance(tags, list):
        problems.drop("tags")
        return ()
    terms = (_stripped(tag, "tags", problems) for tag in tags)
    return tuple(term for term in terms if term)


def _attachments(item: Mapping[str, Any], base: str, problems: _Problems) -> tuple[Enclosure, ...]:
    attachments = item.get("attachments")
    if attachments is None:
        return ()
    if not isinstance(attachments, list):
        problems.drop("attachments")
        return ()
    found = []
    for attachment in attachments:
        if not isinstance(attachment, dict):
            problems.drop("attachments")
            continue
        url = _stripped(attachment.get("url"), "attachments.url", problems)
        if not url:
            problems.drop("attachments.url")
            continue
        size = attachment.get("size_in_bytes")
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
            problems.drop("attachments.size_in_bytes")
            size = None
        kind = _stripped(attachment.get("mime_type"), "attachments.mime_type", problems)
        found.append(Enclosure(urljoin(base, url), kind, size))
    return tuple(found)


def _text_as_html(text: str) -> str:
    """content_text shown as HTML: escaped, paragraphs kept."""
    paragraphs = [p.strip() for p in _PARAGRAPH_BREAK.split(text) if p.strip()]
    return "".join(
        "<p>" + html.escape(p, quote=False).replace("\n", "<br>") + "</p>" for p in paragraphs
    )


def _item(
    item: Mapping[str, Any],
    base: str,
    feed_author: str | None,
    feed_language: str | None,
    problems: _Problems,
) -> ParsedEntry:
    url = _stripped(item.get("url"), "url", problems)
    external = _stripped(item.get("external_url"), "external_url", problems)
    link = url or external
    content_html = _string(item.get("content_html"), "content_html", problems)
    content_text = _string(item.get("content_text"), "content_text", problems)
    summary = _string(item.get("summary"), "summary", problems)
    if content_html and content_html.strip():
        content = content_html
    elif content_text and content_text.strip():
        content = _text_as_html(content_text)
    else:
        content = html.escape(summary or "", quote=False)
    unread: list[tuple[str, str]] = []
    published = _date(item.get("date_published"), "date_published", problems, unread)
    updated = _date(item.get("date_modified"), "date_modified", problems, unread)
    return ParsedEntry(
        guid=_stripped(item.get("id"), "id", problems),
        link=urljoin(base, link) if link else None,
        title=_string(item.get("title"), "title", problems) or "",
        author=_authors(item, problems) or feed_author,
        content_html=content,
        published=published,
        updated=updated,
        language=_stripped(item.get("language"), "language", problems) or feed_language,
        categories=_tags(item, problems),
        enclosures=_attachments(item, base, problems),
        unread_dates=tuple(unread),
        title_is_html=False,  # JSON Feed titles are plain text
    )


def parse_json_feed(content: bytes, url: str) -> ParsedFeed:
    """Parse a JSON Feed; raises ParseError when the body is not one."""
    try:
        # RFC 8259 JSON is UTF-8 (or, by detection, UTF-16/32): one bad byte is replaced,
        # not a reason to lose the feed.
        document = json.loads(content.decode(json.detect_encoding(content), "replace"))
    except (ValueError, RecursionError) as exc:
        if isinstance(exc, ValueError) and json_cut_off(exc):
            raise TruncatedDocument(TRUNCATED) from exc
        raise ParseError(f"not a feed: not valid JSON ({exc})") from exc
    if not isinstance(document, dict):
        raise ParseError("not a feed: JSON but not a JSON Feed (no version)")
    version = _VERSION.match(str(document.get("version") or "").strip())
    if version is None:
        raise ParseError("not a feed: JSON but not a JSON Feed (no version)")
    problems = _Problems()
    items = document.get("items")
    if not isinstance(items, list):
        problems.drop("items")
        items = []
    language = _stripped(document.get("language"), "language", problems)
    feed_author = _authors(document, problems)
    entries = []
    for item in items:
        if isinstance(item, dict):
            entries.append(_item(item, url, feed_author, language, problems))
        else:
            problems.drop("items[] that are not objects")
    site = _stripped(document.get("home_page_url"), "home_page_url", problems)
    return ParsedFeed(
        url=url,
        title=_stripped(document.get("title"), "title", problems),
        site_url=urljoin(url, site) if site else None,
        language=language,
        version="json" + version.group(1).replace(".", ""),
        entries=tuple(entries),
        warning=problems.warning(),
    )
