"""Full-text search, the pure half: word forms, queries people type, highlighted snippets.

Why a stemmed shadow text. SQLite's FTS5 ships only the English Porter stemmer, and a custom
tokenizer cannot be registered from Python's sqlite3 module. So each entry's text is stemmed
here (Snowball, through PyStemmer) into a second, "shadow" text of stems separated by spaces,
and that is what FTS5 indexes with the plain ``unicode61`` tokenizer. A query is stemmed the
same way. This works on every SQLite connection (the sqlite3 shell, a backup tool, another
process): nothing in the database depends on a function only this program registers.

- ``remove_diacritics 0``: æ, ø and å stay letters, so ``år`` is not ``ar`` and ``lån`` is
  not ``lan``. unicode61 would otherwise fold å to a.
- ``aa`` is written ``å`` before stemming, in the text and in the query, because Danes
  read the two as one letter (Aarhus/Århus, Aabenraa/Åbenrå, paa/på in old texts).
- Each entry is stemmed in its own language: English entries with the English stemmer, all
  others with the Danish one. Feeds often declare the wrong language (a WordPress default of
  ``en-US`` over Danish posts), so common function words decide when the text is clear,
  and the declared language only when it is not. A query word may be either language, so it
  matches either stem.
- Operators are parsed here and the FTS5 expression is built from quoted stems only: no
  user text ever reaches FTS5's own query syntax, so its syntax errors cannot happen.
"""

from __future__ import annotations

import hashlib
import html
import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import repeat
from typing import Literal

import Stemmer

from aggregator.errors import AggregatorError
from aggregator.wordsplit import LETTERS_AND_DIGITS

Language = Literal["da", "en"]
LANGUAGES: tuple[Language, ...] = ("da", "en")
_ALGORITHMS = {"da": "danish", "en": "english"}

# Letters and digits, as unicode61 sees them (underscore is a separator there, not in \w).
WORD = LETTERS_AND_DIGITS.pattern

MAX_QUERY_LENGTH = 500
LANGUAGE_SAMPLE = 500  # words read to tell Danish from English
MAX_TERMS = 24

# Function words that tell Danish text from English (none is a word of both languages).
_DANISH_WORDS = frozenset((
    "og", "at", "er", "det", "til", "på", "af", "med", "som", "den", "ikke", "har", "vi",
    "kan", "om", "der", "de", "et", "skal", "fra", "også", "være", "blev", "eller", "efter",
    "hvor", "når", "så", "vil", "sig", "nye", "kommune", "kommuner",
))  # fmt: skip
_ENGLISH_WORDS = frozenset((
    "the", "and", "of", "is", "that", "with", "are", "this", "be", "we", "can", "on",
    "from", "have", "has", "was", "will", "an", "not", "or", "which", "their", "new",
    "our",
))  # fmt: skip


_QUERY_MESSAGES = {
    "or_sides": (
        "OR needs a word on both sides, e.g. skole OR dagtilbud",
        "OR skal have et ord på begge sider, fx skole OR dagtilbud",
    ),
    "only_excluded": (
        "a query needs a word to find, not only words to leave out (-word), "
        "or a filter such as kilde:NAME",
        "en søgning skal have et ord at finde, ikke kun ord at udelade (-ord), "
        "eller et filter som kilde:NAVN",
    ),
    "no_words": ("the query has no words to search for", "søgningen har ingen ord at søge efter"),
    "lone_minus": (
        "'-' must be followed by a word to leave out, e.g. -møde",
        "'-' skal efterfølges af et ord, der skal udelades, fx -møde",
    ),
    "or_minus": (
        "OR cannot join a word left out with '-'",
        "OR kan ikke forbinde et ord, der er udeladt med '-'",
    ),
    "negated_filter": (
        "a filter cannot be negated with '-'; leave out words instead",
        "et filter kan ikke udelades med '-'; udelad ord i stedet",
    ),
    "no_letters": (
        "{value!r} has no letters or digits to search for",
        "{value!r} har ingen bogstaver eller tal at søge efter",
    ),
    "too_many": (
        "the query has more than {limit} words; use fewer",
        "søgningen har mere end {limit} ord; brug færre",
    ),
    "unclosed": (
        'a phrase is missing its closing quote (")',
        'en frase mangler sit afsluttende anførselstegn (")',
    ),
    "no_value": (
        "{key}: needs a value, e.g. {example}",
        "{key}: skal have en værdi, fx {example}",
    ),
    "or_filter": (
        "OR joins words, not filters such as kilde: or tag:",
        "OR forbinder ord, ikke filtre som kilde: eller tag:",
    ),
    "once": ("{key}: can be given once", "{key}: kan kun angives én gang"),
    "bad_date": (
        "{key}: takes a date such as 2026-01-01 (or 2026-01, or 2026), not {value!r}",
        "{key}: skal have en dato som 2026-01-01 (eller 2026-01 eller 2026), ikke {value!r}",
    ),
    "too_long": (
        "the query is longer than {limit} characters",
        "søgningen er længere end {limit} tegn",
    ),
    "control": ("the query contains control characters", "søgningen indeholder kontroltegn"),
}


class QueryError(AggregatorError):
    """A query that cannot be read; the message says what to write instead, in English
    (``str``, for the command line) or in the site's language (``in_language``)."""

    exit_code = 2

    def __init__(self, reason: str, **values: object) -> None:
        self.reason = reason
        self.values = values
        super().__init__(self.in_language("en"))

    def in_language(self, language: str) -> str:
        english, danish = _QUERY_MESSAGES[self.reason]
        return (danish if language == "da" else english).format(**self.values)


_local = threading.local()  # a Stemmer object is not safe to share between threads
# Words whose stems each thread keeps, per language. Most of a post's words are common ones,
# and a dict lookup costs a third of stemming the word again; PyStemmer's own cache costs
# more than it saves. Emptied when full, so the memory stays under 1.5 MiB a thread.
STEM_CACHE_WORDS = 8192


def _stemmer(language: Language) -> Stemmer.Stemmer:
    stemmers: dict[str, Stemmer.Stemmer] | None = getattr(_local, "stemmers", None)
    if stemmers is None:
        stemmers = _local.stemmers = {}
    found = stemmers.get(language)
    if found is None:
        found = stemmers[language] = Stemmer.Stemmer(_ALGORITHMS[language], 0)
    return found


def _stem_cache(language: Language) -> dict[str, str]:
    caches: dict[str, dict[str, str]] | None = getattr(_local, "stem_caches", None)
    if caches is None:
        caches = _local.stem_caches = {}
    return caches.setdefault(language, {})


def fold(text: str) -> str:
    """The form words are compared in: compatibility forms as the letters they stand for
    (NFKC: ``ﬁ`` as ``fi``, ``²`` as ``2``), case folded (``ß`` as ``ss``, ``İ`` as ``i``),
    ``aa`` as ``å``. The index and the query both go through it (migration 19 rebuilt the
    index in this form)."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    if not folded.isascii():
        # Case folding can leave a letter and its mark apart (İ -> i + U+0307).
        folded = unicodedata.normalize("NFC", folded).replace("i\u0307", "i")
    return folded.replace("aa", "å")


def words(text: str) -> list[str]:
    r"""``WORD.findall(fold(text))``."""
    return LETTERS_AND_DIGITS(fold(text))


def stems(folded_words: Sequence[str], language: Language) -> list[str]:
    known = _stem_cache(language)
    new = set(folded_words).difference(known)  # in C: a comprehension cost twice as much
    if new:
        if len(known) + len(new) > STEM_CACHE_WORDS:
            known.clear()
            new = set(folded_words)
        ordered = list(new)
        known.update(zip(ordered, _stemmer(language).stemWords(ordered), strict=True))
    return list(map(known.__getitem__, folded_words))


def index_language(declared: str | None, text: str) -> Language:
    """English or Danish stemming for an entry: the text's function words decide when they
    are clear (three or more, and three times as many as the other language's), else the feed's
    declared language, else Danish."""
    return _language_of(words(text)[:LANGUAGE_SAMPLE], declared)


# Each function word's language as one letter, so one pass over the sample counts both:
# the words' letters joined, and the English ones counted in C (the lists share no word).
_LANGUAGE_LETTER = {**dict.fromkeys(_DANISH_WORDS, "d"), **dict.fromkeys(_ENGLISH_WORDS, "e")}


def _language_of(sample: Sequence[str], declared: str | None) -> Language:
    letters = "".join(map(_LANGUAGE_LETTER.get, sample, repeat("")))
    english = letters.count("e")
    danish = len(letters) - english
    if english >= max(3 * danish, 3):
        return "en"
    if danish >= max(3 * english, 3):
        return "da"
    return "en" if (declared or "").lower().startswith("en") else "da"


def shadow_text(text: str, language: Language) -> str:
    """The stems of ``text``, separated by spaces: what the index holds."""
    return " ".join(stems(words(text), language))


def source_token(feed_url: str) -> str:
    """The index token of a source feed: ``kilde:`` becomes a term that FTS5 intersects with
    the words, instead of a filter applied to every match afterwards."""
    return "s" + hashlib.blake2b(feed_url.encode(), digest_size=6).hexdigest()


def category_token(term: str) -> str:
    """The index token of a post's category (folded, so ``tag:økonomi`` finds Økonomi)."""
    return "c" + hashlib.blake2b(fold(term).strip().encode(), digest_size=6).hexdigest()


@dataclass(frozen=True, slots=True)
class IndexDocument:
    """One entry as the index stores it: a shadow text per column, its facet tokens (source
    feeds and categories), and its language."""

    title: str
    body: str
    source: str
    facets: str
    language: Language


def stem_entry(title: str, body: str, declared_language: str | None) -> tuple[str, str, str]:
    """The stemmed title and text of an entry and the language they were stemmed in: the
    costly part of its document (most of a millisecond for a long post), which needs nothing
    but the entry, so the worker that parsed it does it."""
    title_words, body_words = words(title), words(body)
    sample = (title_words + body_words[:LANGUAGE_SAMPLE])[:LANGUAGE_SAMPLE]
    language = _language_of(sample, declared_language)
    return " ".join(stems(title_words, language)), " ".join(stems(body_words, language)), language


def index_document(
    title: str,
    body: str,
    source: str,
    declared_language: str | None,
    feed_urls: Sequence[str] = (),
    categories: Sequence[str] = (),
    stemmed: tuple[str, str, str] | None = None,
) -> IndexDocument:
    """``stemmed``: what ``stem_entry`` gave for this title and body, if known."""
    title_stems, body_stems, found = stemmed or stem_entry(title, body, declared_language)
    language: Language = "en" if found == "en" else "da"
    facets = dict.fromkeys(
        [*map(source_token, feed_urls), *map(category_token, filter(str.strip, categories))]
    )
    return IndexDocument(
        title_stems, body_stems, shadow_text(source, language), " ".join(facets), language
    )


# ---------------------------------------------------------------------------------------------
# Queries


@dataclass(frozen=True, slots=True)
class Term:
    """A word, or a phrase of words that must come in this order (folded, not stemmed)."""

    words: tuple[str, ...]

    def variants(self) -> tuple[tuple[str, ...], ...]:
        """The term's stems in each index language, without repeats."""
        return tuple(dict.fromkeys(tuple(stems(self.words, lang)) for lang in LANGUAGES))

    def fts(self) -> str:
        # Stems hold letters and digits only, so quoting them is always valid FTS5.
        quoted = [f'"{" ".join(v)}"' for v in self.variants()]
        return quoted[0] if len(quoted) == 1 else f"({' OR '.join(quoted)})"

    def fts_words(self) -> str:
        """The term's words, each on its own (a phrase's words in any order)."""
        each = [" AND ".join(f'"{stem}"' for stem in v) for v in self.variants()]
        each = [e if len(self.words) == 1 else f"({e})" for e in each]
        return each[0] if len(each) == 1 else f"({' OR '.join(each)})"


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A parsed query: every clause must match (a clause is terms joined by OR), no excluded
    term may, and the filters narrow by source, tag and date."""

    text: str
    clauses: tuple[tuple[Term, ...], ...] = ()
    excluded: tuple[Term, ...] = ()
    sources: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    since: date | None = None

    @property
    def has_words(self) -> bool:
        return bool(self.clauses)

    def match_expression(self) -> str | None:
        """The FTS5 MATCH expression of the words, or None for a query of filters only."""
        if not self.clauses:
            return None
        parts = [
            alts[0].fts() if len(alts) == 1 else f"({' OR '.join(t.fts() for t in alts)})"
            for alts in self.clauses
        ]
        expression = " AND ".join(parts)
        if self.excluded:
            expression = f"({expression}) NOT ({self.exclusion_expression()})"
        return expression

    def ranking_expression(self) -> str | None:
        """What bm25 ranks by: the words, phrases as their words, without exclusions.

        bm25 counts the matches of every phrase of its expression across the whole index,
        once per query; for a phrase of two common words, or a word left out, that count
        costs more than the search itself, and adds nothing to the ranking that the words
        do not."""
        if not self.clauses:
            return None
        parts = [
            alts[0].fts_words()
            if len(alts) == 1
            else f"({' OR '.join(t.fts_words() for t in alts)})"
            for alts in self.clauses
        ]
        return " AND ".join(parts)

    def ranking_phrases(self) -> tuple[str, ...]:
        """The phrases of the ranking expression, each as FTS5 writes it."""
        return tuple(
            dict.fromkeys(
                f'"{stem}"'
                for alts in self.clauses
                for term in alts
                for variant in term.variants()
                for stem in variant
            )
        )

    def exclusion_expression(self) -> str | None:
        if not self.excluded:
            return None
        return " OR ".join(t.fts() for t in self.excluded)

    def highlight_stems(self) -> frozenset[str]:
        return frozenset(
            stem
            for alts in self.clauses
            for term in alts
            for variant in term.variants()
            for stem in variant
        )


_FILTERS = {"kilde": "source", "source": "source", "tag": "tag", "fra": "since", "since": "since"}
_FILTER = re.compile(r"(?i)(kilde|source|tag|fra|since):")


@dataclass(slots=True)
class _Parser:
    text: str
    pos: int = 0
    clauses: list[list[Term]] = field(default_factory=list)
    excluded: list[Term] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    since: date | None = None
    pending_or: bool = False
    terms: int = 0

    def parse(self) -> SearchQuery:
        text = self.text
        while True:
            while self.pos < len(text) and text[self.pos].isspace():
                self.pos += 1
            if self.pos >= len(text):
                break
            self._item()
        if self.pending_or:
            raise QueryError("or_sides")
        if not self.clauses and self.excluded and not (self.sources or self.tags or self.since):
            raise QueryError("only_excluded")
        if not (self.clauses or self.sources or self.tags or self.since):
            raise QueryError("no_words")
        return SearchQuery(
            text=text,
            clauses=tuple(tuple(c) for c in self.clauses),
            excluded=tuple(self.excluded),
            sources=tuple(self.sources),
            tags=tuple(self.tags),
            since=self.since,
        )

    def _item(self) -> None:
        text = self.text
        if text.startswith("OR", self.pos) and self._ends_at(self.pos + 2):
            if not self.clauses or self.pending_or:
                raise QueryError("or_sides")
            self.pending_or = True
            self.pos += 2
            return
        negated = text[self.pos] == "-"
        if negated:
            self.pos += 1
            if self.pos >= len(text) or text[self.pos].isspace():
                raise QueryError("lone_minus")
            if self.pending_or:
                raise QueryError("or_minus")
        if found := _FILTER.match(text, self.pos):
            if negated:
                raise QueryError("negated_filter")
            self.pos = found.end()
            self._filter(found.group(1).lower(), self._value(found.group(1)))
            return
        raw = self._value(None)
        folded = tuple(words(raw))
        if not folded:
            if self.pending_or or negated:
                raise QueryError("no_letters", value=raw)
            return  # punctuation on its own: nothing to find
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise QueryError("too_many", limit=MAX_TERMS)
        term = Term(folded)
        if negated:
            self.excluded.append(term)
        elif self.pending_or:
            self.clauses[-1].append(term)
            self.pending_or = False
        else:
            self.clauses.append([term])

    def _ends_at(self, pos: int) -> bool:
        return pos >= len(self.text) or self.text[pos].isspace()

    def _value(self, key: str | None) -> str:
        """A quoted phrase or a run of non-space characters at the current position."""
        text = self.text
        if self.pos < len(text) and text[self.pos] == '"':
            end = text.find('"', self.pos + 1)
            if end < 0:
                raise QueryError("unclosed")
            value = text[self.pos + 1 : end]
            self.pos = end + 1
        else:
            start = self.pos
            while self.pos < len(text) and not text[self.pos].isspace():
                if text[self.pos] == '"':
                    break  # a phrase begins: the next item
                self.pos += 1
            value = text[start : self.pos]
        if key is not None and not value.strip():
            raise QueryError("no_value", key=key, example=_EXAMPLES[_FILTERS[key.lower()]])
        return value.strip()

    def _filter(self, key: str, value: str) -> None:
        if self.pending_or:
            raise QueryError("or_filter")
        kind = _FILTERS[key]
        if kind in ("source", "tag"):
            chosen = self.sources if kind == "source" else self.tags
            if fold(value) not in map(fold, chosen):  # named twice narrows nothing more
                chosen.append(value)
        else:
            if self.since is not None:
                raise QueryError("once", key=key)
            self.since = _parse_since(key, value)


_EXAMPLES = {"source": "kilde:OS2", "tag": "tag:kommuner", "since": "fra:2026-01-01"}


def _parse_since(key: str, value: str) -> date:
    found = re.fullmatch(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?", value)
    try:
        if found is None:
            raise ValueError(value)
        year, month, day = found.groups()
        return date(int(year), int(month or 1), int(day or 1))
    except ValueError:
        raise QueryError("bad_date", key=key, value=value) from None


def parse_query(text: str) -> SearchQuery:
    """Read a query as people type it.

    Words must all match; ``"two words"`` is a phrase; ``a OR b`` matches either (OR binds
    the words next to it, so ``a OR b c`` is (a or b) and c); ``-word`` leaves out;
    ``kilde:``/``source:``, ``tag:`` and ``fra:``/``since:`` filter. Raises QueryError.
    """
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryError("too_long", limit=MAX_QUERY_LENGTH)
    if any(unicodedata.category(c) == "Cc" and not c.isspace() for c in text):
        raise QueryError("control")
    return _Parser(text).parse()


# ---------------------------------------------------------------------------------------------
# Highlighting


def highlight(text: str, query_stems: frozenset[str], language: Language) -> str:
    """The whole of ``text`` as HTML (escaped), its matching words in ``<mark>``."""
    return snippet(text, query_stems, language, max_words=None)


def snippet(
    text: str, query_stems: frozenset[str], language: Language, max_words: int | None = 30
) -> str:
    """HTML of the passage of ``text`` with the most matching words (at most ``max_words``),
    escaped, matches in ``<mark>``, an ellipsis where text is left out."""
    spans = [m.span() for m in WORD.finditer(text)]
    if not spans:
        return html.escape(text if max_words is None else text[:200])
    hits = _hits(text, spans, query_stems, language)
    first, last = 0, len(spans)
    if max_words is not None and len(spans) > max_words:
        first = _best_window(hits, max_words)
        last = first + max_words
    out = ["… "] if first > 0 else []
    cursor = spans[first][0] if first > 0 else 0
    for index in range(first, last):
        if hits[index]:
            start, end = spans[index]
            out.append(
                f"{html.escape(text[cursor:start])}<mark>{html.escape(text[start:end])}</mark>"
            )
            cursor = end
    if last < len(spans):
        out.append(html.escape(text[cursor : spans[last - 1][1]]) + " …")
    else:
        out.append(html.escape(text[cursor:]))
    return "".join(out)


def _hits(
    text: str, spans: Sequence[tuple[int, int]], query_stems: frozenset[str], language: Language
) -> list[bool]:
    """Which words match. Only words that can (a stem keeps the first three letters of its
    word, except in a few short English words such as dying -> die) are stemmed."""
    prefixes = {stem[:3] for stem in query_stems}
    folded = [fold(text[a:b]) for a, b in spans]
    candidates = list(dict.fromkeys(w for w in folded if len(w) <= 5 or w[:3] in prefixes))
    stem_of = dict(zip(candidates, stems(candidates, language), strict=True))
    return [stem_of.get(w) in query_stems for w in folded]


def _best_window(hits: Sequence[bool], size: int) -> int:
    """Start of the window of ``size`` words with the most hits; a few words of context
    before the first hit."""
    count = best = sum(hits[:size])
    start = 0
    for i in range(size, len(hits)):
        count += hits[i] - hits[i - size]
        if count > best:
            best, start = count, i - size + 1
    if not best:
        return 0
    first_hit = next(i for i in range(start, start + size) if hits[i])
    return max(0, min(first_hit - 3, len(hits) - size))
