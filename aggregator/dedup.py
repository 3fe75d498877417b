"""Pure near-duplicate detection for posts reached through different URLs.

Two steps, so the check stays cheap as the database grows:

1. **Candidates** come from an index, never a scan: a bottom-k sketch of the word 5-grams of
   each post's opening (the k smallest hashes, a one-hash MinHash) and a normalised title key.
   Stored posts that share at least ``MIN_SHARED_SKETCH`` sketch hashes, or the title key,
   within the date window, are candidates. A value shared by more than ``COMMON_VALUE``
   posts is left out (a document-frequency cut-off), which keeps the work per new post flat
   as the archive grows. A shorter excerpt of a post shares roughly its
   share of the opening's shingles with the full text, so excerpts still meet their
   originals here.
2. **Verification** is exact, on the few candidates: containment of 5-gram sets after the
   shingles each feed repeats in its other posts (footers, disclaimers) are removed, plus
   title similarity. Containment (|A∩B| / min(|A|, |B|)) rather than Jaccard, because an
   excerpt is a subset of the full post.

Why the default thresholds (settings in ``dedup``):
- ``content_threshold`` 0.7: reposts measured on the test pairs score ≥ 0.85, different posts
  from the same template ≤ 0.2 once boilerplate is removed; 0.7 leaves room on both sides.
- ``title_threshold`` 0.5: a prefix such as "Nyhed:" is stripped first; rewritten headlines
  of the same post keep half their words; two posts that share only a footer rarely do.
- ``window_days`` 7: a cross-post appears within days; a yearly "Nyhedsbrev december" is
  kept apart by the window as well as by its content.
"""

from __future__ import annotations

import operator
import re
import unicodedata
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from itertools import repeat
from urllib.parse import urlsplit

from aggregator.wordsplit import WORD_CHARACTERS

SHINGLE_WORDS = 5
SKETCH_SIZE = 8
SKETCH_WORDS = 120
SKETCH_CHARS = 1500
_MASK = 0xFFFFFFFF
_ONE_DIGIT = (1 << 30).__gt__  # an int below 2**30 is one digit of CPython's
MIN_SHARED_SKETCH = 2
# Two texts of one feed and one date that are one post without the title's word for it: a
# fixed typo or an added word or two loses a few 5-grams in a hundred; two posts of one
# template keep far less once the feed's boilerplate is gone (<= 0.2 on the test pairs).
REKEY_CONTAINMENT = 0.8
# Verification is exact and costs a parse of each candidate's HTML: look at no more than this.
MAX_CANDIDATES = 20
# A sketch value or title key that more stored posts share than this says nothing about any
# of them (a stock phrase, a "Nyhedsbrev" title) and is not used to find candidates; so the
# work per new post has a bound that does not grow with the archive. A post syndicated to
# more feeds than this is still found: its copies share it through rarer values.
COMMON_VALUE = 32

_TITLE_PREFIX = re.compile(
    r"^\s*(?:nyhed|nyheder|news|blog|blogindlæg|pressemeddelelse|press release|opdateret|"
    r"updated|update|artikel|article|genudgivet|repost)\s*[:|–—-]\s*",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class DedupSettings:
    content_threshold: float = 0.7
    title_threshold: float = 0.5
    window_days: int = 7
    min_words: int = 8  # below this, a text says too little to compare by content


@dataclass(frozen=True, slots=True)
class Match:
    containment: float
    title_similarity: float

    @property
    def reason(self) -> str:
        return f"near duplicate: content {self.containment:.2f}, title {self.title_similarity:.2f}"


def words(text: str) -> list[str]:
    r"""``\w+`` runs of the text in NFKC, casefolded: what sketches and title keys are made of."""
    return WORD_CHARACTERS(unicodedata.normalize("NFKC", text).casefold())


def shingles(text: str, size: int = SHINGLE_WORDS) -> frozenset[str]:
    tokens = words(text)
    if len(tokens) < size:
        return frozenset([" ".join(tokens)]) if tokens else frozenset()
    return frozenset(" ".join(tokens[i : i + size]) for i in range(len(tokens) - size + 1))


def sketch(text: str, size: int = SKETCH_SIZE) -> tuple[int, ...]:
    """Bottom-k of the 5-gram hashes of the post's opening words.

    The opening is where copies and excerpts agree and where footers are not; it also keeps
    the cost flat for long posts. Words are hashed once with CRC-32 and each 5-gram is the
    hash of its five word hashes, which is stable across processes; a collision only adds a
    candidate, which verification then rejects.
    """
    folded = unicodedata.normalize("NFKC", text[:SKETCH_CHARS]).casefold()
    # map() over C functions rather than comprehensions: this runs for every new entry, and
    # the per-item interpreter overhead was most of its cost.
    ids = list(map(zlib.crc32, WORD_CHARACTERS.utf8_words(folded, SKETCH_WORDS)))
    if len(ids) < SHINGLE_WORDS:
        return (hash(tuple(ids)) & _MASK,) if ids else ()
    # hash() of a tuple of ints does not depend on PYTHONHASHSEED (only str and bytes do).
    grams = zip(*(ids[i:] for i in range(SHINGLE_WORDS)), strict=False)
    hashes = list(map(operator.and_, map(hash, grams), repeat(_MASK)))
    # The smallest are among those below 2**30 whenever there are enough of them (with
    # over a hundred 5-grams, nearly always): a sort of those compares one-digit ints,
    # which CPython's sort does fast, where a sort of all of them cost a quarter of this.
    smallest = set(filter(_ONE_DIGIT, hashes))
    if not 0 <= size <= len(smallest):
        smallest = set(hashes)
    return tuple(sorted(smallest)[:size])


def title_key(title: str) -> str:
    """The title with site prefixes, case and punctuation gone: equal keys are candidates."""
    return " ".join(words(_TITLE_PREFIX.sub("", title)))


def title_similarity(a: str, b: str) -> float:
    key_a, key_b = title_key(a), title_key(b)
    if not key_a or not key_b:
        return 0.0
    if key_a == key_b:
        return 1.0
    return SequenceMatcher(None, key_a, key_b, autojunk=False).ratio()


def boilerplate(other_texts: Iterable[str]) -> frozenset[str]:
    """Shingles a feed repeats across its posts: footers, sign-ups, disclaimers."""
    seen: set[str] = set()
    repeated: set[str] = set()
    for text in other_texts:
        current = shingles(text)
        repeated |= seen & current
        seen |= current
    return frozenset(repeated)


def containment(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def same_site(link_a: str | None, link_b: str | None) -> bool:
    """Whether two posts' links are on one host (``www.`` aside); a post without a link is
    told apart by nothing here."""
    if not link_a or not link_b:
        return True
    return _site(link_a) == _site(link_b)


def _site(link: str) -> str:
    try:
        host = urlsplit(link).hostname or ""
    except ValueError:
        return link
    return host.lower().rstrip(".").removeprefix("www.")


def compare(
    text_a: str,
    title_a: str,
    text_b: str,
    title_b: str,
    settings: DedupSettings,
    boilerplate_a: frozenset[str] = frozenset(),
    boilerplate_b: frozenset[str] = frozenset(),
    one_site: bool = True,
) -> Match | None:
    """A Match when the two posts are the same post, else None. ``one_site``: the two links
    are on one site (see same_site)."""
    titles = title_similarity(title_a, title_b)
    if titles < settings.title_threshold:
        return None
    shingles_a = shingles(text_a) - boilerplate_a - boilerplate_b
    shingles_b = shingles(text_b) - boilerplate_a - boilerplate_b
    if min(len(words(text_a)), len(words(text_b))) < settings.min_words:
        # Too short to judge by content: only an identical title and identical text will do,
        # and only on one site. A stock title and teaser ("Ledig stilling: IT-konsulent",
        # "Læs mere på vores hjemmeside.") on two sites are two posts; a real cross-post of a
        # short one at the same link is merged by its link before it gets here.
        same = one_site and titles == 1.0 and words(text_a) == words(text_b)
        return Match(1.0, titles) if same else None
    score = containment(shingles_a, shingles_b)
    if score < settings.content_threshold:
        return None
    return Match(score, titles)


def near_identical(
    text_a: str, text_b: str, settings: DedupSettings, boilerplate: frozenset[str] = frozenset()
) -> bool:
    """Whether two texts of one feed are one post's text, one a light edit of the other, with
    no title to go by (a post re-keyed with a new slug and title): containment both ways,
    after the feed's boilerplate, of at least REKEY_CONTAINMENT; a text too short to judge
    by content (below ``min_words``) is no evidence."""
    if min(len(words(text_a)), len(words(text_b))) < settings.min_words:
        return False
    shingles_a, shingles_b = shingles(text_a) - boilerplate, shingles(text_b) - boilerplate
    if not shingles_a or not shingles_b:
        return False
    return len(shingles_a & shingles_b) / max(len(shingles_a), len(shingles_b)) >= (
        REKEY_CONTAINMENT
    )


def best_match(
    text: str,
    title: str,
    candidates: Sequence[tuple[str, str, str, str | None]],
    settings: DedupSettings,
    own_boilerplate: frozenset[str] = frozenset(),
    boilerplate_of: dict[str, frozenset[str]] | None = None,
    link: str | None = None,
) -> tuple[str, Match] | None:
    """The best-scoring candidate (id, text, title, link) that is the same post, if any."""
    best: tuple[str, Match] | None = None
    for candidate_id, candidate_text, candidate_title, candidate_link in candidates:
        match = compare(
            text,
            title,
            candidate_text,
            candidate_title,
            settings,
            own_boilerplate,
            (boilerplate_of or {}).get(candidate_id, frozenset()),
            same_site(link, candidate_link),
        )
        if match and (
            best is None
            or (match.containment, match.title_similarity)
            > (best[1].containment, best[1].title_similarity)
        ):
            best = (candidate_id, match)
    return best
