"""Defences against hostile feed text, applied in normalise so every output is safe.

Characters XML 1.0 forbids, URLs that are not absolute http(s), fields without a size limit
and markup nested deep enough to make sanitising quadratic: each is a small pure function
here, with the limits as constants the README documents.
"""

from __future__ import annotations

import html
import re
from urllib.parse import SplitResult, urljoin, urlsplit

# Characters XML 1.0 forbids: one of them makes a whole merged feed unreadable.
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

MAX_TITLE_CHARS = 400
MAX_AUTHOR_CHARS = 200
MAX_LANGUAGE_CHARS = 35  # the longest sensible BCP 47 tag
MAX_URL_CHARS = 2048
MAX_MEDIA_TYPE_CHARS = 255  # RFC 6838: type and subtype of 127 each
MAX_CONTENT_BYTES = 256 * 1024  # of sanitised HTML, per entry
# A raw body this many times the cap is cut before sanitising: no entry costs more than this.
RAW_CONTENT_FACTOR = 8
# Deeper markup is flattened before nh3, whose cost grows with the square of the depth
# (50,000 nested <div> took 4.5 s); real posts stay under 30.
MAX_NESTING = 100


# A long text is checked by encoding it: the regex runs about 10 ns a character, while
# encoding and deleting every allowed byte run in C at a fraction of that. In UTF-8 a byte
# below 0x20 is only ever that character; a lone surrogate does not encode at all.
_LONG_TEXT = 128
_ALLOWED_BYTES = bytes(b for b in range(256) if b >= 0x20 or b in b"\t\n\r")


def xml_text(value: str) -> str:
    """``value`` without the characters XML 1.0 forbids; a check first, as most text has none."""
    if len(value) < _LONG_TEXT:
        if _XML_FORBIDDEN.search(value) is None:
            return value
    else:
        try:
            encoded = value.encode("latin-1")  # a copy, when every character is below 256
        except UnicodeEncodeError:
            try:
                encoded = value.encode("utf-8")
            except UnicodeEncodeError:  # a lone surrogate
                return _XML_FORBIDDEN.sub("", value)
            if "\ufffe" in value or "\uffff" in value:
                return _XML_FORBIDDEN.sub("", value)
        if not encoded.translate(None, _ALLOWED_BYTES):
            return value
    return _XML_FORBIDDEN.sub("", value)


def maybe_xml_text(value: str | None) -> str | None:
    return None if value is None else xml_text(value)


def cut_at_word(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut at a word boundary with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,.;:–-") + "…"


_TAB_NEWLINE = str.maketrans("", "", "\t\n\r")


def safe_url(value: str | None, base: str | None = None) -> str | None:
    """An absolute http(s) URL, resolved against ``base`` (the document's URL), or None.

    The one check for every URL a feed gives (entry, feed, source, author, enclosure,
    image): ``javascript:``, ``data:``, control characters, a broken port or host all
    come back as None.
    """
    if not value:
        return None
    # As a browser reads an href (WHATWG URL): the ends trimmed, tabs and newlines inside
    # dropped, a space inside percent-encoded (``…/min side.pdf``), though not in the host.
    value = value.strip()
    if "\t" in value or "\n" in value or "\r" in value:
        value = value.translate(_TAB_NEWLINE)
    if not value or len(value) > MAX_URL_CHARS or not value.isprintable():
        return None
    try:
        # urljoin would answer an empty "https://" with the base itself.
        absolute = urljoin(base, value) if base and not urlsplit(value).scheme else value
    except ValueError:
        return None
    parts = web_parts(absolute)
    if parts is None:
        return None
    if " " in absolute:
        if " " in parts.netloc:
            return None
        absolute = absolute.replace(" ", "%20")
    return absolute if len(absolute) <= MAX_URL_CHARS else None


def web_parts(url: str) -> SplitResult | None:
    """The parts of an absolute http(s) URL with a host, a well-formed port and no backslash
    in its authority (which browsers and servers split differently); else None."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or "\\" in parts.netloc:
        return None
    return parts


_TAG = re.compile(r"<(/?)([A-Za-z][^\s/>]*)[^>]*?(/?)>")
# Void elements never hold anything; the others listed here close an open one of their kind
# (HTML's implied end tags), so they do not deepen the tree however many there are.
_FLAT = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
     "track", "wbr", "p", "li", "dt", "dd", "tr", "td", "th", "option"}
)  # fmt: skip


def flatten_nesting(fragment: str, limit: int = MAX_NESTING) -> str:
    """Drop the tags (not the text) of elements nested deeper than ``limit``.

    A tag count bounds the depth, so most fragments are returned after one ``count``.
    """
    if fragment.count("<") <= limit:
        return fragment
    depth = 0
    pieces: list[str] = []
    kept = 0
    for match in _TAG.finditer(fragment):
        closing, name, self_closing = match.group(1), match.group(2).lower(), match.group(3)
        if name in _FLAT or self_closing:
            continue
        if closing:
            too_deep = depth > limit
            depth = max(depth - 1, 0)
        else:
            depth += 1
            too_deep = depth > limit
        if too_deep:
            pieces.append(fragment[kept : match.start()])
            kept = match.end()
    if not pieces:
        return fragment
    pieces.append(fragment[kept:])
    return "".join(pieces)


def cut_raw_content(fragment: str) -> str:
    """A raw body larger than the sanitiser should ever see, cut before a tag."""
    limit = MAX_CONTENT_BYTES * RAW_CONTENT_FACTOR
    if len(fragment) <= limit:
        return fragment
    return _before_tag(fragment[:limit])


def over_content_cap(cleaned: str) -> bool:
    # Characters first: a string of at most cap/4 characters is at most cap bytes in UTF-8.
    return len(cleaned) > MAX_CONTENT_BYTES // 4 and len(cleaned.encode()) > MAX_CONTENT_BYTES


def cut_html(cleaned: str, budget: int) -> str:
    """The first ``budget`` bytes of sanitised HTML, ending before a tag; the caller
    sanitises the result again so that open elements are closed."""
    cut = cleaned.encode()[:budget].decode(errors="ignore")
    return _before_tag(cut)


def _before_tag(cut: str) -> str:
    """Without a tag the cut left unfinished."""
    position = cut.rfind("<")
    return cut[:position] if position > cut.rfind(">") else cut


# Lazy-loaded images. A page that loads its images by script puts a placeholder in ``src``
# (a data: GIF or SVG, a 1x1 file) and the picture in a data attribute, with a copy in
# <noscript> for browsers without script. A feed reader is such a browser, but nh3 parses
# <noscript> as a browser with script does: its markup comes out as text. So, before nh3:
# the picture goes into ``src``, and <noscript> is unwrapped, without the copy of an image
# already shown. Attributes a lazy loader reads, in the order we trust them:
LAZY_SOURCES = ("data-lazy-src", "data-src", "data-original", "data-lazyload", "data-lazy")
LAZY_SRCSETS = ("data-lazy-srcset", "data-srcset")
# From a srcset, the widest candidate up to this width: a page column at twice the density.
MAX_IMAGE_WIDTH = 1600
_KEPT_IMAGE_ATTRIBUTES = ("alt", "title", "width", "height")

_IMG_TAG = r"""<img\b(?:[^>"']|"[^"]*"|'[^']*')*>"""
_IMG = re.compile(_IMG_TAG, re.I)
_ATTRIBUTE = re.compile(r"""([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?""")
_NEEDS_LOOK = re.compile(r"<(?:img|noscript)\b", re.I)
# A <noscript> ends at the first </noscript>, as raw text does; one left open runs to the end.
# The image in front of it (with end tags between: a link, a <picture>) may be its lazy twin.
_NOSCRIPT = re.compile(
    rf"(?:(?P<before>{_IMG_TAG})(?P<gap>(?:\s|</[A-Za-z][^>]*>)*))?"
    r"<noscript\b[^>]*>(?P<inside>.*?)(?:</noscript\s*>|\Z)",
    re.I | re.S,
)
_NOSCRIPT_TAG = re.compile(r"</?noscript\b[^>]*>", re.I)
# Jetpack marks its lazy source as not yet loaded; the picture is the same without it.
_PENDING_LOAD = re.compile(r"[?&]is-pending-load=1(?=&|#|$)")


def reveal_lazy_images(fragment: str) -> str:
    """``fragment`` with each lazy image's picture in ``src`` and each <noscript> unwrapped,
    so the picture appears once, as markup: what a reader without script should see."""
    if _NEEDS_LOOK.search(fragment) is None:
        return fragment
    # str.lower()'s words, found in the UTF-8 bytes lowered in ASCII alone, at a third of
    # its cost on Danish text (where almost every post has an image): the words are ASCII,
    # and the only other characters that lower to ASCII are U+212A (to k, in none of them)
    # and U+0130 (to i + U+0307, and in "<noscript" a p follows the i).
    lowered = fragment.encode("utf-8", "surrogatepass").lower()
    if b"<noscript" in lowered:
        shown = {
            source
            for match in _IMG.finditer(fragment)
            if (source := _lazy_source(_attributes(match.group(0)))) is not None
        }
        fragment = _NOSCRIPT.sub(lambda match: _unwrap(match, shown), fragment)
    elif b"data-" not in lowered and b"srcset" not in lowered:
        return fragment
    return _IMG.sub(_reveal, fragment)


def _unwrap(match: re.Match[str], shown: set[str]) -> str:
    before, gap = match.group("before") or "", match.group("gap") or ""
    inside = _NOSCRIPT_TAG.sub("", match.group("inside"))
    if "<" not in inside:
        inside = ""  # words only: "turn on JavaScript", about the page, not the post
    if before and _is_lazy(attributes := _attributes(before)):
        if _lazy_source(attributes) is None:
            return gap + inside  # a placeholder only: the copy is the picture
        return before + gap + _IMG.sub("", inside)  # the copy is the picture again
    # An image of the fallback that a lazy image elsewhere shows already goes.
    return before + gap + _IMG.sub(lambda tag: _unless_shown(tag, shown), inside)


def _unless_shown(tag: re.Match[str], shown: set[str]) -> str:
    return "" if _src(_attributes(tag.group(0))) in shown else tag.group(0)


def _reveal(match: re.Match[str]) -> str:
    tag = match.group(0)
    lowered = tag.lower()
    if "data-" not in lowered and "srcset" not in lowered:
        return tag
    attributes = _attributes(tag)
    source = _lazy_source(attributes)
    if source is None:
        return tag
    kept = "".join(
        f' {name}="{html.escape(attributes[name])}"'
        for name in _KEPT_IMAGE_ATTRIBUTES
        if name in attributes
    )
    return f'<img src="{html.escape(source)}"{kept}>'


def _attributes(tag: str) -> dict[str, str]:
    """The attributes of one start tag, names lower-cased, values unescaped; the first of
    a repeated name counts, as in HTML."""
    found: dict[str, str] = {}
    for name, double, single, bare in _ATTRIBUTE.findall(tag[4:-1]):
        found.setdefault(name.lower(), html.unescape(double or single or bare))
    return found


def _usable(value: str | None) -> bool:
    """A URL a picture can be at: not missing, blank or a data: placeholder."""
    stripped = value.strip() if value else ""
    return bool(stripped) and stripped[:5].lower() != "data:"


def _src(attributes: dict[str, str]) -> str | None:
    src = attributes.get("src")
    return src.strip() if src is not None and _usable(src) else None


def _is_lazy(attributes: dict[str, str]) -> bool:
    return _src(attributes) is None or _lazy_source(attributes) is not None


def _lazy_source(attributes: dict[str, str]) -> str | None:
    """The picture of an image whose ``src`` is not it: a lazy loader's attribute, else (with
    no usable ``src``) a ``srcset`` candidate; None when ``src`` is the picture or none is."""
    for name in LAZY_SOURCES:
        value = attributes.get(name)
        if value is not None and _usable(value):
            return _PENDING_LOAD.sub("", value.strip())
    names = LAZY_SRCSETS if _src(attributes) is not None else (*LAZY_SRCSETS, "srcset")
    for name in names:
        candidate = srcset_choice(attributes.get(name) or "")
        if _usable(candidate):
            return candidate
    return None


def srcset_choice(srcset: str) -> str | None:
    """From a ``srcset``, the widest candidate up to MAX_IMAGE_WIDTH (else the narrowest), the
    lowest density, or the first: the candidates as HTML splits them."""
    candidates: list[tuple[str, str]] = []
    position, length = 0, len(srcset)
    while position < length:
        while position < length and (srcset[position].isspace() or srcset[position] == ","):
            position += 1
        start = position
        while position < length and not srcset[position].isspace():
            position += 1
        url = srcset[start:position]
        if url.endswith(","):
            url, descriptor = url.rstrip(","), ""
        else:
            end = srcset.find(",", position)
            end = length if end < 0 else end
            descriptor, position = srcset[position:end].strip().lower(), end
        if url:
            candidates.append((url, descriptor))
    if not candidates:
        return None
    widths = [(_number(d[:-1]), url) for url, d in candidates if d.endswith("w")]
    if widths:
        fitting = [width for width in widths if width[0] <= MAX_IMAGE_WIDTH]
        return max(fitting)[1] if fitting else min(widths)[1]
    # No descriptor is 1x.
    densities = [(_number(d[:-1] or "1"), url) for url, d in candidates if d.endswith("x") or not d]
    return min(densities)[1] if densities else candidates[0][0]


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return float("inf")


# One-line fields (titles, authors, tags) are shown beside other text: in a page's heading,
# a digest's line before its reference number, a reader's list. A C1 control there is
# something a terminal acts on (U+009B starts a sequence); a bidi control left open turns
# everything after the field around ("[1]" read as "]1["). Embeddings and overrides are
# closed by PDF, isolates by PDI; the Unicode bidi algorithm stops at depth 125.
_EMBEDDINGS = frozenset("\u202a\u202b\u202d\u202e")
_ISOLATES = frozenset("\u2066\u2067\u2068")
_PDF, _PDI = "\u202c", "\u2069"
MAX_BIDI_DEPTH = 125
_LINE_UNSAFE = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def line_text(value: str) -> str:
    """``value`` without C1 controls (or DEL), each bidi control it opens closed at its end
    and each closing one without an opener dropped: its direction stays inside it."""
    if _LINE_UNSAFE.search(value) is None:
        return value
    kept: list[str] = []
    open_: list[str] = []  # innermost last
    for char in value:
        if "\x7f" <= char <= "\x9f":
            continue
        if char in _EMBEDDINGS or char in _ISOLATES:
            if len(open_) == MAX_BIDI_DEPTH:
                continue
            open_.append(char)
        elif char == _PDF:
            if not open_ or open_[-1] in _ISOLATES:
                continue  # closes nothing: an isolate is closed by PDI only
            open_.pop()
        elif char == _PDI:
            if not any(opener in _ISOLATES for opener in open_):
                continue
            while open_ and open_[-1] not in _ISOLATES:
                kept.append(_PDF)  # what the isolate holds ends with it
                open_.pop()
            open_.pop()
        kept.append(char)
    kept.extend(_PDI if opener in _ISOLATES else _PDF for opener in reversed(open_))
    return "".join(kept)


# WordPress shortcodes a feed shows as written: the site's plugin renders them on its pages
# but not in its feed (or was switched off), so ``[caption …]<img …> Tekst[/caption]`` and a
# page builder's ``[vc_row][vc_column]…`` reach the reader. A name as WordPress writes one
# (here ASCII: a letter, then letters, digits, ``_`` or ``-``; WordPress allows any character
# but ``<>&/[]=``, space and controls), ended by a space, ``]`` or ``/]``, so that
# ``[https://kl.dk/]``, ``[www.dst.dk/]`` and ``[Valuta: 1 EUR = 7,46 kr.]`` are no tags;
# attributes up to the first ``]`` (a ``/`` in them only before something else than ``]``),
# ``/]`` for a self-closing tag; ``[[name]]`` is WordPress's escape for the text ``[name]``.
_SHORTCODE = r"\[(\[?)(/?)([A-Za-z][\w-]*)(?=[\s\xa0\]]|/\])((?:[^\[\]/]|/(?!\]))*)(/?)\](\]?)"
# Markup is passed over whole, so a bracket in an attribute or a comment is not read; ``[^<>]``
# keeps the scan linear on a fragment of ``<`` with no ``>``.
_SHORTCODE_SCAN = re.compile(rf"<!--.*?(?:-->|\Z)|<[^<>]*>|{_SHORTCODE}", re.S | re.A)
_SHORTCODE_HINT = re.compile(r"\[/?[A-Za-z]", re.A)
_SHORTCODE_ALONE = re.compile(_SHORTCODE, re.A)
# Text in these is what the author typed: a tutorial's ``[gallery]`` or a checklist's ``[x]``.
_VERBATIM = re.compile(r"<(/?)(pre|code|kbd|samp|script|style|textarea)\b", re.I)
# Names that are a shortcode alone, with nothing to show them: WordPress's own (``audio``
# and ``video`` only by shape, as "[video]" is also a news site's label) and the page
# builders' families, whose bare ``[vc_row]`` has no attribute or end tag to show it.
SHORTCODE_NAMES = frozenset({"caption", "wp_caption", "gallery", "playlist", "embed"})
SHORTCODE_PREFIXES = ("vc_", "et_pb_", "fusion_", "av_", "su_", "mk_", "cs_", "tm_")
_MEDIA_SHORTCODES = frozenset({"audio", "video", "embed"})
_PLAIN_URL = re.compile(r"https?://[^\s<>\"'\[\]]+", re.A)
# A shortcode WordPress does not know is "texturized" in its feed like any text: its quotes
# come as curly quotes and primes, written as characters or references.
_CURLY = r"(?:&\#(?:8216|8217|8220|8221|8242|8243);|[‘’“”′″])"
_ATTRIBUTE_PAIR = re.compile(
    rf"""([\w-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|{_CURLY}(.*?){_CURLY}|([^\s"']+))"""
)
# What shows a name WordPress would not know to be a shortcode: a quoted attribute. An
# unquoted ``a=b`` is as often words ("[red. 2+2=4]", "[a=b]").
_QUOTED_ATTRIBUTE = re.compile(rf"""[\w-]+\s*=\s*(?:"[^"]*"|'[^']*'|{_CURLY}.*?{_CURLY})""")


def strip_shortcodes(fragment: str) -> str:
    """``fragment`` without its WordPress shortcode tags, what they enclose kept (a caption's
    image and text, a column's paragraphs); an embed or a media shortcode becomes a link to
    its URL, a gallery goes. A tag counts when its name is one of SHORTCODE_NAMES or of a
    builder family, or when it has the shape: a quoted attribute (``name="value"``), a ``/]``
    after the name or a space, or an end tag that closes it. So ``[1]``, ``[PDF]``,
    ``[opdateret 14.30]``, ``[red. 2+2=4]`` and ``[Kilde https://kl.dk/rapport/]`` stay, as
    does all text in ``<pre>`` and ``<code>``."""
    if "[" not in fragment or _SHORTCODE_HINT.search(fragment) is None:
        return fragment
    # Most brackets are words ("[Foto: Jens]"): the scan of every tag is for a post that has
    # a shortcode, or an end tag that may close one.
    if not any(
        match.group(2) or _is_shortcode(match.group(3), match.group(4), bool(match.group(5)))
        for match in _SHORTCODE_ALONE.finditer(fragment)
    ):
        return fragment
    tokens: list[re.Match[str]] = []
    verbatim = 0
    for match in _SHORTCODE_SCAN.finditer(fragment):
        if match.group(3) is None:
            if (tag := _VERBATIM.match(match.group(0))) is not None:
                verbatim = max(verbatim + (-1 if tag.group(1) else 1), 0)
        elif not verbatim:
            tokens.append(match)
    paired = _paired(tokens)
    pieces: list[str] = []
    kept = 0
    after_end: dict[int, str] = {}  # an old-style caption's text, shown after its image
    for index, token in enumerate(tokens):
        extra_open, closing, name, attributes, self_closing, extra_close = token.groups()
        if extra_open and extra_close:
            # ``[[name]]``: WordPress's way to write the text ``[name]``; of a name it would
            # not read as a shortcode, it is the text ``[[name]]`` (a wiki's link).
            if _is_shortcode(name, attributes, bool(self_closing)):
                pieces += [fragment[kept : token.start()], token.group(0)[1:-1]]
                kept = token.end()
            continue
        if not (index in paired or _is_shortcode(name, attributes, bool(self_closing))):
            continue
        # A lone extra bracket is text: ``[[caption]…`` keeps its first ``[``.
        start, end = token.start() + len(extra_open), token.end() - len(extra_close)
        replacement, resume = after_end.pop(index, ""), end
        if not closing:
            found = _shortcode_attributes(attributes)
            url = next((v for v in found.values() if _PLAIN_URL.fullmatch(v)), None)
            if name in ("caption", "wp_caption") and found.get("caption") and index in paired:
                after_end[paired[index]] = f" {found['caption']} "
            elif name == "embed" and url is None and (close := paired.get(index)) is not None:
                inner = fragment[end : tokens[close].start()].strip()
                if _PLAIN_URL.fullmatch(inner):
                    url, resume = inner, tokens[close].start()
            if url is not None and name in _MEDIA_SHORTCODES:
                url = html.escape(html.unescape(url))
                replacement = f'<a href="{url}">{url}</a>'
        if start > kept:
            pieces.append(fragment[kept:start])
        pieces.append(replacement or _gap(pieces, fragment[end : end + 1]))
        kept = resume
    if not pieces:
        return fragment
    pieces.append(fragment[kept:])
    return "".join(pieces)


def _paired(tokens: list[re.Match[str]]) -> dict[int, int]:
    """Start and end tags of one name that close each other, both ways: an end tag closes
    the nearest open one of its name, and those opened inside it stay unclosed. Linear: an
    end tag whose name is not open looks at nothing, and each open tag is passed once."""
    paired: dict[int, int] = {}
    open_: list[tuple[str, int]] = []
    count: dict[str, int] = {}
    for index, token in enumerate(tokens):
        name = token.group(3)
        if token.group(5) or (token.group(1) and token.group(6)):
            continue  # self-closing or escaped
        if not token.group(2):
            open_.append((name, index))
            count[name] = count.get(name, 0) + 1
            continue
        if not count.get(name):
            continue
        while True:
            opened, start = open_.pop()
            count[opened] -= 1
            if opened == name:
                paired[start], paired[index] = index, start
                break
    return paired


def _is_shortcode(name: str, attributes: str, self_closing: bool) -> bool:
    if name in SHORTCODE_NAMES or name.startswith(SHORTCODE_PREFIXES):
        return True  # however bare
    if self_closing and (not attributes or attributes[-1].isspace()):
        return True  # [note/], [note /]: not the last slash of a URL ([Kilde https://kl.dk/])
    return _QUOTED_ATTRIBUTE.search(attributes) is not None


def _shortcode_attributes(attributes: str) -> dict[str, str]:
    """Named attributes, and WordPress's positional form (``[embed https://…]``) as ``""``."""
    found = {
        name.lower(): "".join(values).strip()
        for name, *values in _ATTRIBUTE_PAIR.findall(attributes)
    }
    if not found and attributes.strip():
        found[""] = attributes.strip()
    return found


def _gap(pieces: list[str], after: str) -> str:
    """A space where a tag between two words went (``Tekst[/vc_column][vc_column]Mere``):
    not after another gap or at the start, as only the pieces' last one is looked at."""
    before = pieces[-1][-1:] if pieces else ""
    if not before or not after or before.isspace() or after.isspace():
        return ""
    return "" if before == ">" or after == "<" else " "
