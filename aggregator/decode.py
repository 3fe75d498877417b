"""Feed bytes -> UTF-8 bytes that say so, decided once, before any parser sees them.

Why not leave it to feedparser: on a UTF-8 document with one invalid byte it falls back to a
guessed legacy charset for the whole document (every æøå garbled), and it believes a legacy
declaration over bytes that are plainly UTF-8. The rules here, in order:

1. A byte order mark decides.
2. Bytes that are valid UTF-8 are UTF-8 when nothing is declared, when UTF-8 is declared,
   and when a legacy charset is declared but they hold multi-byte sequences (a legacy text
   with non-ASCII letters is almost never valid UTF-8 by chance).
3. Bytes that are UTF-8 but for a few invalid bytes (more valid multi-byte sequences than
   invalid bytes) are UTF-8, with only the invalid bytes replaced.
4. Otherwise the declared charset (HTTP first, as RFC 7303 says, then the XML declaration)
   when Python knows it, else charset-normalizer's guess, else windows-1252.

The XML declaration and the charset header are rewritten to match, so every parser after
this reads UTF-8. Character references to surrogates (``&#xD800;``), which no parser
accepts, become U+FFFD.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

_DECLARATION = re.compile(rb"^(\s*<\?xml[^>]*?encoding\s*=\s*[\"'])([A-Za-z0-9._:-]+)([\"'])")
_CHARSET = re.compile(r";\s*charset\s*=\s*\"?([A-Za-z0-9._:-]+)\"?", re.I)
_SURROGATE_REFERENCE = re.compile(
    rb"&#(?:[xX]0*[dD][89a-fA-F][0-9a-fA-F]{2}|0*(?:5529[6-9]|55[3-9]\d\d|56\d{3}|57[0-2]\d\d|573[0-3]\d|5734[0-3]));"
)
# An & that starts no reference: ill-formed XML, which feedparser's loose parser then reads
# as a reference to an unknown entity and writes back with a ";" ("Q&A" -> "Q&A;").
_BARE_AMPERSAND = re.compile(
    rb"&(?!(?:[A-Za-z_][A-Za-z0-9._-]{0,63}|#[0-9]{1,7}|#x[0-9A-Fa-f]{1,6});)"
)
_CDATA = re.compile(rb"(<!\[CDATA\[.*?\]\]>)", re.DOTALL)
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_UTF8_NAMES = frozenset({"utf-8", "utf8", "utf_8"})
# A UTF-8 lead byte and its continuation bytes: one valid multi-byte sequence.
_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)


@dataclass(frozen=True, slots=True)
class Decoded:
    content: bytes  # UTF-8, declaring UTF-8 if it declares anything
    headers: Mapping[str, str]  # lower-case names; content-type charset says utf-8
    encoding: str  # what the bytes were read as
    notes: tuple[str, ...] = field(default=())  # what was repaired, for the feed's warning


def _codec(name: str | None) -> str | None:
    """Python's name for a charset label, or None for one it does not know."""
    if not name:
        return None
    try:
        codec = codecs.lookup(name.strip().lower()).name
    except LookupError:
        return None
    # As browsers do (WHATWG Encoding): text labelled Latin-1 or ASCII is read as
    # windows-1252, whose curly quotes and € such text often holds, not as C1 controls.
    return "cp1252" if codec in ("iso8859-1", "latin-1", "ascii") else codec


def _declared(content: bytes, headers: Mapping[str, str]) -> tuple[str | None, str | None]:
    http = _CHARSET.search(headers.get("content-type", ""))
    document = _DECLARATION.match(content[:512])
    return (
        http.group(1) if http else None,
        document.group(2).decode("ascii") if document else None,
    )


def _wide(content: bytes, declared: str | None) -> str | None:
    """UTF-16 or UTF-32 without a byte order mark, known by the NULs around its first ``<``
    (such a document is valid UTF-8 too, so it must be told apart first)."""
    head = content[:4]
    if b"\x00" not in head:
        return None
    if declared and declared.startswith(("utf-16", "utf-32")) and declared[-2:] in ("le", "be"):
        return declared
    for pattern, name in (
        (b"<\x00\x00\x00", "utf-32-le"),
        (b"\x00\x00\x00<", "utf-32-be"),
        (b"<\x00", "utf-16-le"),
        (b"\x00<", "utf-16-be"),
    ):
        if head.startswith(pattern):
            return name
    return None


# Among guesses that charset-normalizer scores alike, the ones the web mostly uses (and
# WHATWG maps latin-1 labels to): a Danish text in cp1252 reads equally well as cp1250 to it.
_PREFERRED = ("cp1252", "iso8859-15", "iso8859-1")


def _guess(content: bytes) -> str:
    from charset_normalizer import from_bytes

    matches = list(from_bytes(content[:65536]))
    if not matches:
        return "cp1252"
    best = matches[0]
    tied = [
        _codec(m.encoding)
        for m in matches
        if abs(m.chaos - best.chaos) < 0.01 and abs(m.coherence - best.coherence) < 0.01
    ]
    for name in _PREFERRED:
        if name in tied:
            return name
    return _codec(best.encoding) or "cp1252"


def _mostly_utf8(content: bytes) -> tuple[bool, int]:
    """(UTF-8 with a few bad bytes, how many bad bytes)."""
    text = content.decode("utf-8", "replace")
    bad = text.count("\ufffd") - content.count(b"\xef\xbf\xbd")
    valid = len(_MULTIBYTE.findall(content))
    return valid > bad, bad


def _utf8_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers with a content type that says UTF-8 (text/xml without a charset would
    otherwise mean US-ASCII, RFC 3023)."""
    out = dict(headers)
    kind = out.get("content-type", "")
    if kind:
        if _CHARSET.search(kind):
            out["content-type"] = _CHARSET.sub("; charset=utf-8", kind, count=1)
        else:
            out["content-type"] = kind.rstrip("; ") + "; charset=utf-8"
    return out


def to_utf8(content: bytes, headers: Mapping[str, str] | None = None) -> Decoded:
    """The document as UTF-8 bytes; ``headers`` with lower-case names."""
    response = {k.lower(): v for k, v in (headers or {}).items()}
    http, document = _declared(content, response)
    utf8, encoding, notes, relabel = _read(content, http, document)
    return _finish(utf8, response, encoding, notes, relabel=relabel)


def html_text(content: bytes, headers: Mapping[str, str] | None = None) -> str:
    """A web page as text, by the same rules as a feed, with ``<meta charset>`` (or its
    http-equiv form) where a feed has its XML declaration: a page that says ISO-8859-1 in
    its header but is written in UTF-8 is common, and must not turn "æ" into "Ã¦"."""
    from w3lib.encoding import html_body_declared_encoding

    return as_text(content, headers, html_body_declared_encoding(content[:4096]))


def as_text(
    content: bytes, headers: Mapping[str, str] | None = None, declared: str | None = None
) -> str:
    """Any text by the same rules (robots.txt, a page): a byte order mark first, as Windows
    tools write one, then UTF-8, then what the header or ``declared`` says, then a guess."""
    response = {k.lower(): v for k, v in (headers or {}).items()}
    http = _CHARSET.search(response.get("content-type", ""))
    utf8 = _read(content, http.group(1) if http else None, declared)[0]
    return utf8.decode("utf-8", "replace")


def _read(
    content: bytes, http: str | None, document: str | None
) -> tuple[bytes, str, list[str], bool]:
    """(the text as UTF-8, what it was read as, repairs made, whether the document's own
    declaration must be rewritten)."""
    notes: list[str] = []
    declared = _codec(http) or _codec(document)
    for bom, name in _BOMS:
        if content.startswith(bom):
            if name == "utf-8":
                content = content[len(bom) :]
                break
            return content[len(bom) :].decode(name, "replace").encode("utf-8"), name, notes, True
    wide = _wide(content, declared)
    if wide is not None:
        return content.decode(wide, "replace").encode("utf-8"), wide, notes, True
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        valid_utf8 = False
    else:
        valid_utf8 = True
    if valid_utf8:
        if declared in (None, "utf-8") or _MULTIBYTE.search(content) is None:
            # UTF-8 said, or ASCII only (the same bytes in UTF-8 and the declared charset
            # alike): a declaration naming another charset (.NET's "utf-16" on UTF-8 bytes,
            # "us-ascii") is rewritten, so that no parser believes it over the bytes.
            return content, "utf-8", notes, document is not None and _codec(document) != "utf-8"
        notes.append(f"declared {http or document} but sent UTF-8: read as UTF-8")
        return content, "utf-8", notes, True
    mostly, bad = _mostly_utf8(content)
    if mostly and declared in (None, "utf-8"):
        notes.append(f"{bad} invalid UTF-8 byte{'s' if bad != 1 else ''} replaced")
        return content.decode("utf-8", "replace").encode("utf-8"), "utf-8", notes, True
    encoding = declared if declared and declared != "utf-8" else None
    if encoding is None:
        encoding = _guess(content)
        said = http or document
        notes.append(
            f"declared {said} but is not UTF-8: read as {encoding}"
            if said
            else f"no charset declared: read as {encoding}"
        )
    return content.decode(encoding, "replace").encode("utf-8"), encoding, notes, True


def _finish(
    content: bytes,
    headers: dict[str, str],
    encoding: str,
    notes: list[str],
    relabel: bool = True,
) -> Decoded:
    if relabel:
        content = _DECLARATION.sub(rb"\1utf-8\3", content, count=1)
    if b"&#" in content and _SURROGATE_REFERENCE.search(content):
        content, count = _SURROGATE_REFERENCE.subn(b"&#xFFFD;", content)
        plural = "s" if count != 1 else ""
        notes.append(f"{count} character reference{plural} to a surrogate replaced")
    if b"&" in content and _BARE_AMPERSAND.search(content):
        content, count = _escape_bare_ampersands(content)
        if count:
            notes.append(f"not well-formed XML: {count} bare & read as &amp;")
    return Decoded(content, _utf8_headers(headers), encoding, tuple(notes))


def _escape_bare_ampersands(content: bytes) -> tuple[bytes, int]:
    """Every & that starts no reference written as &amp;, outside CDATA sections (where an &
    is only itself); the count of them."""
    count = 0
    pieces = _CDATA.split(content)
    for index in range(0, len(pieces), 2):  # the odd ones are CDATA sections
        pieces[index], found = _BARE_AMPERSAND.subn(b"&amp;", pieces[index])
        count += found
    return b"".join(pieces), count
