"""Atom and RSS are built as lxml trees: libxml2 serialises them in C, and lxml refuses any
string XML 1.0 forbids as it is set, so a forbidden character is found where it enters.
Such a string is set again without those characters (what normalise already does to
everything it stores); nothing else pays for the check."""

from __future__ import annotations

from typing import Any

from lxml import etree

from aggregator.clean import xml_text

Element = Any  # lxml.etree._Element: lxml ships no type information


def sub(parent: Element, tag: str, text: str | None = None, **attrs: str) -> Element:
    """A child element; its text and attributes without what XML forbids."""
    try:
        element = etree.SubElement(parent, tag, attrs)
    except ValueError:
        element = etree.SubElement(parent, tag, {k: xml_text(v) for k, v in attrs.items()})
    if text is not None:
        try:
            element.text = text
        except ValueError:  # a control character, a lone surrogate, U+FFFE or U+FFFF
            element.text = xml_text(text)
    return element


def serialise(root: Element) -> bytes:
    """Indented two spaces a level, with the XML declaration and a final newline."""
    document: bytes = etree.tostring(
        root, encoding="utf-8", xml_declaration=True, pretty_print=True
    )
    return document
