"""Atom and RSS written as text, byte for byte as libxml2 pretty-prints a tree: two spaces a
level, a leaf on one line, an empty element as ``<x/>``. Building an lxml tree cost about
9 µs an element, most of a first export's time; a line of text costs well under one.

Every string passes through ``xml_text`` on its way in (the characters XML 1.0 forbids are
dropped, as normalise does to everything it stores), and is escaped as libxml2 escapes it:
``& < >`` and CR in text, and also ``"``, TAB and LF in attribute values. The guard still
parses every file before it is published. tests/test_xml_writer.py holds this to lxml's own
serialisation of the same document, hostile strings included.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from aggregator.clean import xml_text

_SPECIAL_TEXT = re.compile("[&<>\r]")
_SPECIAL_ATTRIBUTE = re.compile('[&<>\r"\t\n]')

DECLARATION = "<?xml version='1.0' encoding='utf-8'?>\n"
INDENT = "  "


def escape_text(value: str) -> str:
    value = xml_text(value)
    if _SPECIAL_TEXT.search(value) is None:  # most text: one scan in C, no copies
        return value
    return (
        value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
    )


def escape_attribute(value: str) -> str:
    value = xml_text(value)
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
        return f"{DECLARATION}<{root}{named}/>\n".encode()
    return f"{DECLARATION}<{root}{named}>\n{''.join(body)}</{root}>\n".encode()
