"""Is a feed document whole? A body cut short (a proxy or CDN that stopped, PHP dying mid-
output, a Content-Length that matches the short body) is no feed to store: feedparser's
loose road reads it anyway and returns the last, cut item without its body, which would
erase the post's content until the next poll.

Decided on the decoded bytes, before either parser: an XML feed whose root element (``rss``,
``rdf:RDF``, ``feed``) is never closed, or a JSON Feed whose text ends before its value.
Whatever follows the root's end tag (whitespace, comments, processing instructions, a PHP
notice) does not matter; a document that is not a feed (an HTML page) is left to the parsers.

A document that ends after a whole last item or entry, with only its root's end tags (and
RSS's ``</channel>``) missing, is a server or CMS that never writes them (a template, a
plugin, a cache): a cut would have to fall exactly between two elements. Its entries are
read as a whole document, the missing end tags added, with a warning for ``status``.
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


UNCLOSED = (
    "the feed ends without {tags} after a whole last {item}: read as a whole document. The "
    "site's feed (its CMS, a plugin or a cache) never writes the end; worth telling its publisher"
)
_END_TAG = re.compile(rb"</(" + _NAME + rb")[ \t\r\n]*>")
_CHANNEL = re.compile(rb"<((?:[A-Za-z_][A-Za-z0-9._-]*:)?channel)[ \t\r\n/>]")
_ENTRIES = frozenset({b"item", b"entry"})


def whole_xml(content: bytes) -> tuple[bytes, str | None]:
    """The document to parse, and a warning when its root's end tags had to be added.

    Raises TruncatedDocument when the feed root is opened but never closed, unless the
    document ends after a whole last item or entry (see the module's docstring)."""
    if not xml_cut_off(content):
        return content, None
    missing = _missing_end_tags(content)
    if missing is None:
        raise TruncatedDocument(MESSAGE)
    closing = b"".join(b"</" + name + b">" for name in missing)
    item = "entry" if b"feed" in (name.rpartition(b":")[2] for name in missing) else "item"
    return content + b"\n" + closing, UNCLOSED.format(tags=closing.decode(), item=item)


def _missing_end_tags(content: bytes) -> list[bytes] | None:
    """The end tags a document lacks, innermost first, when all it lacks is its root's (and
    an RSS channel's) after a whole last item or entry; else None: a cut document."""
    start = _root_start(content)
    if start is None:
        return None
    root, tag_end, _ = start
    if root.rpartition(b":")[2].lower() == b"rss":
        channel = _CHANNEL.search(content, tag_end)
        if channel is None:
            return None
        expected = [channel.group(1), root]
    else:
        expected = [root]  # RSS 1.0 items are the root's children, as Atom's entries are
    if content.count(b"<![CDATA[", tag_end) != content.count(b"]]>", tag_end):
        return None  # cut inside a CDATA section that holds an end tag
    # From the end back: space, comments, processing instructions and end tags, up to the
    # last item's or entry's end tag. Anything else there (text, a start tag, half a tag) is
    # a cut.
    closed: list[bytes] = []
    position = len(content)
    while True:
        while position > tag_end and content[position - 1] in _SPACE:
            position -= 1
        if content.endswith(b"-->", tag_end, position):
            position = content.rfind(b"<!--", tag_end, position - 3)
        elif content.endswith(b"?>", tag_end, position):
            position = content.rfind(b"<?", tag_end, position - 2)
        else:
            begin = content.rfind(b"</", tag_end, position)
            tag = _END_TAG.fullmatch(content, begin, position) if begin >= 0 else None
            if tag is None:
                return None
            name = tag.group(1)
            if name.rpartition(b":")[2] in _ENTRIES:
                break
            closed.append(name)
            position = begin
        if position < 0:
            return None
    closed.reverse()  # in document order: innermost first
    if closed != expected[: len(closed)]:
        return None
    return expected[len(closed) :]


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
