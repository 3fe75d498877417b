"""Stable ASCII slugs for tag and source URLs: ``høringer`` -> ``hoeringer``."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable

# Danish and Norwegian letters have conventional two-letter spellings; NFKD would turn
# "ø" into nothing and "å" into "a".
_TRANSLITERATE = str.maketrans(
    {"æ": "ae", "ø": "oe", "å": "aa", "Æ": "Ae", "Ø": "Oe", "Å": "Aa", "ß": "ss", "ä": "ae",
     "ö": "oe", "ü": "ue"}
)  # fmt: skip


@functools.lru_cache(maxsize=65536)  # a site's build slugs every feed's tags, the same few
def slugify(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.translate(_TRANSLITERATE))
    ascii_text = folded.encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-") or "x"


def unique_slugs(names: Iterable[str]) -> list[str]:
    """One slug per name, in order; a repeated slug gets ``-2``, ``-3``…"""
    taken: set[str] = set()
    result = []
    for name in names:
        base = slug = slugify(name)
        n = 1
        while slug in taken:
            n += 1
            slug = f"{base}-{n}"
        taken.add(slug)
        result.append(slug)
    return result
