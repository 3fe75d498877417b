"""Is a feed document whole? A body cut short (a proxy or CDN that stopped, PHP dying mid-
output, a Content-Length that matches the short body) is no feed to store: feedparser's
loose road reads it anyway and returns the last, cut item without its body, which would
erase the post's content until the next poll.

Decided on the decoded bytes, before either parser: an XML feed whose root element (``rss``,
``rdf:RDF``, ``feed``) is never closed, or a JSON Feed whose text ends before its value.
Whatever follows the root's end tag (whitespace, comments, processing instructions, a PHP
notice) does not matter; a document that is not a feed (an HTML page) is left to the parsers.
"""

from __future__ import annotations

import json
import re

from aggregator.errors import TruncatedDocument

MESSAGE = "the response was cut off (truncated document)"
# Local names of the roots feeds have: RSS 0.9x/2.0, RSS 0.90/1.0 (rdf:RDF), Atom.
_FEED_ROOTS = frozenset({b"rss", b"rdf", b"feed"})
_NAME = rb"[A-Za-z_][A-Za-z0-9._-]*(?::[A-Za-z_][A-Za-z0-9._-]*)?"
_START_TAG = re.compile(rb"<(" + _NAME + rb")(?:[^>\"']|\"[^\"]*\"|'[^']*')*?(/?)>")
_DOCTYPE = re.compile(rb"<!DOCTYPE[^\[>]*(?:\[.*?\])?[^>]*>", re.DOTALL | re.IGNORECASE)
_SPACE = b" \t\r\n"
_TOKEN_START = re.compile(r"[A-Za-z0-9.+\-\\]+")


def refuse_cut_xml(content: bytes) -> None:
    """Raise TruncatedDocument when the document's feed root is opened but never closed."""
    if xml_cut_off(content):
        raise TruncatedDocument(MESSAGE)


def xml_cut_off(content: bytes) -> bool:
    start = _root_start(content)
    if start is None:
        return False  # no root: not a feed, for the parser to say so
    name, tag_end, empty = start
    if empty or name.rpartition(b":")[2].lower() not in _FEED_ROOTS:
        return False
    needle = b"</" + name
    position = content.rfind(needle)
    # The last end tag of that name, not a longer name it starts (``</rssx>``).
    while position >= tag_end:
        after = content[position + len(needle) : position + len(needle) + 64].lstrip(_SPACE)
        if after.startswith(b">"):
            return False
        position = content.rfind(needle, tag_end, position)
    return True


def _root_start(content: bytes) -> tuple[bytes, int, bool] | None:
    """The root element's name, where its start tag ends, and whether it is empty (``<x/>``),
    past the XML declaration, comments, processing instructions and a doctype."""
    position = 3 if content.startswith(b"\xef\xbb\xbf") else 0
    while True:
        position = content.find(b"<", position)
        if position < 0:
            return None
        if content.startswith(b"<?", position):
            end = content.find(b"?>", position + 2)
            skip = end + 2
        elif content.startswith(b"<!--", position):
            end = content.find(b"-->", position + 4)
            skip = end + 3
        elif content.startswith(b"<!", position):
            doctype = _DOCTYPE.match(content, position)
            end = doctype.end() if doctype else -1
            skip = end
        else:
            tag = _START_TAG.match(content, position)
            if tag is None:
                # Cut inside the root's start tag, or no element at all.
                name = re.match(rb"<(" + _NAME + rb")", content[position:])
                return (name.group(1), len(content) + 1, False) if name else None
            return tag.group(1), tag.end(), tag.group(2) == b"/"
        if end < 0:
            return None  # cut in the prolog: nothing a parser could read either
        position = skip


def json_cut_off(error: ValueError) -> bool:
    """Whether a JSON decoding error is the text ending early: a string never closed, or
    the error at the end of the text (after trailing whitespace)."""
    if not isinstance(error, json.JSONDecodeError):
        return False
    if error.msg.startswith("Unterminated string"):
        return True
    # What is left from the error on: nothing, or the start of a token cut in two (``tr``,
    # ``1.``, ``-``, ``\u00``) with nothing after it.
    rest = error.doc[error.pos :].rstrip()
    return not rest or (len(rest) <= 6 and _TOKEN_START.fullmatch(rest) is not None)
