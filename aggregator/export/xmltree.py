"""Atom and RSS written as text, byte for byte as libxml2 pretty-prints a tree: two spaces a
level, a leaf on one line, an empty element as ``<x/>``. Building an lxml tree cost about
9 µs an element, most of a first export's time; a line of text costs well under one.

Every string is escaped as libxml2 escapes it: ``& < >`` and CR in text, and also ``"``, TAB
and LF in attribute values. The characters XML 1.0 forbids are dropped (as normalise does to
everything it stores) from the whole document at once, in ``document``, not from each
string: dropping a character commutes with escaping (no escaped character is forbidden, no
entity holds one) and with joining, so the bytes are those of cleaning every piece, and a
document of 400 KB is checked in one pass in C instead of a thousand calls. The guard still
parses every file before it is published. tests/test_xml_writer.py holds this to lxml's own
serialisation of the same document, hostile strings included, and to cleaning each piece.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from contextlib import contextmanager

from aggregator.clean import xml_text

_SPECIAL_TEXT = re.compile("[&<>\r]")
_SPECIAL_ATTRIBUTE = re.compile('[&<>\r"\t\n]')
# In UTF-8 a byte below 0x20 is only ever that character, and U+FFFE and U+FFFF are these
# three bytes; a lone surrogate does not encode at all (clean.py checks long texts alike).
_ALLOWED_BYTES = bytes(b for b in range(256) if b >= 0x20 or b in b"\t\n\r")
_NONCHARACTERS = (b"\xef\xbf\xbe", b"\xef\xbf\xbf")

DECLARATION = "<?xml version='1.0' encoding='utf-8'?>\n"
INDENT = "  "


# A post's content (2 KB of HTML on average, all of it markup to escape) is escaped for its
# Atom <content> and again for its RSS <description>, a few hundred entries apart at most
# (one selection's Atom, then its RSS): a long text's escaped form is kept for the newest
# LONG_TEXTS. The key is the text itself, whose hash Python keeps on the string.
LONG_TEXT = 256
LONG_TEXTS = 512


def escape_text(value: str) -> str:
    """``value`` as XML text (its forbidden characters are dropped by ``document``)."""
    if len(value) >= LONG_TEXT:
        return _escape_long_text(value)
    return _escape_text(value)


def _escape_text(value: str) -> str:
    if _SPECIAL_TEXT.search(value) is None:  # most text: one scan in C, no copies
        return value
    return (
        value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
    )


_escape_long_text = functools.lru_cache(maxsize=LONG_TEXTS)(_escape_text)


def escape_attribute(value: str) -> str:
    """``value`` as an attribute value, in double quotes (cleaned by ``document``)."""
    if _SPECIAL_ATTRIBUTE.search(value) is None:
        return value
    return (
        value.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("\r", "&#13;")
        .replace('"', "&quot;")
        .replace("\t", "&#9;")
        .replace("\n", "&#10;")
    )


def attributes(attrs: dict[str, str]) -> str:
    """`` name="value"`` for each, in the order given."""
    return "".join(f' {name}="{escape_attribute(value)}"' for name, value in attrs.items())


class Lines:
    """A document or a fragment of one, as its lines, starting ``depth`` levels in: an
    entry is written once at its depth and the same text goes into every feed it is in."""

    __slots__ = ("_depth", "_parts")

    def __init__(self, depth: int = 0) -> None:
        self._parts: list[str] = []
        self._depth = depth

    def leaf(self, tag: str, text: str | None = None, /, **attrs: str) -> None:
        """An element with text only (``<x>text</x>``; ``<x></x>`` for ""), or empty
        (``<x/>``) when ``text`` is None."""
        pad = INDENT * self._depth
        named = attributes(attrs) if attrs else ""
        if text is None:
            self._parts.append(f"{pad}<{tag}{named}/>\n")
        else:
            self._parts.append(f"{pad}<{tag}{named}>{escape_text(text)}</{tag}>\n")

    @contextmanager
    def element(self, tag: str, attrs: dict[str, str] | None = None) -> Iterator[None]:
        """An element whose children are written inside the block, one level deeper; with
        none, it is written empty."""
        pad = INDENT * self._depth
        named = attributes(attrs) if attrs else ""
        start = len(self._parts)
        self._parts.append(f"{pad}<{tag}{named}>\n")
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
        if len(self._parts) == start + 1:
            self._parts[start] = f"{pad}<{tag}{named}/>\n"
        else:
            self._parts.append(f"{pad}</{tag}>\n")

    def raw(self, text: str) -> None:
        """Lines written already (a fragment made at this depth)."""
        self._parts.append(text)

    def text(self) -> str:
        return "".join(self._parts)


def document(root: str, root_attrs: dict[str, str], body: list[str]) -> bytes:
    """The XML declaration, the root element with its namespace declarations and
    attributes, and its children's lines."""
    named = attributes(root_attrs)
    if not body:
        return _encoded(f"{DECLARATION}<{root}{named}/>\n")
    return _encoded(f"{DECLARATION}<{root}{named}>\n{''.join(body)}</{root}>\n")


def _encoded(text: str) -> bytes:
    """``text`` in UTF-8 without the characters XML 1.0 forbids: ``xml_text(text).encode()``,
    but the encoding it needs anyway is the check, so clean text costs one scan of bytes."""
    try:
        data = text.encode()
    except UnicodeEncodeError:  # a lone surrogate
        return xml_text(text).encode()
    if data.translate(None, _ALLOWED_BYTES) or any(n in data for n in _NONCHARACTERS):
        return xml_text(text).encode()
    return data
